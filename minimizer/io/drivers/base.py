"""What a warehouse needs of a database driver, and nothing more.

A driver runs statements on one connection (autocommit outside :meth:`Driver.transaction`),
fetches results as Arrow, bulk-loads staged Parquet, takes a purpose's lock and says what its
own exceptions mean. Everything else (what a load is, the audit tables, the checks, the
mapping of errors to :class:`~minimizer.errors.WarehouseError`) is the warehouse's, written once
in :mod:`minimizer.io.warehouse`. A new target is one more driver module beside these.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

import pyarrow as pa

from minimizer.io.drivers.sql import Dialect

__all__ = ["Driver", "ErrorMapping", "Rows"]

# What a statement gives back: its rows; a DELETE/UPDATE/INSERT without RETURNING gives
# ``[(rows affected,)]``; DDL gives ``[]``.
Rows = list[tuple[object, ...]]


class ErrorMapping(Protocol):
    """What a driver's exceptions mean (a driver class or instance provides it)."""

    @property
    def errors(self) -> tuple[type[Exception], ...]:
        """The driver's own exception classes: the warehouse maps exactly these."""
        ...

    def describe(self, exc: Exception) -> tuple[str, str | None]:
        """(the error's cause, its own message when it can hold no data value, else None)."""
        ...


class Driver(ErrorMapping, Protocol):
    dialect: Dialect
    # Catalogue queries. columns: (schema, table) -> rows of (column, comment); tables: rows of
    # (schema, table); table comment: (schema, table) -> one row (comment).
    columns_sql: str
    tables_sql: str
    table_comment_sql: str
    text_types: frozenset[str]  # information_schema spellings of text (lower case)

    def transaction(self) -> AbstractContextManager[None]:
        """All statements inside commit together; any exception rolls them back."""
        ...

    def execute(self, sql: str, params: Sequence[object] | None = None) -> Rows: ...

    def fetch_arrow(self, sql: str, params: Sequence[object] | None = None) -> pa.Table | None:
        """The result as Arrow; ``None`` for a statement without a result."""
        ...

    def bulk_load(
        self, schema: str, table: str, columns: Sequence[str], files: Sequence[Path]
    ) -> None:
        """Append the ``columns`` of every staged Parquet file to an existing table."""
        ...

    def lock(self, key: str) -> None:
        """Wait for and take the transaction-scoped lock of ``key`` (a purpose, the audit
        schema), so that loads, erasures and re-keys of one purpose never interleave."""
        ...

    def close(self) -> None: ...
