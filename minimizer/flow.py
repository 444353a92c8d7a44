"""One run of one purpose: a sequence of named steps, seen whole in `run_flow`.

::

    extract ─▶ minimise ─▶ enforce_guarantees ─▶ run_gate ─▶ assert_no_new_erasures
            ─▶ aggregate_outputs ─▶ load ─▶ record

- `extract`: one source's policy-named columns inside the run's window, so retention is decided
  here, on the raw event time; subjects on the suppression list are left out, rows dated in
  the future are quarantined (see :mod:`minimizer.retention`).
- `minimise`: the chunks through the transforms into a staged Parquet file, watched by named
  observers: the guarantees' raw quasi-identifiers and subjects, the raw points for unicity,
  the gate's canary. Rows that do not parse go to the quarantine.
- `enforce_guarantees`: k-anonymity, l-diversity, location and max_unicity rewrite the staged
  files (the only steps after `minimise` that change data, besides `aggregate_outputs`).
- `run_gate`: the leak gate validates what they leave; any failure stops the run.
- `assert_no_new_erasures`: no subject was erased since the extract began (else rows of theirs
  read before the erasure would be loaded after it).
- `aggregate_outputs`: the rows of aggregate sources become their released counts.
- `load`: one warehouse transaction: every table, the retention deletes and the audit row. The
  row counts recorded are the tables' counts after it.
- `record`: the run's line in ``runs.jsonl``, and older runs' artefacts pruned.

Any failure before `load` commits leaves the warehouse as it was (fail closed). The CLI runs
`run_flow` in one process (``minimizer.service``). Airflow runs the same steps as tasks
(``minimizer.orchestration.tasks``): extract, minimise, `check` (the four steps after staging),
load and publish, with the `RunState` saved as JSON between them. Tests call `run_purpose`.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property, partial
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, field_serializer, field_validator

from minimizer.aggregate.feature import aggregate_sources
from minimizer.aggregate.ledger import LEDGER_KEY, recheck_spend
from minimizer.aggregate.load import aggregate_comments, aggregate_table_load
from minimizer.errors import DataError, GuaranteeError, MinimizerError
from minimizer.gate.canary import CanaryObserver, CrmIndex
from minimizer.gate.feature import run_gate as validate_staged
from minimizer.gate.rules import identifier_plan
from minimizer.guarantees.enforce import enforce_guarantees as enforce_staged
from minimizer.guarantees.enforce import guarantee_observers
from minimizer.guarantees.traces import enforce_max_unicity, unicity_observers
from minimizer.io.sources import Source
from minimizer.io.staging import open_staging
from minimizer.io.warehouse import TableLoad, Warehouse
from minimizer.keys import KeyRing
from minimizer.minimise import STAGED_DICTIONARY_BYTES, minimise_chunk, to_arrow
from minimizer.outcome import loaded_comments, time_output
from minimizer.parallel import default_workers, ordered_map
from minimizer.pipeline import (
    ChunkObserver,
    RunReport,
    RunStatus,
    SourceReport,
    Sources,
    mark_crashed,
    mark_failed,
    open_source,
    source_window,
    start_run,
)
from minimizer.plan import plan_source
from minimizer.policy import Policy, SourceSpec
from minimizer.retention import retention_unit, screen_times
from minimizer.rights.registry import table_entries
from minimizer.rights.suppression import erased_rows, suppressed_digests
from minimizer.sortable import with_lower_bounds
from minimizer.transforms import TransformContext

__all__ = [
    "ALL",
    "BARE",
    "Engine",
    "Interval",
    "Progress",
    "Run",
    "RunState",
    "Steps",
    "aggregate_outputs",
    "assert_no_new_erasures",
    "check",
    "enforce_guarantees",
    "extract",
    "load",
    "minimise",
    "observers",
    "record",
    "run_flow",
    "run_gate",
    "run_purpose",
    "stage_sources",
    "suppression_set",
    "table_loads",
]

log = logging.getLogger("minimizer.run")
Interval = tuple[datetime, datetime] | None
Progress = Callable[[str, int], None]
Suppression = dict[int, pd.Index]  # key version -> digests of erased subjects


@dataclass(frozen=True)
class Steps:
    """Which of the optional steps a run takes. The CLI and Airflow take them all (`ALL`);
    `run_purpose` takes none unless asked (`BARE`: transform, aggregate and load), which tests
    use to look at one step at a time. `aggregate_outputs` is never optional: an aggregate
    source publishes its counts, never its rows."""

    suppression: bool = True  # extract leaves out erased subjects; assert_no_new_erasures
    guarantees: bool = True  # enforce_guarantees, and the observers it needs
    gate: bool = True  # run_gate, and its canary observer


ALL = Steps()
BARE = Steps(suppression=False, guarantees=False, gate=False)


class RunState(BaseModel):
    """What one step leaves for the next: the run's report, and how many erased subjects the
    suppression list held when the extract began. Round-trips through JSON (an Airflow task
    saves it to a file and hands the next task the path)."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["minimizer-run-state/1"] = "minimizer-run-state/1"
    report: RunReport
    erasures_listed: int = 0

    @field_serializer("report")
    def _report_doc(self, report: RunReport) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(report.to_json())
        return doc

    @field_validator("report", mode="before")
    @classmethod
    def _report_from(cls, value: object) -> object:
        if isinstance(value, dict):
            return RunReport.from_json(json.dumps(value))
        return value

    def to_json(self) -> str:
        return self.model_dump_json(indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> RunState:
        return cls.model_validate_json(text)


@dataclass
class Run:
    """One run as its steps see it: the policy, the state and where things go. Built once per
    process (once per Airflow task); only `state` crosses between processes."""

    policy: Policy
    keyring: KeyRing
    warehouse: Warehouse | None  # None in an Airflow task that does not touch it (minimise)
    state: RunState
    artifacts: Path
    # The run's private working folder (the gate's scratch database goes here, so a sweep of
    # a dead run's staging removes it too).
    work: Path
    steps: Steps = ALL
    workers: int = field(default_factory=default_workers)

    @property
    def report(self) -> RunReport:
        return self.state.report

    @property
    def wh(self) -> Warehouse:
        if self.warehouse is None:
            raise RuntimeError("this step needs the warehouse; the run was built without it")
        return self.warehouse

    @property
    def quarantine(self) -> Path:
        """Raw rows set aside (unparseable, future-dated): outside the warehouse, owner-only."""
        return self.artifacts / "rejected" / self.report.run_id

    @cached_property
    def ctx(self) -> TransformContext:
        key = self.keyring.purpose_key(self.policy.purpose, self.report.key_version)
        return TransformContext(self.policy.purpose, self.report.as_of, key)


# -- the flow ------------------------------------------------------------------------------


class Engine(Protocol):
    """Stages every source of a run (extract and minimise, watched by the `observers`) into
    ``<run.work>/<source>.parquet`` and its report; `check` and `load` then read the staged
    files whatever staged them. `stage_sources` is this process; ``minimizer.engines`` has more."""

    def __call__(
        self, run: Run, sources: Sources, *, interval: Interval, progress: Progress | None
    ) -> None: ...


def stage_sources(
    run: Run, sources: Sources, *, interval: Interval, progress: Progress | None
) -> None:
    """The single-process engine: every source extracted and minimised here, chunk by chunk."""
    suppressed = suppression_set(run)
    crm = canary_index(run, sources.crm)
    for name in run.policy.sources:
        handle = open_source_report(run, sources, name)
        chunks = extract(run, name, handle, suppressed, interval=interval)
        minimise(run, name, chunks, observers(run, name, crm), run.work, progress)


def run_flow(
    run: Run,
    sources: Sources,
    *,
    interval: Interval = None,
    progress: Progress | None = None,
    engine: Engine = stage_sources,
) -> RunReport:
    """Every step of a run, in order. Raises a MinimizerError (nothing loaded) on any failure;
    the report then says failed, with the reason. ``engine`` stages the sources (default: in
    this process); the steps after it are the same for every engine."""
    try:
        if run.steps.gate:
            _preload_gate()
        engine(run, sources, interval=interval, progress=progress)
        check(run)  # enforce_guarantees, run_gate, assert_no_new_erasures, aggregate_outputs
        load(run, interval)
        return run.report
    except MinimizerError as exc:
        mark_failed(run.report, exc)
        raise
    except Exception as exc:
        mark_crashed(run.report, exc)
        raise


def check(run: Run) -> None:
    """The steps over the staged files, in order (Airflow's gate task runs exactly these)."""
    enforce_guarantees(run)
    run_gate(run)
    assert_no_new_erasures(run)
    aggregate_outputs(run)


def run_purpose(
    policy: Policy,
    sources: Sources,
    warehouse: Warehouse,
    keyring: KeyRing,
    *,
    as_of: datetime | None = None,
    interval: Interval = None,
    artifacts: Path | None = None,
    progress: Progress | None = None,
    steps: Steps = BARE,
    on_finish: Callable[[RunReport], None] | None = None,
    workers: int | None = None,
    engine: Engine = stage_sources,
) -> RunReport:
    """Run one purpose end to end with `run_flow`, staging in a folder of its own that the next
    run removes if this process is killed. ``on_finish`` sees the report, loaded or failed."""
    report, _ = start_run(policy, keyring, as_of)
    artifacts = (artifacts or Path(tempfile.gettempdir()) / "minimizer-artifacts").resolve()
    staging = open_staging(policy.purpose)
    run = Run(
        policy,
        keyring,
        warehouse,
        RunState(report=report),
        artifacts,
        staging.path,
        steps,
        workers or default_workers(),
    )
    try:
        return run_flow(run, sources, interval=interval, progress=progress, engine=engine)
    finally:
        staging.close()
        if on_finish is not None:
            on_finish(report)


# -- extract -------------------------------------------------------------------------------


def suppression_set(run: Run) -> Suppression:
    """The suppression list (erased subjects' digests), read once when the extract begins;
    its size is kept for `assert_no_new_erasures`."""
    if not run.steps.suppression:
        return {}
    lists = suppressed_digests(run.wh, run.keyring)
    run.state.erasures_listed = sum(len(d) for d in lists.values())
    return lists


def open_source_report(run: Run, sources: Sources, name: str) -> Source:
    """Open a source (its columns checked) and start its report with what the plan drops."""
    handle, plan = open_source(run.policy, sources, name)
    run.report.sources[name] = SourceReport(source=name, dropped=plan.dropped, drift=plan.drift)
    return handle


def extract(
    run: Run,
    name: str,
    source: Source,
    suppressed: Suppression,
    *,
    interval: Interval,
) -> Iterator[pd.DataFrame]:
    """The policy-named columns of one source, chunk by chunk: from the retention cutoff on
    (events: inside the run's interval), on the raw time; without the rows of erased subjects
    (counted as excluded); future-dated rows to the quarantine, untimed rows left out."""
    spec = run.policy.sources[name]
    rep = run.report.sources[name]
    since, until = source_window(spec, run.report.retention_cutoff, interval)
    if spec.time is None:
        chunks = source.chunks(spec.inputs())
    else:
        chunks = source.chunks(spec.inputs(), time_column=spec.time, since=since, until=until)
    for chunk in chunks:
        rep.rows_in += len(chunk)
        if suppressed and spec.key is not None and spec.key in chunk:
            erased = erased_rows(run.keyring, chunk[spec.key], suppressed)
            rep.excluded += int(erased.sum())
            chunk = chunk.loc[~erased].reset_index(drop=True)
        timely = screen_times(name, spec, chunk, run.report.as_of, run.quarantine, rep.measures)
        if timely is not None:
            chunk = chunk.loc[timely].reset_index(drop=True)
        yield chunk


# -- minimise ------------------------------------------------------------------------------


def canary_index(run: Run, crm: str | None) -> CrmIndex | None:
    """The CRM's identifying values for the gate's canary, read once per run."""
    if not run.steps.gate or crm is None:
        return None
    return CrmIndex.read(crm, _canary_secret(run))


def _canary_secret(run: Run) -> bytes:
    return run.keyring.secret_for("canary", run.report.key_version)


def observers(run: Run, name: str, crm: CrmIndex | None) -> dict[str, Sequence[ChunkObserver]]:
    """What watches a source's raw and minimised chunks while it is staged, by step."""
    spec = run.policy.sources[name]
    named: dict[str, Sequence[ChunkObserver]] = {}
    if run.steps.guarantees:
        named["enforce_guarantees"] = guarantee_observers(run.policy, name, spec, run.work)
        named["max_unicity"] = unicity_observers(run.policy, name, spec)
    if run.steps.gate:
        plan = identifier_plan(run.policy, name)
        named["run_gate"] = [CanaryObserver(plan, _canary_secret(run), crm=crm)]
    return named


def minimise(
    run: Run,
    name: str,
    chunks: Iterable[pd.DataFrame],
    watchers: Mapping[str, Sequence[ChunkObserver]],
    staging: Path,
    progress: Progress | None = None,
) -> SourceReport:
    """Minimise one source's chunks into ``<staging>/<source>.parquet``; chunks side by side
    (threads: the heavy steps release the GIL), written in order."""
    spec = run.policy.sources[name]
    rep = run.report.sources[name]
    staged = staging / f"{name}.parquet"
    watching = [o for group in watchers.values() for o in group]
    writers: dict[str, pq.ParquetWriter] = {}
    try:
        work = partial(minimise_chunk, spec=spec, ctx=run.ctx)
        for chunk, result in ordered_map(work, chunks, run.workers):
            for col, n in result.invalid_by_column.items():
                rep.invalid_by_column[col] = rep.invalid_by_column.get(col, 0) + n
            frame = result.frame
            if result.invalid.any():
                _reject(run, name, spec, chunk, result.invalid, result.invalid_by_column, writers)
                rep.rejected += int(result.invalid.sum())
                chunk = chunk.loc[~result.invalid].reset_index(drop=True)
                frame = frame.loc[~result.invalid].reset_index(drop=True)
            for observer in watching:
                observer.observe(chunk, frame)
            table = to_arrow(frame, writers["out"].schema if "out" in writers else None)
            if "out" not in writers:
                writers["out"] = pq.ParquetWriter(
                    staged, table.schema, dictionary_pagesize_limit=STAGED_DICTIONARY_BYTES
                )
            writers["out"].write_table(table)
            rep.rows_out += table.num_rows
            if progress:
                progress(name, rep.rows_in)
    finally:
        for writer in writers.values():
            writer.close()
    if "out" not in writers:
        # An empty source still defines its table: transform an empty frame for the schema.
        empty = pd.DataFrame({c: pd.Series(dtype="str") for c in spec.inputs()})
        pq.write_table(to_arrow(minimise_chunk(empty, spec, run.ctx).frame, None), staged)
    rep.staged = staged
    rep.schema = pq.read_schema(staged)
    for observer in watching:
        observer.finish(rep)
    return rep


def _reject(
    run: Run,
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
        run.quarantine.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = run.quarantine / f"{name}.parquet"
        writers["rejected"] = pq.ParquetWriter(path, rejected.schema)
    writers["rejected"].write_table(rejected.cast(writers["rejected"].schema))


# -- over the staged files -----------------------------------------------------------------


def enforce_guarantees(run: Run) -> None:
    """k-anonymity (l-diversity), location and max_unicity: may rewrite staged files or raise."""
    if not run.steps.guarantees:
        return
    enforce_staged(run.policy, run.report, work=run.work)
    if run.policy.guarantees.max_unicity is not None:
        # Which points the per-day cap keeps: keyed, so a re-run keeps the same ones.
        salt = run.keyring.secret_for("trace_cap", run.report.key_version).hex()
        enforce_max_unicity(run.policy, run.report, salt=salt)


def run_gate(run: Run) -> None:
    """The leak gate over what the guarantees left; raises GateError (nothing loads)."""
    if run.steps.gate:
        validate_staged(run.policy, run.report, run.keyring, run.artifacts, work=run.work)


_GATE_MODULES = ("minimizer.gate.validate", "minimizer.gate.expectations")


def _preload_gate() -> None:
    """Start importing the gate's Great Expectations (seconds of a run) in a background
    thread, so it overlaps the extract and minimise. The gate imports the same modules: it
    waits for an import under way, and an import that failed here fails there, in the run."""

    def load() -> None:
        logging.getLogger("great_expectations").setLevel(logging.WARNING)  # as quiet_gx()
        with contextlib.suppress(Exception):
            for module in _GATE_MODULES:
                importlib.import_module(module)

    threading.Thread(target=load, name="gate-import", daemon=True).start()


def assert_no_new_erasures(run: Run) -> None:
    """Fail the run if a subject was erased after its extract began. A DuckDB file has one
    writer, so there an erasure cannot overlap a run; on PostgreSQL it can."""
    if not run.steps.suppression:
        return
    lists = suppressed_digests(run.wh, run.keyring)
    now = sum(len(d) for d in lists.values())
    if now > run.state.erasures_listed:
        raise GuaranteeError(
            "subjects were erased while this run was extracting; nothing was loaded, and"
            " the next run leaves them out",
            check="suppression",
            reason="erased_during_run",
            count=now - run.state.erasures_listed,
        )


def aggregate_outputs(run: Run) -> None:
    """Aggregate sources: their gated rows become group counts; dp spends are budgeted (a day
    whose true counts are unchanged since its release is re-published, spending nothing)."""
    aggregate_sources(run.policy, run.report, run.warehouse, run.keyring)


# -- load and record -----------------------------------------------------------------------


def load(run: Run, interval: Interval) -> None:
    """The one warehouse transaction: every table, retention deletes and the audit row."""
    policy, report = run.policy, run.report
    loads = table_loads(policy, report, interval)
    audit = {**report.audit_row(), "status": "loaded"}
    entry = report.guarantees.get(LEDGER_KEY)
    recheck = partial(recheck_spend, entry) if isinstance(entry, dict) else None
    report.loaded_rows = run.wh.load(policy.purpose, loads, audit, recheck=recheck)
    # What each table holds now (retention applied), as the warehouse's audit row says: so
    # runs.jsonl and a later record_audit of this run (Airflow's publish) say the same.
    for name, rows in report.loaded_rows.items():
        if name in report.sources:
            report.sources[name].rows_staged = report.sources[name].rows_out
            report.sources[name].rows_out = rows
    report.status = RunStatus.LOADED
    report.finished_at = datetime.now(UTC)


def record(artifacts: Path, report: RunReport, keep: timedelta | None) -> None:
    """The run's line in ``runs.jsonl`` (a failed run loads nothing, so its record lives beside
    the warehouse, not in it); then, with ``keep``, older runs' artefacts are pruned."""
    artifacts.mkdir(parents=True, exist_ok=True)
    with (artifacts / "runs.jsonl").open("a") as fh:
        fh.write(json.dumps(report.audit_row(), sort_keys=True, default=str) + "\n")
    if keep is not None:
        from minimizer.audit.retention import prune_artifacts

        prune_artifacts(artifacts, keep, spare=report.run_id)


def table_loads(policy: Policy, report: RunReport, interval: Interval) -> list[TableLoad]:
    """One load per source, from its staged file; events of an interval replace that range."""
    return [
        aggregate_table_load(policy, name, _table_load(policy, name, report, interval))
        for name in policy.sources
    ]


def _table_load(policy: Policy, name: str, report: RunReport, interval: Interval) -> TableLoad:
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
