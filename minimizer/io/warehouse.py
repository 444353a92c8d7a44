"""The warehouse: what a load is, and the one implementation of it over a small driver
(:mod:`minimizer.io.drivers`: DuckDB, PostgreSQL).

Layout in every warehouse: one schema per purpose (the purpose id), one table per source, and
the audit schema (:mod:`minimizer.io._catalog`). A load is one transaction (all tables, their
comments, retention deletes, the registry and the audit row, or nothing) and is idempotent (a
table is replaced, or a time range of it is replaced).

Driver exceptions become :class:`~minimizer.errors.WarehouseError` in one place,
:func:`_mapped`: the error names the statement, table and column that failed, and shows the
driver's own message only when it can hold no data value (binder and catalogue errors).
Erasure and re-keying work through :class:`Transaction`, whose methods hold every statement
they need, so no caller builds SQL for a target.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Literal, Self, cast

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from minimizer.errors import Reason, WarehouseError, WarehouseLockedError
from minimizer.io._catalog import (
    AUDIT_COLUMNS,
    AUDIT_SCHEMA,
    AUDIT_TABLE,
    REGISTRY,
    REGISTRY_TABLE,
    REGISTRY_UPDATES,
    RUNS,
    audit_after_load,
    audit_params,
    parse_audit_json,
    registry_params,
)
from minimizer.io.drivers.base import Driver, ErrorMapping, Rows
from minimizer.io.drivers.sql import (
    ARROW_TYPES,
    DIALECTS,
    DUCKDB_CATALOG,
    RETENTION_SPANS,
    Dialect,
    TableSpec,
    columns_outside_sql,
    comment_sql,
    count_sql,
    create_table_sql,
    ident,
    insert_arrays_sql,
    like_any_sql,
    literal,
    matched_sql,
    qualified,
    range_delete_sql,
    retention_sql,
    sql_type,
    statement_of,
    table_ddl,
    upsert_sql,
)
from minimizer.io.sources._common import PANDAS_TYPES
from minimizer.policy import RESERVED_SCHEMAS as POLICY_RESERVED_SCHEMAS
from minimizer.policy import reserved_name

__all__ = [
    "ARROW_TYPES",
    "AUDIT_COLUMNS",
    "AUDIT_SCHEMA",
    "AUDIT_TABLE",
    "DIALECTS",
    "DUCKDB_CATALOG",
    "REGISTRY_TABLE",
    "RESERVED_SCHEMAS",
    "RESERVED_TABLES",
    "RETENTION_SPANS",
    "Dialect",
    "Execute",
    "Step",
    "TableLoad",
    "TableSpec",
    "Transaction",
    "Warehouse",
    "WarehouseError",
    "WarehouseLockedError",
    "check_schema_name",
    "ident",
    "is_reserved_schema",
    "open_warehouse",
    "qualified",
    "retention_sql",
    "sql_type",
]

# Tables of the audit schema (the rights package adds its two there).
RESERVED_TABLES = frozenset({AUDIT_TABLE, REGISTRY_TABLE, "erasures", "suppressed_subjects"})
# Schema names a purpose can never take come from one list, the policy's (minimizer's audit
# schema, the engines' own schemas, the default schemas other software shares, every
# ``minimizer_`` and ``pg_`` prefix), plus the catalogues a DuckDB session holds besides the
# warehouse: a schema named like one of them is an ambiguous reference.
_SESSION_CATALOGUES = frozenset({"memory", "system", "temp", DUCKDB_CATALOG})
RESERVED_SCHEMAS = POLICY_RESERVED_SCHEMAS | _SESSION_CATALOGUES
_MAP_BATCH = 50_000  # value pairs per bound array when filling a value map


def is_reserved_schema(name: str) -> bool:
    """True for a schema name a purpose may not use (the loader refuses it)."""
    return reserved_name("schema", name) is not None or name.casefold() in _SESSION_CATALOGUES


@dataclass(frozen=True)
class TableLoad:
    """One table of a load: staged Parquet files (all with ``schema``) and how they land.

    ``replace`` swaps the whole table. ``replace_range`` deletes the rows with
    ``range_start <= range_column < range_end`` and inserts the files, whose rows must all lie
    in that range (checked before loading), so a rerun or a backfill of a day never duplicates.
    With ``retention_column``, rows older than ``retention_cutoff`` (or with no time) are
    deleted after loading. Naive datetimes are taken to be UTC.
    """

    table: str
    files: Sequence[Path]
    schema: pa.Schema
    comments: Mapping[str, str] = field(default_factory=dict)
    table_comment: str = ""
    mode: Literal["replace", "replace_range"] = "replace"
    range_column: str | None = None
    range_start: datetime | None = None
    range_end: datetime | None = None
    retention_column: str | None = None
    retention_cutoff: datetime | None = None
    # The unit the retention column is truncated to ("" = exact): its rows are periods.
    retention_unit: str = ""
    # Entries of the warehouse's registry for this table (entry key -> JSON-able spec): which
    # columns hold subject tokens under which scheme, which guarantees hold. A replace load
    # replaces the table's entries; a range load adds to them (older rows keep their scheme).
    registry: Mapping[str, Mapping[str, object]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = set(self.schema.names)
        problems = []
        if self.mode not in ("replace", "replace_range"):
            problems.append("mode must be replace or replace_range")
        if self.mode == "replace_range" and None in (
            self.range_column,
            self.range_start,
            self.range_end,
        ):
            problems.append("replace_range needs range_column, range_start and range_end")
        if (self.retention_column is None) != (self.retention_cutoff is None):
            problems.append("retention needs both retention_column and retention_cutoff")
        named = {c for c in (self.range_column, self.retention_column) if c is not None}
        unknown = sorted((named | set(self.comments)) - names)
        if unknown:
            problems.append("columns not in the schema: " + ", ".join(map(str, unknown)))
        if problems:
            raise WarehouseError("; ".join(problems), table=self.table, reason="invalid_load")


@dataclass
class Step:
    """The statement a warehouse is running, named for the error should it fail."""

    statement: str | None = None
    schema: str | None = None
    table: str | None = None
    column: str | None = None

    def at(self, statement: str, table: str | None = None, column: str | None = None) -> Step:
        self.statement, self.table, self.column = statement, table, column
        return self


# Run one statement (target placeholders, bound values) and get its rows: what
# ``Warehouse.atomic()`` yields is also callable this way.
Execute = Callable[[str, Sequence[object]], Rows]


@contextmanager
def _mapped(
    driver: ErrorMapping, message: str, reason: Reason | str, step: Step | None = None
) -> Iterator[None]:
    """The one mapping of driver errors: named by class (and SQLSTATE), statement, table and
    column; the driver's message shown only when the driver says it can hold no value."""
    try:
        yield
    except driver.errors as exc:
        step = step or Step()
        cause, detail = driver.describe(exc)
        raise WarehouseError(
            message,
            schema=step.schema,
            table=step.table,
            column=step.column,
            statement=step.statement,
            reason=reason,
            cause=cause,
            detail=detail,
        ) from None


def _count(rows: Rows) -> int:
    """The number a count or a DML statement gives back."""
    if not rows or not rows[0] or rows[0][0] is None:
        return 0
    return int(cast(int, rows[0][0]))


class Transaction:
    """One open transaction (``with warehouse.atomic() as tx``): every statement commits
    together, or none does. Named operations for erasure and re-keying; calling it runs one
    raw statement in the target's own placeholders."""

    def __init__(self, warehouse: Warehouse, step: Step) -> None:
        self._driver = warehouse.driver
        self._d = warehouse.driver.dialect
        self._step = step

    def __call__(self, sql: str, params: Sequence[object] = ()) -> Rows:
        self._at(statement_of(sql), None, None)  # the statement's first words name it
        return self._driver.execute(sql, params)

    def _at(
        self, statement: str, schema: str | None, table: str | None, column: str | None = None
    ) -> None:
        self._step.at(statement, table, column).schema = schema

    # ---------------------------------------------------------------- quoting

    def quote(self, column: str) -> str:
        """A quoted column name, for set-based statements built by the caller."""
        return ident(column, self._d)

    def name(self, schema: str, table: str) -> str:
        """A quoted ``schema.table``."""
        return qualified(schema, table, self._d)

    @staticmethod
    def literal(text: str) -> str:
        return literal(text)

    # ---------------------------------------------------------------- locks and own tables

    def lock(self, key: str) -> None:
        """The lock a load of purpose ``key`` takes: nothing of that purpose interleaves."""
        self._at("lock", key, None)
        self._driver.lock(key)

    def ensure_tables(self, *specs: TableSpec) -> None:
        """The audit tables, and ``specs``, exist and are documented."""
        for spec in (RUNS, REGISTRY, *specs):
            self._at("create audit tables", spec.schema, spec.name)
            for sql in table_ddl(spec, self._d):
                self._driver.execute(sql)

    def insert(self, spec: TableSpec, columns: Sequence[Sequence[str]]) -> None:
        """Rows given column by column (as text, one list per column of ``spec``); a row whose
        key is there already keeps its first version."""
        self._at("insert into", spec.schema, spec.name)
        self._driver.execute(insert_arrays_sql(spec, self._d), [list(c) for c in columns])

    def record_audit(self, audit: Mapping[str, object]) -> None:
        """Insert (or update, by run id) one audit row."""
        self._at("audit upsert", AUDIT_SCHEMA, AUDIT_TABLE)
        self._driver.execute(upsert_sql(RUNS, self._d), audit_params(audit))

    def audit_purposes(self) -> set[str]:
        """Every purpose the audit table has a row of."""
        self._at("select", AUDIT_SCHEMA, AUDIT_TABLE)
        sql = f"SELECT DISTINCT purpose FROM {qualified(AUDIT_SCHEMA, AUDIT_TABLE, self._d)}"
        return {str(row[0]) for row in self._driver.execute(sql)}

    def registry_entries(self) -> list[tuple[str, str, str, str | None]]:
        """Every registry entry as (purpose, table, entry, spec as JSON text)."""
        self._at("select", AUDIT_SCHEMA, REGISTRY_TABLE)
        sql = (
            "SELECT purpose, table_name, entry, CAST(spec AS TEXT)"
            f" FROM {qualified(AUDIT_SCHEMA, REGISTRY_TABLE, self._d)} ORDER BY 1, 2, 3"
        )
        return [
            (str(p), str(t), str(e), None if s is None else str(s))
            for p, t, e, s in self._driver.execute(sql)
        ]

    # ---------------------------------------------------------------- catalogue and reads

    def columns(self, outside: str = AUDIT_SCHEMA) -> list[tuple[str, str, str, bool]]:
        """(schema, table, column, holds text) of every base table outside one schema."""
        self._at("catalogue", None, "information_schema.columns")
        texts = self._driver.text_types
        return [
            (str(s), str(t), str(c), str(kind).lower() in texts)
            for s, t, c, kind in self._driver.execute(columns_outside_sql(self._d), [outside])
        ]

    def count(self, schema: str, table: str) -> int:
        self._at("count", schema, table)
        return _count(self._driver.execute(count_sql(schema, table, self._d)))

    def min_max(self, schema: str, table: str, column: str) -> tuple[object, object]:
        self._at("select", schema, table, column)
        c = ident(column, self._d)
        sql = f"SELECT min({c}), max({c}) FROM {qualified(schema, table, self._d)}"
        low, high = self._driver.execute(sql)[0]
        return low, high

    def read(self, schema: str, table: str) -> pd.DataFrame:
        """A whole table, as :meth:`Warehouse.read` gives it, inside the transaction."""
        self._at("select", schema, table)
        arrow = self._driver.fetch_arrow(f"SELECT * FROM {qualified(schema, table, self._d)}")
        return frame_from_arrow(arrow) if arrow is not None else pd.DataFrame()

    # ---------------------------------------------------------------- matching values

    def count_matches(
        self,
        schema: str,
        table: str,
        column: str,
        values: Sequence[str],
        prefix: int | None = None,
    ) -> list[tuple[str, int]]:
        """(value, rows) for every value of ``values`` the column (as text, or its first
        ``prefix`` characters) holds."""
        self._at("count matches", schema, table, column)
        matched, where = matched_sql(column, self._d, prefix)
        sql = (
            f"SELECT {matched}, count(*) FROM {qualified(schema, table, self._d)}"
            f" WHERE {where} GROUP BY 1"
        )
        rows = self._driver.execute(sql, [list(values)])
        return [(str(value), _count([(n,)])) for value, n in rows]

    def delete_matches(
        self,
        schema: str,
        table: str,
        column: str,
        values: Sequence[str],
        prefix: int | None = None,
    ) -> int:
        self._at("delete matches", schema, table, column)
        _, where = matched_sql(column, self._d, prefix)
        sql = f"DELETE FROM {qualified(schema, table, self._d)} WHERE {where}"
        return _count(self._driver.execute(sql, [list(values)]))

    def count_like(
        self, schema: str, table: str, columns: Sequence[str], patterns: Sequence[str]
    ) -> int:
        """Rows where any of the columns (as text) is LIKE any pattern (escape ``\\``)."""
        return self._like("count", schema, table, columns, patterns)

    def delete_like(
        self, schema: str, table: str, columns: Sequence[str], patterns: Sequence[str]
    ) -> int:
        return self._like("delete", schema, table, columns, patterns)

    def _like(
        self,
        verb: Literal["count", "delete"],
        schema: str,
        table: str,
        columns: Sequence[str],
        patterns: Sequence[str],
    ) -> int:
        self._at(f"{verb} like", schema, table)
        where = like_any_sql(columns, len(patterns), self._d)
        head = "SELECT count(*) FROM" if verb == "count" else "DELETE FROM"
        sql = f"{head} {qualified(schema, table, self._d)} WHERE {where}"
        return _count(self._driver.execute(sql, list(patterns) * len(columns)))

    def remap(
        self,
        pairs: Mapping[str, tuple[Sequence[str], Sequence[str]]],
        targets: Sequence[tuple[str, str, str, str]],
    ) -> list[int]:
        """Replace values through a mapping: ``pairs`` is key -> (old values, new values);
        each target (schema, table, column, key) has every old value of its key replaced by
        its new one. The mapping lives in a temporary table of this session, dropped before
        the transaction ends: it is never committed anywhere. Rows changed, per target."""
        d, run = self._d, self._driver.execute
        temp = ident(f"mz_map_{uuid.uuid4().hex[:12]}", d)
        self._at("create value map", None, "temporary")
        run(f"CREATE TEMPORARY TABLE {temp} (k TEXT, old_value TEXT, new_value TEXT,"
            " PRIMARY KEY (k, old_value))")  # fmt: skip
        insert = (
            f"INSERT INTO {temp} SELECT {d.param}, UNNEST(CAST({d.param} AS TEXT[])),"
            f" UNNEST(CAST({d.param} AS TEXT[]))"
        )
        for key, (old, new) in pairs.items():
            for i in range(0, len(old), _MAP_BATCH):
                run(insert, [key, list(old[i : i + _MAP_BATCH]), list(new[i : i + _MAP_BATCH])])
        changed = []
        for schema, table, column, key in targets:
            self._at("update through value map", schema, table, column)
            c = ident(column, d)
            update = (
                f"UPDATE {qualified(schema, table, d)} AS x SET {c} = m.new_value FROM {temp}"
                f" AS m WHERE m.k = {d.param} AND CAST(x.{c} AS TEXT) = m.old_value"
            )
            changed.append(_count(run(update, [key])))
        self._at("drop value map", None, "temporary")
        run(f"DROP TABLE {temp}")
        return changed


class Warehouse:
    """A warehouse over one driver. ``Warehouse.duckdb(path)``, ``Warehouse.postgres(url)`` or
    :func:`open_warehouse` make one. See ``docs/warehouses.md``."""

    def __init__(self, driver: Driver) -> None:
        self.driver = driver
        self.dialect = driver.dialect
        self.kind = driver.dialect.name
        self._audit_ready = False

    @classmethod
    def duckdb(cls, path: Path | str, *, lock_timeout: float = 0.0) -> Self:
        """A DuckDB file (parents created). ``lock_timeout`` seconds are spent waiting for
        another writer to let go before `WarehouseLockedError` is raised (0: fail at once)."""
        from minimizer.io.drivers.duckdb import DuckDBDriver

        with _mapped(DuckDBDriver, "DuckDB warehouse cannot be opened", "unreadable"):
            driver = DuckDBDriver(path, lock_timeout=lock_timeout)
        return cls(driver)

    @classmethod
    def postgres(cls, url: str, *, connect_timeout: int = 10) -> Self:
        """A PostgreSQL database, from a ``postgresql://`` URL (never echoed: it may hold a
        password)."""
        from minimizer.io.drivers.postgres import PostgresDriver

        with _mapped(PostgresDriver, "PostgreSQL warehouse unreachable", "unreachable"):
            driver = PostgresDriver(url, connect_timeout=connect_timeout)
        return cls(driver)

    # ------------------------------------------------------------ plumbing

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.driver.close()

    def _fetch(self, sql: str, params: Sequence[object] | None = None) -> Rows:
        """One statement, outside any transaction (autocommit)."""
        return self.driver.execute(sql, params)

    @property
    def _con(self) -> object:
        """The driver's connection (kept for tests that register Arrow tables in DuckDB)."""
        return getattr(self.driver, "con", None)

    def _guard(
        self, message: str, reason: Reason | str, step: Step | None = None
    ) -> AbstractContextManager[None]:
        return _mapped(self.driver, message, reason, step)

    def _ensure_audit(self) -> None:
        if self._audit_ready:
            return
        step = Step(schema=AUDIT_SCHEMA).at("create audit tables")
        message = "audit tables cannot be created"
        with self._guard(message, "audit_failed", step), self.driver.transaction():
            # The lock first: first uses of the audit table by concurrent runs wait.
            self.driver.lock(AUDIT_SCHEMA)
            if not self._columns(AUDIT_SCHEMA, AUDIT_TABLE) or not self._columns(
                AUDIT_SCHEMA, REGISTRY_TABLE
            ):
                for spec in (RUNS, REGISTRY):
                    for sql in table_ddl(spec, self.dialect):
                        self.driver.execute(sql)
        self._audit_ready = True

    # ------------------------------------------------------------ catalogue

    def _columns(self, schema: str, table: str) -> dict[str, str | None]:
        rows = self.driver.execute(self.driver.columns_sql, [schema, table])
        return {str(c): None if comment is None else str(comment) for c, comment in rows}

    def _require_table(self, schema: str, table: str, column: str | None = None) -> None:
        columns = self._columns(schema, table)
        if not columns:
            raise WarehouseError(
                "table not found", schema=schema, table=table, reason="missing_table"
            )
        if column is not None and column not in columns:
            raise WarehouseError(
                "column not found",
                schema=schema,
                table=table,
                column=column,
                reason="missing_column",
            )

    def _check_same_columns(self, schema: str, load: TableLoad) -> None:
        existing = list(self._columns(schema, load.table))
        if existing != list(load.schema.names):
            differ = sorted(set(existing) ^ set(load.schema.names)) or existing
            raise WarehouseError(
                "table columns differ from the load schema; replace the whole table first",
                schema=schema,
                table=load.table,
                column=", ".join(differ),
                reason="schema_mismatch",
            )

    def tables(self) -> list[tuple[str, str]]:
        return [(str(s), str(t)) for s, t in self.driver.execute(self.driver.tables_sql)]

    def column_comments(self, schema: str, table: str) -> dict[str, str]:
        self._require_table(schema, table)
        return {k: v for k, v in self._columns(schema, table).items() if v is not None}

    def table_comment(self, schema: str, table: str) -> str | None:
        rows = self.driver.execute(self.driver.table_comment_sql, [schema, table])
        return str(rows[0][0]) if rows and rows[0][0] is not None else None

    # ------------------------------------------------------------ writing

    def load(
        self,
        schema: str,
        tables: Sequence[TableLoad],
        audit: Mapping[str, object],
        recheck: Callable[[pd.DataFrame], None] | None = None,
    ) -> dict[str, int]:
        """Load every table, apply retention, register the tables and record the audit row
        (with the rows each table then holds) in one transaction. Returns those rows per
        table. On any failure nothing changes. ``recheck`` sees the purpose's audit rows as
        they are inside the transaction, under the purpose's lock, and may raise to refuse
        the load (the privacy budget is checked again there: another run may have loaded
        since this one planned its spend)."""
        d, run = self.dialect, self.driver.execute
        audit_params(audit)  # a malformed audit row fails before anything runs
        check_loads(schema, tables, d)
        self._ensure_audit()
        step = Step(schema=schema)
        counts: dict[str, int] = {}
        message = "load failed; the warehouse keeps its previous contents"
        with self._guard(message, "load_failed", step), self.driver.transaction():
            step.at("lock")
            self.driver.lock(schema)
            if recheck is not None:
                recheck(self.audit_runs(schema))
            step.at("create schema")
            run(f"CREATE SCHEMA IF NOT EXISTS {ident(schema, d)}")
            for load in tables:
                self._load_table(schema, load, step)
            for load in tables:
                if load.retention_column is not None and load.retention_cutoff is not None:
                    step.at("retention delete", load.table, load.retention_column)
                    column, unit = load.retention_column, load.retention_unit
                    sql = retention_sql(schema, load.table, column, d, unit)
                    run(sql, [as_utc(load.retention_cutoff)])
                step.at("count", load.table)
                counts[load.table] = _count(run(count_sql(schema, load.table, d)))
            run_id, at = str(audit["run_id"]), datetime.now(UTC)
            for load in tables:
                step.at("registry upsert", load.table)
                self._register(schema, load, run_id, at)
            step.at("audit upsert", f"{AUDIT_SCHEMA}.{AUDIT_TABLE}")
            run(upsert_sql(RUNS, d), audit_params(audit_after_load(audit, counts)))
        return counts

    def _load_table(self, schema: str, load: TableLoad, step: Step) -> None:
        d, run = self.dialect, self.driver.execute
        step.at("create table", load.table)
        for sql in create_table_sql(schema, load.table, load.schema, load.mode == "replace", d):
            run(sql)
        if load.mode == "replace_range":
            self._check_same_columns(schema, load)
            step.at("range delete", load.table, load.range_column)
            # replace_range loads always carry both bounds (TableLoad validates it); the fields are Optional.
            bounds = [as_utc(load.range_start), as_utc(load.range_end)]  # type: ignore[arg-type]
            run(range_delete_sql(schema, load.table, str(load.range_column), d), bounds)
        if load.files:
            step.at("insert from staged files", load.table)
            self.driver.bulk_load(schema, load.table, load.schema.names, load.files)
        step.at("comment", load.table)
        for sql in comment_sql(schema, load.table, load.comments, load.table_comment, d):
            run(sql)

    def _register(self, schema: str, load: TableLoad, run_id: str, at: datetime) -> None:
        """Upsert the table's registry entries; a replace load also drops the entries the
        table no longer has."""
        d, run = self.dialect, self.driver.execute
        rows = registry_params(schema, load.table, load.registry, run_id, at)
        if load.mode == "replace":
            run(
                f"DELETE FROM {qualified(AUDIT_SCHEMA, REGISTRY_TABLE, d)} WHERE purpose ="
                f" {d.param} AND table_name = {d.param}"
                f" AND entry NOT IN (SELECT UNNEST(CAST({d.param} AS TEXT[])))",
                [schema, load.table, [row[2] for row in rows]],
            )
        upsert = upsert_sql(REGISTRY, d, REGISTRY_UPDATES)
        for params in rows:
            run(upsert, params)

    def record_audit(self, audit: Mapping[str, object]) -> None:
        """Insert (or update, by run id) one audit row in its own transaction."""
        params = audit_params(audit)
        self._ensure_audit()
        step = Step(schema=AUDIT_SCHEMA).at("audit upsert", AUDIT_TABLE)
        with self._guard("audit record failed", "audit_failed", step), self.driver.transaction():
            self.driver.execute(upsert_sql(RUNS, self.dialect), params)

    def delete_rows(self, schema: str, table: str, column: str, values: Sequence[str]) -> int:
        """Erasure: delete the rows whose ``column`` (as text) is one of ``values``."""
        self._require_table(schema, table, column)
        _, where = matched_sql(column, self.dialect)
        sql = f"DELETE FROM {qualified(schema, table, self.dialect)} WHERE {where}"
        return self._delete(schema, table, column, sql, [list(values)])

    def apply_retention(
        self, schema: str, table: str, column: str, cutoff: datetime, unit: str = ""
    ) -> int:
        """Delete rows older than ``cutoff`` (or with no time); returns how many went. With
        ``unit``, a row's time is the start of a period, and it goes once the period ends."""
        self._require_table(schema, table, column)
        sql = retention_sql(schema, table, column, self.dialect, unit)
        return self._delete(schema, table, column, sql, [as_utc(cutoff)])

    def _delete(
        self, schema: str, table: str, column: str, sql: str, params: Sequence[object]
    ) -> int:
        step = Step(schema=schema).at("delete", table, column)
        with self._guard("delete failed", "delete_failed", step), self.driver.transaction():
            rows = self.driver.execute(sql, params)
        return _count(rows)

    @contextmanager
    def atomic(self) -> Iterator[Transaction]:
        """One transaction for work spanning schemas (erasure, re-keying): everything done
        through the yielded :class:`Transaction` commits together, or none does (any exception
        rolls back)."""
        step = Step()
        message = "transaction failed; nothing was changed"
        with self._guard(message, "transaction_failed", step), self.driver.transaction():
            yield Transaction(self, step)

    # ------------------------------------------------------------ reading

    def _frame(self, sql: str, params: Sequence[object] | None = None) -> pd.DataFrame:
        arrow = self.driver.fetch_arrow(sql, params)
        return pd.DataFrame() if arrow is None else frame_from_arrow(arrow)

    def read(self, schema: str, table: str) -> pd.DataFrame:
        self._require_table(schema, table)
        step = Step(schema=schema).at("select", table)
        with self._guard("read failed", "query_failed", step):
            frame = self._frame(f"SELECT * FROM {qualified(schema, table, self.dialect)}")
        return frame

    def audit_runs(self, purpose: str | None = None) -> pd.DataFrame:
        self._ensure_audit()
        where = "" if purpose is None else f" WHERE purpose = {self.dialect.param}"
        sql = (
            f"SELECT * FROM {qualified(AUDIT_SCHEMA, AUDIT_TABLE, self.dialect)}{where}"
            " ORDER BY started_at, run_id"
        )
        step = Step(schema=AUDIT_SCHEMA).at("select", AUDIT_TABLE)
        with self._guard("audit read failed", "query_failed", step):
            frame = self._frame(sql, None if purpose is None else [purpose])
        return parse_audit_json(frame)

    def query(self, sql: str) -> pd.DataFrame:
        """Run any SQL (outside a transaction); a statement without a result gives an empty
        frame."""
        with self._guard("query failed", "query_failed"):
            frame = self._frame(sql)
        return frame


# ---------------------------------------------------------------- results as frames


def frame_from_arrow(table: pa.Table) -> pd.DataFrame:
    """A query result as pandas, the same way for every target (dates as ``datetime.date``,
    decimals as ``Decimal``, aware timestamps in UTC, nullable integers and booleans)."""
    return table.to_pandas(types_mapper=PANDAS_TYPES.get)


# ---------------------------------------------------------------- checks on staged files


def as_utc(moment: datetime) -> datetime:
    """An aware UTC datetime; naive datetimes are taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def check_schema_name(schema: str, dialect: Dialect) -> None:
    """A purpose schema the loader may write: never the audit schema or a system schema."""
    ident(schema, dialect)
    if is_reserved_schema(schema):
        raise WarehouseError(
            f"{schema!r} is a reserved schema name (minimizer's audit schema, a system schema or"
            " a shared default schema); a purpose can never load into it: rename the purpose."
            f" Reserved: {', '.join(sorted(RESERVED_SCHEMAS))} and the prefixes minimizer_, pg_",
            schema=schema,
            reason="reserved_name",
        )


def check_loads(schema: str, tables: Sequence[TableLoad], dialect: Dialect) -> None:
    """Every check that needs no database, run before a load's transaction opens."""
    check_schema_name(schema, dialect)
    names = [load.table for load in tables]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise WarehouseError(
            "a load names a table twice",
            schema=schema,
            table=", ".join(repeated),
            reason="invalid_load",
        )
    for load in tables:
        # Unmapped types and bad names fail here.
        create_table_sql(schema, load.table, load.schema, load.mode == "replace", dialect)
        check_files(load)


def check_files(load: TableLoad) -> None:
    """Before any SQL runs: every staged file is readable Parquet with the load's columns, and
    a range load holds only rows inside its range (else a rerun could not replace them)."""
    for path in load.files:
        try:
            names = set(pq.read_schema(path).names)
        except (pa.ArrowException, OSError):
            raise WarehouseError(
                "staged file is not readable Parquet", table=load.table, reason="unreadable_file"
            ) from None
        missing = [name for name in load.schema.names if name not in names]
        if missing:
            raise WarehouseError(
                "staged file lacks columns of the load schema",
                table=load.table,
                column=", ".join(missing),
                reason="schema_mismatch",
            )
    if load.mode == "replace_range" and load.files:
        outside = _rows_outside_range(load)
        if outside:
            raise WarehouseError(
                "staged rows lie outside the range being replaced",
                table=load.table,
                column=load.range_column,
                reason="out_of_range",
                count=outside,
            )


def _rows_outside_range(load: TableLoad) -> int:
    column = str(load.range_column)
    arrow_type = load.schema.field(column).type
    # only called for replace_range loads, which always carry both bounds (fields are Optional).
    start, end = as_utc(load.range_start), as_utc(load.range_end)  # type: ignore[arg-type]
    if pa.types.is_date(arrow_type):
        # The database compares a DATE as midnight UTC of that day: d is inside when
        # start <= d 00:00 < end, i.e. first_day <= d < end_day.
        low, high = pa.scalar(_first_day(start), arrow_type), pa.scalar(_first_day(end), arrow_type)
    elif pa.types.is_timestamp(arrow_type) and arrow_type.tz is None:
        naive = [moment.replace(tzinfo=None) for moment in (start, end)]
        low, high = pa.scalar(naive[0], arrow_type), pa.scalar(naive[1], arrow_type)
    else:
        low, high = pa.scalar(start, arrow_type), pa.scalar(end, arrow_type)
    value = ds.field(column)
    outside = value.is_null() | (value < low) | (value >= high)
    dataset = ds.dataset([str(path) for path in load.files], format="parquet")
    return int(dataset.count_rows(filter=outside))


def _first_day(moment: datetime) -> date:
    """The first day whose midnight (UTC) is at or after ``moment``."""
    return moment.date() if moment.time() == time(0) else moment.date() + timedelta(days=1)


# ---------------------------------------------------------------- factory


def open_warehouse(target: str | Path, **options: object) -> Warehouse:
    """``postgresql://...`` -> PostgreSQL; anything else is a DuckDB file (parents created)."""
    text = str(target)
    if text.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        # options are the caller's keyword arguments for the chosen backend (lock_timeout
        # or connect_timeout); each factory checks its own at run time.
        return Warehouse.postgres(text, **options)  # type: ignore[arg-type]
    return Warehouse.duckdb(Path(target), **options)  # type: ignore[arg-type]
