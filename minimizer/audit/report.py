"""``minimizer audit report``: the processing record of every purpose, as HTML and JSON.

Reads the policies (``configs/purposes`` by default), the warehouse's audit table and
``<artifacts>/runs.jsonl``; writes into ``out``::

    index.html                 the records, with the run history and links to each run's
                               Data Docs under <artifacts>/gate/<run_id>/
    processing_record.json     the same, machine-readable
    <purpose>-rows.png         rows in and out per run
    <purpose>-gate.png         gate results per run
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from minimizer.audit.history import load_runs
from minimizer.audit.html import render
from minimizer.audit.plots import gate_plot, rows_plot
from minimizer.audit.record import ProcessingRecord, build_record
from minimizer.errors import PolicyError
from minimizer.io.warehouse import open_warehouse
from minimizer.policy import Policy, load_policy

__all__ = ["ReportFiles", "write_report"]

log = logging.getLogger("minimizer.audit")


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    json: Path
    images: tuple[Path, ...]
    purposes: tuple[str, ...]


def _policies(directory: Path | None) -> dict[str, Policy]:
    found: dict[str, Policy] = {}
    for file in sorted(directory.glob("*.yaml")) if directory and directory.is_dir() else []:
        try:
            policy = load_policy(file)
        except PolicyError as exc:  # a broken policy is reported, the others still are
            log.warning("skipping %s: %s", file.name, exc)
            continue
        found[policy.purpose] = policy
    return found


def write_report(
    warehouse: str, out: Path, *, artifacts: Path | None, policies: Path | None
) -> ReportFiles:
    """Write the records of every purpose that has a policy or a run."""
    known = _policies(policies)
    with open_warehouse(warehouse) as wh:
        runs = load_runs(wh, artifacts)
    records: list[ProcessingRecord] = [
        build_record(p, known.get(p), runs.get(p, []), artifacts)
        for p in sorted(set(known) | set(runs))
    ]
    out.mkdir(parents=True, exist_ok=True)
    images: dict[str, dict[str, Path]] = {}
    for record in records:
        if record.runs:
            images[record.purpose] = {
                "rows": rows_plot(
                    record.runs, out / f"{record.purpose}-rows.png", f"{record.purpose}: rows"
                ),
                "gate": gate_plot(
                    record.runs, out / f"{record.purpose}-gate.png", f"{record.purpose}: gate"
                ),
            }
    html = out / "index.html"
    html.write_text(render(records, images, out))
    doc = out / "processing_record.json"
    payload = {
        "format": "minimizer-processing-record/1",
        "purposes": [r.to_json() for r in records],
    }
    doc.write_text(json.dumps(payload, indent=1, default=str) + "\n")
    return ReportFiles(
        html=html,
        json=doc,
        images=tuple(p for d in images.values() for p in d.values()),
        purposes=tuple(r.purpose for r in records),
    )
