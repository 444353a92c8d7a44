"""Commands of the data-subject-rights features, attached in minimizer/cli.py:

``minimizer erase``, ``minimizer reveal``, ``minimizer keys rekey``, ``minimizer keys retire``.

Thin: the work is in the library; errors reach ``minimizer.cli.main``, the one place that maps
them to messages and exit codes. Heavy imports happen inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from minimizer.errors import MinimizerError

if TYPE_CHECKING:
    from minimizer.keys import KeyRing
    from minimizer.rights.keystore import SubjectKeyStore

__all__ = ["erase", "rekey", "retire", "reveal"]

out = Console()
err = Console(stderr=True)

Purposes = Annotated[Path, typer.Option(help="Folder of purpose policies.")]
Target = Annotated[str, typer.Option(help="DuckDB file or postgresql:// URL.")]


def _keystore(keyring: KeyRing) -> SubjectKeyStore | None:
    """The subject key store, if there is one (never created by these commands)."""
    from minimizer.rights.keystore import STORE_FILE, SubjectKeyStore, default_keystore_path

    path = default_keystore_path()
    if path is None and keyring.path is not None:
        path = keyring.path.parent / STORE_FILE
    return SubjectKeyStore(path, create=False) if path is not None and path.exists() else None


def erase(
    warehouse: Target,
    subject_id: Annotated[
        list[str] | None, typer.Option("--subject-id", help="A subject id (repeatable).")
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            help="Ids, one per line, or CSV subject_id[,requested_at] (separator , ; or tab).",
        ),
    ] = None,
    purposes_dir: Purposes = Path("configs/purposes"),
    strict: Annotated[
        bool, typer.Option(help="Exit 2 and record nothing if a subject has no row and no key.")
    ] = False,
) -> None:
    """Erase data subjects from every table (GDPR Art. 17), all or nothing, and keep them out
    of later loads. A subject with no rows is still recorded and suppressed (see --strict)."""
    from minimizer.io.warehouse import open_warehouse
    from minimizer.keys import load_keyring
    from minimizer.rights.erasure import ErasureRequest, erase_subjects
    from minimizer.rights.requests import read_id_file
    from minimizer.rights.targets import aggregate_tables, load_policies

    if not subject_id and file is None:
        raise MinimizerError("give --subject-id ID (repeatable) or --file ids.csv")
    requests = [ErasureRequest(s) for s in subject_id or []]
    if file is not None:
        requests += read_id_file(file)  # every problem, file and line, before anything runs
    # The warehouse's registry names every table it loaded; the policies only add to it.
    policies = load_policies(purposes_dir) if any(purposes_dir.glob("*.yaml")) else []
    if not policies:
        err.print(
            f"no purpose policy in {purposes_dir}: erasing by the warehouse's registry alone",
            highlight=False,
        )
    keyring = load_keyring()
    store = _keystore(keyring)
    try:
        with open_warehouse(warehouse) as wh:
            report = erase_subjects(wh, policies, keyring, requests, keystore=store, strict=strict)
    finally:
        if store is not None:
            store.close()
    table = Table(title="rows deleted", show_edge=False)
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, n in report.deleted().items():
        table.add_row(name, f"{n:,}", style=None if n else "dim")
    out.print(table)
    for name, why in aggregate_tables(policies).items():  # no subject there: say so
        if name in report.deleted():
            out.print(f"  {name}: {why}", highlight=False)
    total = sum(report.deleted().values())
    out.print(
        f"erased {report.erased} subject(s): {total:,} row(s) from "
        f"{sum(1 for n in report.deleted().values() if n)} table(s); "
        f"{report.keys_destroyed} subject key(s) destroyed"
    )
    for name, figures in report.suppressed.items():
        done = ", ".join(f"{n:,} row(s) for {g}" for g, n in sorted(figures.items()))
        out.print(
            f"guarantees kept in {name}: {done} suppressed (classes or cells the erasure left"
            " too small)",
            highlight=False,
        )
    if report.not_found:
        out.print(
            f"[yellow]not found:[/] {report.not_found} subject(s) match no row and no key in any"
            " table; nothing of them was erased. They are recorded and suppressed, so a later"
            " load cannot bring them in (check the ids if you expected rows)"
        )
    for subject in report.subjects:
        out.print(f"  erasure {subject.erasure_id}", highlight=False)


def reveal(
    value: Annotated[list[str], typer.Option("--value", help="A sealed value (repeatable).")],
) -> None:
    """Reveal sealed values (encrypt transform) with the subject key store. Logged."""
    from minimizer.keys import load_keyring
    from minimizer.rights.keystore import SubjectKeyStore
    from minimizer.rights.reveal import reveal as reveal_values

    keyring = load_keyring()
    store = _keystore(keyring)
    if store is None:
        store = SubjectKeyStore.open_default(create=False)
    with store:
        for text in reveal_values(value, keyring, store):
            out.print(text, highlight=False, markup=False)


def rekey(
    warehouse: Target,
    sources: Annotated[Path, typer.Option(help="Folder with crm.sqlite and events/.")],
    crm_url: Annotated[
        str | None, typer.Option(help="Read the CRM from PostgreSQL instead.")
    ] = None,
    purposes_dir: Purposes = Path("configs/purposes"),
    delete_unmapped: Annotated[
        bool, typer.Option(help="Delete rows whose old tokens the sources cannot map.")
    ] = False,
) -> None:
    """Move every warehouse token to the current key version (after 'keys rotate')."""
    from minimizer.io.warehouse import open_warehouse
    from minimizer.keys import load_keyring
    from minimizer.pipeline import Sources
    from minimizer.rights.rekey import rekey_warehouse
    from minimizer.rights.targets import load_policies

    policies = load_policies(purposes_dir)
    keyring = load_keyring()
    store = _keystore(keyring)
    try:
        with open_warehouse(warehouse) as wh:
            report = rekey_warehouse(
                wh,
                policies,
                Sources.from_dir(sources, crm_url),
                keyring,
                delete_unmapped=delete_unmapped,
                keystore=store,
            )
    finally:
        if store is not None:
            store.close()
    table = Table(title=f"re-keyed to version {report.to_version}", show_edge=False)
    table.add_column("column")
    table.add_column("rows", justify="right")
    for name, n in report.updated.items():
        table.add_row(name, f"{n:,}")
    for name, n in report.deleted_unmapped.items():
        table.add_row(f"{name} (unmapped, deleted)", f"{n:,}", style="yellow")
    out.print(table)
    old = ", ".join(map(str, report.from_versions)) or "none"
    out.print(
        f"old live version(s): {old}; {report.suppressed_migrated} suppressed subject(s) carried"
        f" over; {report.keys_rewrapped} key store secret(s) re-wrapped"
    )
    if report.from_versions:
        out.print(f"next: minimizer keys retire --version {report.from_versions[0]}")


def retire(
    version: Annotated[int, typer.Option(help="The key version to destroy.")],
) -> None:
    """Destroy an old key version (MINIMIZER_KEY_FILE): its pseudonyms become unlinkable."""
    from minimizer.keys import load_keyring
    from minimizer.rights.rekey import retire_version

    keyring = load_keyring()
    if keyring.path is None:
        raise MinimizerError("retiring needs a key file: set MINIMIZER_KEY_FILE")
    store = _keystore(keyring)
    try:
        retire_version(keyring, version, keystore=store)
    finally:
        if store is not None:
            store.close()
    keyring.save(keyring.path)
    out.print(f"key version {version} retired: its master key is destroyed")
