"""Sources read only what the policy asks for, push time windows down, stream in chunks, name
missing columns without quoting values, and never drop a row whose time does not parse."""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from minimizer.errors import SourceError
from minimizer.io import EventSource, TableSource

PG_URL = os.environ.get("MINIMIZER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
SECRET = "alice@example.com"


def utc(day: int, hour: int = 0, minute: int = 0, micro: int = 0) -> pd.Timestamp:
    return pd.Timestamp(datetime(2024, 1, day, hour, minute, 0, micro, tzinfo=UTC))


def concat(frames: Iterator[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(list(frames), ignore_index=True)


# ------------------------------------------------------------------ SQLite

# (id, email, birth_date, seen_at as stored text, expected UTC instant or None)
ROWS = [
    (1, SECRET, "1980-05-17", "2024-01-01 10:00:00", utc(1, 10)),
    (2, "bob@example.com", "1990-01-01", "2024-01-02T10:00:00Z", utc(2, 10)),
    (3, "carol@example.com", None, "2024-01-03 01:00:00+02:00", utc(2, 23)),
    (4, "dan@example.com", "1975-12-31", "2024-01-03 00:00:00.000001", utc(3, 0, 0, 1)),
    (5, "eve@example.com", "2000-02-29", "not a time", None),
    (6, "fay@example.com", "1999-09-09", None, None),
    (7, "gil@example.com", "1988-08-08", "2024-01-04 00:00:00", utc(4)),
    (8, "hal@example.com", "1977-07-07", "2024-01-03 23:59:59.999999", utc(3, 23, 59) +
     timedelta(seconds=59, microseconds=999999)),
    (9, "ivy@example.com", "1966-06-06", "now", None),
    (10, "jon@example.com", "1955-05-05", "2024-01-02", utc(2)),
]  # fmt: skip


@pytest.fixture
def crm(tmp_path: Path) -> Path:
    path = tmp_path / "crm.sqlite"
    with sqlite3.connect(path) as con:
        con.execute(
            "CREATE TABLE customers (customer_id INTEGER, email TEXT, birth_date DATE,"
            " seen_at DATETIME, score REAL, vip BOOLEAN, balance NUMERIC(10, 2), note)"
        )
        con.executemany(
            "INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(r[0], r[1], r[2], r[3], r[0] / 2, r[0] % 2, r[0] * 1.5, None) for r in ROWS],
        )
        con.execute("CREATE TABLE empty (customer_id INTEGER, seen_at DATETIME, tier TEXT)")
        con.execute('CREATE TABLE "order" ("select" TEXT, "we""ird" INTEGER)')
        con.execute("INSERT INTO \"order\" VALUES ('x', 1)")
    con.close()
    return path


def test_columns_and_count_describe_the_table(crm: Path) -> None:
    source = TableSource(crm, "customers")
    assert source.columns() == [
        "customer_id", "email", "birth_date", "seen_at", "score", "vip", "balance", "note",
    ]  # fmt: skip
    assert source.count() == len(ROWS)


def test_only_the_requested_columns_come_back_in_order_and_typed(crm: Path) -> None:
    frame = concat(TableSource(str(crm), "customers").chunks(["vip", "customer_id", "birth_date"]))
    assert list(frame.columns) == ["vip", "customer_id", "birth_date"]
    assert str(frame["customer_id"].dtype) == "Int64"
    assert str(frame["vip"].dtype) == "boolean"
    assert frame["birth_date"].dtype == "str"  # dates stay ISO text, parsed by transforms
    assert frame["birth_date"].tolist()[:2] == ["1980-05-17", "1990-01-01"]
    assert pd.isna(frame["birth_date"][2])


def test_times_are_parsed_to_utc_and_unparseable_ones_are_kept_as_nat(crm: Path) -> None:
    frame = concat(TableSource(crm, "customers").chunks(["customer_id", "seen_at"]))
    assert str(frame["seen_at"].dtype) == "datetime64[us, UTC]"
    got = dict(zip(frame["customer_id"], frame["seen_at"], strict=True))
    for row in ROWS:
        expected = row[4]
        assert pd.isna(got[row[0]]) if expected is None else got[row[0]] == expected, row[0]


def test_chunks_have_at_most_chunk_rows_rows(crm: Path) -> None:
    frames = list(TableSource(crm, "customers").chunks(["customer_id"], chunk_rows=3))
    assert [len(f) for f in frames] == [3, 3, 3, 1]
    assert concat(iter(frames))["customer_id"].tolist() == list(range(1, 11))


def test_a_time_window_is_exact_and_keeps_rows_with_unknown_time(crm: Path) -> None:
    source = TableSource(crm, "customers")
    frame = concat(
        source.chunks(["customer_id", "seen_at"], time_column="seen_at", since=utc(2), until=utc(4))
    )
    # 3 is 2024-01-02 23:00 UTC (+02:00 offset); 8 is one microsecond before the end;
    # 7 is exactly at the end (excluded); 5, 6, 9 have no usable time and are kept as NaT.
    assert sorted(frame["customer_id"]) == [2, 3, 4, 5, 6, 8, 9, 10]
    assert frame.loc[frame["customer_id"].isin([5, 6, 9]), "seen_at"].isna().all()


def test_the_sqlite_window_is_pushed_into_the_query(crm: Path) -> None:
    source = TableSource(crm, "customers")
    seen: list[str] = []
    sa.event.listen(source._engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    frame = concat(source.chunks(["email"], time_column="seen_at", since=utc(4), until=utc(5)))
    assert len(frame) == 4  # row 7, plus the three rows with no usable time
    selects = [sql for sql in seen if sql.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1 and "WHERE" in selects[0] and "julianday" in selects[0]
    assert '"email"' in selects[0] and "birth_date" not in selects[0]


def test_a_window_on_a_time_column_that_is_not_returned(crm: Path) -> None:
    frame = concat(
        TableSource(crm, "customers").chunks(
            ["email"], time_column="seen_at", since=datetime(2024, 1, 4), until=None
        )
    )  # a naive bound is UTC
    assert list(frame.columns) == ["email"]
    assert sorted(frame["email"]) == sorted(
        ["gil@example.com", "eve@example.com", "fay@example.com", "ivy@example.com"]
    )


def test_a_missing_column_is_named_without_any_value(crm: Path) -> None:
    source = TableSource(crm, "customers")
    with pytest.raises(SourceError) as err:
        source.chunks(["email", "postcode", "phone"])  # raises on the call, not on iteration
    assert err.value.reason == "missing_column"
    assert (err.value.table, err.value.column, err.value.count) == (
        "customers",
        "postcode, phone",
        2,
    )
    assert SECRET not in str(err.value)
    with pytest.raises(SourceError) as err:
        source.chunks(["email"], time_column="updated_at", since=utc(1))
    assert err.value.column == "updated_at"


def test_a_missing_table_or_file_is_a_missing_source(crm: Path, tmp_path: Path) -> None:
    with pytest.raises(SourceError) as err:
        TableSource(crm, "contacts").columns()
    assert (err.value.reason, err.value.table) == ("missing_source", "contacts")
    absent = tmp_path / "nope" / "crm.sqlite"
    with pytest.raises(SourceError) as err:
        TableSource(absent, "customers")
    assert err.value.reason == "missing_source"
    assert not absent.exists()
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database, " * 100)
    with pytest.raises(SourceError) as err:
        TableSource(garbage, "customers").columns()
    assert err.value.reason == "unreadable"


def test_an_empty_table_gives_one_empty_typed_frame(crm: Path) -> None:
    frames = list(
        TableSource(crm, "empty").chunks(
            ["customer_id", "tier"], time_column="seen_at", since=utc(1), until=utc(2)
        )
    )
    assert len(frames) == 1 and frames[0].empty
    assert list(frames[0].columns) == ["customer_id", "tier"]
    assert [str(t) for t in frames[0].dtypes] == ["Int64", "str"]
    window = list(TableSource(crm, "customers").chunks(["seen_at"], time_column="seen_at",
                                                       since=utc(20), until=utc(21)))  # fmt: skip
    assert [len(f) for f in window] == [3]  # only the three rows with unknown time


def test_identifiers_are_quoted(crm: Path) -> None:
    frame = concat(TableSource(crm, "order").chunks(['we"ird', "select"]))
    assert frame.to_dict("list") == {'we"ird': [1], "select": ["x"]}


def test_values_that_contradict_the_declared_type_fail_without_quoting_them(
    crm: Path,
) -> None:
    with sqlite3.connect(crm) as con:
        con.execute("INSERT INTO customers (customer_id) VALUES (?)", [SECRET])
    con.close()
    with pytest.raises(SourceError) as err:
        concat(TableSource(crm, "customers").chunks(["customer_id"]))
    assert (err.value.reason, err.value.column) == ("invalid_type", "customer_id")
    assert SECRET not in str(err.value)


def test_the_source_is_opened_read_only(crm: Path) -> None:
    source = TableSource(crm, "customers")
    with source._engine.connect() as conn, pytest.raises(Exception, match="readonly"):
        conn.exec_driver_sql("DELETE FROM customers")
    assert source.count() == len(ROWS)


def test_bad_arguments_are_refused(crm: Path) -> None:
    source = TableSource(crm, "customers")
    with pytest.raises(ValueError):
        source.chunks(["email"], since=utc(1))
    with pytest.raises(ValueError):
        source.chunks(["email"], chunk_rows=0)


# ------------------------------------------------------------------ PostgreSQL


@pytest.fixture
def pg_table() -> Iterator[tuple[str, str]]:
    schema = f"src_{uuid.uuid4().hex[:12]}"
    try:
        con = psycopg.connect(PG_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL unreachable at 127.0.0.1:5432 ({type(exc).__name__})")
    con.execute(f'CREATE SCHEMA "{schema}"')
    con.execute(
        f'CREATE TABLE "{schema}".customers (customer_id BIGINT, email TEXT, birth_date DATE,'
        " seen_at TIMESTAMPTZ, local_at TIMESTAMP, balance NUMERIC(10, 2), vip BOOLEAN)"
    )
    with con.cursor() as cur:
        cur.executemany(
            f'INSERT INTO "{schema}".customers VALUES (%s, %s, %s, %s, %s, %s, %s)',
            [
                (1, SECRET, date(1980, 5, 17), utc(1, 10), datetime(2024, 1, 1, 10),
                 Decimal("1.50"), True),
                (2, "b@x", None, utc(2, 10), None, None, None),
                (3, "c@x", date(1990, 1, 1), None, None, Decimal("2"), False),
                (4, "d@x", date(1991, 1, 1), utc(3), datetime(2024, 1, 3), None, True),
            ],
        )  # fmt: skip
    con.execute(f'CREATE TABLE "{schema}".empty (customer_id BIGINT, seen_at TIMESTAMPTZ)')
    try:
        yield PG_URL, schema
    finally:
        con.execute(f'DROP SCHEMA "{schema}" CASCADE')
        con.close()


@pytest.mark.postgres
def test_a_postgres_table_streams_typed_chunks(pg_table: tuple[str, str]) -> None:
    url, schema = pg_table
    source = TableSource(url, f"{schema}.customers")
    assert source.columns()[:3] == ["customer_id", "email", "birth_date"]
    assert source.count() == 4
    frames = list(
        source.chunks(["customer_id", "birth_date", "seen_at", "local_at", "balance"], chunk_rows=3)
    )
    assert [len(f) for f in frames] == [3, 1]
    frame = concat(iter(frames)).sort_values("customer_id", ignore_index=True)
    assert frame["birth_date"].tolist()[:1] == ["1980-05-17"]
    assert str(frame["seen_at"].dtype) == str(frame["local_at"].dtype) == "datetime64[us, UTC]"
    assert frame["local_at"][0] == utc(1, 10)
    assert frame["balance"][0] == Decimal("1.50")


@pytest.mark.postgres
def test_a_postgres_window_is_pushed_down_and_keeps_null_times(pg_table: tuple[str, str]) -> None:
    url, schema = pg_table
    frame = concat(
        TableSource(url, f"{schema}.customers").chunks(
            ["customer_id"], time_column="seen_at", since=utc(2), until=utc(3)
        )
    )
    assert sorted(frame["customer_id"]) == [2, 3]


@pytest.mark.postgres
def test_postgres_missing_columns_tables_and_empty_tables(pg_table: tuple[str, str]) -> None:
    url, schema = pg_table
    with pytest.raises(SourceError) as err:
        TableSource(url, f"{schema}.customers").chunks(["email", "postcode"])
    assert (err.value.reason, err.value.column) == ("missing_column", "postcode")
    with pytest.raises(SourceError) as err:
        TableSource(url, f"{schema}.nope").count()
    assert err.value.reason == "missing_source"
    frames = list(TableSource(url, f"{schema}.empty").chunks(["customer_id", "seen_at"]))
    assert len(frames) == 1 and frames[0].empty
    assert [str(t) for t in frames[0].dtypes] == ["Int64", "datetime64[us, UTC]"]


@pytest.mark.postgres
def test_a_postgres_source_session_is_read_only(pg_table: tuple[str, str]) -> None:
    url, schema = pg_table
    source = TableSource(url, f"{schema}.customers")
    with source._engine.connect() as conn, pytest.raises(Exception, match="read-only"):
        conn.exec_driver_sql(f'DELETE FROM "{schema}".customers')
    assert source.count() == 4


# ------------------------------------------------------------------ Parquet events

EVENT_SCHEMA = pa.schema(
    [("user", pa.string()), ("ts", pa.timestamp("us", tz="UTC")), ("page", pa.string())]
)


def write_day(root: Path, day: str, table: pa.Table, name: str = "part-0") -> None:
    folder = root / f"date={day}"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / f"{name}.parquet")


@pytest.fixture
def events(tmp_path: Path) -> Path:
    root = tmp_path / "events"
    for day in (1, 2, 3):
        rows = {
            "user": [f"u{day}{h}" for h in (0, 12, 23)],
            "ts": [utc(day, h).to_pydatetime() for h in (0, 12, 23)],
            "page": ["/home", "/cart", "/pay"],
        }
        write_day(root, f"2024-01-0{day}", pa.table(rows, schema=EVENT_SCHEMA))
    # Day 4 has a null time and a column that earlier days lack (schema drift).
    drifted = pa.table(
        {"user": ["u40", "u4x"], "ts": [utc(4, 1).to_pydatetime(), None], "page": ["/", "/"],
         "referrer": ["r", None]},
        schema=EVENT_SCHEMA.append(pa.field("referrer", pa.string())),
    )  # fmt: skip
    write_day(root, "2024-01-04", drifted)
    return root


def test_event_columns_are_the_union_of_all_files_plus_the_partition(events: Path) -> None:
    assert EventSource(events).columns() == ["user", "ts", "page", "referrer", "date"]


def test_events_come_back_typed_with_the_partition_as_text(events: Path) -> None:
    frame = concat(EventSource(events).chunks(["user", "ts", "referrer", "date"]))
    assert len(frame) == 11
    assert str(frame["ts"].dtype) == "datetime64[us, UTC]"
    assert frame["referrer"].isna().sum() == 10
    assert set(frame["date"]) == {"2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"}


def test_an_event_window_is_exact_and_keeps_rows_with_no_time(events: Path) -> None:
    frame = concat(
        EventSource(events).chunks(["user"], time_column="ts", since=utc(2, 12), until=utc(4, 1))
    )
    assert sorted(frame["user"]) == ["u212", "u223", "u30", "u312", "u323", "u4x"]


def test_event_partitions_are_pruned_to_the_window_with_a_day_of_margin(events: Path) -> None:
    for extra in ("2023-12-01", "2024-02-01"):
        late = pa.table({"user": ["far"], "ts": [utc(2, 6).to_pydatetime()], "page": ["/"]},
                        schema=EVENT_SCHEMA)  # fmt: skip
        write_day(events, extra, late)  # misfiled far away: outside the margin, never read
    frame = concat(EventSource(events).chunks(["user"], time_column="ts", since=utc(2),
                                              until=utc(3)))  # fmt: skip
    assert sorted(frame["user"]) == ["u20", "u212", "u223"]
    assert "far" in set(concat(EventSource(events).chunks(["user"]))["user"])


def test_event_chunks_are_regrouped_to_at_most_chunk_rows(events: Path) -> None:
    frames = list(EventSource(events).chunks(["user"], chunk_rows=4))
    assert [len(f) for f in frames] == [4, 4, 3]
    assert sorted(concat(iter(frames))["user"]) == sorted(
        [f"u{d}{h}" for d in (1, 2, 3) for h in (0, 12, 23)] + ["u40", "u4x"]
    )


def test_naive_and_text_times_in_parquet_are_utc_and_bad_text_is_nat(tmp_path: Path) -> None:
    root = tmp_path / "clicks"
    naive = pa.table({"ts": pa.array([datetime(2024, 1, 1, 5)], pa.timestamp("ms"))})
    write_day(root, "2024-01-01", naive)
    text_root = tmp_path / "texts"
    texts = pa.table({"ts": ["2024-01-01T05:00:00+01:00", "garbage", None]})
    write_day(text_root, "2024-01-01", texts)
    got = concat(EventSource(root).chunks(["ts"]))
    assert got["ts"].tolist() == [utc(1, 5)]
    got = concat(
        EventSource(text_root).chunks(["ts"], time_column="ts", since=utc(1), until=utc(2))
    )
    assert got["ts"][0] == utc(1, 4) and got["ts"][1:].isna().all()


def test_a_partition_that_is_not_a_date_is_always_read(events: Path) -> None:
    late = pa.table({"user": ["late"], "ts": [utc(2, 6).to_pydatetime()], "page": ["/"]},
                    schema=EVENT_SCHEMA)  # fmt: skip
    write_day(events, "unknown", late)
    frame = concat(
        EventSource(events).chunks(["user"], time_column="ts", since=utc(2), until=utc(3))
    )
    assert "late" in set(frame["user"])


def test_event_source_errors_name_the_source_and_column(events: Path, tmp_path: Path) -> None:
    with pytest.raises(SourceError) as err:
        EventSource(events).chunks(["user", "lat", "lon"])
    assert (err.value.reason, err.value.table, err.value.column) == (
        "missing_column", "events", "lat, lon",
    )  # fmt: skip
    with pytest.raises(SourceError) as err:
        EventSource(tmp_path / "gps").columns()
    assert (err.value.reason, err.value.table) == ("missing_source", "gps")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError) as err:
        EventSource(tmp_path / "empty").columns()
    assert err.value.reason == "missing_source"
    (events / "date=2024-01-09").mkdir()
    (events / "date=2024-01-09" / "bad.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(SourceError) as err:
        EventSource(events).columns()
    assert err.value.reason == "unreadable"


def test_rows_with_no_time_come_once_with_the_window_of_their_day(events: Path) -> None:
    source = EventSource(events)
    per_day = [
        concat(source.chunks(["user"], time_column="ts", since=utc(d), until=utc(d + 1)))
        for d in range(1, 8)
    ]
    users = [u for frame in per_day for u in frame["user"]]
    assert sorted(users) == sorted(concat(source.chunks(["user"]))["user"])  # each row once
    assert "u4x" in set(per_day[3]["user"])


def test_an_empty_event_window_gives_one_empty_typed_frame(events: Path, tmp_path: Path) -> None:
    source = EventSource(events)
    for window in ({"since": utc(20), "until": utc(21)}, {"until": utc(1)}):
        frames = list(source.chunks(["user", "ts"], time_column="ts", **window))
        assert len(frames) == 1 and frames[0].empty
        assert [str(t) for t in frames[0].dtypes] == ["str", "datetime64[us, UTC]"]
    quiet = tmp_path / "quiet"
    write_day(quiet, "2024-01-01", EVENT_SCHEMA.empty_table())
    frames = list(EventSource(quiet).chunks(["page", "ts"]))
    assert len(frames) == 1 and frames[0].empty
    assert [str(t) for t in frames[0].dtypes] == ["str", "datetime64[us, UTC]"]
