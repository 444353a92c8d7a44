"""Wiring for callers (CLI, demo): policy file + locations in, a finished run out.

Opens the warehouse, the key ring and the progress bar, runs every step of
:mod:`minimizer.flow` and records the run (``runs.jsonl``, artefact pruning, lineage). The
Airflow tasks (:mod:`minimizer.orchestration.tasks`) run the same steps and the same record.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from minimizer.errors import PolicyError
from minimizer.flow import ALL, Engine, Steps, record, run_purpose, stage_sources
from minimizer.io.warehouse import open_warehouse
from minimizer.keys import KeyRing, load_keyring
from minimizer.lineage import emit_run
from minimizer.pipeline import RunReport, Sources, day_interval
from minimizer.policy import load_policy

__all__ = ["STEPS", "default_artifacts", "run_policy_file", "stage_engine"]

log = logging.getLogger("minimizer.run")


_SERVER_URLS = ("postgresql://", "postgres://", "postgresql+psycopg://")


def default_artifacts(warehouse: str) -> Path:
    """Artefacts sit beside a DuckDB file; for PostgreSQL, in ./minimizer-artifacts. Always an
    absolute path: the gate's Data Docs link files by URI, which a relative path cannot be."""
    if warehouse.startswith(_SERVER_URLS):
        return Path("minimizer-artifacts").resolve()
    return Path(warehouse).resolve().parent / "artifacts"


# Every step of the flow; a test may take some out (minimizer.flow.Steps).
STEPS: Steps = ALL


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
    engine: str | None = None,
    master: str | None = None,
) -> RunReport:
    """One run of a policy file. ``keep_artifacts`` (default: ``MINIMIZER_KEEP_ARTIFACTS``, else
    keep all) prunes the artefacts of older runs when the run ends, loaded or failed.
    ``engine``: ``local`` stages the sources in this process, ``spark`` on Spark (``master``,
    default ``local[*]``); None takes the policy's ``engine``. The steps after staging are the
    same."""
    from minimizer.audit.retention import keep_from_env

    keep = keep_artifacts if keep_artifacts is not None else keep_from_env()
    policy = load_policy(policy_file)
    ring = keyring or load_keyring()
    # Resolved once, here: every artefact path below is absolute, whatever the cwd does later.
    artifacts = (artifacts or default_artifacts(warehouse)).resolve()
    interval = day_interval(datetime(day.year, day.month, day.day, tzinfo=UTC)) if day else None
    # A bad choice fails before the warehouse opens.
    stage = stage_engine(engine or policy.engine, master)
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
            # rich types TaskID as a NewType of int that add_task returns; our dict holds it as int.
            bar.update(tasks[source], completed=rows)  # type: ignore[arg-type]

        source_set = Sources.from_dir(sources, crm_url)

        def finish(report: RunReport) -> None:
            record(artifacts, report, keep)
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
            steps=STEPS,
            on_finish=finish,
            engine=stage,
        )


def stage_engine(name: str, master: str | None = None) -> Engine:
    """The engine that stages the sources; pyspark is imported only for ``spark``."""
    if name == "spark":
        from minimizer.engines.spark.engine import SparkEngine

        return SparkEngine(master=master)
    if master is not None:
        raise PolicyError.single("--master", "a Spark master URL needs --engine spark")
    return stage_sources
