"""The PostgreSQL warehouse: one psycopg connection, one transaction per load.

Tables are dropped and recreated from the Arrow schema through the type table, and filled
with ``COPY ... FROM STDIN (FORMAT csv, HEADER true)``: Parquet record batches are written as
CSV by pyarrow into a buffer, batch by batch, with no per-row Python. Loads of one purpose
serialise on an advisory lock; the session runs in UTC with standard conforming strings.
Driver errors become `WarehouseError` in one place, :func:`_error`.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Self

import pandas as pd
import psycopg
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from psycopg.types.string import TextLoader

from minimizer.io._catalog import CatalogMixin
from minimizer.io.warehouse import (
    AUDIT_SCHEMA,
    AUDIT_TABLE,
    DIALECTS,
    REGISTRY_TABLE,
    Execute,
    Step,
    TableLoad,
    WarehouseError,
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
    frame_from_rows,
    ident,
    parse_audit_json,
    qualified,
    range_delete_sql,
    registry_statements,
    retention_sql,
    safe_detail,
    statement_of,
)

__all__ = ["PostgresWarehouse"]

_D = DIALECTS["postgresql"]
_SESSION_OPTIONS = "-c TimeZone=UTC -c standard_conforming_strings=on"
_COPY_BATCH_ROWS = 65_536

# Catalogue queries of this target.
_COLUMNS_SQL = (
    "SELECT a.attname, col_description(c.oid, a.attnum) FROM pg_catalog.pg_attribute a"
    " JOIN pg_catalog.pg_class c ON c.oid = a.attrelid"
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')"
    " AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"
)
_TABLE_COMMENT_SQL = (
    "SELECT obj_description(c.oid, 'pg_class') FROM pg_catalog.pg_class c"
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = %s AND c.relname = %s"
)
_TABLES_SQL = (
    "SELECT table_schema, table_name FROM information_schema.tables"
    " WHERE table_type = 'BASE TABLE'"
    " AND table_schema NOT IN ('pg_catalog', 'information_schema')"
    " AND table_schema NOT LIKE 'pg\\_%' ORDER BY 1, 2"
)
# Concurrent runs of one purpose (or first uses of the audit table) wait for each other.
_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext(%s))"


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


def _cause(exc: psycopg.Error) -> str:
    # The class and the SQLSTATE; the message itself only through _error's allow-list.
    return f"{type(exc).__name__}/{exc.sqlstate}" if exc.sqlstate else type(exc).__name__


def _error(
    exc: psycopg.Error, message: str, *, reason: str, step: Step | None = None
) -> WarehouseError:
    """The one mapping of PostgreSQL errors: the server's primary message is shown for the
    SQLSTATEs that can hold no value; any other is named by class and SQLSTATE, with the
    statement, table and column that failed (never the DETAIL, which quotes rows)."""
    step = step or Step()
    primary = exc.diag.message_primary if exc.sqlstate in _SAFE_STATES else None
    return WarehouseError(
        message,
        schema=step.schema,
        table=step.table,
        column=step.column,
        statement=step.statement,
        reason=reason,
        cause=_cause(exc),
        detail=safe_detail(primary) if primary else None,
    )


class PostgresWarehouse(CatalogMixin):
    """A PostgreSQL database as warehouse, from a ``postgresql://`` URL."""

    dialect = _D
    columns_sql = _COLUMNS_SQL
    tables_sql = _TABLES_SQL
    table_comment_sql = _TABLE_COMMENT_SQL

    kind = "postgresql"

    def __init__(self, url: str, *, connect_timeout: int = 10) -> None:
        conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
        try:
            self._con = psycopg.connect(
                conninfo,
                autocommit=True,
                connect_timeout=connect_timeout,
                options=_SESSION_OPTIONS,
            )
        except psycopg.Error as exc:
            # Never echo the URL: it may carry a password (no connection error is on the list).
            raise _error(exc, "PostgreSQL warehouse unreachable", reason="unreachable") from None
        # JSON comes back as text, as from DuckDB; audit_runs parses it for both.
        for json_type in ("json", "jsonb"):
            self._con.adapters.register_loader(json_type, TextLoader)
        self._audit_ready = False

    # ------------------------------------------------------------ plumbing

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._con.close()

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Cursor[tuple[object, ...]]]:
        with self._con.transaction(), self._con.cursor() as cursor:
            yield cursor

    def _fetch(self, sql: str, params: Sequence[object] | None = None) -> list[tuple[object, ...]]:
        with self._con.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def _ensure_audit(self) -> None:
        if self._audit_ready:
            return
        try:
            with self._transaction() as cursor:
                cursor.execute(_LOCK_SQL, [AUDIT_SCHEMA])
                if not self._columns(AUDIT_SCHEMA, AUDIT_TABLE) or not self._columns(
                    AUDIT_SCHEMA, REGISTRY_TABLE
                ):
                    for sql in audit_ddl(_D):
                        cursor.execute(sql)
        except psycopg.Error as exc:
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
            with self._transaction() as cursor:
                step.at("lock")
                cursor.execute(_LOCK_SQL, [schema])
                step.at("create schema")
                cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {ident(schema, _D)}")
                for load in tables:
                    self._load_table(cursor, schema, load, step)
                for load in tables:
                    if load.retention_column is not None and load.retention_cutoff is not None:
                        step.at("retention delete", load.table, load.retention_column)
                        sql = retention_sql(
                            schema, load.table, load.retention_column, _D, load.retention_unit
                        )
                        cursor.execute(sql, [as_utc(load.retention_cutoff)])
                    step.at("count", load.table)
                    cursor.execute(count_sql(schema, load.table, _D))
                    counts[load.table] = int(cursor.fetchone()[0])  # type: ignore[index]
                run_id, at = str(audit["run_id"]), datetime.now(UTC)
                for load in tables:
                    step.at("registry upsert", load.table)
                    for sql, params in registry_statements(schema, load, run_id, at, _D):
                        cursor.execute(sql, params)
                step.at("audit upsert", f"{AUDIT_SCHEMA}.{AUDIT_TABLE}")
                cursor.execute(audit_upsert_sql(_D), audit_params(audit_after_load(audit, counts)))
        except psycopg.Error as exc:
            raise _error(
                exc,
                "load failed; the warehouse keeps its previous contents",
                reason="load_failed",
                step=step,
            ) from None
        return counts

    def _load_table(
        self, cursor: psycopg.Cursor[tuple[object, ...]], schema: str, load: TableLoad, step: Step
    ) -> None:
        step.at("create table", load.table)
        for sql in create_table_sql(schema, load, _D):
            cursor.execute(sql)
        if load.mode == "replace_range":
            self._check_same_columns(schema, load)
            step.at("range delete", load.table, load.range_column)
            bounds = [as_utc(load.range_start), as_utc(load.range_end)]  # type: ignore[arg-type]
            cursor.execute(range_delete_sql(schema, load, _D), bounds)
        if load.files:
            step.at("copy from staged files", load.table)
            self._copy(cursor, schema, load)
        step.at("comment", load.table)
        for sql in comment_sql(schema, load.table, load.comments, load.table_comment, _D):
            cursor.execute(sql)

    def _copy(
        self, cursor: psycopg.Cursor[tuple[object, ...]], schema: str, load: TableLoad
    ) -> None:
        names = list(load.schema.names)
        columns = ", ".join(ident(name, _D) for name in names)
        sql = (
            f"COPY {qualified(schema, load.table, _D)} ({columns})"
            " FROM STDIN (FORMAT csv, HEADER true)"
        )
        header = True
        with cursor.copy(sql) as copy:
            for path in load.files:
                batches = pq.ParquetFile(path).iter_batches(_COPY_BATCH_ROWS, columns=names)
                for batch in batches:
                    buffer = io.BytesIO()
                    options = pacsv.WriteOptions(include_header=header)
                    pacsv.write_csv(batch.select(names), buffer, options)
                    copy.write(buffer.getbuffer())
                    header = False

    def record_audit(self, audit: Mapping[str, object]) -> None:
        """Insert (or update, by run id) one audit row in its own transaction."""
        params = audit_params(audit)
        self._ensure_audit()
        try:
            with self._transaction() as cursor:
                cursor.execute(audit_upsert_sql(_D), params)
        except psycopg.Error as exc:
            step = Step(schema=AUDIT_SCHEMA).at("audit upsert", AUDIT_TABLE)
            raise _error(exc, "audit record failed", reason="audit_failed", step=step) from None

    def delete_rows(self, schema: str, table: str, column: str, values: Sequence[str]) -> int:
        """Erasure: delete the rows whose ``column`` (as text) is one of ``values``."""
        self._require_table(schema, table, column)
        sql = delete_values_sql(schema, table, column, _D)
        return self._delete(schema, table, column, sql, [list(values)])

    def _delete(
        self, schema: str, table: str, column: str, sql: str, params: Sequence[object]
    ) -> int:
        try:
            with self._transaction() as cursor:
                cursor.execute(sql, params)
                return cursor.rowcount
        except psycopg.Error as exc:
            step = Step(schema=schema).at("delete", table, column)
            raise _error(exc, "delete failed", reason="delete_failed", step=step) from None

    @contextmanager
    def atomic(self) -> Iterator[Execute]:
        """One transaction for work spanning schemas (erasure, re-keying): every statement run
        through the yielded function commits together, or none does (any exception rolls back)."""
        step = Step()
        try:
            with self._transaction() as cursor:

                def execute(sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
                    step.statement = statement_of(sql)
                    cursor.execute(sql, list(params) or None)
                    if cursor.description is not None:
                        return cursor.fetchall()
                    return [(cursor.rowcount,)] if cursor.rowcount >= 0 else []

                yield execute
        except psycopg.Error as exc:
            raise _error(
                exc,
                "transaction failed; nothing was changed",
                reason="transaction_failed",
                step=step,
            ) from None

    # ------------------------------------------------------------ reading

    def _frame(self, sql: str, params: Sequence[object] | None = None) -> pd.DataFrame:
        with self._con.cursor() as cursor:
            cursor.execute(sql, params)
            if cursor.description is None:
                return pd.DataFrame()
            names = [column.name for column in cursor.description]
            return frame_from_rows(names, cursor.fetchall())

    def read(self, schema: str, table: str) -> pd.DataFrame:
        self._require_table(schema, table)
        return self._frame(f"SELECT * FROM {qualified(schema, table, _D)}")

    def audit_runs(self, purpose: str | None = None) -> pd.DataFrame:
        self._ensure_audit()
        sql = audit_select_sql(_D, by_purpose=purpose is not None)
        return parse_audit_json(self._frame(sql, None if purpose is None else [purpose]))

    def query(self, sql: str) -> pd.DataFrame:
        """Run any SQL (autocommit); a statement without a result gives an empty frame."""
        try:
            return self._frame(sql)
        except psycopg.Error as exc:
            raise _error(exc, "query failed", reason="query_failed") from None
