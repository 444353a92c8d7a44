"""The pieces every way of running shares, and the run's records for callers.

`Sources` says where the raw data lives, `open_source` opens one of them after checking the
columns the policy names, `source_window` is the part of it a run reads, and `start_run` starts
a run's report. `RunReport` and `SourceReport` (defined in :mod:`minimizer.report`, below the
guarantees and the gate that read and write them) and `ChunkObserver` (:mod:`minimizer.minimise`)
are re-exported here. The steps of a run and their order are in :mod:`minimizer.flow`.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from minimizer.errors import MinimizerError, SourceError
from minimizer.io.sources import EventSource, Source, TableSource
from minimizer.keys import KeyRing
from minimizer.minimise import ChunkObserver
from minimizer.plan import SourcePlan, plan_source
from minimizer.policy import Policy, SourceSpec
from minimizer.report import RunReport, RunStatus, SourceReport
from minimizer.transforms import TransformContext

__all__ = [
    "ChunkObserver",
    "RunReport",
    "RunStatus",
    "SourceReport",
    "Sources",
    "day_interval",
    "mark_crashed",
    "mark_failed",
    "open_source",
    "retention_cutoff",
    "source_window",
    "start_run",
]

log = logging.getLogger("minimizer.run")


@dataclass(frozen=True)
class Sources:
    """Where the raw data lives: a CRM database (SQLite file or PostgreSQL URL) and event files."""

    crm: str
    events: Path

    @classmethod
    def from_dir(cls, directory: Path, crm_url: str | None = None) -> Sources:
        return cls(crm=crm_url or str(directory / "crm.sqlite"), events=directory / "events")

    def open(self, name: str, spec: SourceSpec) -> Source:
        if spec.kind == "events":
            return EventSource(self.events)
        return TableSource(self.crm, spec.table or name)


def retention_cutoff(policy: Policy, as_of: datetime) -> datetime:
    # Whole days keep reruns within one day identical.
    day = as_of.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - policy.retention


def start_run(
    policy: Policy, keyring: KeyRing, as_of: datetime | None = None
) -> tuple[RunReport, TransformContext]:
    """A new run's report and transform context: run id, key version, as-of and cutoff."""
    started = datetime.now(UTC)
    as_of = (as_of or started).astimezone(UTC)
    key = keyring.purpose_key(policy.purpose)
    report = RunReport(
        run_id=f"{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}",
        purpose=policy.purpose,
        policy_sha256=policy.sha256,
        key_version=key.version,
        started_at=started,
        as_of=as_of,
        retention_cutoff=retention_cutoff(policy, as_of),
    )
    return report, TransformContext(policy.purpose, as_of, key)


def open_source(policy: Policy, sources: Sources, name: str) -> tuple[Source, SourcePlan]:
    """The source's handle and plan. Every column the policy names must exist; columns it does
    not name (schema drift) are reported and never read."""
    spec = policy.sources[name]
    handle = sources.open(name, spec)
    available = handle.columns()
    missing = [c for c in spec.inputs() if c not in available]
    if missing:
        raise SourceError(
            f"source {name!r} lacks column(s) {missing} that the policy names",
            table=name,
            column=",".join(missing),
            check="columns",
            reason="missing_column",
            count=len(missing),
        )
    plan = plan_source(policy, name, available)
    if plan.drift:
        log.warning(
            "schema drift in %s: %d unnamed column(s) dropped: %s",
            name,
            len(plan.drift),
            ", ".join(plan.drift),
        )
    return handle, plan


def source_window(
    spec: SourceSpec, cutoff: datetime, interval: tuple[datetime, datetime] | None
) -> tuple[datetime, datetime | None]:
    """(since, until) to read: tables from the retention cutoff on; events only inside the
    run's interval (never before the cutoff)."""
    if spec.kind != "events":
        return cutoff, None
    if interval is None:
        return cutoff, None
    return max(cutoff, interval[0]), interval[1]


def mark_failed(report: RunReport, exc: MinimizerError) -> None:
    report.status = RunStatus.FAILED
    report.error = f"{type(exc).__name__}: {exc}"
    report.finished_at = datetime.now(UTC)


def mark_crashed(report: RunReport, exc: BaseException) -> None:
    """A crash (a bug) is a failed run too; its message may quote a value: type only."""
    report.status = RunStatus.FAILED
    report.error = f"internal error ({type(exc).__name__}); nothing was loaded"
    report.finished_at = datetime.now(UTC)


def day_interval(day: datetime) -> tuple[datetime, datetime]:
    start = day.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)
