"""The Spark engine's CRM reader over JDBC, against the real PostgreSQL at 127.0.0.1:5432.

Grouping (tests/parallel_groups.py): this file talks to PostgreSQL, so it is in the
``postgres`` group, not ``spark``, though it uses the folder's SparkSession (its worker then
starts a JVM of its own).

It fails, never skips, without PostgreSQL (as every postgres test does); without Java it fails
in CI and skips elsewhere (tests/engines/spark/_java.py, through the folder's conftest).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pytest

from minimizer.engines.spark.jdbc import jdbc_jar, jdbc_target, read_table, session_conf
from minimizer.errors import Reason, SourceError
from minimizer.io.sources import TableSource

PG = os.environ.get("MINIMIZER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")

pytestmark = pytest.mark.postgres

EMAIL = "erika.mustermann@example.de"
IBAN = "DE89370400440532013000"

_TABLE = """
CREATE TABLE {s}.customers (
  customer_id text PRIMARY KEY,
  small smallint,
  mid integer,
  big bigint,
  ratio real,
  score double precision,
  active boolean,
  city varchar(40),
  birth_date date,
  signed_up timestamp,
  seen_at timestamptz,
  seen_text text,
  balance numeric(12, 2),
  email text,
  iban text
)
"""
_ROWS = [
    ("c1", 1, 10, 10**12, 0.5, 1.25, True, "Berlin", "1980-02-29", "2026-06-13 23:59:59",
     "2026-06-13 22:00:00+00", "2026-06-13T22:00:00Z", "37.80", EMAIL, IBAN),
    ("c2", None, None, None, None, None, None, None, None, None, None, None, None, EMAIL, IBAN),
    ("c3", -3, -30, -(10**15), -1.5, 2.5e300, False, "Köln", "0005-01-01", "2026-06-14 00:00:00",
     "2026-06-14 02:00:00+02", "not a time", "-0.01", EMAIL, IBAN),
    ("c4", 4, 40, 40, 4.0, 4.0, True, "München", "2026-06-14", "2026-06-15 12:00:00.123456",
     "2026-06-15 12:00:00.5+00", "2026-06-15 12:00:00", "1000000000.00", EMAIL, IBAN),
]  # fmt: skip
NAMED = ["customer_id", "small", "mid", "big", "ratio", "score", "active", "city",
         "birth_date", "signed_up", "seen_at", "balance"]  # fmt: skip


@pytest.fixture(scope="module")
def crm() -> Iterator[tuple[str, str]]:
    """A schema of this file's own with the CRM table, and a reader role that may SELECT the
    policy-named columns only: (schema, role). Dropped afterwards."""
    suffix = uuid.uuid4().hex[:8]
    schema, role = f"spark_jdbc_{suffix}", f"spark_jdbc_reader_{suffix}"
    try:
        con = psycopg.connect(PG, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL unreachable at 127.0.0.1:5432 ({type(exc).__name__})")
    with con:
        con.execute(f'CREATE SCHEMA "{schema}"')
        con.execute(_TABLE.format(s=f'"{schema}"'))
        marks = ", ".join(["%s"] * len(_ROWS[0]))
        with con.cursor() as cur:
            cur.executemany(f'INSERT INTO "{schema}".customers VALUES ({marks})', _ROWS)
        con.execute(f'CREATE ROLE "{role}" LOGIN')
        con.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"')
        cols = ", ".join(f'"{c}"' for c in [*NAMED, "seen_text"])
        con.execute(f'GRANT SELECT ({cols}) ON "{schema}".customers TO "{role}"')
    try:
        yield schema, role
    finally:
        with psycopg.connect(PG, autocommit=True) as con:
            con.execute(f'DROP SCHEMA "{schema}" CASCADE')
            con.execute(f'DROP OWNED BY "{role}"')
            con.execute(f'DROP ROLE "{role}"')


@pytest.fixture(autouse=True)
def _not_utc(spark: Any) -> Iterator[None]:
    """The session's time zone is not UTC here: the times read must not depend on it. (``spark``
    is the folder's one session, tests/engines/spark/conftest.py; the reader adds the JDBC
    driver to it.)"""
    before = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", "Europe/Berlin")
    try:
        yield
    finally:
        spark.conf.set("spark.sql.session.timeZone", before)


def _url(role: str | None = None, schema: str | None = None) -> str:
    url = PG if role is None else PG.replace("postgres@", f"{role}@", 1)
    return f"{url}?options=-csearch_path%3D{schema}" if schema else url


def _normal(value: Any) -> Any:
    """One value as both engines must agree on it: times as UTC instants, no NaN/NA/NaT."""
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    if value is pd.NA:
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if hasattr(value, "item"):
        return value.item()
    return value


def _rows(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    records = frame.astype(object).to_numpy().tolist()
    return sorted((tuple(_normal(v) for v in row) for row in records), key=lambda r: str(r[0]))


def _local(value: Any) -> Any:
    # collect() gives a timestamp as a naive datetime in this process's local time zone.
    return value.astimezone(UTC) if isinstance(value, datetime) and not value.tzinfo else value


def _spark_rows(df: Any) -> list[tuple[Any, ...]]:
    rows = (tuple(_normal(_local(v)) for v in row) for row in df.collect())
    return sorted(rows, key=lambda r: str(r[0]))


def _single_process(url: str, columns: list[str], **window: Any) -> pd.DataFrame:
    return pd.concat(list(TableSource(url, "customers").chunks(columns, **window)))


def test_the_same_rows_and_types_as_the_single_process_reader(spark: Any, crm: Any) -> None:
    schema, _ = crm
    url = _url(schema=schema)
    df = read_table(spark, url, "customers", NAMED)
    assert df.columns == NAMED
    types = dict(df.dtypes)
    assert types["small"] == types["mid"] == types["big"] == "bigint"
    assert types["ratio"] == types["score"] == "double"
    assert types["active"] == "boolean" and types["city"] == "string"
    assert types["birth_date"] == "string"  # ISO text, as TableSource renders a date
    assert types["signed_up"] == types["seen_at"] == "timestamp"
    assert types["balance"] == "decimal(12,2)"
    expected = _rows(_single_process(url, NAMED))
    assert _spark_rows(df) == expected
    by_id = {row[0]: row for row in expected}
    assert by_id["c3"][NAMED.index("birth_date")] == "0005-01-01"
    assert by_id["c1"][NAMED.index("balance")] == Decimal("37.80")


def test_only_the_named_columns_are_selected(spark: Any, crm: Any) -> None:
    # The reader role may SELECT the policy-named columns only: a `SELECT *` (or any read of
    # email or iban) would be refused by PostgreSQL, so this passing shows the pushdown.
    schema, role = crm
    df = read_table(spark, _url(role, schema), f"{schema}.customers", ["customer_id", "city"])
    assert df.columns == ["customer_id", "city"]
    assert sorted(r.customer_id for r in df.collect()) == ["c1", "c2", "c3", "c4"]
    plan = df._jdf.queryExecution().toString()
    assert "email" not in plan and "iban" not in plan


def test_a_column_outside_the_grant_is_refused_without_quoting_anything(
    spark: Any, crm: Any
) -> None:
    schema, role = crm
    with pytest.raises(SourceError) as info:
        read_table(spark, _url(role, schema), "customers", ["customer_id", "email"]).collect()
    said = str(info.value)
    assert info.value.reason is Reason.UNREADABLE and "42501" in said  # insufficient privilege
    assert EMAIL not in said and IBAN not in said and "\n" not in said


def test_the_time_window_is_the_single_process_one(spark: Any, crm: Any) -> None:
    schema, _ = crm
    url = _url(schema=schema)
    since, until = datetime(2026, 6, 14, tzinfo=UTC), datetime(2026, 6, 15, tzinfo=UTC)
    for time_column in ("signed_up", "seen_at", "birth_date"):
        window: dict[str, Any] = {"time_column": time_column, "since": since, "until": until}
        df = read_table(spark, url, "customers", ["customer_id", "city"], **window)
        single = _single_process(url, ["customer_id", "city"], **window)
        assert _spark_rows(df) == _rows(single), time_column
    # signed_up: c3 (2026-06-14 00:00 UTC) is inside, c1 a second before is not; NULL stays.
    window = {"time_column": "signed_up", "since": since, "until": until}
    got = {
        r.customer_id
        for r in read_table(spark, url, "customers", ["customer_id"], **window).collect()
    }
    assert got == {"c2", "c3"}


def test_a_text_time_column_parses_as_on_one_machine(spark: Any, crm: Any) -> None:
    # Unparseable text is NULL (NaT) and kept in every window; the rest is parsed by to_utc.
    schema, _ = crm
    url = _url(schema=schema)
    since = datetime(2026, 6, 13, tzinfo=UTC)
    until = datetime(2026, 6, 14, tzinfo=UTC)
    windows: list[dict[str, Any]] = [{}, {"since": since, "until": until}]
    for window in windows:
        df = read_table(spark, url, "customers", ["customer_id", "seen_text"],
                        time_column="seen_text", **window)  # fmt: skip
        single = _single_process(url, ["customer_id", "seen_text"], time_column="seen_text",
                                 **window)  # fmt: skip
        assert dict(df.dtypes)["seen_text"] == "timestamp"
        assert _spark_rows(df) == _rows(single)


def test_a_partitioned_read_gives_the_same_rows(spark: Any, crm: Any) -> None:
    schema, _ = crm
    url = _url(schema=schema)
    whole = read_table(spark, url, "customers", NAMED)
    split = read_table(spark, url, "customers", NAMED, num_partitions=3, partition_column="mid")
    assert split.rdd.getNumPartitions() == 3
    assert _spark_rows(split) == _spark_rows(whole)


def test_a_missing_column_or_table_is_a_source_error_naming_it(spark: Any, crm: Any) -> None:
    schema, _ = crm
    url = _url(schema=schema)
    with pytest.raises(SourceError) as info:
        read_table(spark, url, "customers", ["customer_id", "no_such_column"])
    assert info.value.reason is Reason.MISSING_COLUMN and info.value.column == "no_such_column"
    with pytest.raises(SourceError) as info:
        read_table(spark, url, "no_such_table", ["customer_id"])
    assert info.value.reason is Reason.MISSING_SOURCE


def test_the_reader_session_is_read_only_and_in_utc(spark: Any, crm: Any) -> None:
    # The same session settings as the single-process reader, as PostgreSQL itself reports them.
    from minimizer.engines.spark.jdbc import _reader

    target = jdbc_target(_url(schema=crm[0]))
    probe = (
        "SELECT current_setting('default_transaction_read_only') AS ro, "
        "current_setting('TimeZone') AS tz, current_setting('search_path') AS path"
    )
    row = _reader(spark, target, probe).load().first()
    assert (row.ro, row.tz) == ("on", "UTC") and crm[0] in row.path


def test_the_rows_do_not_depend_on_the_database_session_time_zone(spark: Any, crm: Any) -> None:
    # pgjdbc sends the JVM's zone when it connects; every conversion names UTC, so a session
    # in another zone reads the same instants and dates.
    url = _url(schema=crm[0])
    elsewhere = {"sessionInitStatement": "SET TIME ZONE 'America/New_York'"}
    df = read_table(spark, url, "customers", NAMED, options=elsewhere)
    assert _spark_rows(df) == _rows(_single_process(url, NAMED))


def test_the_password_stays_out_of_the_url_and_the_repr() -> None:
    target = jdbc_target("postgresql://etl:s3cr%40t@db.internal:6432/crm?sslmode=require")
    assert target.url == "jdbc:postgresql://db.internal:6432/crm"
    assert target.properties["password"] == "s3cr@t" and target.properties["user"] == "etl"
    assert target.properties["sslmode"] == "require"
    assert "s3cr" not in repr(target)


@pytest.mark.parametrize("url", ["sqlite:///crm.sqlite", "mysql://x@h/db", "::not a url"])
def test_only_postgresql_is_read_over_jdbc(url: str) -> None:
    with pytest.raises(SourceError):
        jdbc_target(url)


def test_the_jar_is_configurable_and_a_missing_one_names_the_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert jdbc_jar() == Path("/usr/share/java/postgresql.jar")
    own = tmp_path / "cluster-postgresql.jar"
    own.write_bytes(b"PK")
    monkeypatch.setenv("MINIMIZER_JDBC_JAR", str(own))
    assert jdbc_jar() == own and session_conf() == {"spark.jars": str(own)}
    monkeypatch.setenv("MINIMIZER_JDBC_JAR", str(tmp_path / "absent.jar"))
    with pytest.raises(SourceError, match="libpostgresql-jdbc-java") as info:
        jdbc_jar()
    assert "MINIMIZER_JDBC_JAR" in str(info.value)
