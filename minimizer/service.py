"""Wiring for callers (CLI, Airflow, demo): policy file + locations in, a finished run out.

Kept apart from :mod:`minimizer.pipeline` so the pipeline stays a pure function of its inputs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from minimizer.aggregate.feature import aggregate_feature
from minimizer.gate import gate_feature
from minimizer.guarantees.enforce import guarantees_feature
from minimizer.guarantees.traces import unicity_feature
from minimizer.io.warehouse import Warehouse, open_warehouse
from minimizer.keys import KeyRing, load_keyring
from minimizer.lineage import emit_run
from minimizer.pipeline import Hooks, RunReport, Sources, day_interval, run_purpose
from minimizer.policy import Policy, load_policy
from minimizer.rights.suppression import suppression_hooks

__all__ = ["FEATURES", "RunSetting", "build_hooks", "default_artifacts", "run_policy_file"]

log = logging.getLogger("minimizer.run")


_SERVER_URLS = ("postgresql://", "postgres://", "postgresql+psycopg://")


def default_artifacts(warehouse: str) -> Path:
    """Artefacts sit beside a DuckDB file; for PostgreSQL, in ./minimizer-artifacts. Always an
    absolute path: the gate's Data Docs link files by URI, which a relative path cannot be."""
    if warehouse.startswith(_SERVER_URLS):
        return Path("minimizer-artifacts").resolve()
    return Path(warehouse).resolve().parent / "artifacts"


@dataclass(frozen=True)
class RunSetting:
    """What a feature may need to build its hooks for one run."""

    policy: Policy
    keyring: KeyRing
    warehouse: Warehouse
    artifacts: Path
    sources: Sources | None = None  # the raw side, for features that read more of it (the gate)


# Each feature contributes hooks to a run: guarantees first (they rewrite the staged data),
# then the leak gate over the result. Features append themselves here, in that order.
FEATURES: list[Callable[[RunSetting], Hooks]] = [
    suppression_hooks,  # erased subjects first
    guarantees_feature,  # then the guarantees, which rewrite the staged data
    unicity_feature,  # max_unicity of trace-level purposes, on what would be published
    gate_feature,  # the leak gate, over what the guarantees leave (minimizer.gate)
    aggregate_feature,  # aggregate sources: gated rows become counts (minimizer.aggregate)
]


def build_hooks(setting: RunSetting) -> Hooks:
    return Hooks.combine(*(feature(setting) for feature in FEATURES))


def _append_run_log(artifacts: Path, report: RunReport) -> None:
    # Failed runs load nothing, so their record lives beside the warehouse, not in it.
    artifacts.mkdir(parents=True, exist_ok=True)
    with (artifacts / "runs.jsonl").open("a") as fh:
        fh.write(json.dumps(report.audit_row(), sort_keys=True, default=str) + "\n")


def run_policy_file(
    policy_file: Path,
    *,
    sources: Path,
    warehouse: str,
    crm_url: str | None = None,
    day: date | None = None,
    as_of: datetime | None = None,
    artifacts: Path | None = None,
    keyring: KeyRing | None = None,
    console: Console | None = None,
    keep_artifacts: timedelta | None = None,
) -> RunReport:
    """One run of a policy file. ``keep_artifacts`` (default: ``MINIMIZER_KEEP_ARTIFACTS``, else
    keep all) prunes the artefacts of older runs when the run ends, loaded or failed."""
    from minimizer.audit.retention import keep_from_env

    keep = keep_artifacts if keep_artifacts is not None else keep_from_env()
    policy = load_policy(policy_file)
    ring = keyring or load_keyring()
    # Resolved once, here: every artefact path below is absolute, whatever the cwd does later.
    artifacts = (artifacts or default_artifacts(warehouse)).resolve()
    interval = day_interval(datetime(day.year, day.month, day.day, tzinfo=UTC)) if day else None
    with (
        open_warehouse(warehouse) as wh,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,} rows"),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
            transient=True,
            disable=console is None,
        ) as bar,
    ):
        tasks: dict[str, object] = {}

        def progress(source: str, rows: int) -> None:
            if source not in tasks:
                tasks[source] = bar.add_task(f"{policy.purpose}.{source}", total=None)
            bar.update(tasks[source], completed=rows)  # type: ignore[arg-type]

        source_set = Sources.from_dir(sources, crm_url)

        def finish(report: RunReport) -> None:
            _finish(artifacts, report, keep)
            # OpenLineage START and COMPLETE/FAIL, when a transport is configured.
            emit_run(policy, report, warehouse=warehouse, sources=source_set)

        return run_purpose(
            policy,
            source_set,
            wh,
            ring,
            as_of=as_of,
            interval=interval,
            artifacts=artifacts,
            progress=progress,
            hooks=build_hooks(RunSetting(policy, ring, wh, artifacts, source_set)),
            on_finish=finish,
        )


def _finish(artifacts: Path, report: RunReport, keep: timedelta | None) -> None:
    _append_run_log(artifacts, report)
    if keep is not None:
        from minimizer.audit.retention import prune_artifacts

        prune_artifacts(artifacts, keep, spare=report.run_id)
