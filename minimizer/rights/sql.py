"""The SQL of erasure and re-keying, per target, and the two audit tables they write.

``minimizer_audit.erasures``: one row per erased subject (a keyed digest, never the id).
``minimizer_audit.suppressed_subjects``: the digests the next loads leave out.

Differences between targets live in the tables below, as in :mod:`minimizer.io.warehouse`;
values always travel as bound parameters (lists as one bound array, unnested in SQL).
"""

from __future__ import annotations

from minimizer.io.warehouse import AUDIT_SCHEMA, Dialect, comment_sql, ident, qualified

__all__ = [
    "ERASURES",
    "SUPPRESSED",
    "TEXT_TYPES",
    "count_matches_sql",
    "delete_matches_sql",
    "insert_erasures_sql",
    "insert_suppressed_sql",
    "lock_sql",
    "rights_ddl",
    "text_columns_sql",
]

ERASURES = "erasures"
SUPPRESSED = "suppressed_subjects"

_TYPES: dict[str, dict[str, str]] = {
    "text": {"duckdb": "VARCHAR", "postgresql": "TEXT"},
    "integer": {"duckdb": "INTEGER", "postgresql": "INTEGER"},
    "timestamptz": {"duckdb": "TIMESTAMPTZ", "postgresql": "TIMESTAMPTZ"},
    "json": {"duckdb": "JSON", "postgresql": "JSONB"},
}

# (column, logical type, comment); the first column(s) named in _KEYS form the primary key.
_ERASURE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    (
        "erasure_id",
        "text",
        "Id of the erasure of one subject (keyed; repeats of a request share it).",
    ),
    ("subject_digest", "text", "Keyed BLAKE2b digest of the subject id (never the id itself)."),
    ("key_version", "integer", "Key version of the digest; retiring it makes the row unlinkable."),
    ("requested_at", "timestamptz", "When the data subject asked (UTC)."),
    ("done_at", "timestamptz", "When the rows were deleted (UTC)."),
    ("rows_deleted", "json", "Rows deleted per table (schema.table): counts only."),
    ("keys_destroyed", "integer", "Subject data keys destroyed (crypto-shredding)."),
    ("origin", "text", "Who asked minimizer to erase: cli, airflow, ..."),
)
_SUPPRESSED_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("digest", "text", "Keyed digest of an erased subject id: loads leave such rows out."),
    ("key_version", "integer", "Key version of the digest."),
    ("since", "timestamptz", "When the subject was erased (UTC)."),
    ("erasure_id", "text", "The erasure that put the subject on the list."),
)
_KEYS = {ERASURES: ("erasure_id",), SUPPRESSED: ("digest", "key_version")}
_COMMENTS = {
    ERASURES: "One row per erased data subject (GDPR Art. 17): what was deleted, without the id.",
    SUPPRESSED: "Erased subjects, as keyed digests: the next loads leave their rows out.",
}
_COLUMNS = {ERASURES: _ERASURE_COLUMNS, SUPPRESSED: _SUPPRESSED_COLUMNS}

# Erasure and re-keying take the lock a load of the same purpose takes (PostgreSQL), so they
# never interleave with it. DuckDB has one writer per file: nothing to take.
_LOCK: dict[str, str | None] = {
    "postgresql": "SELECT pg_advisory_xact_lock(hashtext({param}))",
    "duckdb": None,
}

# information_schema spellings of text columns, per target (lower case).
TEXT_TYPES: dict[str, frozenset[str]] = {
    "duckdb": frozenset({"varchar", "text", "string"}),
    "postgresql": frozenset({"text", "character varying"}),
}


def lock_sql(dialect: Dialect) -> str | None:
    template = _LOCK[dialect.name]
    return None if template is None else template.format(param=dialect.param)


def rights_ddl(dialect: Dialect) -> list[str]:
    """Create the audit tables of this package when missing, and document them."""
    statements = [f"CREATE SCHEMA IF NOT EXISTS {ident(AUDIT_SCHEMA, dialect)}"]
    for table, columns in _COLUMNS.items():
        cols = ", ".join(
            f"{ident(c, dialect)} {_TYPES[kind][dialect.name]}" for c, kind, _ in columns
        )
        keys = ", ".join(ident(c, dialect) for c in _KEYS[table])
        name = qualified(AUDIT_SCHEMA, table, dialect)
        statements.append(f"CREATE TABLE IF NOT EXISTS {name} ({cols}, PRIMARY KEY ({keys}))")
        comments = {c: text for c, _, text in columns}
        statements += comment_sql(AUDIT_SCHEMA, table, comments, _COMMENTS[table], dialect)
    return statements


def _unnest(dialect: Dialect, kind: str) -> str:
    """A bound array of texts, unnested and cast to ``kind`` (timestamps travel as ISO text)."""
    text = f"UNNEST(CAST({dialect.param} AS TEXT[]))"
    return text if kind == "text" else f"CAST({text} AS {_TYPES[kind][dialect.name]})"


def insert_erasures_sql(dialect: Dialect) -> str:
    """Every column is one bound text array; a repeated request (same id) keeps its first row."""
    names = ", ".join(ident(c, dialect) for c, _, _ in _ERASURE_COLUMNS)
    values = ", ".join(_unnest(dialect, kind) for _, kind, _ in _ERASURE_COLUMNS)
    return (
        f"INSERT INTO {qualified(AUDIT_SCHEMA, ERASURES, dialect)} ({names}) SELECT {values}"
        " ON CONFLICT DO NOTHING"
    )


def insert_suppressed_sql(dialect: Dialect) -> str:
    names = ", ".join(ident(c, dialect) for c, _, _ in _SUPPRESSED_COLUMNS)
    values = ", ".join(_unnest(dialect, kind) for _, kind, _ in _SUPPRESSED_COLUMNS)
    return (
        f"INSERT INTO {qualified(AUDIT_SCHEMA, SUPPRESSED, dialect)} ({names}) SELECT {values}"
        " ON CONFLICT DO NOTHING"
    )


def _matched(column: str, dialect: Dialect, prefix: int | None) -> str:
    """The column as text, or its first ``prefix`` characters (sealed values: the key id)."""
    text = f"CAST({ident(column, dialect)} AS TEXT)"
    return text if prefix is None else f"substr({text}, 1, {int(prefix)})"


def count_matches_sql(
    schema: str, table: str, column: str, dialect: Dialect, prefix: int | None = None
) -> str:
    """Rows per matched value, for values given as one bound text array."""
    matched = _matched(column, dialect, prefix)
    return (
        f"SELECT {matched}, count(*) FROM {qualified(schema, table, dialect)}"
        f" WHERE {matched} IN (SELECT UNNEST(CAST({dialect.param} AS TEXT[]))) GROUP BY 1"
    )


def delete_matches_sql(
    schema: str, table: str, column: str, dialect: Dialect, prefix: int | None = None
) -> str:
    matched = _matched(column, dialect, prefix)
    return (
        f"DELETE FROM {qualified(schema, table, dialect)}"
        f" WHERE {matched} IN (SELECT UNNEST(CAST({dialect.param} AS TEXT[])))"
    )


def text_columns_sql(dialect: Dialect) -> str:
    """(schema, table, column, type) of base tables outside the audit schema."""
    return (
        "SELECT c.table_schema, c.table_name, c.column_name, c.data_type"
        " FROM information_schema.columns c JOIN information_schema.tables t"
        " ON t.table_catalog = c.table_catalog AND t.table_schema = c.table_schema"
        " AND t.table_name = c.table_name"
        f" WHERE t.table_type = 'BASE TABLE' AND c.table_schema <> {dialect.param}"
        " AND c.table_schema NOT IN ('pg_catalog', 'information_schema')"
        " ORDER BY 1, 2, c.ordinal_position"
    )
