"""Warehouses: what a load is, the protocol every target implements, and the tables holding
every difference between targets (Arrow -> SQL types, dialect snippets, the audit table).

Layout in every warehouse: one schema per purpose (the purpose id), one table per source, and
``minimizer_audit.runs`` with one row per run. A load is one transaction (all tables, their
comments, retention deletes and the audit row, or nothing) and is idempotent (a table is
replaced, or a time range of it is replaced).

The SQL built here is plain text with quoted identifiers and escaped comment literals; values
always travel as bound parameters. Engines live in ``duckdb_warehouse`` and
``postgres_warehouse``, one target per file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Literal, Protocol, Self, runtime_checkable

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from minimizer.errors import MinimizerError
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
    "Dialect",
    "Execute",
    "Step",
    "TableLoad",
    "Warehouse",
    "WarehouseError",
    "WarehouseLockedError",
    "check_schema_name",
    "is_reserved_schema",
    "open_warehouse",
]

AUDIT_SCHEMA = "minimizer_audit"
AUDIT_TABLE = "runs"
# The warehouse's own registry of every purpose, table, token scheme and guarantee it loaded,
# written in each load's transaction: erasure reaches them without the policy files.
REGISTRY_TABLE = "loaded_tables"
# The catalogue alias a DuckDB file is attached under, so that a file named like a purpose
# (churn_analysis.duckdb) cannot make ``churn_analysis.customers`` ambiguous.
DUCKDB_CATALOG = "minimizer_warehouse"

# Tables of the audit schema (the rights package adds its two there).
RESERVED_TABLES = frozenset({AUDIT_TABLE, REGISTRY_TABLE, "erasures", "suppressed_subjects"})
# Schema names a purpose can never take come from one list, the policy's (minimizer's audit
# schema, the engines' own schemas, the default schemas other software shares, every
# ``minimizer_`` and ``pg_`` prefix), plus the catalogues a DuckDB session holds besides the
# warehouse: a schema named like one of them is an ambiguous reference.
_SESSION_CATALOGUES = frozenset({"memory", "system", "temp", DUCKDB_CATALOG})
RESERVED_SCHEMAS = POLICY_RESERVED_SCHEMAS | _SESSION_CATALOGUES


def is_reserved_schema(name: str) -> bool:
    """True for a schema name a purpose may not use (the loader refuses it)."""
    return reserved_name("schema", name) is not None or name.casefold() in _SESSION_CATALOGUES


@dataclass(eq=False)  # identity equality and hashing, as for any exception
class WarehouseError(MinimizerError):
    """The warehouse cannot be opened, read or written. Names and counts only, never values:
    the database's own message can quote data, so only its type (``cause``) is kept."""

    message: str
    schema: str | None = None
    table: str | None = None
    column: str | None = None
    reason: str = "warehouse"
    count: int | None = None
    cause: str | None = None
    statement: str | None = None  # which statement failed: "retention delete", "insert", ...
    detail: str | None = None  # the driver's own message, only when it can hold no value

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        context = (
            ("schema", self.schema),
            ("table", self.table),
            ("column", self.column),
            ("statement", self.statement),
            ("reason", self.reason),
            ("count", self.count),
            ("cause", self.cause),
        )
        described = ", ".join(f"{k}={v}" for k, v in context if v is not None)
        said = f": {self.detail}" if self.detail else ""
        return f"{self.message}{said} [{described}]"


@dataclass(eq=False)
class WarehouseLockedError(WarehouseError):
    """Another process or writer holds the warehouse (a DuckDB file takes one writer)."""

    reason: str = "locked"


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
        unknown = sorted(
            ({self.range_column, self.retention_column} - {None}) - names
            | set(self.comments) - names
        )
        if unknown:
            problems.append("columns not in the schema: " + ", ".join(map(str, unknown)))
        if problems:
            raise WarehouseError("; ".join(problems), table=self.table, reason="invalid_load")


@dataclass
class Step:
    """The statement a warehouse is running, named for the error should it fail: the
    driver's message is shown only when it can hold no value (see each backend's ``_error``)."""

    statement: str | None = None
    schema: str | None = None
    table: str | None = None
    column: str | None = None

    def at(self, statement: str, table: str | None = None, column: str | None = None) -> Step:
        self.statement, self.table, self.column = statement, table, column
        return self


def statement_of(sql: str) -> str:
    """What kind of statement a SQL text is, for an error: its first two words, lower case
    (``delete from``, ``update "churn_analysis"``: names only, never a bound value)."""
    return " ".join(sql.split()[:2]).lower()[:60]


def safe_detail(text: str) -> str:
    """A driver message fit to show: its first paragraph only (DuckDB appends the statement
    text after ``LINE n:``), on one line, at most 300 characters."""
    first = text.split("\nLINE ")[0].split("\n\n")[0]
    return " ".join(first.split())[:300]


# What ``Warehouse.atomic()`` yields: run one statement (target placeholders, bound values) inside
# the open transaction and get its rows. A DELETE/UPDATE/INSERT without RETURNING gives
# ``[(rows affected,)]``; DDL gives ``[]``.
Execute = Callable[[str, Sequence[object]], list[tuple[object, ...]]]


@runtime_checkable
class Warehouse(Protocol):
    """What the pipeline needs from a warehouse. See ``docs/warehouses.md``."""

    kind: str

    def load(
        self, schema: str, tables: Sequence[TableLoad], audit: Mapping[str, object]
    ) -> dict[str, int]: ...
    def record_audit(self, audit: Mapping[str, object]) -> None: ...
    def delete_rows(self, schema: str, table: str, column: str, values: Sequence[str]) -> int: ...
    def apply_retention(
        self, schema: str, table: str, column: str, cutoff: datetime, unit: str = ""
    ) -> int: ...
    def atomic(self) -> AbstractContextManager[Execute]: ...
    def tables(self) -> list[tuple[str, str]]: ...
    def read(self, schema: str, table: str) -> pd.DataFrame: ...
    def column_comments(self, schema: str, table: str) -> dict[str, str]: ...
    def table_comment(self, schema: str, table: str) -> str | None: ...
    def audit_runs(self, purpose: str | None = None) -> pd.DataFrame: ...
    def query(self, sql: str) -> pd.DataFrame: ...
    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> None: ...


# ---------------------------------------------------------------- type and dialect tables

# Arrow type -> SQL type per target. Keys are str(arrow type); timestamps and decimals are
# keyed by family (see ``arrow_key``) and formatted with their precision and scale.
ARROW_TYPES: dict[str, dict[str, str]] = {
    "string": {"duckdb": "VARCHAR", "postgresql": "TEXT"},
    "large_string": {"duckdb": "VARCHAR", "postgresql": "TEXT"},
    "bool": {"duckdb": "BOOLEAN", "postgresql": "BOOLEAN"},
    "int8": {"duckdb": "TINYINT", "postgresql": "SMALLINT"},
    "int16": {"duckdb": "SMALLINT", "postgresql": "SMALLINT"},
    "int32": {"duckdb": "INTEGER", "postgresql": "INTEGER"},
    "int64": {"duckdb": "BIGINT", "postgresql": "BIGINT"},
    "float": {"duckdb": "REAL", "postgresql": "REAL"},
    "double": {"duckdb": "DOUBLE", "postgresql": "DOUBLE PRECISION"},
    "decimal": {
        "duckdb": "DECIMAL({precision},{scale})",
        "postgresql": "NUMERIC({precision},{scale})",
    },
    "date32[day]": {"duckdb": "DATE", "postgresql": "DATE"},
    "timestamp": {"duckdb": "TIMESTAMP", "postgresql": "TIMESTAMP"},
    "timestamp_tz": {"duckdb": "TIMESTAMPTZ", "postgresql": "TIMESTAMPTZ"},
    # A column that is null in every staged row has no type of its own; text holds the nulls.
    "null": {"duckdb": "VARCHAR", "postgresql": "TEXT"},
}

# Logical type of an audit column -> SQL type per target.
_AUDIT_TYPES: dict[str, dict[str, str]] = {
    "text": {"duckdb": "VARCHAR", "postgresql": "TEXT"},
    "timestamptz": {"duckdb": "TIMESTAMPTZ", "postgresql": "TIMESTAMPTZ"},
    "integer": {"duckdb": "INTEGER", "postgresql": "INTEGER"},
    "json": {"duckdb": "JSON", "postgresql": "JSONB"},
}

# The audit table: (column, logical type, comment). The ``audit`` mapping of a run has exactly
# these keys; JSON columns take dicts/lists.
AUDIT_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("run_id", "text", "Unique id of the minimizer run (primary key)."),
    ("purpose", "text", "Purpose id of the policy; also the schema the run loaded."),
    ("policy_sha256", "text", "SHA-256 of the policy file the run applied."),
    ("status", "text", "loaded (a load) or rekeyed (keys rekey); failed runs load nothing."),
    ("started_at", "timestamptz", "When the run started (UTC)."),
    ("finished_at", "timestamptz", "When the run finished (UTC)."),
    ("key_version", "integer", "Version of the pseudonymisation key; the key is never stored."),
    ("rows_in", "json", "Rows read, per source."),
    ("rows_out", "json", "Rows the run loaded, per source (rekeyed: tokens moved)."),
    ("dropped_columns", "json", "Source columns not published as they are, per source."),
    (
        "schema_drift",
        "json",
        "Every source column the policy does not name (not read), per source.",
    ),
    ("details", "json", "Guarantee and gate figures of the run: counts, never values."),
)
_AUDIT_TABLE_COMMENT = "One row per minimizer run: what was read, dropped and loaded, and why."
_JSON_COLUMNS = tuple(name for name, kind, _ in AUDIT_COLUMNS if kind == "json")


@dataclass(frozen=True)
class Dialect:
    """The SQL snippets in which targets differ."""

    name: str
    param: str  # positional placeholder
    max_identifier_bytes: int | None  # PostgreSQL truncates longer names silently: we refuse


DIALECTS: dict[str, Dialect] = {
    "duckdb": Dialect(name="duckdb", param="?", max_identifier_bytes=None),
    "postgresql": Dialect(name="postgresql", param="%s", max_identifier_bytes=63),
}


def arrow_key(arrow_type: pa.DataType) -> str:
    """The ``ARROW_TYPES`` key of an Arrow type."""
    if pa.types.is_timestamp(arrow_type):
        return "timestamp_tz" if arrow_type.tz is not None else "timestamp"
    if pa.types.is_decimal128(arrow_type):
        return "decimal"
    return str(arrow_type)


def sql_type(arrow_field: pa.Field, dialect: Dialect, table: str) -> str:
    """The SQL column type of an Arrow field, or an error naming the column and its type."""
    targets = ARROW_TYPES.get(arrow_key(arrow_field.type))
    if targets is None:
        raise WarehouseError(
            f"Arrow type {arrow_field.type} has no {dialect.name} mapping",
            table=table,
            column=arrow_field.name,
            reason="unsupported_type",
        )
    precision = getattr(arrow_field.type, "precision", None)
    return targets[dialect.name].format(
        precision=precision, scale=getattr(arrow_field.type, "scale", None)
    )


# ---------------------------------------------------------------- SQL builders


def ident(name: str, dialect: Dialect) -> str:
    """A quoted identifier. Refuses names the target would alter or cannot hold."""
    too_long = dialect.max_identifier_bytes is not None and (
        len(name.encode()) > dialect.max_identifier_bytes
    )
    if not name or "\x00" in name or too_long:
        raise WarehouseError(
            f"identifier is empty, holds NUL or is too long for {dialect.name}",
            column=name[:80],
            reason="invalid_identifier",
        )
    return '"' + name.replace('"', '""') + '"'


def qualified(schema: str, table: str, dialect: Dialect) -> str:
    return f"{ident(schema, dialect)}.{ident(table, dialect)}"


def literal(text: str) -> str:
    """A SQL string literal (standard conforming strings: only quotes are doubled)."""
    return "'" + text.replace("\x00", "").replace("'", "''") + "'"


def create_table_sql(schema: str, load: TableLoad, dialect: Dialect) -> list[str]:
    """DDL for one load: replace drops and recreates; replace_range creates when missing."""
    name = qualified(schema, load.table, dialect)
    columns = ", ".join(
        f"{ident(f.name, dialect)} {sql_type(f, dialect, load.table)}" for f in load.schema
    )
    if load.mode == "replace":
        return [f"DROP TABLE IF EXISTS {name}", f"CREATE TABLE {name} ({columns})"]
    return [f"CREATE TABLE IF NOT EXISTS {name} ({columns})"]


def comment_sql(
    schema: str, table: str, comments: Mapping[str, str], table_comment: str, dialect: Dialect
) -> list[str]:
    """COMMENT ON statements: readable by analysts in DESCRIBE-like views and ``\\d+``."""
    name = qualified(schema, table, dialect)
    statements = [f"COMMENT ON TABLE {name} IS {literal(table_comment)}"] if table_comment else []
    statements += [
        f"COMMENT ON COLUMN {name}.{ident(column, dialect)} IS {literal(text)}"
        for column, text in comments.items()
    ]
    return statements


def range_delete_sql(schema: str, load: TableLoad, dialect: Dialect) -> str:
    column = ident(str(load.range_column), dialect)
    return (
        f"DELETE FROM {qualified(schema, load.table, dialect)}"
        f" WHERE {column} >= {dialect.param} AND {column} < {dialect.param}"
    )


# How long a published period lasts, per truncation unit; the same SQL in both dialects.
RETENTION_SPANS = {
    "hour": "1 hour",
    "day": "1 day",
    "week": "7 days",
    "month": "1 month",
    "quarter": "3 months",
    "year": "1 year",
}


def retention_sql(schema: str, table: str, column: str, dialect: Dialect, unit: str = "") -> str:
    """Rows older than the cutoff go, and so do rows with no time: their age cannot be shown
    to be within retention, so keeping them would keep them forever.

    A column truncated to ``unit`` holds the start of a period: a row goes only when its whole
    period lies before the cutoff (a month whose end is at or before it), never because its
    period began before it (December's rows are not deleted because their quarter began in
    October)."""
    col = ident(column, dialect)
    name = qualified(schema, table, dialect)
    if unit:
        span = RETENTION_SPANS[unit]
        return (
            f"DELETE FROM {name} WHERE {col} + INTERVAL '{span}' <= {dialect.param}"
            f" OR {col} IS NULL"
        )
    return f"DELETE FROM {name} WHERE {col} < {dialect.param} OR {col} IS NULL"


def delete_values_sql(schema: str, table: str, column: str, dialect: Dialect) -> str:
    """Erasure: the values travel as one bound text array, unnested in SQL."""
    col = ident(column, dialect)
    return (
        f"DELETE FROM {qualified(schema, table, dialect)} WHERE CAST({col} AS TEXT)"
        f" IN (SELECT UNNEST(CAST({dialect.param} AS TEXT[])))"
    )


def count_sql(schema: str, table: str, dialect: Dialect) -> str:
    return f"SELECT count(*) FROM {qualified(schema, table, dialect)}"


def audit_ddl(dialect: Dialect) -> list[str]:
    """Create the audit table and document it (run once per warehouse, when missing)."""
    name = qualified(AUDIT_SCHEMA, AUDIT_TABLE, dialect)
    columns = ", ".join(
        f"{ident(col, dialect)} {_AUDIT_TYPES[kind][dialect.name]}"
        + (" PRIMARY KEY" if col == "run_id" else "")
        for col, kind, _ in AUDIT_COLUMNS
    )
    comments = {col: text for col, _, text in AUDIT_COLUMNS}
    return [
        f"CREATE SCHEMA IF NOT EXISTS {ident(AUDIT_SCHEMA, dialect)}",
        f"CREATE TABLE IF NOT EXISTS {name} ({columns})",
        *comment_sql(AUDIT_SCHEMA, AUDIT_TABLE, comments, _AUDIT_TABLE_COMMENT, dialect),
        *registry_ddl(dialect),
    ]


# The registry: (column, logical type, comment); (purpose, table_name, entry) is the key.
REGISTRY_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("purpose", "text", "Purpose id: the schema the table lives in."),
    ("table_name", "text", "A table minimizer loaded into that schema."),
    ("entry", "text", "What is registered: the table, a subject column, a guarantee."),
    ("spec", "json", "Its description: token scheme, guarantee parameters; never a value."),
    ("first_loaded", "timestamptz", "First load that registered the entry (UTC)."),
    ("last_loaded", "timestamptz", "Latest load that registered the entry (UTC)."),
    ("run_id", "text", "The run of the latest load."),
)
_REGISTRY_COMMENT = (
    "Every purpose, table, token scheme and guarantee minimizer ever loaded here: erasure and"
    " re-keying reach them without the policy files."
)
TABLE_ENTRY = "table"  # the entry every loaded table has


def registry_ddl(dialect: Dialect) -> list[str]:
    name = qualified(AUDIT_SCHEMA, REGISTRY_TABLE, dialect)
    columns = ", ".join(
        f"{ident(col, dialect)} {_AUDIT_TYPES[kind][dialect.name]}"
        for col, kind, _ in REGISTRY_COLUMNS
    )
    comments = {col: text for col, _, text in REGISTRY_COLUMNS}
    return [
        f"CREATE TABLE IF NOT EXISTS {name} ({columns}, PRIMARY KEY (purpose, table_name, entry))",
        *comment_sql(AUDIT_SCHEMA, REGISTRY_TABLE, comments, _REGISTRY_COMMENT, dialect),
    ]


def registry_statements(
    schema: str, load: TableLoad, run_id: str, at: datetime, dialect: Dialect
) -> list[tuple[str, list[object]]]:
    """The registry writes of one table load: upsert its entries; a replace load also drops
    the entries the table no longer has."""
    p = dialect.param
    name = qualified(AUDIT_SCHEMA, REGISTRY_TABLE, dialect)
    json_type = _AUDIT_TYPES["json"][dialect.name]
    stamp = _AUDIT_TYPES["timestamptz"][dialect.name]
    entries = {TABLE_ENTRY: {}, **{k: dict(v) for k, v in load.registry.items()}}
    upsert = (
        f"INSERT INTO {name} (purpose, table_name, entry, spec, first_loaded, last_loaded,"
        f" run_id) VALUES ({p}, {p}, {p}, CAST({p} AS {json_type}), CAST({p} AS {stamp}),"
        f" CAST({p} AS {stamp}), {p}) ON CONFLICT (purpose, table_name, entry) DO UPDATE SET"
        " spec = EXCLUDED.spec, last_loaded = EXCLUDED.last_loaded, run_id = EXCLUDED.run_id"
    )
    statements: list[tuple[str, list[object]]] = []
    if load.mode == "replace":
        statements.append(
            (
                f"DELETE FROM {name} WHERE purpose = {p} AND table_name = {p}"
                f" AND entry NOT IN (SELECT UNNEST(CAST({p} AS TEXT[])))",
                [schema, load.table, sorted(entries)],
            )
        )
    for entry, spec in sorted(entries.items()):
        text = json.dumps(spec, sort_keys=True, default=str)
        statements.append((upsert, [schema, load.table, entry, text, at, at, run_id]))
    return statements


def registry_select_sql(dialect: Dialect) -> str:
    """Every registry entry as (purpose, table_name, entry, spec as text)."""
    return (
        f"SELECT purpose, table_name, entry, CAST(spec AS TEXT)"
        f" FROM {qualified(AUDIT_SCHEMA, REGISTRY_TABLE, dialect)} ORDER BY 1, 2, 3"
    )


def audit_upsert_sql(dialect: Dialect) -> str:
    """One row per run id: a rerun with the same id (or a started-then-finished run) updates."""
    names = [col for col, _, _ in AUDIT_COLUMNS]
    kinds = {col: kind for col, kind, _ in AUDIT_COLUMNS}
    values = ", ".join(
        f"CAST({dialect.param} AS {_AUDIT_TYPES[kinds[col]][dialect.name]})" for col in names
    )
    updates = ", ".join(f"{ident(c, dialect)} = EXCLUDED.{ident(c, dialect)}" for c in names[1:])
    return (
        f"INSERT INTO {qualified(AUDIT_SCHEMA, AUDIT_TABLE, dialect)}"
        f" ({', '.join(ident(c, dialect) for c in names)}) VALUES ({values})"
        f" ON CONFLICT ({ident('run_id', dialect)}) DO UPDATE SET {updates}"
    )


def audit_select_sql(dialect: Dialect, *, by_purpose: bool) -> str:
    where = f" WHERE {ident('purpose', dialect)} = {dialect.param}" if by_purpose else ""
    name = qualified(AUDIT_SCHEMA, AUDIT_TABLE, dialect)
    return f"SELECT * FROM {name}{where} ORDER BY started_at, run_id"


def audit_after_load(audit: Mapping[str, object], counts: Mapping[str, int]) -> dict[str, object]:
    """The audit row of a load with the rows each table holds once loaded and retention ran,
    so the processing record always equals the tables."""
    rows_out = audit.get("rows_out")
    before = dict(rows_out) if isinstance(rows_out, Mapping) else {}
    return {**audit, "rows_out": {**before, **counts}}


def audit_params(audit: Mapping[str, object]) -> list[object]:
    """The audit row as bound parameters, in ``AUDIT_COLUMNS`` order; JSON is serialised."""
    expected = [col for col, _, _ in AUDIT_COLUMNS]
    missing = sorted(set(expected) - set(audit))
    extra = sorted(set(audit) - set(expected))
    if missing or extra:
        raise WarehouseError(
            "audit record must have exactly the audit columns",
            table=f"{AUDIT_SCHEMA}.{AUDIT_TABLE}",
            column=", ".join(missing + extra),
            reason="invalid_audit",
        )
    return [
        json.dumps(audit[col], sort_keys=True, default=str) if col in _JSON_COLUMNS else audit[col]
        for col in expected
    ]


def parse_audit_json(frame: pd.DataFrame) -> pd.DataFrame:
    """Audit rows with their JSON columns as Python objects (both targets hand back text)."""
    parsed = {col: frame[col].map(json.loads, na_action="ignore") for col in _JSON_COLUMNS}
    return frame.assign(**parsed)


# ---------------------------------------------------------------- results as frames

# Arrow -> pandas dtypes for reads: integers stay integers when a column holds nulls.
_PANDAS_TYPES: dict[pa.DataType, object] = {
    pa.int8(): pd.Int8Dtype(),
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}


def frame_from_arrow(table: pa.Table) -> pd.DataFrame:
    """A query result as pandas, the same way for every target (dates as ``datetime.date``,
    decimals as ``Decimal``, aware timestamps in UTC, nullable integers and booleans)."""
    return table.to_pandas(types_mapper=_PANDAS_TYPES.get)


def frame_from_rows(names: Sequence[str], rows: Sequence[Sequence[object]]) -> pd.DataFrame:
    """Driver rows as pandas, through Arrow so both targets give the same dtypes. A column
    Arrow cannot type (a UUID, an interval) comes back as text."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    arrays = []
    for values in columns:
        try:
            arrays.append(pa.array(values))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arrays.append(pa.array(pd.Series(values, dtype=object).astype("str")))
    return frame_from_arrow(pa.Table.from_arrays(arrays, names=list(names)))


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
        create_table_sql(schema, load, dialect)  # unmapped types and bad names fail here
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
        from minimizer.io.postgres_warehouse import PostgresWarehouse

        return PostgresWarehouse(text, **options)  # type: ignore[arg-type]
    from minimizer.io.duckdb_warehouse import DuckDBWarehouse

    return DuckDBWarehouse(Path(target), **options)  # type: ignore[arg-type]
