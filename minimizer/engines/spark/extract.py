"""Sources as Spark DataFrames: only the policy-named columns, inside the run's window, in the
order the single-process engine reads them.

- **Events**: day-partitioned Parquet (``ROOT/date=YYYY-MM-DD/``). The ``date`` folders are
  pruned with a day of margin as :mod:`minimizer.io.sources.parquet` does, and rows are kept
  with ``since <= time < until`` on the raw time, or with no time and a folder of the window
  (or a folder that is not a date). Only the named columns are read (column pruning).
- **CRM tables**: a Parquet export (``TABLES/<table>.parquet``, a file or a folder), a
  DataFrame from the JDBC reader (:func:`minimizer.engines.spark.jdbc.read_table`) for a
  PostgreSQL CRM, or, for a SQLite CRM, the project's own reader in the driver (small tables
  only). The exact time window of a table is applied by the kernel (``in_window`` on the
  project's ``to_utc``, as ``TableSource`` does), after a typed pre-filter here.

Every frame carries its read order (``ORDER``: the file and the row in it), so the engine
stages rows in the order the single-process engine does: the guarantees number subjects and
sample traces in that order.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from minimizer.errors import SourceError
from minimizer.io.sources import EventSource, Source, TableSource
from minimizer.io.sources._common import as_utc, fetch_list, require_columns
from minimizer.pipeline import Sources
from minimizer.policy import SourceSpec

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import Column, DataFrame, SparkSession

__all__ = ["FILE", "ORDER", "ROW", "SparkSources", "read_source"]

FILE, ROW = "__mz_file", "__mz_row"
ORDER = (FILE, ROW)
_PARTITION_KEY = "date"
_DATE_TEXT = r"^\d{4}-\d{2}-\d{2}$"
_MARGIN = timedelta(days=1)
_TICK = timedelta(microseconds=1)  # ``until`` is exclusive
_POSTGRES = ("postgresql:", "postgresql+", "postgres:")


@dataclass(frozen=True)
class SparkSources(Sources):
    """Where the raw data lives, for Spark: the events folder, and the CRM as Parquet exports
    (``tables``), as DataFrames already read (``frames``, by table name), or as the CRM URL."""

    tables: Path | None = None
    frames: Mapping[str, DataFrame] = field(default_factory=dict, compare=False)
    spark: SparkSession | None = field(default=None, compare=False)

    def open(self, name: str, spec: SourceSpec) -> Source:
        """A handle whose ``columns()`` are what Spark will read (for the column check)."""
        if spec.kind == "events":
            return EventSource(self.events)
        table = spec.table or name
        if table in self.frames:
            return _Columns(table, list(self.frames[table].columns))
        export = self._export(table)
        if export is not None:
            assert self.spark is not None, "a SparkSources with exports needs its session"
            return _Columns(table, list(self.spark.read.parquet(str(export)).columns))
        return TableSource(self.crm, table)

    def _export(self, table: str) -> Path | None:
        path = self.tables / f"{table}.parquet" if self.tables is not None else None
        return path if path is not None and path.exists() else None


@dataclass(frozen=True)
class _Columns:
    """A source known by its columns only: Spark reads its rows (``chunks`` is not for it)."""

    table: str
    names: list[str]

    def columns(self) -> list[str]:
        return list(self.names)

    def chunks(
        self,
        columns: Sequence[str],
        *,
        time_column: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[pd.DataFrame]:
        raise TypeError("this source is read by Spark, not chunk by chunk")


def read_source(
    spark: SparkSession,
    sources: SparkSources,
    name: str,
    spec: SourceSpec,
    *,
    since: datetime | None,
    until: datetime | None,
) -> DataFrame:
    """The source's named columns (and its time) inside the window, with ``ORDER``, sorted."""
    _, fetch = fetch_list(spec.inputs(), spec.time)
    if spec.time is None:  # untimed: the whole source, as the single-process extract reads it
        since = until = None
    if spec.kind == "events":
        frame = _events(spark, sources.events, name, fetch, spec.time, since, until)
    else:
        frame = _table(spark, sources, spec.table or name, fetch, spec.time, since, until)
    return frame.orderBy(*ORDER)


def _events(
    spark: SparkSession,
    root: Path,
    name: str,
    fetch: list[str],
    time: str | None,
    since: datetime | None,
    until: datetime | None,
) -> DataFrame:
    from pyspark.sql import functions as F
    from pyspark.sql.types import TimestampType

    if not root.is_dir():
        raise SourceError("Parquet source directory not found", table=name, reason="missing_source")
    raw = spark.read.option("basePath", str(root)).parquet(str(root))
    require_columns(name, raw.columns, fetch)
    frame = raw.select(
        *fetch,
        *([] if _PARTITION_KEY in fetch else [_PARTITION_KEY]),
        F.col("_metadata.file_path").alias(FILE),
        F.col("_metadata.row_index").alias(ROW),
    )
    if time is not None and (since is not None or until is not None):
        if not isinstance(raw.schema[time].dataType, TimestampType):
            raise SourceError(
                "the Spark engine reads event times stored as Parquet timestamps; this "
                "source's time column is not one (the single-process engine parses text)",
                table=name,
                column=time,
                reason="invalid_type",
            )
        day = F.col(_PARTITION_KEY)
        not_a_day = ~day.rlike(_DATE_TEXT)
        frame = frame.where(not_a_day | _between_days(day, since, until, _MARGIN))
        placed = day.isNull() | not_a_day | _between_days(day, since, until, timedelta(0))
        stamp = F.col(time)
        frame = frame.where((stamp.isNull() & placed) | _in_window(stamp, since, until))
    return frame.select(*fetch, FILE, ROW)


def _between_days(
    day: Column, since: datetime | None, until: datetime | None, margin: timedelta
) -> Column:
    """``date`` folders (as text) that a window touches, widened by ``margin`` on each side."""
    from pyspark.sql import functions as F

    bounds = F.lit(True)
    if since is not None:
        bounds &= day >= (as_utc(since) - margin).date().isoformat()
    if until is not None:
        bounds &= day <= (as_utc(until) - _TICK + margin).date().isoformat()
    return bounds


def _in_window(stamp: Column, since: datetime | None, until: datetime | None) -> Column:
    from pyspark.sql import functions as F

    bounds = F.lit(True)
    if since is not None:
        bounds &= stamp >= F.lit(as_utc(since))
    if until is not None:
        bounds &= stamp < F.lit(as_utc(until))
    return bounds


def _table(
    spark: SparkSession,
    sources: SparkSources,
    table: str,
    fetch: list[str],
    time: str | None,
    since: datetime | None,
    until: datetime | None,
) -> DataFrame:
    from pyspark.sql import functions as F
    from pyspark.sql.types import TimestampType

    export = sources._export(table)
    if table in sources.frames:
        given = sources.frames[table]
        require_columns(table, given.columns, fetch)
        frame = given.select(*fetch).withColumns(_generated_order())
    elif export is not None:
        raw = spark.read.parquet(str(export))
        require_columns(table, raw.columns, fetch)
        frame = raw.select(
            *fetch,
            F.col("_metadata.file_path").alias(FILE),
            F.col("_metadata.row_index").alias(ROW),
        )
    elif sources.crm.startswith(_POSTGRES):
        from minimizer.engines.spark.jdbc import read_table

        frame = read_table(spark, sources.crm, table, fetch, time_column=time, since=since)
        frame = frame.withColumns(_generated_order())
    else:
        frame = _from_driver(spark, sources.crm, table, fetch, time, since)
    if time is not None and isinstance(frame.schema[time].dataType, TimestampType):
        # Typed times are pruned here; the kernel applies the exact window to every row.
        frame = frame.where(F.col(time).isNull() | _in_window(F.col(time), since, until))
    return frame


def _generated_order() -> dict[str, Column]:
    from pyspark.sql import functions as F

    return {FILE: F.lit(""), ROW: F.monotonically_increasing_id()}


def _from_driver(
    spark: SparkSession,
    crm: str,
    table: str,
    fetch: list[str],
    time: str | None,
    since: datetime | None,
) -> DataFrame:
    """A SQLite CRM table read by the project's own reader in the driver, handed to Spark
    (the demo's CRM: small; a real CRM is PostgreSQL over JDBC, or a Parquet export)."""
    source = TableSource(crm, table)
    chunks = source.chunks(fetch, time_column=time, since=since)
    tables = [pa.Table.from_pandas(c, preserve_index=False) for c in chunks]
    arrow = pa.concat_tables(tables, promote_options="permissive")
    arrow = arrow.append_column(ROW, pa.array(np.arange(arrow.num_rows, dtype=np.int64)))
    arrow = arrow.append_column(FILE, pa.repeat(pa.scalar("", pa.string()), arrow.num_rows))
    frame: DataFrame = spark.createDataFrame(arrow)
    return frame
