"""``minimizer audit ...`` (``report``, ``verify``): attached to the main CLI with one
``add_typer`` line.

A thin layer: the work is in :mod:`minimizer.audit.report`; errors go up to
``minimizer.cli.main``, the one place that turns them into a message and an exit code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

__all__ = ["audit_app", "demo_report"]

audit_app = typer.Typer(help="Processing records for auditors, from the policies and the runs.")


@audit_app.command("report")
def report(
    warehouse: Annotated[str, typer.Option(help="DuckDB file or postgresql:// URL.")],
    out: Annotated[Path, typer.Option(help="Folder for index.html, JSON and plots.")],
    artifacts: Annotated[
        Path | None,
        typer.Option(help="Run artefacts (runs.jsonl, gate/); default: beside the warehouse."),
    ] = None,
    policies: Annotated[Path, typer.Option(help="Folder of purpose policies.")] = Path(
        "configs/purposes"
    ),
) -> None:
    """Write the processing record (GDPR Art. 30 style) of every purpose as HTML and JSON."""
    from minimizer.audit.report import write_report
    from minimizer.service import default_artifacts

    files = write_report(
        warehouse,
        out,
        artifacts=artifacts or default_artifacts(warehouse),
        policies=policies,
    )
    console = Console()
    console.print(f"processing records of {len(files.purposes)} purpose(s): {files.html}")
    console.print(f"machine-readable: {files.json}", highlight=False)


@audit_app.command("verify")
def verify(
    warehouse: Annotated[str, typer.Option(help="DuckDB file or postgresql:// URL.")],
    artifacts: Annotated[
        Path | None,
        typer.Option(help="Run artefacts (gate/<run_id>/suites/); default: beside the warehouse."),
    ] = None,
    purpose: Annotated[
        list[str] | None, typer.Option(help="Only this purpose (repeatable); default: all.")
    ] = None,
) -> None:
    """Re-run each purpose's published leak-gate suite with Great Expectations against the
    loaded tables. Exit 0 when every expectation passes, 3 otherwise. Counts only."""
    from minimizer.errors import GateError
    from minimizer.gate.validate import verify_warehouse
    from minimizer.service import default_artifacts

    outcome = verify_warehouse(warehouse, artifacts or default_artifacts(warehouse), purpose)
    console = Console()
    for name, counts in outcome.tables.items():
        passed = counts["evaluated"] - counts["failed"]
        console.print(
            f"{name}: {passed}/{counts['evaluated']} expectation(s) passed, "
            f"{counts['left_out']} left out (they need the run's raw side); run "
            f"{counts['run_id']}",
            highlight=False,
        )
    for name in outcome.missing:
        console.print(f"{name}: no loaded run with a published suite", highlight=False)
    if outcome.success:
        console.print(f"verified: {len(outcome.tables)} table(s), every expectation passed")
        return
    shown = "; ".join(
        f"{f['table']}.{f['column'] or '*'}: {f['expectation']} "
        f"(unexpected_count={f.get('unexpected_count')}"
        + (f", error={f['error']}" if "error" in f else "")
        + ")"
        for f in outcome.failures[:5]
    )
    raise GateError(
        f"audit verify failed: {len(outcome.failures)} expectation(s) failed"
        + (f": {shown}" if shown else "")
        + (f"; no published suite for {outcome.missing}" if outcome.missing else "")
        + ("" if outcome.tables or outcome.missing else "; no loaded table to verify"),
        check="audit_verify",
        reason="verify_failed",
        count=len(outcome.failures) + len(outcome.missing),
        failures=outcome.failures,
    )


def demo_report(console: Console, warehouse: str, out: Path, artifacts: Path) -> None:
    """``make demo``'s last step: the report, and where every auditor artefact is."""
    from minimizer.audit.report import write_report

    files = write_report(warehouse, out, artifacts=artifacts, policies=Path("configs/purposes"))
    runs = sorted((artifacts / "gate").glob("*/index.html"))
    console.print(f"processing records (HTML): {files.html}", highlight=False)
    console.print(f"processing records (JSON): {files.json}", highlight=False)
    console.print(
        f"gate results (GX JSON):    {artifacts / 'gate'}/<run_id>/results/", highlight=False
    )
    if runs:
        console.print(f"gate page of the last run: {runs[-1]}", highlight=False)
        console.print(
            f"GX Data Docs of that run:  {runs[-1].parent / 'data_docs'}/", highlight=False
        )
