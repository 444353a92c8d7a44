"""A CRM table in SQLite (a file path) or PostgreSQL (a ``postgresql://`` URL), read in chunks.

Only the requested columns are selected (identifiers always quoted), the time window is pushed
into the WHERE clause, and rows stream through a server-side cursor (PostgreSQL) or SQLite's
incremental cursor, ``chunk_rows`` at a time. Sources are opened read-only: SQLite through a
``mode=ro`` URI (a missing file is never created), PostgreSQL with
``default_transaction_read_only``.

Types of the returned frames follow the declared column types, the same in every chunk:

=================================  =====================================================
declared type                      pandas dtype
=================================  =====================================================
INTEGER, BIGINT, ...               ``Int64`` (nullable)
REAL, FLOAT, DOUBLE                ``float64``
BOOLEAN                            ``boolean`` (SQLite 0/1 included)
TEXT, VARCHAR, ...                 ``str``
DATE                               ``str``, ISO ``YYYY-MM-DD`` text as SQLite stores it;
                                   PostgreSQL dates are rendered the same way. Parsing is
                                   left to the caller's transforms.
DATETIME, TIMESTAMP[TZ]            ``datetime64[us, UTC]``; unparseable text is ``NaT``
NUMERIC/DECIMAL, anything else     as the driver returns it (``Decimal`` for PostgreSQL)
=================================  =====================================================

The ``time_column`` is always parsed to UTC, whatever its declared type. Rows whose time is
NULL or unparseable are returned (with ``NaT``) for every window, never silently dropped.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from minimizer.errors import SourceError
from minimizer.io.sources._common import as_utc, fetch_list, in_window, require_columns, to_utc

__all__ = ["TableSource"]

# Declared SQL type -> kind. Order matters: Float is a Numeric, Boolean before Integer.
_KINDS: tuple[tuple[type[sa.types.TypeEngine[Any]], str], ...] = (
    (sa.Boolean, "boolean"),
    (sa.Integer, "integer"),
    (sa.Float, "float"),
    (sa.Numeric, "decimal"),
    (sa.DateTime, "datetime"),
    (sa.Date, "date"),
    (sa.String, "string"),
)

# Kind -> conversion of a fetched column. Kinds not listed are left as the driver returns them.
_CONVERT: dict[str, Callable[[pd.Series], pd.Series]] = {
    "boolean": lambda s: s.astype("boolean"),
    "integer": lambda s: s.astype("Int64"),
    "float": lambda s: s.astype("float64"),
    "string": lambda s: s.astype("str"),
    "date": lambda s: s.astype("str"),
    "datetime": to_utc,
}

# Session settings for PostgreSQL sources: times compare in UTC, and a source is never written.
_PG_OPTIONS = "-c TimeZone=UTC -c default_transaction_read_only=on"

# SQLite keeps times as text. julianday() understands ISO 8601 (with offsets), but its float
# loses about 50 microseconds, so the SQL window is widened by a second and pandas applies the
# exact bounds. Only text that looks like an ISO date is pruned in SQL: anything else reaches
# pandas, which turns it into NaT instead of letting SQLite's looser parser drop it.
_SQLITE_MARGIN_DAYS = 1.0 / 86_400
_ISO_DATE_GLOB = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*"


def _kind(sql_type: sa.types.TypeEngine[object]) -> str:
    return next((kind for base, kind in _KINDS if isinstance(sql_type, base)), "other")


def _sqlite_window(
    column: sa.ColumnClause[object], kind: str, since: datetime | None, until: datetime | None
) -> sa.ColumnElement[bool] | None:
    day = sa.func.julianday(column)
    bounds = []
    if since is not None:
        bounds.append(day >= sa.func.julianday(as_utc(since).isoformat()) - _SQLITE_MARGIN_DAYS)
    if until is not None:
        bounds.append(day < sa.func.julianday(as_utc(until).isoformat()) + _SQLITE_MARGIN_DAYS)
    prunable = sa.and_(column.op("GLOB")(_ISO_DATE_GLOB), day.is_not(None))
    return sa.or_(sa.not_(prunable), sa.and_(*bounds))


def _postgres_window(
    column: sa.ColumnClause[object], kind: str, since: datetime | None, until: datetime | None
) -> sa.ColumnElement[bool] | None:
    if kind != "datetime":
        return None  # a text time column: only pandas can tell what parses
    stamp = sa.DateTime(timezone=True)
    bounds = []
    if since is not None:
        bounds.append(column >= sa.bindparam("since", as_utc(since), type_=stamp))
    if until is not None:
        bounds.append(column < sa.bindparam("until", as_utc(until), type_=stamp))
    return sa.or_(column.is_(None), sa.and_(*bounds))


# Dialect -> how a time window becomes a WHERE clause (None: filter in pandas only).
_WINDOW: dict[
    str,
    Callable[
        [sa.ColumnClause[object], str, datetime | None, datetime | None],
        sa.ColumnElement[bool] | None,
    ],
] = {"sqlite": _sqlite_window, "postgresql": _postgres_window}


def _engine(url_or_path: str | Path, table: str) -> sa.Engine:
    target = str(url_or_path)
    if target.startswith(("postgresql:", "postgresql+", "postgres:")):
        url = sa.make_url(target).set(drivername="postgresql+psycopg")
        # Keep the caller's own options (e.g. a search_path) beside the read-only session.
        own = url.query.get("options", "")
        own = " ".join(own) if isinstance(own, tuple) else own
        url = url.difference_update_query(["options"])
        args = {"options": f"{own} {_PG_OPTIONS}".strip(), "connect_timeout": 10}
        return sa.create_engine(url, poolclass=NullPool, connect_args=args)
    path = Path(target)
    if not path.is_file():
        raise SourceError("SQLite source file not found", table=table, reason="missing_source")
    uri = f"{path.resolve().as_uri()}?mode=ro"
    return sa.create_engine(
        "sqlite://", creator=lambda: sqlite3.connect(uri, uri=True), poolclass=NullPool
    )


def _unreadable(table: str, exc: Exception) -> SourceError:
    # The driver's message may quote data (a failing value, a statement): keep only its type.
    cause = type(getattr(exc, "orig", None) or exc).__name__
    return SourceError(f"source unreadable ({cause})", table=table, reason="unreadable")


class TableSource:
    """One table of a SQLite file or a PostgreSQL database.

    ``table`` may be qualified as ``schema.table`` (PostgreSQL schemas, SQLite attached
    databases). Nothing is opened until a method needs it, and no connection is kept between
    calls, so the object is cheap and safe to pass around.
    """

    def __init__(self, url_or_path: str | Path, table: str) -> None:
        self.table = table
        schema, _, name = table.rpartition(".")
        self._schema = schema or None
        self._name = name
        self._engine = _engine(url_or_path, table)
        self._kinds: dict[str, str] | None = None

    def _reflect(self) -> dict[str, str]:
        """Column name -> kind, read once from the catalogue."""
        if self._kinds is None:
            try:
                found = sa.inspect(self._engine).get_columns(self._name, schema=self._schema)
            except sa.exc.NoSuchTableError:
                raise SourceError(
                    "source table not found", table=self.table, reason="missing_source"
                ) from None
            except sa.exc.SQLAlchemyError as exc:
                raise _unreadable(self.table, exc) from None
            self._kinds = {col["name"]: _kind(col["type"]) for col in found}
        return self._kinds

    def _table(self, columns: Sequence[str]) -> sa.TableClause:
        quoted: list[sa.ColumnClause[Any]] = [
            sa.column(sa.sql.quoted_name(name, quote=True)) for name in columns
        ]
        schema = sa.sql.quoted_name(self._schema, quote=True) if self._schema else None
        return sa.table(sa.sql.quoted_name(self._name, quote=True), *quoted, schema=schema)

    def columns(self) -> list[str]:
        """The table's columns, in table order (for schema-drift reporting)."""
        return list(self._reflect())

    def count(self) -> int:
        """Rows in the whole table."""
        self._reflect()
        stmt = sa.select(sa.func.count()).select_from(self._table([]))
        try:
            with self._engine.connect() as conn:
                return int(conn.execute(stmt).scalar_one())
        except sa.exc.SQLAlchemyError as exc:
            raise _unreadable(self.table, exc) from None

    def chunks(
        self,
        columns: Sequence[str],
        *,
        time_column: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        chunk_rows: int = 100_000,
    ) -> Iterator[pd.DataFrame]:
        """Frames of at most ``chunk_rows`` rows holding exactly ``columns``, in that order.

        With ``time_column``, rows outside ``since <= time < until`` are left out, except rows
        whose time is NULL or unparseable (``NaT``). An empty result is one empty frame with
        the requested columns, typed. Checks (table, columns) happen here, not on iteration.
        """
        if chunk_rows < 1:
            raise ValueError("chunk_rows must be positive")
        if time_column is None and (since is not None or until is not None):
            raise ValueError("since/until need a time_column")
        kinds = self._reflect()
        wanted, fetch = fetch_list(columns, time_column)
        require_columns(self.table, list(kinds), fetch)
        types = {name: kinds[name] for name in fetch}
        if time_column is not None:
            types[time_column] = "datetime"
        table = self._table(fetch)
        stmt = sa.select(*table.columns)
        if time_column is not None and (since is not None or until is not None):
            window = _WINDOW[self._engine.dialect.name](
                table.c[time_column], kinds[time_column], since, until
            )
            if window is not None:
                stmt = stmt.where(window)
        return self._stream(stmt, wanted, types, time_column, since, until, chunk_rows)

    def _stream(
        self,
        stmt: sa.Select[tuple[object, ...]],
        wanted: list[str],
        types: dict[str, str],
        time_column: str | None,
        since: datetime | None,
        until: datetime | None,
        chunk_rows: int,
    ) -> Iterator[pd.DataFrame]:
        names = list(types)
        produced = closing = False
        try:
            with self._engine.connect() as conn:
                options = {"stream_results": True, "max_row_buffer": chunk_rows}
                result = conn.execution_options(**options).execute(stmt)
                for part in result.partitions(chunk_rows):
                    frame = self._typed(pd.DataFrame.from_records(part, columns=names), types)
                    if time_column is not None:
                        frame = frame[in_window(frame[time_column], since, until)]
                    if len(frame):
                        produced = True
                        try:
                            yield frame[wanted].reset_index(drop=True)
                        except GeneratorExit:
                            closing = True
                            raise
        except sa.exc.SQLAlchemyError as exc:
            if closing:  # the caller stopped early; a cursor that fails to close is no news
                return
            raise _unreadable(self.table, exc) from None
        if not produced:
            empty = pd.DataFrame({name: pd.Series([], dtype=object) for name in names})
            yield self._typed(empty, types)[wanted]

    def _typed(self, frame: pd.DataFrame, types: dict[str, str]) -> pd.DataFrame:
        converted = {}
        for name, kind in types.items():
            convert = _CONVERT.get(kind)
            if convert is None:
                converted[name] = frame[name]
                continue
            try:
                converted[name] = convert(frame[name])
            except (TypeError, ValueError):
                raise SourceError(
                    "column values do not match the declared type",
                    table=self.table,
                    column=name,
                    reason="invalid_type",
                ) from None
        return pd.DataFrame(converted, index=frame.index)
