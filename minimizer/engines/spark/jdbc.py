"""CRM tables from PostgreSQL over JDBC, as Spark DataFrames with the single-process types.

The same rows and types as :class:`minimizer.io.sources.TableSource` (``--crm-url``) gives the
single-process engine, so both engines minimise the same input:

=========================  ====================  =========================================
PostgreSQL type            TableSource (pandas)  here (Spark)
=========================  ====================  =========================================
smallint, integer, bigint  ``Int64``             ``bigint``
real, double precision     ``float64``           ``double``
boolean                    ``boolean``           ``boolean``
text, varchar, ...         ``str``               ``string``
date                       ISO text              ISO text (``to_char`` in the query)
timestamp[tz]              UTC ``datetime64``    ``timestamp`` (an instant; naive = UTC)
numeric                    ``Decimal``           ``decimal``
=========================  ====================  =========================================

Deny by default: only the columns the policy names are selected, and the list is pushed into
the query (a subquery ``SELECT "a", "b" FROM "t"``), so a column the policy does not name never
leaves the database, not even into Spark's memory. The time window is pushed into the WHERE
clause for a timestamp column; rows with a NULL time come through for every window, as on one
machine. A text time column is parsed by the project's own ``to_utc`` in ``mapInArrow``, so
what does not parse is NULL (``NaT``) on both engines.

The session is read-only (``default_transaction_read_only``) and in UTC: ``TimeZone=UTC`` in the
options, and ``SET TIME ZONE 'UTC'`` once connected, since pgjdbc sends the JVM's zone when it
connects. Every conversion in the query names its zone anyway (``AT TIME ZONE 'UTC'``). The
driver is Debian's ``libpostgresql-jdbc-java`` (``/usr/share/java/postgresql.jar``); a cluster
that brings its own sets ``MINIMIZER_JDBC_JAR`` (or passes ``jar=``). The password goes in the
connection properties, never in the JDBC URL, and Spark redacts it from plans and the UI.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from minimizer.errors import Reason, SourceError

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

__all__ = [
    "DEBIAN_JAR",
    "JAR_ENV",
    "JdbcTarget",
    "jdbc_jar",
    "jdbc_target",
    "read_table",
    "session_conf",
]

DEBIAN_JAR = Path("/usr/share/java/postgresql.jar")  # Debian's libpostgresql-jdbc-java
JAR_ENV = "MINIMIZER_JDBC_JAR"
DRIVER = "org.postgresql.Driver"
# As minimizer.io.sources.sql: times compare in UTC, and a source is never written.
_PG_OPTIONS = "-c TimeZone=UTC -c default_transaction_read_only=on"
_POSTGRES = ("postgresql", "postgres")
# JDBC column types whose time window PostgreSQL can apply; a text time column is parsed here.
_TIME_KINDS = ("TimestampType", "TimestampNTZType", "DateType")
_FETCH_ROWS = "10000"


def jdbc_jar(jar: str | Path | None = None) -> Path:
    """The PostgreSQL JDBC driver: ``jar``, else ``$MINIMIZER_JDBC_JAR``, else Debian's."""
    path = Path(jar or os.environ.get(JAR_ENV) or DEBIAN_JAR)
    if not path.is_file():
        raise SourceError(
            f"the PostgreSQL JDBC driver is not at {path}: apt-get install "
            f"libpostgresql-jdbc-java, or set {JAR_ENV} to the cluster's driver jar",
            check="jdbc driver",
            reason=Reason.MISSING_SOURCE,
        )
    return path


def session_conf(jar: str | Path | None = None) -> dict[str, str]:
    """Settings a SparkSession builder needs to read the CRM over JDBC (driver and executors)."""
    return {"spark.jars": str(jdbc_jar(jar))}


@dataclass(frozen=True)
class JdbcTarget:
    """A ``postgresql://`` CRM URL as Spark's JDBC reader takes it. No repr of the password."""

    url: str  # jdbc:postgresql://host:port/db, without credentials
    properties: dict[str, str] = field(repr=False)


def jdbc_target(crm_url: str) -> JdbcTarget:
    """The JDBC URL and connection properties of a ``--crm-url`` (its options kept)."""
    import sqlalchemy as sa

    try:
        url = sa.make_url(crm_url)
    except sa.exc.ArgumentError:
        raise SourceError(
            "the CRM URL does not parse as a URL", check="jdbc url", reason=Reason.UNREADABLE
        ) from None
    if url.drivername.split("+", 1)[0] not in _POSTGRES:
        raise SourceError(
            f"the Spark engine reads a CRM over JDBC from PostgreSQL only, not {url.drivername}",
            check="jdbc url",
            reason=Reason.UNREADABLE,
        )
    query = {k: " ".join(v) if isinstance(v, tuple) else v for k, v in url.query.items()}
    own = query.pop("options", "")
    props = {
        "driver": DRIVER,
        "options": f"{own} {_PG_OPTIONS}".strip(),
        "connectTimeout": "10",
        **query,  # sslmode, ApplicationName, ... pass through; pgjdbc knows libpq's names
    }
    if url.username:
        props["user"] = url.username
    if url.password:
        props["password"] = str(url.password)
    host = url.host or "localhost"  # a libpq socket path has no JDBC form
    host = f"[{host}]" if ":" in host else host
    return JdbcTarget(f"jdbc:postgresql://{host}:{url.port or 5432}/{url.database or ''}", props)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _relation(table: str) -> str:
    schema, _, name = table.rpartition(".")
    return f"{_quote(schema)}.{_quote(name)}" if schema else _quote(name)


def _utc_literal(moment: datetime) -> str:
    from minimizer.io.sources._common import as_utc

    # Formatted here from a datetime, never from text a caller passed: nothing to inject.
    return f"TIMESTAMPTZ '{as_utc(moment).isoformat()}'"


def _reader(spark: SparkSession, target: JdbcTarget, query: str) -> Any:
    reader = spark.read.format("jdbc").option("url", target.url).option("query", query)
    # A `timestamp` (no time zone) column as wall-clock time, so it can be taken as UTC below
    # whatever the JVM's or the session's time zone.
    reader = reader.option("preferTimestampNTZ", "true")
    return _options(reader, target)


def _options(reader: Any, target: JdbcTarget) -> Any:
    # A fetch size makes pgjdbc stream through a cursor; without one it holds a partition's
    # whole result in the executor's memory.
    reader = reader.option("fetchsize", _FETCH_ROWS)
    reader = reader.option("sessionInitStatement", "SET TIME ZONE 'UTC'")
    for key, value in target.properties.items():
        reader = reader.option(key, value)
    return reader


def _ensure_driver(spark: SparkSession, jar: Path) -> None:
    """Make the driver loadable in a session that was built without it on ``spark.jars``
    (added once: ``LIST JARS`` names it after). A Spark Connect server brings its own."""
    try:
        listed = spark.sparkContext.getConf().get("spark.jars", "") or ""
    except Exception:  # Spark Connect: no SparkContext here, the server has its drivers
        return
    added = {str(row[0]).rsplit("/", 1)[-1] for row in spark.sql("LIST JARS").collect()}
    if str(jar) not in listed.split(",") and jar.name not in added:
        spark.sql(f"ADD JAR '{jar}'")


def _catalogue(spark: SparkSession, target: JdbcTarget, table: str) -> list[str]:
    """The table's column names from pg_attribute (resolved on the search_path like a query),
    without selecting from the table: a reader may hold SELECT on the named columns only."""
    literal = _relation(table).replace("'", "''")
    names_sql = (
        "SELECT attname::text AS name FROM pg_catalog.pg_attribute "
        f"WHERE attrelid = to_regclass('{literal}') AND attnum > 0 AND NOT attisdropped "
        "ORDER BY attnum"
    )
    try:
        rows = _reader(spark, target, names_sql).load().collect()
    except Exception as exc:
        raise _unreadable(table, exc) from None
    if not rows:
        raise SourceError("source table not found", table=table, reason=Reason.MISSING_SOURCE)
    return [str(row[0]) for row in rows]


def _kinds(
    spark: SparkSession, target: JdbcTarget, table: str, columns: Sequence[str]
) -> dict[str, str]:
    """Spark's type of each of ``columns`` as JDBC reports it, without reading a row."""
    probe = f"SELECT {', '.join(map(_quote, columns))} FROM {_relation(table)}"
    try:
        schema: StructType = _reader(spark, target, probe).load().schema
    except Exception as exc:
        raise _unreadable(table, exc) from None
    return {f.name: type(f.dataType).__name__ for f in schema.fields}


def _unreadable(table: str, exc: BaseException) -> SourceError:
    # The driver's message can quote a value or the statement: class names and SQLSTATE only.
    from minimizer.engines.spark.preflight import summarise

    states = _sql_states(exc)
    missing = bool(states & {"42P01", "3F000"}) or "TABLE_OR_VIEW_NOT_FOUND" in summarise(exc)
    said = summarise(exc) + (f" (SQLSTATE {', '.join(sorted(states))})" if states else "")
    return SourceError(
        f"source unreadable over JDBC: {said}",
        table=table,
        reason=Reason.MISSING_SOURCE if missing else Reason.UNREADABLE,
    )


def _sql_states(exc: BaseException) -> set[str]:
    """SQLSTATE codes along the Java cause chain (five characters: a class, never a value)."""
    found: set[str] = set()
    java = getattr(exc, "java_exception", None) or getattr(exc, "_origin", None)
    for _ in range(8):
        if java is None:
            break
        try:
            state = java.getSQLState() if _has(java, "getSQLState") else None
            java = java.getCause()
        except Exception:  # the gateway is gone
            break
        if isinstance(state, str) and len(state) == 5 and state.isalnum():
            found.add(state)
    return found


def _has(java: Any, method: str) -> bool:
    try:
        return any(str(m.getName()) == method for m in java.getClass().getMethods())
    except Exception:
        return False


def _expr(name: str, kind: str, time_column: str | None) -> str:
    """A column as the pushed-down SELECT renders it, the way TableSource's types come out."""
    quoted = _quote(name)
    if name == time_column and kind == "DateType":
        return f"(({quoted})::timestamp AT TIME ZONE 'UTC')"
    if kind == "DateType":
        # psycopg's date as str(): ISO YYYY-MM-DD whatever the server's DateStyle.
        return f"to_char({quoted}, 'YYYY-MM-DD')"
    if kind == "TimestampNTZType":
        return f"({quoted} AT TIME ZONE 'UTC')"  # naive is UTC, as on one machine
    return quoted


def read_table(
    spark: SparkSession,
    crm_url: str,
    table: str,
    columns: Sequence[str],
    *,
    time_column: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    jar: str | Path | None = None,
    num_partitions: int | None = None,
    partition_column: str | None = None,
    options: Mapping[str, str] | None = None,
) -> DataFrame:
    """A CRM table as a DataFrame of exactly ``columns`` (in that order), typed as on one
    machine; with ``time_column``, only rows with ``since <= time < until`` or no time.

    ``num_partitions`` with an integer ``partition_column`` splits the read into that many
    range queries (Spark's ``partitionColumn``), so executors read in parallel. ``options``:
    more of Spark's JDBC options (``queryTimeout``, ``sessionInitStatement``, ...).
    """
    from pyspark.sql import functions as F

    from minimizer.io.sources._common import fetch_list, require_columns

    if time_column is None and (since is not None or until is not None):
        raise ValueError("since/until need a time_column")
    target = jdbc_target(crm_url)
    _ensure_driver(spark, jdbc_jar(jar))
    wanted, fetch = fetch_list(columns, time_column)
    extra = [partition_column] if partition_column and partition_column not in fetch else []
    require_columns(table, _catalogue(spark, target, table), fetch + extra)
    kinds = _kinds(spark, target, table, fetch + extra)
    selected = ", ".join(f"{_expr(c, kinds[c], time_column)} AS {_quote(c)}" for c in fetch + extra)
    query = f"SELECT {selected} FROM {_relation(table)}"
    time_kind = kinds.get(time_column or "", "")
    in_sql = time_kind in _TIME_KINDS
    if time_column and in_sql and (since is not None or until is not None):
        moment = _expr(time_column, time_kind, time_column)
        bounds = [f"{moment} >= {_utc_literal(since)}"] if since is not None else []
        bounds += [f"{moment} < {_utc_literal(until)}"] if until is not None else []
        query += f" WHERE {_quote(time_column)} IS NULL OR ({' AND '.join(bounds)})"
    reader = _reader(spark, target, query)
    if num_partitions and num_partitions > 1 and partition_column:
        reader = _partitioned(spark, target, reader, table, query, partition_column, num_partitions)
    for key, value in (options or {}).items():
        reader = reader.option(key, value)
    try:
        frame = reader.load()
    except Exception as exc:
        raise _unreadable(table, exc) from None
    frame = frame.select(*fetch)
    for name in fetch:
        kind = kinds[name]
        if kind in ("ByteType", "ShortType", "IntegerType"):
            frame = frame.withColumn(name, F.col(name).cast("bigint"))
        elif kind == "FloatType":
            frame = frame.withColumn(name, F.col(name).cast("double"))
    if time_column is not None and not in_sql:
        frame = _parse_times(frame, time_column, since, until)
    result: DataFrame = frame.select(*wanted)
    return result


def _partitioned(
    spark: SparkSession,
    target: JdbcTarget,
    reader: Any,
    table: str,
    query: str,
    column: str,
    partitions: int,
) -> Any:
    """Range-split the read on an integer column, bounds from the rows the query selects."""
    bounds_sql = f"SELECT min({_quote(column)}) AS lo, max({_quote(column)}) AS hi FROM ({query}) q"
    try:
        lo, hi = _reader(spark, target, bounds_sql).load().first() or (None, None)
    except Exception as exc:
        raise _unreadable(table, exc) from None
    if lo is None or hi is None:
        return reader
    # Spark refuses `query` together with partitionColumn: the query becomes a dbtable subquery.
    split = spark.read.format("jdbc").option("url", target.url)
    split = split.option("dbtable", f"({query}) minimizer_q").option("preferTimestampNTZ", "true")
    split = _options(split, target)
    return (
        split.option("partitionColumn", column)
        .option("lowerBound", str(lo))
        .option("upperBound", str(int(hi) + 1))
        .option("numPartitions", str(partitions))
    )


def _parse_times(
    frame: DataFrame, column: str, since: datetime | None, until: datetime | None
) -> DataFrame:
    """A text time column parsed by the project's ``to_utc`` (unparseable: NULL), in Arrow
    batches, then the window applied; rows without a time stay, as on one machine."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StructField, StructType, TimestampType

    from minimizer.io.sources._common import as_utc

    fields = [
        StructField(f.name, TimestampType(), True) if f.name == column else f
        for f in frame.schema.fields
    ]
    parsed = frame.mapInArrow(_utc_batches(column), StructType(fields))
    keep = F.col(column).isNull()
    inside = F.lit(True)
    if since is not None:
        inside = inside & (F.col(column) >= F.lit(as_utc(since)))
    if until is not None:
        inside = inside & (F.col(column) < F.lit(as_utc(until)))
    return parsed.where(keep | inside)


def _utc_batches(column: str) -> Any:
    def convert(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        from minimizer.io.sources._common import to_utc

        for batch in batches:
            index = batch.schema.get_field_index(column)
            times = to_utc(batch.column(index).to_pandas())
            array = pa.Array.from_pandas(times, type=pa.timestamp("us", tz="UTC"))
            yield batch.set_column(index, column, array)

    return convert
