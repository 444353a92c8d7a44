"""Wiring for callers (CLI, Airflow, demo): policy file + locations in, a finished run out.

Kept apart from :mod:`minimizer.pipeline` so the pipeline stays a pure function of its inputs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from minimizer.gate import gate_feature
from minimizer.guarantees.enforce import guarantees_feature
from minimizer.io.warehouse import Warehouse, open_warehouse
from minimizer.keys import KeyRing, load_keyring
from minimizer.pipeline import Hooks, RunReport, Sources, day_interval, run_purpose
from minimizer.policy import Policy, load_policy
from minimizer.rights.suppression import suppression_hooks

__all__ = ["FEATURES", "RunSetting", "build_hooks", "default_artifacts", "run_policy_file"]

log = logging.getLogger("minimizer.run")


def default_artifacts(warehouse: str) -> Path:
    """Artefacts sit beside a DuckDB file; for PostgreSQL, in ./minimizer-artifacts."""
    if warehouse.startswith("postgresql://"):
        return Path("minimizer-artifacts")
    return Path(warehouse).resolve().parent / "artifacts"


@dataclass(frozen=True)
class RunSetting:
    """What a feature may need to build its hooks for one run."""

    policy: Policy
    keyring: KeyRing
    warehouse: Warehouse
    artifacts: Path


# Each feature contributes hooks to a run: guarantees first (they rewrite the staged data),
# then the leak gate over the result. Features append themselves here, in that order.
FEATURES: list[Callable[[RunSetting], Hooks]] = [
    suppression_hooks,  # erased subjects first
    guarantees_feature,  # then the guarantees, which rewrite the staged data
    gate_feature,  # the leak gate last, over what the guarantees leave (minimizer.gate)
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
) -> RunReport:
    policy = load_policy(policy_file)
    ring = keyring or load_keyring()
    artifacts = artifacts or default_artifacts(warehouse)
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

        return run_purpose(
            policy,
            Sources.from_dir(sources, crm_url),
            wh,
            ring,
            as_of=as_of,
            interval=interval,
            artifacts=artifacts,
            progress=progress,
            hooks=build_hooks(RunSetting(policy, ring, wh, artifacts)),
            on_finish=lambda report: _append_run_log(artifacts, report),
        )
