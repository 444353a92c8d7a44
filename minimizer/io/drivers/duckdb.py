"""The DuckDB driver: one embedded file, one writer at a time.

A transaction includes DDL. Staged files are appended with ``INSERT ... SELECT ... FROM
read_parquet([...])`` (DuckDB reads Parquet natively; no rows pass through Python). The
session runs in UTC.

The file is attached under a fixed catalogue alias (``DUCKDB_CATALOG``): DuckDB names a file's
catalogue after the file, so ``churn_analysis.duckdb`` would make every
``churn_analysis.<table>`` ambiguous. A file another process holds is waited for, up to
``lock_timeout`` seconds, then refused with `WarehouseLockedError`.

The session's memory is capped (``MINIMIZER_DUCKDB_MEMORY``, default 768MB; DuckDB's own default
is 80 % of the machine, which a load of tens of millions of rows would fill with cached
blocks): what does not fit spills beside the file (``<file>.tmp``), so a load costs the same
memory whatever the size of the staged files.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

import duckdb
import pyarrow as pa

from minimizer.errors import WarehouseLockedError
from minimizer.io.drivers.base import Rows
from minimizer.io.drivers.sql import (
    DIALECTS,
    DUCKDB_CATALOG,
    ident,
    literal,
    qualified,
    safe_detail,
)

__all__ = ["DUCKDB_CATALOG", "DuckDBDriver"]

_D = DIALECTS["duckdb"]
_LOCK_RETRY_SECONDS = 0.1
MEMORY_ENV = "MINIMIZER_DUCKDB_MEMORY"
DEFAULT_MEMORY = "768MB"

# Driver errors whose message names only catalogue objects and types, never a value.
_SAFE_ERRORS: tuple[type[duckdb.Error], ...] = (
    duckdb.BinderException,
    duckdb.CatalogException,
    duckdb.TransactionException,
    duckdb.OutOfMemoryException,
    duckdb.PermissionException,
)


def _attach(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    try:
        target = ":memory:" if str(path) == ":memory:" else str(path)
        con.execute(f"ATTACH {literal(target)} AS {ident(DUCKDB_CATALOG, _D)}")
        con.execute(f"USE {ident(DUCKDB_CATALOG, _D)}")
    except BaseException:
        con.close()
        raise
    return con


def _connect(path: Path, lock_timeout: float) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + lock_timeout
    while True:
        try:
            return _attach(path)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            if time.monotonic() >= deadline:
                raise WarehouseLockedError(
                    f"DuckDB warehouse {path.name} is locked by another writer (another process"
                    " holds the file open); retry when it has finished"
                ) from None
            time.sleep(_LOCK_RETRY_SECONDS)


class DuckDBDriver:
    dialect = _D
    errors: ClassVar[tuple[type[Exception], ...]] = (duckdb.Error,)
    columns_sql = (
        "SELECT column_name, comment FROM duckdb_columns()"
        " WHERE database_name = current_database()"
        " AND schema_name = ? AND table_name = ? ORDER BY column_index"
    )
    table_comment_sql = (
        "SELECT comment FROM duckdb_tables() WHERE database_name = current_database()"
        " AND schema_name = ? AND table_name = ?"
    )
    tables_sql = (
        "SELECT schema_name, table_name FROM duckdb_tables()"
        " WHERE database_name = current_database()"
        " AND NOT internal AND NOT temporary ORDER BY schema_name, table_name"
    )
    text_types = frozenset({"varchar", "text", "string"})

    def __init__(self, path: Path | str, *, lock_timeout: float = 0.0) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = _connect(self.path, lock_timeout)
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute(
            f"SET memory_limit = {literal(os.environ.get(MEMORY_ENV, DEFAULT_MEMORY))}"
        )
        if str(path) != ":memory:":
            # The session's own database is in memory (the file is attached): spill beside the
            # file, as DuckDB does for a file it opens itself, never into the working directory.
            self.con.execute(f"SET temp_directory = {literal(str(self.path) + '.tmp')}")

    @classmethod
    def describe(cls, exc: Exception) -> tuple[str, str | None]:
        shown = safe_detail(str(exc)) if isinstance(exc, _SAFE_ERRORS) else None
        return type(exc).__name__, shown

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def execute(self, sql: str, params: Sequence[object] | None = None) -> Rows:
        return self.con.execute(sql, list(params) if params else None).fetchall()

    def fetch_arrow(self, sql: str, params: Sequence[object] | None = None) -> pa.Table | None:
        relation = self.con.sql(sql, params=list(params) if params else None)
        return None if relation is None else relation.to_arrow_table()

    def bulk_load(
        self, schema: str, table: str, columns: Sequence[str], files: Sequence[Path]
    ) -> None:
        names = ", ".join(ident(name, _D) for name in columns)
        self.execute(
            f"INSERT INTO {qualified(schema, table, _D)} ({names})"
            f" SELECT {names} FROM read_parquet(?)",
            [[str(path) for path in files]],
        )

    def lock(self, key: str) -> None:
        return None  # one writer per file: nothing can interleave

    def close(self) -> None:
        self.con.close()
