"""The PostgreSQL driver: one psycopg connection, autocommit outside transactions.

Staged files are appended with ``COPY ... FROM STDIN (FORMAT csv, HEADER true)``: Parquet
record batches are written as CSV by pyarrow into a buffer, batch by batch, with no per-row
Python. Loads, erasures and re-keys of one purpose serialise on an advisory lock; the session
runs in UTC with standard conforming strings. JSON comes back as text, as from DuckDB.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from psycopg.types.string import TextLoader

from minimizer.io.drivers.base import Rows
from minimizer.io.drivers.sql import DIALECTS, ident, qualified, safe_detail

__all__ = ["PostgresDriver"]

_D = DIALECTS["postgresql"]
_SESSION_OPTIONS = "-c TimeZone=UTC -c standard_conforming_strings=on"
_COPY_BATCH_ROWS = 65_536

# SQLSTATEs whose primary message names only objects, types and operators, never a value
# (invalid_text_representation, unique_violation, ... quote values: they are summarised).
_SAFE_STATES = frozenset(
    {
        "42P01",  # undefined_table
        "42703",  # undefined_column
        "42883",  # undefined_function (also: operator does not exist)
        "42704",  # undefined_object
        "3F000",  # invalid_schema_name
        "42P06",  # duplicate_schema
        "42P07",  # duplicate_table
        "42701",  # duplicate_column
        "42804",  # datatype_mismatch
        "42P18",  # indeterminate_datatype
        "42501",  # insufficient_privilege
        "25006",  # read_only_sql_transaction
        "40P01",  # deadlock_detected
        "55P03",  # lock_not_available
        "57014",  # query_canceled
        "53100",  # disk_full
    }
)


def _arrow_from_rows(names: Sequence[str], rows: Sequence[Sequence[object]]) -> pa.Table:
    """Driver rows as Arrow, so both targets give the same dtypes. A column Arrow cannot type
    (a UUID, an interval) comes back as text."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    arrays = []
    for values in columns:
        try:
            arrays.append(pa.array(values))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arrays.append(pa.array(pd.Series(values, dtype=object).astype("str")))
    return pa.Table.from_arrays(arrays, names=list(names))


class PostgresDriver:
    dialect = _D
    errors: ClassVar[tuple[type[Exception], ...]] = (psycopg.Error,)
    columns_sql = (
        "SELECT a.attname, col_description(c.oid, a.attnum) FROM pg_catalog.pg_attribute a"
        " JOIN pg_catalog.pg_class c ON c.oid = a.attrelid"
        " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')"
        " AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"
    )
    table_comment_sql = (
        "SELECT obj_description(c.oid, 'pg_class') FROM pg_catalog.pg_class c"
        " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname = %s"
    )
    tables_sql = (
        "SELECT table_schema, table_name FROM information_schema.tables"
        " WHERE table_type = 'BASE TABLE'"
        " AND table_schema NOT IN ('pg_catalog', 'information_schema')"
        " AND table_schema NOT LIKE 'pg\\_%' ORDER BY 1, 2"
    )
    text_types = frozenset({"text", "character varying"})

    def __init__(self, url: str, *, connect_timeout: int = 10) -> None:
        conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
        self.con = psycopg.connect(
            conninfo, autocommit=True, connect_timeout=connect_timeout, options=_SESSION_OPTIONS
        )
        for json_type in ("json", "jsonb"):
            self.con.adapters.register_loader(json_type, TextLoader)

    @classmethod
    def describe(cls, exc: Exception) -> tuple[str, str | None]:
        # The class and the SQLSTATE; the server's primary message only for the SQLSTATEs on
        # the list, never its DETAIL (which quotes rows). A connection error has no SQLSTATE,
        # so the URL (which may carry a password) is never echoed.
        state = getattr(exc, "sqlstate", None)
        cause = f"{type(exc).__name__}/{state}" if state else type(exc).__name__
        primary = exc.diag.message_primary if isinstance(exc, psycopg.Error) else None
        return cause, safe_detail(primary) if primary and state in _SAFE_STATES else None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.con.transaction():
            yield

    def execute(self, sql: str, params: Sequence[object] | None = None) -> Rows:
        with self.con.cursor() as cursor:
            cursor.execute(sql, list(params) if params else None)
            if cursor.description is not None:
                return cursor.fetchall()
            return [(cursor.rowcount,)] if cursor.rowcount >= 0 else []

    def fetch_arrow(self, sql: str, params: Sequence[object] | None = None) -> pa.Table | None:
        with self.con.cursor() as cursor:
            cursor.execute(sql, list(params) if params else None)
            if cursor.description is None:
                return None
            names = [column.name for column in cursor.description]
            return _arrow_from_rows(names, cursor.fetchall())

    def bulk_load(
        self, schema: str, table: str, columns: Sequence[str], files: Sequence[Path]
    ) -> None:
        names = list(columns)
        sql = (
            f"COPY {qualified(schema, table, _D)} ({', '.join(ident(n, _D) for n in names)})"
            " FROM STDIN (FORMAT csv, HEADER true)"
        )
        header = True
        with self.con.cursor() as cursor, cursor.copy(sql) as copy:
            for path in files:
                for batch in pq.ParquetFile(path).iter_batches(_COPY_BATCH_ROWS, columns=names):
                    buffer = io.BytesIO()
                    options = pacsv.WriteOptions(include_header=header)
                    pacsv.write_csv(batch.select(names), buffer, options)
                    copy.write(buffer.getbuffer())
                    header = False

    def lock(self, key: str) -> None:
        self.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [key])

    def close(self) -> None:
        self.con.close()
