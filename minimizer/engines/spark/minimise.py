"""Minimise a source on Spark: the project's own kernel in ``mapInArrow``, Spark SQL where Spark
has the function and gives the same result, and the staged file written by a Spark task.

The kernel (`Kernel`) does to each Arrow batch what the single-process extract and minimise do
to a chunk: the same pandas types as the sources give, the exact time window of a CRM table,
the suppression list, the future and untimed screen, `minimise_chunk`. It keeps every row of
the window and says what became of it (``STATE``): kept, erased, screened or unparseable; the
driver does the bookkeeping (counts, quarantine, reasons) for the rows that were not kept.

Spark SQL, by a mapping table (`SQL`): hour truncation of the typed time column is
``date_trunc('hour', ...)`` in a UTC session, the same instants as pandas' ``floor("h")``.
Everything else (keyed BLAKE2b tokens, which Spark lacks; H3 cells; scrubbing; prefixes, whose
trim is Python's whitespace, not Spark's) runs in the kernel and is identical by construction.

`StagedWriter` writes ``<staging>/<source>.parquet`` in one Spark task over the kept rows, in
read order, with the schema `to_arrow` gives the single-process engine (pandas metadata
included), so the guarantees, the gate and the load cannot tell the engines apart.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from minimizer.engines.spark.extract import FILE, ORDER, ROW
from minimizer.io.sources._common import PANDAS_TYPES, in_window, to_utc
from minimizer.keys import KeyRing
from minimizer.minimise import STAGED_DICTIONARY_BYTES, minimise_chunk, to_arrow
from minimizer.policy import SourceSpec
from minimizer.rights.suppression import erased_rows
from minimizer.transforms import Transform, TransformContext
from minimizer.transforms._parse import to_utc_timestamp
from minimizer.transforms.truncate_time import TruncateTime

if TYPE_CHECKING:
    from pyspark.sql import Column
    from pyspark.sql.types import StructType

__all__ = [
    "ERASED",
    "INVALID",
    "IPC",
    "KEPT",
    "OUT",
    "SCREENED",
    "SQL",
    "STATE",
    "Kernel",
    "StagedWriter",
    "arrow_frame",
    "sql_outputs",
    "target_schema",
    "to_ipc",
]

STATE = "__mz_state"
KEPT, ERASED, SCREENED, INVALID = 0, 1, 2, 3
OUT = "__mz_out__"  # prefix of a published column inside the job (outputs may reuse input names)


def arrow_frame(table: pa.Table, time: str | None) -> pd.DataFrame:
    """Raw rows as the single-process sources type them (nullable integers, UTC times)."""
    frame = table.to_pandas(types_mapper=PANDAS_TYPES.get)
    stamps = [f.name for f in table.schema if pa.types.is_timestamp(f.type)]
    for name in dict.fromkeys([*stamps, *([time] if time and time in frame else [])]):
        frame[name] = to_utc(frame[name])
    return frame


# -- Spark SQL where Spark has the function ----------------------------------------------------


def _hour(spec: SourceSpec, output: str, transform: Transform, schema: StructType) -> Column | None:
    """Hour truncation of the typed time column: its unparseable rows are already rejected by
    the kernel's time check, so the SQL never sees one the pandas transform would flag."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import TimestampType

    source = transform.source_of(output)
    if not isinstance(transform, TruncateTime) or transform.method != "hour":
        return None
    if source != spec.time:
        return None
    if source not in schema.names or not isinstance(schema[source].dataType, TimestampType):
        return None
    return F.date_trunc("hour", F.col(source))


# Transform class -> the Spark expression that gives the same column, or None where it may not.
SQL: dict[type[Transform], Callable[[SourceSpec, str, Transform, StructType], Column | None]] = {
    TruncateTime: _hour,
}


def sql_outputs(spec: SourceSpec, schema: StructType) -> dict[str, Column]:
    """The outputs Spark SQL computes, by name; the kernel computes the rest."""
    found: dict[str, Column] = {}
    for output, transform in spec.outputs().items():
        rule = SQL.get(type(transform))
        column = rule(spec, output, transform, schema) if rule else None
        if column is not None:
            found[output] = column
    return found


def target_schema(spec: SourceSpec, ctx: TransformContext, raw: pa.Schema) -> pa.Schema:
    """The staged schema: `to_arrow` of an empty chunk typed as the source types it."""
    frame = arrow_frame(raw.empty_table(), spec.time)
    return to_arrow(minimise_chunk(frame, spec, ctx).frame).schema


# -- the kernel, run by mapInArrow --------------------------------------------------------------


def _timely(spec: SourceSpec, frame: pd.DataFrame, as_of: datetime) -> np.ndarray:
    """`screen_times`'s keep-mask (the driver runs screen_times itself on what this screens)."""
    if spec.time is None or spec.time not in frame.columns or frame.empty:
        return np.ones(len(frame), dtype=bool)
    raw = frame[spec.time]
    stamps, _ = to_utc_timestamp(raw)
    limit = pd.Timestamp(as_of).tz_convert("UTC") + pd.Timedelta(spec.future_tolerance)
    future: np.ndarray = (stamps > limit).to_numpy(dtype=bool)
    untimed: np.ndarray = raw.isna().to_numpy(dtype=bool)
    timely: np.ndarray = ~(future | untimed)
    return timely


@dataclass(frozen=True)
class Kernel:
    """One source's extract and minimise of an Arrow batch (picklable: sent to the workers)."""

    spec: SourceSpec  # the whole source
    kernel_spec: SourceSpec  # without the outputs Spark SQL computes
    ctx: TransformContext
    as_of: datetime
    raw: tuple[str, ...]  # the columns read, passed through for the driver's observers
    outputs: tuple[str, ...]  # the kernel's outputs
    types: tuple[pa.DataType, ...]  # ... as Spark takes them back
    window: tuple[datetime | None, datetime | None] | None = None  # CRM tables: exact window
    keyring: KeyRing | None = None  # with a suppression list only
    suppressed: dict[int, pd.Index] | None = None

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            yield self.batch(pa.Table.from_batches([batch]))

    def batch(self, table: pa.Table) -> pa.RecordBatch:
        spec = self.spec
        frame = arrow_frame(table.select(list(self.raw)), spec.time)
        live = np.arange(len(frame))
        if self.window is not None and spec.time is not None:
            inside = in_window(frame[spec.time], *self.window).to_numpy(dtype=bool)
            live = np.flatnonzero(inside)
            frame = frame.iloc[live].reset_index(drop=True)
        state = np.zeros(len(frame), dtype=np.int8)
        if self.suppressed and self.keyring is not None and spec.key in frame:
            state[erased_rows(self.keyring, frame[spec.key], self.suppressed)] = ERASED
        rest = np.flatnonzero(state == KEPT)
        timely = _timely(spec, frame.iloc[rest].reset_index(drop=True), self.as_of)
        state[rest[~timely]] = SCREENED
        kept = rest[timely]
        result = minimise_chunk(frame.iloc[kept].reset_index(drop=True), self.kernel_spec, self.ctx)
        state[kept[result.invalid]] = INVALID
        published = to_arrow(result.frame)
        # Published values at the rows kept (null elsewhere), aligned with the rows read.
        at = np.full(len(frame), -1, dtype=np.int64)
        at[kept] = np.arange(len(kept))
        at[state != KEPT] = -1
        take = pa.array(at, mask=at < 0)
        rows = table.take(pa.array(live))
        columns = {name: rows.column(name) for name in (*self.raw, *ORDER)}
        columns[STATE] = pa.chunked_array([pa.array(state, pa.int8())])
        for name, kind in zip(self.outputs, self.types, strict=True):
            columns[OUT + name] = published.column(name).take(take).cast(kind)
        return pa.table(columns).combine_chunks().to_batches()[0]


# -- the staged file, written by one Spark task --------------------------------------------------


def _ascending(files: pa.Array, rows: pa.Array) -> bool:
    """(file, row) strictly increasing along the batch."""
    if len(files) < 2:
        return True
    f0, f1 = files.slice(0, len(files) - 1), files.slice(1)
    r0, r1 = rows.slice(0, len(rows) - 1), rows.slice(1)
    step = pc.or_(pc.less(f0, f1), pc.and_(pc.equal(f0, f1), pc.less(r0, r1)))
    return bool(pc.all(step).as_py())


@dataclass(frozen=True)
class StagedWriter:
    """Writes the kept rows (in read order) as the staged file: a temporary name, then an
    atomic rename, so a retried task never leaves half a file. Yields the rows written."""

    path: str
    schema: pa.Schema
    row_group: int = 1_000_000

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        partial = f"{self.path}.{uuid.uuid4().hex}.partial"
        names = [OUT + f.name for f in self.schema]
        written, pending, size = 0, [], 0
        last: tuple[pa.Scalar, pa.Scalar] | None = None
        writer: pq.ParquetWriter | None = None
        try:
            for batch in batches:
                if batch.num_rows == 0:
                    continue
                files, rows = batch.column(FILE), batch.column(ROW)
                head = (files[0], rows[0])
                if not _ascending(files, rows) or (last is not None and not _after(last, head)):
                    raise RuntimeError("staged rows arrived out of read order")
                last = (files[-1], rows[-1])
                pending.append(batch.select(names).rename_columns(self.schema.names))
                size += batch.num_rows
                if size >= self.row_group:
                    writer = self._write(writer, partial, pending)
                    written, pending, size = written + size, [], 0
            if pending or writer is None:
                writer = self._write(writer, partial, pending)
                written += size
            writer.close()
        except BaseException:
            if writer is not None:
                writer.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(partial)  # a failed attempt leaves no half file behind
            raise
        os.replace(partial, self.path)
        yield pa.RecordBatch.from_pydict({"rows": [written]})

    def _write(
        self, writer: pq.ParquetWriter | None, path: str, batches: list[pa.RecordBatch]
    ) -> pq.ParquetWriter:
        if writer is None:
            writer = pq.ParquetWriter(
                path, self.schema, dictionary_pagesize_limit=STAGED_DICTIONARY_BYTES
            )
        if batches:
            plain = [b.cast(self.schema.remove_metadata()) for b in batches]
            writer.write_table(
                pa.Table.from_batches(plain).replace_schema_metadata(self.schema.metadata)
            )
        return writer


def _after(last: tuple[pa.Scalar, pa.Scalar], head: tuple[pa.Scalar, pa.Scalar]) -> bool:
    (f0, r0), (f1, r1) = last, head
    return bool(f0.as_py() < f1.as_py() or (f0.as_py() == f1.as_py() and r0.as_py() < r1.as_py()))


# -- batches to the driver ----------------------------------------------------------------------

IPC = "ipc"


def to_ipc(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Each batch as one row holding its Arrow IPC stream (the driver reads batch by batch)."""
    for batch in batches:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, batch.schema) as writer:
            writer.write_batch(batch)
        yield pa.RecordBatch.from_arrays(
            [pa.array([sink.getvalue().to_pybytes()], pa.binary())], [IPC]
        )
