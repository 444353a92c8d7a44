"""``minimizer audit ...``: attached to the main CLI with one ``add_typer`` line.

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
