"""The ``minimizer`` command: a thin layer over the library.

All errors become a message and an exit code in one place, :func:`main`:
0 success, 2 bad policy / usage / input, 3 a guarantee or the leak gate failed (nothing loaded).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from minimizer.audit.cli import audit_app
from minimizer.errors import MinimizerError
from minimizer.rights import cli as rights_cli

__all__ = ["app", "main"]

app = typer.Typer(
    name="minimizer",
    help="Data minimisation for analytics pipelines: purpose policies in, minimised warehouse out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
policy_app = typer.Typer(help="Check purpose policies and print their JSON Schema.")
keys_app = typer.Typer(help="Create, rotate and retire the master key ring.")
app.add_typer(policy_app, name="policy")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")

out = Console()
err = Console(stderr=True)

PolicyArg = Annotated[Path, typer.Argument(help="A purpose policy (configs/purposes/<id>.yaml).")]


@policy_app.command("check")
def policy_check(files: Annotated[list[Path], typer.Argument(help="Policy files.")]) -> None:
    """Validate policies; every problem is reported with file, line and field."""
    from minimizer.errors import PolicyError
    from minimizer.policy import load_policy

    problems = []
    for file in files:
        try:
            policy = load_policy(file)
            out.print(f"[green]ok[/]  {file}  ({policy.purpose}, {len(policy.sources)} source(s))")
        except PolicyError as exc:
            problems.extend(exc.problems)
    if problems:
        raise PolicyError(problems)


@policy_app.command("schema")
def policy_schema() -> None:
    """Print the JSON Schema of a policy file."""
    from minimizer.policy import policy_json_schema

    sys.stdout.write(json.dumps(policy_json_schema(), indent=2) + "\n")


@app.command("plan")
def plan(
    policy_file: PolicyArg,
    sources: Annotated[
        Path | None, typer.Option(help="Source folder: adds schema drift to the plan.")
    ] = None,
) -> None:
    """Print what becomes of every source column, then the guarantees."""
    from minimizer.policy import load_policy
    from minimizer.report import print_plan

    policy = load_policy(policy_file)
    available = None
    if sources is not None:
        from minimizer.pipeline import Sources

        src = Sources.from_dir(sources)
        available = {n: src.open(n, s).columns() for n, s in policy.sources.items()}
    print_plan(out, policy, available)


@app.command("run")
def run(
    policy_file: PolicyArg,
    sources: Annotated[Path, typer.Option(help="Folder with crm.sqlite and events/.")],
    warehouse: Annotated[str, typer.Option(help="DuckDB file or postgresql:// URL.")],
    crm_url: Annotated[
        str | None, typer.Option(help="Read the CRM from PostgreSQL instead.")
    ] = None,
    day: Annotated[
        str | None, typer.Option(help="Process only this day of events (YYYY-MM-DD).")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option(help="Reference time for retention and ages (ISO).")
    ] = None,
    artifacts: Annotated[
        Path | None, typer.Option(help="Where rejected rows and gate results go.")
    ] = None,
) -> None:
    """Extract, minimise, check and load one purpose. Exit 3 if a check fails: nothing loads."""
    from minimizer.report import print_run
    from minimizer.service import run_policy_file

    report = run_policy_file(
        policy_file,
        sources=sources,
        warehouse=warehouse,
        crm_url=crm_url,
        day=_parse_day(day),
        as_of=_parse_time(as_of),
        artifacts=artifacts,
        console=err,
    )
    print_run(out, report)


@app.command("synth")
def synth(
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder.")],
    customers: Annotated[int, typer.Option(min=1)] = 1000,
    days: Annotated[int, typer.Option(min=1)] = 7,
    seed: int = 42,
    end: Annotated[str | None, typer.Option(help="Last day of events (default today).")] = None,
    crm_url: Annotated[str | None, typer.Option(help="Write the CRM to PostgreSQL.")] = None,
) -> None:
    """Generate a synthetic CRM and behavioural events (Faker, deterministic per seed)."""
    from rich.progress import Progress

    from minimizer.synth import generate

    with Progress(console=err, transient=True) as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        summary = generate(
            out_dir,
            customers=customers,
            days=days,
            seed=seed,
            end=_parse_day(end),
            crm_url=crm_url,
            progress=progress,
        )
    out.print(summary)


@app.command("pseudonym")
def pseudonym(
    purpose: Annotated[str, typer.Option(help="Purpose id.")],
    value: Annotated[str, typer.Option(help="The raw identifier.")],
    key_version: Annotated[int | None, typer.Option(help="Default: the current one.")] = None,
    period: Annotated[
        str | None,
        typer.Option(help="For rotating pseudonyms: the period, e.g. 2026-06-14 or 2026-W24."),
    ] = None,
) -> None:
    """Print the token a value gets in a purpose (for investigations and erasure)."""
    from minimizer.keys import load_keyring
    from minimizer.transforms.pseudonymise import token_for

    key = load_keyring().purpose_key(purpose, key_version)
    out.print(token_for(value, key, period), highlight=False)


@keys_app.command("init")
def keys_init(
    file: Annotated[
        Path | None, typer.Option(help="Key file (default: ~/.config/minimizer/keys.json).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing key file.")] = False,
) -> None:
    """Write a new key ring with one random master key, mode 0600."""
    from minimizer.keys import KeyRing, default_key_file

    path = file or default_key_file()
    if path.exists() and not force:
        raise MinimizerError(f"{path} exists; use --force to replace it (old tokens are lost)")
    KeyRing.new().save(path)
    out.print(f"wrote a new key ring to {path} (mode 0600). Use it with:")
    out.print(f"  export MINIMIZER_KEY_FILE={path}", highlight=False)


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Add a new key version to the key ring (MINIMIZER_KEY_FILE) and make it current."""
    from minimizer.keys import load_keyring

    ring = load_keyring()
    if ring.path is None:
        raise MinimizerError("rotation needs a key file: set MINIMIZER_KEY_FILE")
    version = ring.rotate()
    ring.save(ring.path)
    out.print(f"key version {version} is now current; re-key the warehouse next")


app.command("erase")(rights_cli.erase)
app.command("reveal")(rights_cli.reveal)
keys_app.command("rekey")(rights_cli.rekey)
keys_app.command("retire")(rights_cli.retire)


def _parse_day(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter("expected a day as YYYY-MM-DD") from None


def _parse_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter("expected an ISO time such as 2026-11-30T00:00:00Z") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def main(argv: list[str] | None = None) -> int:
    """Entry point: the one place where errors become messages and exit codes."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        app(args=argv, standalone_mode=False)
    except MinimizerError as exc:
        err.print("[red]error:[/]", end=" ")
        err.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        err.print("aborted")
        return 1
    except typer.TyperException as exc:  # usage errors: bad option, unknown command
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            err.print(str(exc), markup=False)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
