"""The DuckDB warehouse: one embedded file, one writer at a time.

A load is one DuckDB transaction (DDL included): tables are recreated from the Arrow schema
through the type table and filled with ``INSERT ... SELECT ... FROM read_parquet([...])``, so
an empty load still creates a typed, empty table. The session runs in UTC.

The file is attached under a fixed catalogue alias (``DUCKDB_CATALOG``): DuckDB names a file's
catalogue after the file, so ``churn_analysis.duckdb`` would make every
``churn_analysis.<table>`` ambiguous. Driver errors become `WarehouseError` in one place,
:func:`_error`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

import duckdb
import pandas as pd

from minimizer.io._catalog import CatalogMixin
from minimizer.io.warehouse import (
    AUDIT_SCHEMA,
    AUDIT_TABLE,
    DIALECTS,
    DUCKDB_CATALOG,
    REGISTRY_TABLE,
    Execute,
    Step,
    TableLoad,
    WarehouseError,
    WarehouseLockedError,
    as_utc,
    audit_after_load,
    audit_ddl,
    audit_params,
    audit_select_sql,
    audit_upsert_sql,
    check_loads,
    comment_sql,
    count_sql,
    create_table_sql,
    delete_values_sql,
    frame_from_arrow,
    ident,
    literal,
    parse_audit_json,
    qualified,
    range_delete_sql,
    registry_statements,
    retention_sql,
    safe_detail,
    statement_of,
)

__all__ = ["DuckDBWarehouse"]

_D = DIALECTS["duckdb"]
_LOCK_RETRY_SECONDS = 0.1

# Catalogue queries of this target.
_COLUMNS_SQL = (
    "SELECT column_name, comment FROM duckdb_columns() WHERE database_name = current_database()"
    " AND schema_name = ? AND table_name = ? ORDER BY column_index"
)
_TABLE_COMMENT_SQL = (
    "SELECT comment FROM duckdb_tables() WHERE database_name = current_database()"
    " AND schema_name = ? AND table_name = ?"
)
_TABLES_SQL = (
    "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database()"
    " AND NOT internal AND NOT temporary ORDER BY schema_name, table_name"
)


# Driver errors whose message names only catalogue objects and types, never a value.
_SAFE_ERRORS: tuple[type[duckdb.Error], ...] = (
    duckdb.BinderException,
    duckdb.CatalogException,
    duckdb.TransactionException,
    duckdb.OutOfMemoryException,
    duckdb.PermissionException,
)


def _error(
    exc: duckdb.Error, message: str, *, reason: str, step: Step | None = None
) -> WarehouseError:
    """The one mapping of DuckDB errors: the driver's message is shown when it can hold no
    value (binder, catalogue, transaction errors); any other is named by its type, with the
    statement, table and column that failed."""
    step = step or Step()
    return WarehouseError(
        message,
        schema=step.schema,
        table=step.table,
        column=step.column,
        statement=step.statement,
        reason=reason,
        cause=type(exc).__name__,
        detail=safe_detail(str(exc)) if isinstance(exc, _SAFE_ERRORS) else None,
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
                raise _error(
                    exc, "DuckDB warehouse cannot be opened", reason="unreadable"
                ) from None
            if time.monotonic() >= deadline:
                raise WarehouseLockedError(
                    f"DuckDB warehouse {path.name} is locked by another writer (another process"
                    " holds the file open); retry when it has finished"
                ) from None
            time.sleep(_LOCK_RETRY_SECONDS)
        except duckdb.Error as exc:
            raise _error(exc, "DuckDB warehouse cannot be opened", reason="unreadable") from None


class DuckDBWarehouse(CatalogMixin):
    """A DuckDB file as warehouse. ``lock_timeout`` seconds are spent waiting for another
    writer to let go before `WarehouseLockedError` is raised (0: fail at once)."""

    dialect = _D
    columns_sql = _COLUMNS_SQL
    tables_sql = _TABLES_SQL
    table_comment_sql = _TABLE_COMMENT_SQL

    kind = "duckdb"

    def __init__(self, path: Path | str, *, lock_timeout: float = 0.0) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._con = _connect(self.path, lock_timeout)
        self._con.execute("SET TimeZone = 'UTC'")
        self._audit_ready = False

    # ------------------------------------------------------------ plumbing

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._con.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        self._con.execute("COMMIT")

    def _fetch(self, sql: str, params: Sequence[object] | None = None) -> list[tuple[object, ...]]:
        return self._con.execute(sql, params).fetchall()

    def _ensure_audit(self) -> None:
        if self._audit_ready:
            return
        if not self._columns(AUDIT_SCHEMA, AUDIT_TABLE) or not self._columns(
            AUDIT_SCHEMA, REGISTRY_TABLE
        ):
            try:
                with self._transaction():
                    for sql in audit_ddl(_D):
                        self._fetch(sql)
            except duckdb.Error as exc:
                step = Step(schema=AUDIT_SCHEMA).at("create audit tables")
                raise _error(
                    exc, "audit tables cannot be created", reason="audit_failed", step=step
                ) from None
        self._audit_ready = True

    # ------------------------------------------------------------ writing

    def load(
        self, schema: str, tables: Sequence[TableLoad], audit: Mapping[str, object]
    ) -> dict[str, int]:
        """Load every table, apply retention, register the tables and record the audit row
        (with the rows each table then holds) in one transaction. Returns those rows per
        table. On any failure nothing changes."""
        audit_params(audit)  # a malformed audit row fails before anything runs
        check_loads(schema, tables, _D)
        self._ensure_audit()
        step = Step(schema=schema)
        counts: dict[str, int] = {}
        try:
            with self._transaction():
                self._fetch(f"CREATE SCHEMA IF NOT EXISTS {ident(schema, _D)}")
                for load in tables:
                    self._load_table(schema, load, step)
                for load in tables:
                    if load.retention_column is not None and load.retention_cutoff is not None:
                        step.at("retention delete", load.table, load.retention_column)
                        sql = retention_sql(
                            schema, load.table, load.retention_column, _D, load.retention_unit
                        )
                        self._fetch(sql, [as_utc(load.retention_cutoff)])
                    step.at("count", load.table)
                    counts[load.table] = int(self._fetch(count_sql(schema, load.table, _D))[0][0])
                run_id, at = str(audit["run_id"]), datetime.now(UTC)
                for load in tables:
                    step.at("registry upsert", load.table)
                    for sql, params in registry_statements(schema, load, run_id, at, _D):
                        self._fetch(sql, params)
                step.at("audit upsert", f"{AUDIT_SCHEMA}.{AUDIT_TABLE}")
                self._fetch(audit_upsert_sql(_D), audit_params(audit_after_load(audit, counts)))
        except duckdb.Error as exc:
            raise _error(
                exc,
                "load failed; the warehouse keeps its previous contents",
                reason="load_failed",
                step=step,
            ) from None
        return counts

    def _load_table(self, schema: str, load: TableLoad, step: Step) -> None:
        step.at("create table", load.table)
        for sql in create_table_sql(schema, load, _D):
            self._fetch(sql)
        if load.mode == "replace_range":
            self._check_same_columns(schema, load)
            step.at("range delete", load.table, load.range_column)
            bounds = [as_utc(load.range_start), as_utc(load.range_end)]  # type: ignore[arg-type]
            self._fetch(range_delete_sql(schema, load, _D), bounds)
        if load.files:
            step.at("insert from staged files", load.table)
            columns = ", ".join(ident(name, _D) for name in load.schema.names)
            self._fetch(
                f"INSERT INTO {qualified(schema, load.table, _D)} ({columns})"
                f" SELECT {columns} FROM read_parquet(?)",
                [[str(path) for path in load.files]],
            )
        step.at("comment", load.table)
        for sql in comment_sql(schema, load.table, load.comments, load.table_comment, _D):
            self._fetch(sql)

    def record_audit(self, audit: Mapping[str, object]) -> None:
        """Insert (or update, by run id) one audit row in its own transaction."""
        params = audit_params(audit)
        self._ensure_audit()
        try:
            with self._transaction():
                self._fetch(audit_upsert_sql(_D), params)
        except duckdb.Error as exc:
            step = Step(schema=AUDIT_SCHEMA).at("audit upsert", AUDIT_TABLE)
            raise _error(exc, "audit record failed", reason="audit_failed", step=step) from None

    def delete_rows(self, schema: str, table: str, column: str, values: Sequence[str]) -> int:
        """Erasure: delete the rows whose ``column`` (as text) is one of ``values``."""
        self._require_table(schema, table, column)
        return self._delete(
            schema, table, column, delete_values_sql(schema, table, column, _D), [list(values)]
        )

    def _delete(
        self, schema: str, table: str, column: str, sql: str, params: Sequence[object]
    ) -> int:
        try:
            with self._transaction():
                return int(self._fetch(sql, params)[0][0])  # DuckDB returns the count
        except duckdb.Error as exc:
            step = Step(schema=schema).at("delete", table, column)
            raise _error(exc, "delete failed", reason="delete_failed", step=step) from None

    @contextmanager
    def atomic(self) -> Iterator[Execute]:
        """One transaction for work spanning schemas (erasure, re-keying): every statement run
        through the yielded function commits together, or none does (any exception rolls back)."""

        step = Step()

        def execute(sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
            step.statement = statement_of(sql)
            return self._fetch(sql, list(params) or None)

        try:
            with self._transaction():
                yield execute
        except duckdb.Error as exc:
            raise _error(
                exc,
                "transaction failed; nothing was changed",
                reason="transaction_failed",
                step=step,
            ) from None

    # ------------------------------------------------------------ reading

    def read(self, schema: str, table: str) -> pd.DataFrame:
        self._require_table(schema, table)
        return frame_from_arrow(
            self._con.sql(f"SELECT * FROM {qualified(schema, table, _D)}").to_arrow_table()
        )

    def audit_runs(self, purpose: str | None = None) -> pd.DataFrame:
        self._ensure_audit()
        sql = audit_select_sql(_D, by_purpose=purpose is not None)
        params = None if purpose is None else [purpose]
        return parse_audit_json(
            frame_from_arrow(self._con.sql(sql, params=params).to_arrow_table())
        )

    def query(self, sql: str) -> pd.DataFrame:
        """Run any SQL; a statement without a result gives an empty frame."""
        try:
            relation = self._con.sql(sql)
        except duckdb.Error as exc:
            raise _error(exc, "query failed", reason="query_failed") from None
        return pd.DataFrame() if relation is None else frame_from_arrow(relation.to_arrow_table())
