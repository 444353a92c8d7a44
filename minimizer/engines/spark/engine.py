"""The Spark engine's staging step: every source extracted and minimised on Spark.

`SparkEngine` is what :func:`minimizer.flow.run_flow` calls in place of the single-process
loop (its ``engine``): the same suppression set, the same column check and source report, the
same observers, and a staged file per source that `check` and `load` read as they read the
single-process engine's. Per source:

1. Spark reads the named columns inside the window, in read order (:mod:`.extract`).
2. ``mapInArrow`` runs the kernel, Spark SQL adds its outputs (:mod:`.minimise`); the result is
   persisted, so every later pass reads the same rows.
3. The driver counts the rows by what became of them, and does the bookkeeping of the few not
   kept (screened: the project's ``screen_times`` quarantines them or fails the run;
   unparseable: counted by column and rejected, or the run fails) as on one machine.
4. One Spark task writes the staged file (`StagedWriter`).
5. The observers see the kept rows, raw and published side by side, in read order, streamed to
   the driver one Arrow batch at a time; then they finish into the source's report.

Any failure of a Spark job is raised as `job_failure` makes it (no value quoted), before
anything is loaded: the warehouse stays as it was.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from minimizer import flow
from minimizer.engines.spark.extract import ORDER, SparkSources, read_source
from minimizer.engines.spark.minimise import (
    ERASED,
    INVALID,
    IPC,
    KEPT,
    OUT,
    SCREENED,
    STATE,
    Kernel,
    StagedWriter,
    arrow_frame,
    sql_outputs,
    target_schema,
    to_ipc,
)
from minimizer.engines.spark.preflight import job_failure
from minimizer.errors import MinimizerError
from minimizer.minimise import ChunkObserver, minimise_chunk, to_arrow
from minimizer.pipeline import Sources, source_window
from minimizer.retention import screen_times

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

__all__ = ["SparkEngine"]


@contextlib.contextmanager
def _spark_job() -> Iterator[None]:
    """Spark's errors as minimizer's: class names only (a task failure can quote rows)."""
    try:
        yield
    except MinimizerError:
        raise
    except Exception as exc:
        raise job_failure(exc) from None


@dataclass
class SparkEngine:
    """Stages every source of a run on Spark. ``spark``: a session to use (kept open);
    otherwise the running one, or one started on ``master`` for the staging and stopped after. ``tables``:
    a folder of CRM Parquet exports; ``frames``: CRM tables already read (JDBC), by name."""

    spark: SparkSession | None = None
    master: str | None = None
    tables: Path | None = None
    frames: Mapping[str, DataFrame] = field(default_factory=dict)

    def __call__(
        self,
        run: flow.Run,
        sources: Sources,
        *,
        interval: flow.Interval = None,
        progress: flow.Progress | None = None,
    ) -> None:
        from pyspark import SparkContext

        from minimizer.engines.spark.session import result_settings

        # A session this engine starts is stopped after the staging; one already running in
        # this process (a notebook's, a test's, spark-submit's) is borrowed and left running.
        own = self.spark is None and SparkContext._active_spark_context is None
        spark = self.spark or self._start(sources)
        try:
            with result_settings(spark):
                self._stage(spark, run, sources, interval, progress)
        finally:
            if own:
                spark.stop()

    def _stage(
        self,
        spark: SparkSession,
        run: flow.Run,
        sources: Sources,
        interval: flow.Interval,
        progress: flow.Progress | None,
    ) -> None:
        on_spark = SparkSources(
            crm=sources.crm,
            events=sources.events,
            tables=self.tables,
            frames=self.frames,
            spark=spark,
        )
        suppressed = flow.suppression_set(run)
        crm = flow.canary_index(run, sources.crm)
        for name in run.policy.sources:
            with _spark_job():
                flow.open_source_report(run, on_spark, name)
                watchers = flow.observers(run, name, crm)
                stage_source(spark, run, on_spark, name, suppressed, watchers, interval)
            if progress:
                progress(name, run.report.sources[name].rows_in)

    def _start(self, sources: Sources) -> SparkSession:
        from minimizer.engines.spark.session import spark_session

        conf: dict[str, str] = {}
        if sources.crm.startswith(("postgresql:", "postgresql+", "postgres:")) and not (
            self.tables
        ):
            from minimizer.engines.spark.jdbc import session_conf

            conf = session_conf()
        return spark_session(self.master, conf)


def stage_source(
    spark: SparkSession,
    run: flow.Run,
    sources: SparkSources,
    name: str,
    suppressed: dict[int, pd.Index],
    watchers: Mapping[str, Sequence[ChunkObserver]],
    interval: flow.Interval,
) -> None:
    """Extract and minimise one source on Spark into ``<work>/<source>.parquet``."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    spec = run.policy.sources[name]
    rep = run.report.sources[name]
    since, until = source_window(spec, run.report.retention_cutoff, interval)
    raw = read_source(spark, sources, name, spec, since=since, until=until)
    names = [c for c in raw.columns if c not in ORDER]
    target = target_schema(spec, run.ctx, _arrow_schema(raw, names))
    sql = sql_outputs(spec, raw.schema)
    kernel = _kernel(run, name, names, target, sql, suppressed, since, until)
    job = raw.mapInArrow(kernel, _job_schema(raw, kernel))
    job = job.withColumns({OUT + o: F.when(F.col(STATE) == KEPT, c) for o, c in sql.items()})
    job = job.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        counts = {int(r[0]): int(r[1]) for r in job.groupBy(STATE).count().collect()}
        rep.rows_in += sum(counts.values())
        rep.excluded += counts.get(ERASED, 0)
        if counts.get(SCREENED) or counts.get(INVALID):
            _set_aside(run, name, job.where(F.col(STATE).isin(SCREENED, INVALID)), names)
        staged = run.work / f"{name}.parquet"
        kept = job.where(F.col(STATE) == KEPT).select(*[OUT + o for o in target.names], *ORDER)
        writer = StagedWriter(str(staged), target)
        written = sum(int(r[0]) for r in kept.coalesce(1).mapInArrow(writer, "rows long").collect())
        if written == 0:  # as the single-process engine defines an empty source's table
            empty = pd.DataFrame({c: pd.Series(dtype="str") for c in spec.inputs()})
            pq.write_table(to_arrow(minimise_chunk(empty, spec, run.ctx).frame, None), staged)
        rep.rows_out += written
        rep.staged = staged
        rep.schema = pq.read_schema(staged)
        watching = [o for group in watchers.values() for o in group]
        if watching:
            observed = job.where(F.col(STATE) == KEPT).select(
                *names, *[OUT + o for o in target.names]
            )
            for table in arrow_stream(observed):
                chunk = arrow_frame(table.select(names), spec.time)
                published = table.select([OUT + o for o in target.names])
                frame = published.rename_columns(target.names).cast(target).to_pandas()
                for observer in watching:
                    observer.observe(chunk, frame)
        for observer in watching:
            observer.finish(rep)
    finally:
        job.unpersist()


def _arrow_schema(raw: DataFrame, names: list[str]) -> pa.Schema:
    from pyspark.sql.pandas.types import to_arrow_schema
    from pyspark.sql.types import StructType

    return to_arrow_schema(StructType([raw.schema[n] for n in names]), timezone="UTC")


def _kernel(
    run: flow.Run,
    name: str,
    names: list[str],
    target: pa.Schema,
    sql: Mapping[str, object],
    suppressed: dict[int, pd.Index],
    since: datetime | None,
    until: datetime | None,
) -> Kernel:
    from pyspark.sql.pandas.types import from_arrow_type, to_arrow_type

    spec = run.policy.sources[name]
    outputs = tuple(o for o in spec.outputs() if o not in sql)
    kinds = [from_arrow_type(target.field(o).type, prefer_timestamp_ntz=False) for o in outputs]
    columns = {k: v for k, v in spec.columns.items() if k not in sql}
    return Kernel(
        spec=spec,
        kernel_spec=spec.model_copy(update={"columns": columns}),
        ctx=run.ctx,
        as_of=run.report.as_of,
        raw=tuple(names),
        outputs=outputs,
        types=tuple(to_arrow_type(k, timezone="UTC") for k in kinds),
        window=(since, until) if spec.kind != "events" else None,
        keyring=run.keyring if suppressed else None,
        suppressed=suppressed or None,
    )


def _job_schema(raw: DataFrame, kernel: Kernel) -> StructType:
    from pyspark.sql.pandas.types import from_arrow_type
    from pyspark.sql.types import ByteType, StructField, StructType

    fields = [raw.schema[n] for n in (*kernel.raw, *ORDER)]
    fields.append(StructField(STATE, ByteType(), False))
    for output, kind in zip(kernel.outputs, kernel.types, strict=True):
        fields.append(StructField(OUT + output, from_arrow_type(kind, prefer_timestamp_ntz=False)))
    return StructType(fields)


def _set_aside(run: flow.Run, name: str, rows: DataFrame, names: list[str]) -> None:
    """The rows the kernel did not keep, through the single-process bookkeeping: screened
    ones to ``screen_times`` (quarantine or fail), unparseable ones counted and rejected."""
    spec = run.policy.sources[name]
    rep = run.report.sources[name]
    writers: dict[str, pq.ParquetWriter] = {}
    try:
        for table in arrow_stream(rows.select(*names, STATE)):
            state = table.column(STATE).to_numpy()
            chunk = arrow_frame(table.select(names), spec.time)
            screened = chunk.loc[state == SCREENED].reset_index(drop=True)
            if len(screened):
                timely = screen_times(
                    name, spec, screened, run.report.as_of, run.quarantine, rep.measures
                )
                if timely is None or timely.any():
                    raise RuntimeError("the kernel and screen_times disagree on a row")
            bad = chunk.loc[state == INVALID].reset_index(drop=True)
            if len(bad):
                result = minimise_chunk(bad, spec, run.ctx)
                if not result.invalid.all():
                    raise RuntimeError("the kernel and minimise_chunk disagree on a row")
                for col, n in result.invalid_by_column.items():
                    rep.invalid_by_column[col] = rep.invalid_by_column.get(col, 0) + n
                flow._reject(
                    run, name, spec, bad, result.invalid, result.invalid_by_column, writers
                )
                rep.rejected += int(result.invalid.sum())
    finally:
        for writer in writers.values():
            writer.close()


def arrow_stream(frame: DataFrame) -> Iterator[pa.Table]:
    """A DataFrame's rows in order, one Arrow batch at a time: one partition in the driver at
    a time (``toLocalIterator``), each batch as one IPC message, never a Python row per row."""
    for row in frame.mapInArrow(to_ipc, f"{IPC} binary").toLocalIterator(True):
        yield pa.ipc.open_stream(pa.py_buffer(row[0])).read_all()
