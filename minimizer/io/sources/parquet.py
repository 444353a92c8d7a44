"""Events as Parquet partitioned by day, Hive style: ``ROOT/date=YYYY-MM-DD/*.parquet``.

Read with a pyarrow dataset scanner: only the requested columns, the time window pushed down
twice (partition pruning on ``date`` and a row filter on the time column), record batches
regrouped into frames of at most ``chunk_rows`` rows, so memory stays bounded.

- ``date`` is the UTC day of the events in the folder. It is read as text and is one of the
  source's columns.
- Pruning keeps a day of margin on each side (a late or early event in a neighbouring folder is
  still found), and folders whose name is not a date are always read: the folder is a hint,
  the time column decides.
- A row whose time is null or unparseable (``NaT``) is returned by the windows that cover its
  folder's day, so consecutive daily windows return it exactly once.
- The schema is the union of every file's schema (a column added on a later day is null on
  earlier days), read once per ``EventSource`` object.
- Integers come back as nullable ``Int*``, booleans as ``boolean``, text as ``str``, every
  timestamp as ``datetime64[us, UTC]`` (naive times are UTC), a text time column parsed as ISO
  8601 (``NaT`` when it does not parse), ``date32`` columns as ``datetime.date`` objects.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from functools import reduce
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from minimizer.errors import SourceError
from minimizer.io.sources._common import (
    PANDAS_TYPES,
    as_utc,
    fetch_list,
    in_window,
    require_columns,
    to_utc,
)

__all__ = ["EventSource"]

_PARTITION_KEY = "date"
_PARTITION = pa.schema([(_PARTITION_KEY, pa.string())])
_PARTITIONING = ds.partitioning(_PARTITION, flavor="hive")
_DATE_TEXT = r"^\d{4}-\d{2}-\d{2}$"
_MARGIN = timedelta(days=1)
_TICK = timedelta(microseconds=1)  # ``until`` is exclusive


def _day_bounds(
    since: datetime | None, until: datetime | None, margin: timedelta
) -> tuple[str | None, str | None]:
    """First and last ``date`` folder (inclusive, as text) that a window touches."""
    first = (as_utc(since) - margin).date().isoformat() if since is not None else None
    last = (as_utc(until) - _TICK + margin).date().isoformat() if until is not None else None
    return first, last


def _partition_filter(since: datetime | None, until: datetime | None) -> ds.Expression:
    day = ds.field(_PARTITION_KEY)
    first, last = _day_bounds(since, until, _MARGIN)
    bounds = [day >= first] if first is not None else []
    bounds += [day <= last] if last is not None else []
    return ~pc.match_substring_regex(day, _DATE_TEXT) | reduce(operator.and_, bounds)


def _in_days(days: pd.Series, since: datetime | None, until: datetime | None) -> pd.Series:
    """Rows whose folder is a day of the window (no margin), or is not a date at all. Decided
    once per distinct folder (a chunk holds a few), not once per row."""
    first, last = _day_bounds(since, until, timedelta(0))
    codes, folders = pd.factorize(days, use_na_sentinel=True)
    names = pd.Series(folders, dtype="str")
    inside = pd.Series(True, index=names.index)
    if first is not None:
        inside &= names >= first
    if last is not None:
        inside &= names <= last
    placed = (inside | ~names.str.match(_DATE_TEXT, na=False)).to_numpy(dtype=bool)
    # A row without a folder name is not a date: kept, as the time column decides.
    per_row = np.append(placed, True)[codes]  # code -1 picks the appended True
    return pd.Series(per_row, index=days.index)


def _time_filter(
    field: pa.Field, since: datetime | None, until: datetime | None
) -> ds.Expression | None:
    if not pa.types.is_timestamp(field.type):
        return None  # text times: only pandas can tell what parses
    column = ds.field(field.name)

    def bound(moment: datetime) -> pa.Scalar:
        utc = as_utc(moment)
        value = utc if field.type.tz is not None else utc.replace(tzinfo=None)
        return pa.scalar(value, type=field.type)

    bounds = [column >= bound(since)] if since is not None else []
    bounds += [column < bound(until)] if until is not None else []
    return reduce(operator.and_, bounds) | column.is_null()


def _all_timed(table: pa.Table, time_column: str | None) -> bool:
    """Every row has a timestamp (a text time may still not parse: only pandas can tell)."""
    if time_column is None or _PARTITION_KEY not in table.column_names:
        return False
    column = table.column(time_column)
    return bool(pa.types.is_timestamp(column.type)) and column.null_count == 0


def _regroup(batches: Iterator[pa.RecordBatch], schema: pa.Schema, rows: int) -> Iterator[pa.Table]:
    """Tables of exactly ``rows`` rows (the last one shorter) from batches of any size."""
    pending: list[pa.RecordBatch] = []
    size = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        pending.append(batch)
        size += batch.num_rows
        while size >= rows:
            table = pa.Table.from_batches(pending, schema=schema)
            yield table.slice(0, rows)
            rest = table.slice(rows)
            pending, size = rest.to_batches(), rest.num_rows
    if size:
        yield pa.Table.from_batches(pending, schema=schema)


class EventSource:
    """A directory of day partitions. ``root`` is the directory holding the ``date=`` folders."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.name = self.root.name
        self._cached: ds.Dataset | None = None

    def _unreadable(self) -> SourceError:
        return SourceError("Parquet source unreadable", table=self.name, reason="unreadable")

    def _dataset(self) -> ds.Dataset:
        if self._cached is None:
            if not self.root.is_dir():
                raise SourceError(
                    "Parquet source directory not found", table=self.name, reason="missing_source"
                )
            try:
                base = ds.dataset(self.root, format="parquet", partitioning=_PARTITIONING)
                schemas = [fragment.physical_schema for fragment in base.get_fragments()]
                if not schemas:
                    raise SourceError(
                        "Parquet source holds no files", table=self.name, reason="missing_source"
                    )
                schema = pa.unify_schemas([*schemas, _PARTITION], promote_options="permissive")
                # Writers differ (pandas writes large_string): read every file as plain string.
                schema = pa.schema(
                    [
                        f.with_type(pa.string()) if pa.types.is_large_string(f.type) else f
                        for f in schema
                    ]
                )
                self._cached = ds.dataset(
                    self.root, schema=schema, format="parquet", partitioning=_PARTITIONING
                )
            except (pa.ArrowException, OSError):
                raise self._unreadable() from None
        return self._cached

    def columns(self) -> list[str]:
        """Columns of the union schema of all files, then the ``date`` partition key."""
        return list(self._dataset().schema.names)

    def chunks(
        self,
        columns: Sequence[str],
        *,
        time_column: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        chunk_rows: int = 1_000_000,
    ) -> Iterator[pd.DataFrame]:
        """Frames of at most ``chunk_rows`` rows holding exactly ``columns``, in that order.

        Same contract as ``TableSource.chunks``: missing columns raise here, an empty result
        is one empty typed frame, rows with an unknown time are kept.
        """
        if chunk_rows < 1:
            raise ValueError("chunk_rows must be positive")
        if time_column is None and (since is not None or until is not None):
            raise ValueError("since/until need a time_column")
        dataset = self._dataset()
        wanted, fetch = fetch_list(columns, time_column)
        require_columns(self.name, dataset.schema.names, fetch)
        condition = None
        if time_column is not None and (since is not None or until is not None):
            # The folder day is needed to place rows with an unknown time (see module doc).
            fetch = fetch if _PARTITION_KEY in fetch else [*fetch, _PARTITION_KEY]
            condition = _partition_filter(since, until)
            rows = _time_filter(dataset.schema.field(time_column), since, until)
            condition = condition if rows is None else condition & rows
        # One file and one batch read ahead: the default (16 batches x 4 files) holds about
        # a gigabyte of decoded columns ahead of the minimise pool on a wide day of events.
        scanner = dataset.scanner(
            columns=fetch,
            filter=condition,
            batch_size=chunk_rows,
            batch_readahead=1,
            fragment_readahead=1,
        )
        return self._stream(scanner, wanted, time_column, since, until, chunk_rows)

    def _stream(
        self,
        scanner: ds.Scanner,
        wanted: list[str],
        time_column: str | None,
        since: datetime | None,
        until: datetime | None,
        chunk_rows: int,
    ) -> Iterator[pd.DataFrame]:
        schema = scanner.projected_schema
        produced = False
        try:
            for table in _regroup(scanner.to_batches(), schema, chunk_rows):
                if _PARTITION_KEY not in wanted and _all_timed(table, time_column):
                    # The folder only places rows of unknown time: none here, not converted.
                    table = table.drop_columns([_PARTITION_KEY])
                frame = self._frame(table, time_column)
                if time_column is not None and (since is not None or until is not None):
                    times = frame[time_column]
                    placed = times.notna()
                    if not placed.all():  # only rows of unknown time need their folder
                        placed |= _in_days(frame[_PARTITION_KEY], since, until)
                    frame = frame[in_window(times, since, until) & placed]
                if len(frame):
                    produced = True
                    yield frame[wanted].reset_index(drop=True)
        except pa.ArrowException:
            raise self._unreadable() from None
        if not produced:
            yield self._frame(schema.empty_table(), time_column)[wanted]

    @staticmethod
    def _frame(table: pa.Table, time_column: str | None) -> pd.DataFrame:
        frame = table.to_pandas(types_mapper=PANDAS_TYPES.get)
        stamps = [f.name for f in table.schema if pa.types.is_timestamp(f.type)]
        for name in dict.fromkeys([*stamps, *([time_column] if time_column else [])]):
            frame[name] = to_utc(frame[name])
        return frame
