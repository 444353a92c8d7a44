"""SQL text for a driver's dialect: quoting, the type tables, and the statements a warehouse
runs. Every difference between targets is in a table here (or in the driver itself); values
always travel as bound parameters, lists as one bound text array unnested in SQL.

Identifiers are always quoted, so a name is never interpreted (``select``, ``a"b; drop``), and
a name the target would silently truncate is refused instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pyarrow as pa

from minimizer.errors import WarehouseError

__all__ = [
    "ARROW_TYPES",
    "DIALECTS",
    "DUCKDB_CATALOG",
    "LOGICAL_TYPES",
    "RETENTION_SPANS",
    "Dialect",
    "TableSpec",
    "arrow_key",
    "columns_outside_sql",
    "comment_sql",
    "count_sql",
    "create_table_sql",
    "ident",
    "insert_arrays_sql",
    "like_any_sql",
    "literal",
    "matched_sql",
    "qualified",
    "range_delete_sql",
    "retention_sql",
    "safe_detail",
    "sql_type",
    "statement_of",
    "table_ddl",
    "upsert_sql",
]


@dataclass(frozen=True)
class Dialect:
    """The SQL snippets in which targets differ."""

    name: str
    param: str  # positional placeholder
    max_identifier_bytes: int | None  # PostgreSQL truncates longer names silently: we refuse


# The catalogue alias a DuckDB file is attached under, so that a file named like a purpose
# (churn_analysis.duckdb) cannot make ``churn_analysis.customers`` ambiguous.
DUCKDB_CATALOG = "minimizer_warehouse"

DIALECTS: dict[str, Dialect] = {
    "duckdb": Dialect(name="duckdb", param="?", max_identifier_bytes=None),
    "postgresql": Dialect(name="postgresql", param="%s", max_identifier_bytes=63),
}

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

# The one table of logical column types of minimizer's own tables (the audit schema: runs,
# the registry, erasures, the suppression list) -> SQL type per target.
LOGICAL_TYPES: dict[str, dict[str, str]] = {
    "text": {"duckdb": "VARCHAR", "postgresql": "TEXT"},
    "timestamptz": {"duckdb": "TIMESTAMPTZ", "postgresql": "TIMESTAMPTZ"},
    "integer": {"duckdb": "INTEGER", "postgresql": "INTEGER"},
    "json": {"duckdb": "JSON", "postgresql": "JSONB"},
}


@dataclass(frozen=True)
class TableSpec:
    """One of minimizer's own tables: columns as (name, logical type, comment), its key."""

    schema: str
    name: str
    columns: tuple[tuple[str, str, str], ...]
    key: tuple[str, ...]
    comment: str

    @property
    def names(self) -> list[str]:
        return [name for name, _, _ in self.columns]

    def kind(self, column: str) -> str:
        return next(kind for name, kind, _ in self.columns if name == column)


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


# ---------------------------------------------------------------- quoting


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


# ---------------------------------------------------------------- DDL and comments


def create_table_sql(
    schema: str, table: str, arrow: pa.Schema, replace: bool, dialect: Dialect
) -> list[str]:
    """DDL for one load: replace drops and recreates; a range load creates when missing."""
    name = qualified(schema, table, dialect)
    columns = ", ".join(f"{ident(f.name, dialect)} {sql_type(f, dialect, table)}" for f in arrow)
    if replace:
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


def table_ddl(spec: TableSpec, dialect: Dialect) -> list[str]:
    """Create one of minimizer's own tables when missing, and document it."""
    columns = ", ".join(
        f"{ident(col, dialect)} {LOGICAL_TYPES[kind][dialect.name]}"
        for col, kind, _ in spec.columns
    )
    keys = ", ".join(ident(col, dialect) for col in spec.key)
    comments = {col: text for col, _, text in spec.columns}
    return [
        f"CREATE SCHEMA IF NOT EXISTS {ident(spec.schema, dialect)}",
        f"CREATE TABLE IF NOT EXISTS {qualified(spec.schema, spec.name, dialect)}"
        f" ({columns}, PRIMARY KEY ({keys}))",
        *comment_sql(spec.schema, spec.name, comments, spec.comment, dialect),
    ]


# ---------------------------------------------------------------- writes of own tables


def _cast(kind: str, dialect: Dialect) -> str:
    return f"CAST({dialect.param} AS {LOGICAL_TYPES[kind][dialect.name]})"


def upsert_sql(spec: TableSpec, dialect: Dialect, update: Sequence[str] | None = None) -> str:
    """Insert one row (every column, in spec order, bound); on a key conflict update the
    ``update`` columns (default: every other column)."""
    names = spec.names
    changed = [c for c in names if c not in spec.key] if update is None else list(update)
    values = ", ".join(_cast(kind, dialect) for _, kind, _ in spec.columns)
    sets = ", ".join(f"{ident(c, dialect)} = EXCLUDED.{ident(c, dialect)}" for c in changed)
    return (
        f"INSERT INTO {qualified(spec.schema, spec.name, dialect)}"
        f" ({', '.join(ident(c, dialect) for c in names)}) VALUES ({values})"
        f" ON CONFLICT ({', '.join(ident(c, dialect) for c in spec.key)}) DO UPDATE SET {sets}"
    )


def insert_arrays_sql(spec: TableSpec, dialect: Dialect) -> str:
    """Many rows at once: every column is one bound text array, cast to its type (timestamps
    travel as ISO text); a row whose key is already there keeps its first version."""
    text = f"UNNEST(CAST({dialect.param} AS TEXT[]))"
    values = ", ".join(
        text if kind == "text" else f"CAST({text} AS {LOGICAL_TYPES[kind][dialect.name]})"
        for _, kind, _ in spec.columns
    )
    names = ", ".join(ident(c, dialect) for c in spec.names)
    return (
        f"INSERT INTO {qualified(spec.schema, spec.name, dialect)} ({names}) SELECT {values}"
        " ON CONFLICT DO NOTHING"
    )


# ---------------------------------------------------------------- reads, deletes, retention


def count_sql(schema: str, table: str, dialect: Dialect) -> str:
    return f"SELECT count(*) FROM {qualified(schema, table, dialect)}"


def columns_outside_sql(dialect: Dialect) -> str:
    """(schema, table, column, type) of every base table outside one bound schema."""
    return (
        "SELECT c.table_schema, c.table_name, c.column_name, c.data_type"
        " FROM information_schema.columns c JOIN information_schema.tables t"
        " ON t.table_catalog = c.table_catalog AND t.table_schema = c.table_schema"
        " AND t.table_name = c.table_name"
        f" WHERE t.table_type = 'BASE TABLE' AND c.table_schema <> {dialect.param}"
        " AND c.table_schema NOT IN ('pg_catalog', 'information_schema')"
        " ORDER BY 1, 2, c.ordinal_position"
    )


def matched_sql(column: str, dialect: Dialect, prefix: int | None = None) -> tuple[str, str]:
    """(the column as text or its first ``prefix`` characters, ``IN`` one bound text array):
    what erasure matches a subject's tokens and sealed values' key ids with."""
    text = f"CAST({ident(column, dialect)} AS TEXT)"
    matched = text if prefix is None else f"substr({text}, 1, {int(prefix)})"
    return matched, f"{matched} IN (SELECT UNNEST(CAST({dialect.param} AS TEXT[])))"


def like_any_sql(columns: Sequence[str], patterns: int, dialect: Dialect) -> str:
    """Any of the columns (as text) LIKE any of ``patterns`` bound patterns (escape ``\\``)."""
    one = f"LIKE {dialect.param} ESCAPE '\\'"
    return " OR ".join(
        f"CAST({ident(c, dialect)} AS TEXT) {one}" for c in columns for _ in range(patterns)
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


def range_delete_sql(schema: str, table: str, column: str, dialect: Dialect) -> str:
    col = ident(column, dialect)
    return (
        f"DELETE FROM {qualified(schema, table, dialect)}"
        f" WHERE {col} >= {dialect.param} AND {col} < {dialect.param}"
    )


# ---------------------------------------------------------------- naming a failure


def statement_of(sql: str) -> str:
    """What kind of statement a SQL text is, for an error: its first two words, lower case
    (``delete from``, ``update "churn_analysis"``: names only, never a bound value)."""
    return " ".join(sql.split()[:2]).lower()[:60]


def safe_detail(text: str) -> str:
    """A driver message fit to show: its first paragraph only (DuckDB appends the statement
    text after ``LINE n:``), on one line, at most 300 characters."""
    first = text.split("\nLINE ")[0].split("\n\n")[0]
    return " ".join(first.split())[:300]
