"""The ``minimizer`` command: a thin layer over the library.

All errors become a message and an exit code in one place, :func:`main`:
0 success, 2 bad policy / usage / input, 3 a guarantee or the leak gate failed (nothing loaded).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Literal

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

LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"


@app.callback()
def _global_options(
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More log output (-vv: debug).")
    ] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Errors only.")] = False,
) -> None:
    """Data minimisation for analytics pipelines: purpose policies in, minimised warehouse out."""
    # The one place that sets the log level: warnings by default, so a run prints its summary
    # and not the libraries' INFO chatter (-v shows it, --quiet keeps errors only).
    level = (
        logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    )
    logging.basicConfig(format=LOG_FORMAT)
    logging.getLogger().setLevel(level)
    _use_default_key_file()


def _use_default_key_file() -> None:
    """Make the key file 'keys init' wrote the one every command uses, when no variable names
    a key: the subject key store and the Airflow settings find it through MINIMIZER_KEY_FILE."""
    import os

    from minimizer.keys import ENV_FILE, ENV_KEY, default_key_file

    if not os.environ.get(ENV_KEY) and not os.environ.get(ENV_FILE):
        default = default_key_file()
        if default.is_file():
            os.environ[ENV_FILE] = str(default)


@policy_app.command("check")
def policy_check(files: Annotated[list[Path], typer.Argument(help="Policy files.")]) -> None:
    """Validate policies; every problem is reported with file, line and field."""
    from minimizer.errors import PolicyError, PolicyProblem
    from minimizer.policy import load_policy

    problems: list[PolicyProblem] = []
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
    crm_url: Annotated[
        str | None, typer.Option(help="Read the CRM from PostgreSQL instead.")
    ] = None,
) -> None:
    """Print what becomes of every source column, its data category, then the guarantees.

    With --sources, a column the policy names that the source lacks is an error (exit 2)."""
    from minimizer.plan import check_columns, plan_policy
    from minimizer.policy import load_policy
    from minimizer.report import print_plan
    from minimizer.scan import print_categories

    policy = load_policy(policy_file)
    available: dict[str, Sequence[str]] | None = None
    if sources is not None:
        from minimizer.pipeline import Sources

        src = Sources.from_dir(sources, crm_url)
        available = {n: src.open(n, s).columns() for n, s in policy.sources.items()}
        check_columns(policy, available)
    print_plan(out, policy, available)
    print_categories(out, plan_policy(policy, available))


@app.command("scan")
def scan(
    sources: Annotated[Path, typer.Option(help="Folder with crm.sqlite and events/.")],
    crm_url: Annotated[
        str | None, typer.Option(help="Read the CRM from PostgreSQL instead.")
    ] = None,
    policy_file: Annotated[
        Path | None,
        typer.Option("--policy", help="Scan only this policy's sources, with its categories."),
    ] = None,
    sample: Annotated[int, typer.Option(min=1, help="Rows sampled per source.")] = 10_000,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Profile every source column: PII kinds found, share of rows, distinct values, category.

    Reads a bounded sample; prints names, kinds and counts only, never a value."""
    from minimizer.scan import policy_sources, print_scan, scan_sources

    chosen = None
    if policy_file is not None:
        from minimizer.policy import load_policy

        chosen = policy_sources(load_policy(policy_file))
    scans = scan_sources(sources, crm_url, sample_rows=sample, sources=chosen)
    if as_json:
        doc = {"sample_rows": sample, "sources": [s.to_json() for s in scans]}
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        print_scan(out, scans)


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
    keep_artifacts: Annotated[
        str | None,
        typer.Option(
            help="Delete artefacts of runs older than this at the end (30d, 12h, 2w; "
            "default MINIMIZER_KEEP_ARTIFACTS, else keep all)."
        ),
    ] = None,
    engine: Annotated[
        Literal["local", "spark"] | None,
        typer.Option(
            help="Stage the sources in this process, or on Apache Spark (default: the"
            " policy's engine, else local)."
        ),
    ] = None,
    master: Annotated[
        str | None,
        typer.Option(help="Spark master URL (--engine spark; default local[*])."),
    ] = None,
) -> None:
    """Extract, minimise, check and load one purpose. Exit 3 if a check fails: nothing loads."""
    from minimizer.audit.explain import summary_collapsed
    from minimizer.audit.retention import parse_keep
    from minimizer.policy import load_policy
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
        keep_artifacts=parse_keep(keep_artifacts) if keep_artifacts else None,
        engine=engine,
        master=master,
    )
    policy = load_policy(policy_file)
    print_run(out, report, policy, summary_collapsed(warehouse, policy))


@app.command("catalog")
def catalog(
    policy_dir: Annotated[Path, typer.Option(help="Folder of purpose policies.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder.")],
    warehouse: Annotated[
        str | None,
        typer.Option(help="DuckDB file or postgresql:// URL: add what the last load wrote."),
    ] = None,
) -> None:
    """Write a data dictionary per purpose (Markdown, HTML) and a dbt sources.yml."""
    from minimizer.catalog import load_policy_dir, write_catalog
    from minimizer.io.warehouse import open_warehouse

    policies = load_policy_dir(policy_dir)
    if warehouse is None:
        files = write_catalog(policies, out_dir)
    else:
        with open_warehouse(warehouse) as wh:
            files = write_catalog(policies, out_dir, wh)
    for path in files:
        out.print(str(path), highlight=False)


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
    from rich.progress import Progress, TaskID

    from minimizer.synth import generate

    with Progress(console=err, transient=True) as bar:
        tasks: dict[str, TaskID] = {}

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
    policy: Annotated[
        Path | None, typer.Option(help="The purpose's policy file (default: in --purposes).")
    ] = None,
    purposes: Annotated[Path, typer.Option(help="Folder of purpose policies.")] = Path(
        "configs/purposes"
    ),
    column: Annotated[
        str | None, typer.Option(help="The pseudonymised output column, if there are several.")
    ] = None,
) -> None:
    """Print the token a value gets in a purpose (for investigations and erasure).

    Refused for a purpose without a policy, and for a rotating pseudonym without --period: such
    a token would match nothing in the warehouse."""
    from minimizer.keys import load_keyring
    from minimizer.transforms.pseudonymise import token_for

    ring = load_keyring()
    rotate = _pseudonym_rotation(purpose, policy, purposes, column)
    if rotate == "never" and period is not None:
        raise MinimizerError(f"the pseudonym of purpose {purpose!r} does not rotate: drop --period")
    if rotate != "never":
        _check_period(rotate, period)
    key = ring.purpose_key(purpose, key_version)
    out.print(token_for(value, key, period), highlight=False)


_PERIODS = {
    "12h": (r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T(00|12)", "2026-06-14T12"),
    "day": (r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])", "2026-06-14"),
    "week": (r"\d{4}-W(0[1-9]|[1-4]\d|5[0-3])", "2026-W24"),
    "month": (r"\d{4}-(0[1-9]|1[0-2])", "2026-06"),
}


def _check_period(rotate: str, period: str | None) -> None:
    import re

    pattern, example = _PERIODS[rotate]
    if period is None:
        raise MinimizerError(
            f"this pseudonym rotates every {rotate}: give the {rotate} of the row you look for, "
            f"--period {example} (without it the token matches nothing)"
        )
    if not re.fullmatch(pattern, period):
        raise MinimizerError(f"--period: a {rotate} is written like {example}")


def _pseudonym_rotation(purpose: str, file: Path | None, folder: Path, column: str | None) -> str:
    """How the purpose's pseudonym rotates ('never', 'day', ...), from its policy."""
    from minimizer.policy import load_policy
    from minimizer.transforms.pseudonymise import Pseudonymise

    path = file or folder / f"{purpose}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []
        raise MinimizerError(
            f"unknown purpose {purpose!r}: no policy {path}"
            + (f" (purposes there: {', '.join(known)})" if known else "")
            + "; pass --purposes FOLDER or --policy FILE"
        )
    found = load_policy(path)
    if found.purpose != purpose:
        raise MinimizerError(f"{path} is the policy of purpose {found.purpose!r}, not {purpose!r}")
    pseudonyms = {
        f"{name}.{out}": t.rotate
        for name, spec in found.sources.items()
        for out, t in spec.outputs().items()
        if isinstance(t, Pseudonymise)
    }
    if column is not None:
        pseudonyms = {c: r for c, r in pseudonyms.items() if column in (c, c.split(".", 1)[1])}
    if not pseudonyms:
        what = f"column {column!r}" if column else "any column"
        raise MinimizerError(f"purpose {purpose!r} pseudonymises no {what} ({path})")
    rotations = set(pseudonyms.values())
    if len(rotations) > 1:
        listed = ", ".join(f"{c} ({r})" for c, r in sorted(pseudonyms.items()))
        raise MinimizerError(f"purpose {purpose!r} has pseudonyms {listed}: name one with --column")
    return rotations.pop()


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
    ring = KeyRing.new()
    ring.save(path)
    out.print(
        f"wrote a new key ring to {path} (mode 0600; version 1, {ring.scheme()} tokens)",
        highlight=False,
    )
    if path.resolve() != default_key_file().resolve():
        out.print("use it with:")
        out.print(f"  export MINIMIZER_KEY_FILE={path}", highlight=False)
    else:
        out.print("every command uses it unless MINIMIZER_KEY_FILE names another one")


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Add a new key version to the key ring (MINIMIZER_KEY_FILE) and make it current."""
    from minimizer.keys import load_keyring

    ring = load_keyring()
    if ring.path is None:
        raise MinimizerError("rotation needs a key file: set MINIMIZER_KEY_FILE")
    before = ring.scheme()
    version = ring.rotate()
    ring.save(ring.path)
    scheme = ring.scheme()
    moved = f" (tokens move from {before} to {scheme})" if scheme != before else ""
    out.print(f"key version {version} ({scheme}) is now current; re-key the warehouse next{moved}")


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
    except Exception as exc:
        # A bug. Its message may quote a value (KeyError('Berlin')): the type only, unless the
        # person debugging asks for the traceback.
        import os

        if os.environ.get("MINIMIZER_DEBUG"):
            raise
        err.print(
            f"[red]internal error:[/] {type(exc).__name__}. This is a bug in minimizer; a run"
            " it interrupted is recorded as failed and loaded nothing. Set MINIMIZER_DEBUG=1"
            " to see the traceback.",
            highlight=False,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
