"""Lineage of an Airflow run: its events once it has ended, through the OpenLineage provider.

A purpose DAG runs one minimizer run as several tasks; ``cleanup`` runs however the run ended
and calls :func:`emit_staged_run` before it deletes the run's staging, so the events see the
final report (``publish.json``, or the most advanced report of a run that failed).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from minimizer.lineage import Emitter, cli_emitter, emit_run
from minimizer.pipeline import RunReport, Sources
from minimizer.policy import load_policy
from minimizer.report import RunStatus

__all__ = ["airflow_emitter", "emit_staged_run"]

# The reports a run leaves in its staging directory, most advanced first.
_REPORTS = ("publish", "failed", "retention", "load", "gate", "minimise", "extract")


def airflow_emitter() -> Emitter | None:
    """The OpenLineage provider's adapter (None when the provider is disabled or has no
    transport); without the provider, the plain client as on the CLI. Only inside Airflow
    (airflow already imported): importing it elsewhere would read its configuration early."""
    if "airflow" not in sys.modules:
        return cli_emitter()
    try:
        from airflow.providers.openlineage import conf
        from airflow.providers.openlineage.plugins.adapter import OpenLineageAdapter
    except ImportError:
        return cli_emitter()
    if conf.is_disabled():
        return None
    return OpenLineageAdapter()


def emit_staged_run(policy_file: Path, where: Path, *, warehouse: str, sources: Sources) -> int:
    """Emit the run's START and COMPLETE/FAIL events; returns how many were sent."""
    last = next((where / f"{n}.json" for n in _REPORTS if (where / f"{n}.json").exists()), None)
    if last is None:
        return 0
    doc = json.loads(last.read_text())
    # A task's saved state (minimizer.flow.RunState) holds the run's report under "report".
    report = RunReport.from_json(json.dumps(doc.get("report", doc)))
    if last.stem != "publish" and report.status != "failed":
        report.status, report.error = RunStatus.FAILED, "a task failed; see its Airflow log"
        report.finished_at = datetime.now(UTC)
    policy = load_policy(policy_file)
    return emit_run(policy, report, warehouse=warehouse, sources=sources, emitter=airflow_emitter)
