"""What both warehouses do the same way once they can run a query: catalogue look-ups, the
checks built on them, and retention. Each backend supplies ``_fetch`` and its SQL strings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from minimizer.io.warehouse import (
    Dialect,
    TableLoad,
    WarehouseError,
    as_utc,
    retention_sql,
)

__all__ = ["CatalogMixin"]


class CatalogMixin:
    dialect: Dialect
    columns_sql: str  # params: schema, table -> rows of (column, comment)
    tables_sql: str  # -> rows of (schema, table)
    table_comment_sql: str  # params: schema, table -> one row (comment)

    def _fetch(self, sql: str, params: Sequence[object] | None = None) -> list[tuple[object, ...]]:
        raise NotImplementedError

    def _delete(
        self, schema: str, table: str, column: str, sql: str, params: Sequence[object]
    ) -> int:
        raise NotImplementedError

    def _columns(self, schema: str, table: str) -> dict[str, str | None]:
        return dict(self._fetch(self.columns_sql, [schema, table]))  # type: ignore[arg-type]

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

    def apply_retention(
        self, schema: str, table: str, column: str, cutoff: datetime, unit: str = ""
    ) -> int:
        """Delete rows older than ``cutoff`` (or with no time); returns how many went. With
        ``unit``, a row's time is the start of a period, and it goes once the period ends."""
        self._require_table(schema, table, column)
        sql = retention_sql(schema, table, column, self.dialect, unit)
        return self._delete(schema, table, column, sql, [as_utc(cutoff)])

    def tables(self) -> list[tuple[str, str]]:
        return [(str(s), str(t)) for s, t in self._fetch(self.tables_sql)]

    def column_comments(self, schema: str, table: str) -> dict[str, str]:
        self._require_table(schema, table)
        return {k: v for k, v in self._columns(schema, table).items() if v is not None}

    def table_comment(self, schema: str, table: str) -> str | None:
        rows = self._fetch(self.table_comment_sql, [schema, table])
        return str(rows[0][0]) if rows and rows[0][0] is not None else None
