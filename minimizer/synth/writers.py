"""Writers: the CRM into SQLite or PostgreSQL, events and ground truth into Parquet.

DDL comes from the Arrow schemas in schema.py through one type mapping table per dialect.
Tables are replaced, in one transaction, so a rerun never leaves a mix of two runs behind.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from minimizer.synth.schema import AMOUNT, TableSpec

__all__ = [
    "create_table_sql",
    "redact_url",
    "write_parquet",
    "write_partition",
    "write_postgres",
    "write_sqlite",
]

_SQL_TYPES: dict[str, dict[pa.DataType, str]] = {
    "sqlite": {
        pa.string(): "TEXT",
        pa.date32(): "DATE",
        pa.timestamp("us"): "TIMESTAMP",
        AMOUNT: "NUMERIC(12, 2)",
    },
    "postgresql": {
        pa.string(): "TEXT",
        pa.date32(): "DATE",
        pa.timestamp("us"): "TIMESTAMP",
        AMOUNT: "NUMERIC(12, 2)",
    },
}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def create_table_sql(spec: TableSpec, dialect: str) -> str:
    types = _SQL_TYPES[dialect]
    columns = []
    for field in spec.schema:
        constraint = " PRIMARY KEY" if field.name == spec.primary_key else ""
        if field.name in spec.not_null:
            constraint += " NOT NULL"
        if field.name == "customer_id" and spec.references_customers:
            constraint += " REFERENCES customers (customer_id)"
        columns.append(f"{_quote(field.name)} {types[field.type]}{constraint}")
    return f"CREATE TABLE {_quote(spec.name)} (\n  " + ",\n  ".join(columns) + "\n)"


def _sqlite_column(array: pa.ChunkedArray) -> list[object]:
    """SQLite has no date or decimal types: ISO text for dates and times, REAL for amounts."""
    if pa.types.is_date(array.type):
        array = array.cast(pa.string())
    elif pa.types.is_timestamp(array.type):
        # Arrow's %S prints fractions for sub-second units; order times are whole seconds.
        array = pc.strftime(array.cast(pa.timestamp("s")), format="%Y-%m-%d %H:%M:%S")
    elif pa.types.is_decimal(array.type):
        # Via text, so 37.80 becomes the double nearest 37.8 (a direct cast can be off by 1 ulp).
        array = array.cast(pa.string()).cast(pa.float64())
    values: list[object] = array.to_pylist()
    return values


def _rows(table: pa.Table, convert: bool) -> Iterator[tuple[object, ...]]:
    columns = [_sqlite_column(c) if convert else c.to_pylist() for c in table.columns]
    return zip(*columns, strict=True)


def write_sqlite(path: Path, tables: list[tuple[TableSpec, pa.Table]]) -> None:
    """A fresh SQLite file holding ``tables`` (an existing file is replaced)."""
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA foreign_keys = ON")
        for spec, table in tables:
            conn.execute(create_table_sql(spec, "sqlite"))
            marks = ", ".join("?" * table.num_columns)
            conn.executemany(
                f"INSERT INTO {_quote(spec.name)} VALUES ({marks})", _rows(table, True)
            )
    conn.close()


def write_postgres(url: str, tables: list[tuple[TableSpec, pa.Table]]) -> None:
    """Replace ``tables`` in the connection's current schema (``public`` unless search_path says
    otherwise), in one transaction, loading with COPY."""
    import psycopg  # only needed for PostgreSQL targets

    with psycopg.connect(url) as conn, conn.transaction(), conn.cursor() as cur:
        for spec, _ in reversed(tables):
            cur.execute(f"DROP TABLE IF EXISTS {_quote(spec.name)} CASCADE")
        for spec, table in tables:
            cur.execute(create_table_sql(spec, "postgresql"))
            names = ", ".join(_quote(n) for n in table.column_names)
            with cur.copy(f"COPY {_quote(spec.name)} ({names}) FROM STDIN") as copy:
                for row in _rows(table, False):
                    copy.write_row(row)


def redact_url(url: str) -> str:
    """The URL without its password, safe to print.

    >>> redact_url("postgresql://u:secret@db:5432/crm")
    'postgresql://u:***@db:5432/crm'
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def write_parquet(path: Path, table: pa.Table) -> None:
    """Write via a hidden temporary name, so readers never see a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)


def write_partition(events_dir: Path, day: date, table: pa.Table) -> Path:
    """Hive-style partition ``date=YYYY-MM-DD/part-0.parquet``."""
    path = events_dir / f"date={day.isoformat()}" / "part-0.parquet"
    write_parquet(path, table)
    return path
