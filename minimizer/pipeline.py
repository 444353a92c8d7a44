"""One run of one purpose: extract ▶ minimise ▶ enforce guarantees ▶ gate ▶ load.

Each source is streamed in chunks and minimised into a staging folder as Parquet; guarantees that
need global counts read the staged output; the gate checks it; only then does one warehouse
transaction replace the purpose's tables and write the audit row. Any failure before the commit
leaves the warehouse as it was (fail closed). Raw data is never written to staging except rows
rejected as unparseable, which go to a quarantine folder outside the warehouse.
"""

from __future__ import annotations

import base64
import json
import logging
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from minimizer.aggregate.load import aggregate_comments, aggregate_table_load
from minimizer.errors import DataError, MinimizerError, SourceError
from minimizer.io.sources import EventSource, TableSource
from minimizer.io.staging import open_staging
from minimizer.io.warehouse import TableLoad, Warehouse
from minimizer.keys import KeyRing
from minimizer.minimise import minimise_chunk
from minimizer.outcome import loaded_comments
from minimizer.parallel import default_workers, ordered_map
from minimizer.plan import SourcePlan, plan_source
from minimizer.policy import Policy, SourceSpec
from minimizer.retention import retention_unit, screen_times
from minimizer.rights.registry import table_entries
from minimizer.sortable import with_lower_bounds
from minimizer.transforms import TransformContext

__all__ = [
    "ChunkObserver",
    "Hooks",
    "RunReport",
    "SourceReport",
    "Sources",
    "Stager",
    "mark_failed",
    "open_source",
    "run_checks",
    "run_purpose",
    "source_window",
    "start_run",
    "table_loads",
]

log = logging.getLogger("minimizer.run")
# Tokens and cells repeat: a dictionary page large enough for a chunk's distinct values keeps
# them dictionary-encoded, so the gate and the load read them back without rebuilding it.
STAGED_DICTIONARY_BYTES = 16 * 2**20
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
    # This run's published rows; rows_out becomes the table's count after the load (a --day
    # run replaces one day of a larger table), so the summary needs both.
    rows_staged: int | None = None
    rejected: int = 0
    invalid_by_column: dict[str, int] = field(default_factory=dict)
    dropped: tuple[str, ...] = ()
    drift: tuple[str, ...] = ()
    excluded: int = 0  # rows left out before minimising (erased subjects)
    staged: Path | None = None
    schema: pa.Schema | None = None
    # Figures for the audit record (JSON-able, no values) ...
    measures: dict[str, Any] = field(default_factory=dict)
    # ... and working data for later checks (never written to the warehouse). Between Airflow
    # tasks it travels as JSON: only paths, text and JSON values survive.
    scratch: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (see `RunReport.to_json`). Names and counts only, like the report."""
        return {
            "source": self.source,
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "rows_staged": self.rows_staged,
            "rejected": self.rejected,
            "invalid_by_column": self.invalid_by_column,
            "dropped": list(self.dropped),
            "drift": list(self.drift),
            "excluded": self.excluded,
            "staged": None if self.staged is None else str(self.staged),
            "schema": None if self.schema is None else _schema_text(self.schema),
            "measures": self.measures,
            "scratch": {k: _scratch_value(self.source, k, v) for k, v in self.scratch.items()},
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> SourceReport:
        return cls(
            source=doc["source"],
            rows_in=doc["rows_in"],
            rows_out=doc["rows_out"],
            rows_staged=doc.get("rows_staged"),
            rejected=doc["rejected"],
            invalid_by_column=dict(doc["invalid_by_column"]),
            dropped=tuple(doc["dropped"]),
            drift=tuple(doc["drift"]),
            excluded=doc["excluded"],
            staged=None if doc["staged"] is None else Path(doc["staged"]),
            schema=None if doc["schema"] is None else _schema_from_text(doc["schema"]),
            measures=dict(doc["measures"]),
            scratch={k: _scratch_from(v) for k, v in doc["scratch"].items()},
        )


_PATH_TAG = "$path"


def _schema_text(schema: pa.Schema) -> str:
    return base64.b64encode(schema.serialize().to_pybytes()).decode()


def _schema_from_text(text: str) -> pa.Schema:
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text)))


def _json_default(value: object) -> object:
    # numpy scalars (counts from vectorised code) are plain numbers in JSON.
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON-able")


def _scratch_value(source: str, key: str, value: object) -> object:
    """A scratch entry as JSON: a path is tagged so that it comes back as a path."""
    if isinstance(value, Path):
        return {_PATH_TAG: str(value)}
    try:
        return json.loads(json.dumps(value, default=_json_default))
    except (TypeError, ValueError):
        raise TypeError(
            f"scratch[{key!r}] of source {source!r} holds a {type(value).__name__}; only "
            "paths, text and JSON values survive between tasks (write data to a staged file "
            "and keep its path)"
        ) from None


def _scratch_from(value: object) -> object:
    if isinstance(value, dict) and set(value) == {_PATH_TAG}:
        return Path(value[_PATH_TAG])
    return value


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

    _TIMES = ("started_at", "as_of", "retention_cutoff", "finished_at")

    def to_json(self) -> str:
        """The report as JSON, so a run can continue in another process (one Airflow task per
        phase). Holds names, counts, hashes and staging paths; never a value or a key."""
        doc: dict[str, Any] = {
            "format": "minimizer-run-report/1",
            "run_id": self.run_id,
            "purpose": self.purpose,
            "policy_sha256": self.policy_sha256,
            "key_version": self.key_version,
            "sources": {name: rep.to_dict() for name, rep in self.sources.items()},
            "guarantees": self.guarantees,
            "gate": self.gate,
            "status": self.status,
            "loaded_rows": self.loaded_rows,
            "error": self.error,
        }
        for name in self._TIMES:
            moment = getattr(self, name)
            doc[name] = None if moment is None else moment.isoformat()
        return json.dumps(doc, indent=1, sort_keys=True, default=_json_default) + "\n"

    @classmethod
    def from_json(cls, text: str) -> RunReport:
        doc = json.loads(text)
        if doc.get("format") != "minimizer-run-report/1":
            raise ValueError("not a minimizer run report")
        times = {
            name: None if doc[name] is None else datetime.fromisoformat(doc[name])
            for name in cls._TIMES
        }
        return cls(
            run_id=doc["run_id"],
            purpose=doc["purpose"],
            policy_sha256=doc["policy_sha256"],
            key_version=doc["key_version"],
            sources={n: SourceReport.from_dict(r) for n, r in doc["sources"].items()},
            guarantees=doc["guarantees"],
            gate=doc["gate"],
            status=doc["status"],
            loaded_rows=doc["loaded_rows"],
            error=doc["error"],
            **times,
        )

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
        # Its main input, not a helper input (a rotating pseudonym also reads the time).
        if t.inputs(out) and t.source_of(out) == spec.time:
            return out
    return None


def _chunks(
    handle: TableSource | EventSource, spec: SourceSpec, since: datetime, until: datetime | None
) -> Iterator[pd.DataFrame]:
    if spec.time is None:
        yield from handle.chunks(spec.inputs())
    else:
        yield from handle.chunks(spec.inputs(), time_column=spec.time, since=since, until=until)


def to_arrow(frame: pd.DataFrame, schema: pa.Schema | None = None) -> pa.Table:
    """A published frame as the Arrow table staging writes (plain strings, fixed schema)."""
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
class Stager:
    """Run-wide context for staging sources."""

    ctx: TransformContext
    staging: Path
    quarantine: Path
    hooks: Hooks
    progress: Progress | None
    # Chunks minimised side by side (threads: the heavy steps release the GIL).
    workers: int = field(default_factory=default_workers)

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
            minimise = partial(minimise_chunk, spec=spec, ctx=self.ctx)
            chunks = self._kept(name, spec, _chunks(handle, spec, since, until), report)
            for chunk, result in ordered_map(minimise, chunks, self.workers):
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
                table = to_arrow(frame, writers["out"].schema if "out" in writers else None)
                if "out" not in writers:
                    writers["out"] = pq.ParquetWriter(
                        staged, table.schema, dictionary_pagesize_limit=STAGED_DICTIONARY_BYTES
                    )
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
            pq.write_table(to_arrow(minimise_chunk(empty, spec, self.ctx).frame, None), staged)
        report.staged = staged
        report.schema = pq.read_schema(staged)
        for observer in observers:
            observer.finish(report)
        return report

    def _kept(
        self, name: str, spec: SourceSpec, chunks: Iterator[pd.DataFrame], report: SourceReport
    ) -> Iterator[pd.DataFrame]:
        for chunk in chunks:
            report.rows_in += len(chunk)
            if self.hooks.exclude is not None:
                keep = self.hooks.exclude(name, spec, chunk)
                report.excluded += int((~keep).sum())
                chunk = chunk.loc[keep].reset_index(drop=True)
            # Future-dated rows to the quarantine (or fail), untimed rows out: see retention.
            timely = screen_times(
                name, spec, chunk, self.ctx.as_of, self.quarantine, report.measures
            )
            if timely is not None:
                chunk = chunk.loc[timely].reset_index(drop=True)
            yield chunk

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


def open_source(
    policy: Policy, sources: Sources, name: str
) -> tuple[TableSource | EventSource, SourcePlan]:
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


def run_checks(policy: Policy, report: RunReport, hooks: Hooks) -> None:
    """Guarantees, then the gate, over the staged output; any of them may raise."""
    for check in hooks.checks:
        check(policy, report)


def load_run(
    policy: Policy,
    report: RunReport,
    warehouse: Warehouse,
    interval: tuple[datetime, datetime] | None,
) -> None:
    """The one warehouse transaction: every table, retention deletes and the audit row."""
    loads = table_loads(policy, report, interval)
    audit = {**report.audit_row(), "status": "loaded"}
    report.loaded_rows = warehouse.load(policy.purpose, loads, audit)
    # What each table holds now (retention applied), as the warehouse's audit row says: so
    # runs.jsonl and a later record_audit of this run (Airflow's publish) say the same.
    for name, rows in report.loaded_rows.items():
        if name in report.sources:
            report.sources[name].rows_staged = report.sources[name].rows_out
            report.sources[name].rows_out = rows
    report.status = "loaded"
    report.finished_at = datetime.now(UTC)


def mark_failed(report: RunReport, exc: MinimizerError) -> None:
    report.status = "failed"
    report.error = f"{type(exc).__name__}: {exc}"
    report.finished_at = datetime.now(UTC)


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
    workers: int | None = None,
) -> RunReport:
    """Run one purpose end to end. Raises a MinimizerError (nothing loaded) on any failure.

    Streams each source straight through the transforms. Airflow runs the same steps as
    separate tasks through raw staging (see ``minimizer.orchestration.phases``).
    """
    report, ctx = start_run(policy, keyring, as_of)
    artifacts = (artifacts or Path(tempfile.gettempdir()) / "minimizer-artifacts").resolve()
    # Locked while this run lives; the next run removes it if this one is killed.
    staged_in = open_staging(policy.purpose)
    staging = staged_in.path
    quarantine = artifacts / "rejected" / report.run_id
    stager = Stager(ctx, staging, quarantine, hooks, progress, workers or default_workers())
    try:
        for name, spec in policy.sources.items():
            handle, plan = open_source(policy, sources, name)
            since, until = source_window(spec, report.retention_cutoff, interval)
            rep = stager.stage(name, spec, handle, since, until)
            rep.dropped, rep.drift = plan.dropped, plan.drift
            report.sources[name] = rep
        run_checks(policy, report, hooks)
        load_run(policy, report, warehouse, interval)
        return report
    except MinimizerError as exc:
        mark_failed(report, exc)
        raise
    except Exception as exc:
        # A crash (a bug) is a failed run too; its message may quote a value: type only.
        report.status = "failed"
        report.error = f"internal error ({type(exc).__name__}); nothing was loaded"
        report.finished_at = datetime.now(UTC)
        raise
    finally:
        staged_in.close()
        if on_finish is not None:
            on_finish(report)


def table_loads(
    policy: Policy, report: RunReport, interval: tuple[datetime, datetime] | None
) -> list[TableLoad]:
    """One load per source, from its staged file; events of an interval replace that range."""
    return [
        aggregate_table_load(policy, name, _table_load(policy, name, report, interval))
        for name in policy.sources
    ]


def _table_load(
    policy: Policy,
    name: str,
    report: RunReport,
    interval: tuple[datetime, datetime] | None,
) -> TableLoad:
    spec = policy.sources[name]
    plan = plan_source(policy, name)  # the treatment the policy asked for ...
    rep = report.sources[name]
    assert rep.staged is not None and rep.schema is not None
    time_col = time_output(spec)
    ranged = interval is not None and spec.kind == "events" and time_col is not None
    # Sortable buckets get <column>_from, from the published labels (after the gate).
    staged, schema, sort_comments = with_lower_bounds(policy, name, rep.staged, rep.schema)
    return TableLoad(
        table=name,
        files=[staged],
        schema=schema,
        # ... and what the guarantees made of it in this load (a tier k-anonymity set to *).
        comments=aggregate_comments(
            policy, name, {**loaded_comments(policy, report, name, plan.outputs), **sort_comments}
        ),
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
        retention_unit=retention_unit(spec, time_col, rep.measures),
        # What the warehouse registers about the table: subject token schemes, guarantees.
        registry=table_entries(policy, name, report.guarantees),
    )


def day_interval(day: datetime) -> tuple[datetime, datetime]:
    start = day.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)
