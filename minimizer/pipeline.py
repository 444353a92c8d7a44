"""One run of one purpose: extract ▶ minimise ▶ enforce guarantees ▶ gate ▶ load.

Each source is streamed in chunks and minimised into a staging folder as Parquet; guarantees that
need global counts read the staged output; the gate checks it; only then does one warehouse
transaction replace the purpose's tables and write the audit row. Any failure before the commit
leaves the warehouse as it was (fail closed). Raw data is never written to staging except rows
rejected as unparseable, which go to a quarantine folder outside the warehouse.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from minimizer.errors import DataError, MinimizerError, SourceError
from minimizer.io.sources import EventSource, TableSource
from minimizer.io.warehouse import TableLoad, Warehouse
from minimizer.keys import KeyRing
from minimizer.minimise import minimise_chunk
from minimizer.plan import SourcePlan, plan_source
from minimizer.policy import Policy, SourceSpec
from minimizer.transforms import TransformContext

__all__ = ["ChunkObserver", "Hooks", "RunReport", "SourceReport", "Sources", "run_purpose"]

log = logging.getLogger("minimizer.run")
Progress = Callable[[str, int], None]


@dataclass(frozen=True)
class Sources:
    """Where the raw data lives: a CRM database (SQLite file or PostgreSQL URL) and event files."""

    crm: str
    events: Path

    @classmethod
    def from_dir(cls, directory: Path, crm_url: str | None = None) -> Sources:
        return cls(crm=crm_url or str(directory / "crm.sqlite"), events=directory / "events")

    def open(self, name: str, spec: SourceSpec) -> TableSource | EventSource:
        if spec.kind == "events":
            return EventSource(self.events)
        return TableSource(self.crm, spec.table or name)


@dataclass
class SourceReport:
    source: str
    rows_in: int = 0
    rows_out: int = 0
    rejected: int = 0
    invalid_by_column: dict[str, int] = field(default_factory=dict)
    dropped: tuple[str, ...] = ()
    drift: tuple[str, ...] = ()
    excluded: int = 0  # rows left out before minimising (erased subjects)
    staged: Path | None = None
    schema: pa.Schema | None = None
    # Figures for the audit record (JSON-able, no values) ...
    measures: dict[str, Any] = field(default_factory=dict)
    # ... and in-memory working data for later checks (never written anywhere).
    scratch: dict[str, Any] = field(default_factory=dict)


class ChunkObserver(Protocol):
    """Sees each chunk's raw rows and what they were minimised to, aligned row by row."""

    def observe(self, raw: pd.DataFrame, published: pd.DataFrame) -> None: ...

    def finish(self, report: SourceReport) -> None: ...


def _no_observers(source: str, spec: SourceSpec) -> Sequence[ChunkObserver]:
    return ()


@dataclass(frozen=True)
class Hooks:
    """How the gate, the guarantees and erasure plug into a run without the pipeline knowing them."""

    # A keep-mask over a raw chunk: erased subjects never come back with the next load.
    exclude: Callable[[str, SourceSpec, pd.DataFrame], np.ndarray] | None = None
    observers: Callable[[str, SourceSpec], Sequence[ChunkObserver]] = _no_observers
    # Run in order after staging, before the load; each may rewrite staged files or raise.
    checks: tuple[Callable[[Policy, RunReport], None], ...] = ()

    @staticmethod
    def combine(*parts: Hooks) -> Hooks:
        """One Hooks from several features: observers and checks in order, excludes all apply."""
        excludes = [h.exclude for h in parts if h.exclude is not None]

        def exclude(name: str, spec: SourceSpec, chunk: pd.DataFrame) -> np.ndarray:
            keep = np.ones(len(chunk), dtype=bool)
            for one in excludes:
                keep &= one(name, spec, chunk)
            return keep

        def observers(name: str, spec: SourceSpec) -> Sequence[ChunkObserver]:
            return [o for h in parts for o in h.observers(name, spec)]

        return Hooks(
            exclude=exclude if excludes else None,
            observers=observers,
            checks=tuple(c for h in parts for c in h.checks),
        )


@dataclass
class RunReport:
    run_id: str
    purpose: str
    policy_sha256: str
    key_version: int
    started_at: datetime
    as_of: datetime
    retention_cutoff: datetime
    sources: dict[str, SourceReport] = field(default_factory=dict)
    guarantees: dict[str, Any] = field(default_factory=dict)
    gate: dict[str, Any] = field(default_factory=dict)
    status: str = "running"
    finished_at: datetime | None = None
    loaded_rows: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    def audit_row(self) -> dict[str, object]:
        """The run's audit record: names, counts and hashes only, never a value."""
        return {
            "run_id": self.run_id,
            "purpose": self.purpose,
            "policy_sha256": self.policy_sha256,
            "status": self.status,
            "started_at": self.started_at,
            "finished_at": self.finished_at or datetime.now(UTC),
            "key_version": self.key_version,
            "rows_in": {s: r.rows_in for s, r in self.sources.items()},
            "rows_out": {s: r.rows_out for s, r in self.sources.items()},
            "dropped_columns": {s: list(r.dropped) for s, r in self.sources.items()},
            "schema_drift": {s: list(r.drift) for s, r in self.sources.items()},
            "details": {
                "as_of": self.as_of.isoformat(),
                "retention_cutoff": self.retention_cutoff.isoformat(),
                "rejected": {s: r.rejected for s, r in self.sources.items()},
                "excluded_erased": {s: r.excluded for s, r in self.sources.items()},
                "measures": {s: r.measures for s, r in self.sources.items()},
                "invalid_by_column": {s: r.invalid_by_column for s, r in self.sources.items()},
                "guarantees": self.guarantees,
                "gate": self.gate,
                "error": self.error,
            },
        }


def retention_cutoff(policy: Policy, as_of: datetime) -> datetime:
    # Whole days keep reruns within one day identical.
    day = as_of.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - policy.retention


def time_output(spec: SourceSpec) -> str | None:
    """The published column derived from the source's time column, if any."""
    if not spec.time:
        return None
    for out, t in spec.outputs().items():
        if spec.time in t.inputs(out):
            return out
    return None


def _chunks(
    handle: TableSource | EventSource, spec: SourceSpec, since: datetime, until: datetime | None
) -> Iterator[pd.DataFrame]:
    if spec.time is None:
        yield from handle.chunks(spec.inputs())
    else:
        yield from handle.chunks(spec.inputs(), time_column=spec.time, since=since, until=until)


def _to_arrow(frame: pd.DataFrame, schema: pa.Schema | None) -> pa.Table:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    # pandas' strings come out as large_string; the warehouse wants plain strings.
    fields = [
        pa.field(f.name, pa.string()) if pa.types.is_large_string(f.type) else f
        for f in table.schema
    ]
    table = table.cast(pa.schema(fields))
    if schema is None:
        return table
    return table.cast(schema) if table.schema != schema else table


@dataclass(frozen=True)
class _Stager:
    """Run-wide context for staging sources."""

    ctx: TransformContext
    staging: Path
    quarantine: Path
    hooks: Hooks
    progress: Progress | None

    def stage(
        self,
        name: str,
        spec: SourceSpec,
        handle: TableSource | EventSource,
        since: datetime,
        until: datetime | None,
    ) -> SourceReport:
        report = SourceReport(source=name)
        staged = self.staging / f"{name}.parquet"
        observers = list(self.hooks.observers(name, spec))
        writers: dict[str, pq.ParquetWriter] = {}
        try:
            for chunk in _chunks(handle, spec, since, until):
                report.rows_in += len(chunk)
                if self.hooks.exclude is not None:
                    keep = self.hooks.exclude(name, spec, chunk)
                    report.excluded += int((~keep).sum())
                    chunk = chunk.loc[keep].reset_index(drop=True)
                result = minimise_chunk(chunk, spec, self.ctx)
                for col, n in result.invalid_by_column.items():
                    report.invalid_by_column[col] = report.invalid_by_column.get(col, 0) + n
                frame = result.frame
                if result.invalid.any():
                    self._reject(
                        name, spec, chunk, result.invalid, result.invalid_by_column, writers
                    )
                    report.rejected += int(result.invalid.sum())
                    chunk = chunk.loc[~result.invalid].reset_index(drop=True)
                    frame = frame.loc[~result.invalid].reset_index(drop=True)
                for observer in observers:
                    observer.observe(chunk, frame)
                table = _to_arrow(frame, writers["out"].schema if "out" in writers else None)
                if "out" not in writers:
                    writers["out"] = pq.ParquetWriter(staged, table.schema)
                writers["out"].write_table(table)
                report.rows_out += table.num_rows
                if self.progress:
                    self.progress(name, report.rows_in)
        finally:
            for writer in writers.values():
                writer.close()
        if "out" not in writers:
            # An empty source still defines its table: transform an empty frame for the schema.
            empty = pd.DataFrame({c: pd.Series(dtype="str") for c in spec.inputs()})
            pq.write_table(_to_arrow(minimise_chunk(empty, spec, self.ctx).frame, None), staged)
        report.staged = staged
        report.schema = pq.read_schema(staged)
        for observer in observers:
            observer.finish(report)
        return report

    def _reject(
        self,
        name: str,
        spec: SourceSpec,
        chunk: pd.DataFrame,
        invalid: np.ndarray,
        by_column: dict[str, int],
        writers: dict[str, pq.ParquetWriter],
    ) -> None:
        if spec.on_invalid == "fail":
            cols = sorted(by_column)
            raise DataError(
                f"unparseable values in source {name!r}, columns {cols}; the policy "
                "says on_invalid: fail (use 'reject' to quarantine such rows)",
                table=name,
                column=",".join(cols),
                check="parse",
                reason="unparseable",
                count=int(invalid.sum()),
            )
        # Raw rows, kept for a person to fix the source: outside the warehouse, owner-only.
        rejected = pa.Table.from_pandas(chunk.loc[invalid], preserve_index=False)
        if "rejected" not in writers:
            self.quarantine.mkdir(parents=True, exist_ok=True, mode=0o700)
            path = self.quarantine / f"{name}.parquet"
            writers["rejected"] = pq.ParquetWriter(path, rejected.schema)
        writers["rejected"].write_table(rejected.cast(writers["rejected"].schema))


def run_purpose(
    policy: Policy,
    sources: Sources,
    warehouse: Warehouse,
    keyring: KeyRing,
    *,
    as_of: datetime | None = None,
    interval: tuple[datetime, datetime] | None = None,
    artifacts: Path | None = None,
    progress: Progress | None = None,
    hooks: Hooks = Hooks(),
    on_finish: Callable[[RunReport], None] | None = None,
) -> RunReport:
    """Run one purpose end to end. Raises a MinimizerError (nothing loaded) on any failure."""
    started = datetime.now(UTC)
    as_of = (as_of or started).astimezone(UTC)
    key = keyring.purpose_key(policy.purpose)
    cutoff = retention_cutoff(policy, as_of)
    report = RunReport(
        run_id=f"{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}",
        purpose=policy.purpose,
        policy_sha256=policy.sha256,
        key_version=key.version,
        started_at=started,
        as_of=as_of,
        retention_cutoff=cutoff,
    )
    ctx = TransformContext(policy.purpose, as_of, key)
    artifacts = artifacts or Path(tempfile.gettempdir()) / "minimizer-artifacts"
    staging = Path(tempfile.mkdtemp(prefix=f"minimizer-{policy.purpose}-"))
    quarantine = artifacts / "rejected" / report.run_id
    stager = _Stager(ctx, staging, quarantine, hooks, progress)
    plans: dict[str, SourcePlan] = {}
    try:
        for name, spec in policy.sources.items():
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
            plans[name] = plan_source(policy, name, available)
            if plans[name].drift:
                log.warning(
                    "schema drift in %s: %d unnamed column(s) dropped: %s",
                    name,
                    len(plans[name].drift),
                    ", ".join(plans[name].drift),
                )
            since = cutoff if interval is None else max(cutoff, interval[0])
            until = interval[1] if interval is not None and spec.kind == "events" else None
            if spec.kind != "events":
                since = cutoff
            rep = stager.stage(name, spec, handle, since, until)
            rep.dropped, rep.drift = plans[name].dropped, plans[name].drift
            report.sources[name] = rep
        for check in hooks.checks:
            check(policy, report)
        loads = [
            _table_load(policy, name, plans[name], report, interval) for name in policy.sources
        ]
        audit = {**report.audit_row(), "status": "loaded"}
        report.loaded_rows = warehouse.load(policy.purpose, loads, audit)
        report.status = "loaded"
        report.finished_at = datetime.now(UTC)
        return report
    except MinimizerError as exc:
        report.status = "failed"
        report.error = f"{type(exc).__name__}: {exc}"
        report.finished_at = datetime.now(UTC)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if on_finish is not None:
            on_finish(report)


def _table_load(
    policy: Policy,
    name: str,
    plan: SourcePlan,
    report: RunReport,
    interval: tuple[datetime, datetime] | None,
) -> TableLoad:
    spec = policy.sources[name]
    rep = report.sources[name]
    assert rep.staged is not None and rep.schema is not None
    time_col = time_output(spec)
    ranged = interval is not None and spec.kind == "events" and time_col is not None
    return TableLoad(
        table=name,
        files=[rep.staged],
        schema=rep.schema,
        comments={c.output: c.comment for c in plan.outputs if c.output},
        table_comment=(
            f"{policy.purpose}: {policy.description} Legal basis: {policy.legal_basis.value}. "
            f"Retention {policy.retention_days:g} days. Generated by minimizer from "
            f"{Path(policy.file).name} (sha256 {policy.sha256[:12]})."
        ),
        mode="replace_range" if ranged else "replace",
        range_column=time_col if ranged else None,
        range_start=interval[0] if ranged and interval else None,
        range_end=interval[1] if ranged and interval else None,
        retention_column=time_col,
        retention_cutoff=report.retention_cutoff if time_col else None,
    )


def day_interval(day: datetime) -> tuple[datetime, datetime]:
    start = day.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)
