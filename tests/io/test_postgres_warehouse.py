"""The PostgreSQL warehouse keeps the same promises as DuckDB: typed round trips through COPY,
atomic and idempotent loads, range replacement, retention, comments in ``\\d+``, audit rows,
erasure. Every test uses its own schema and drops it. The server is required: if it cannot be
reached these tests fail, they do not skip."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from minimizer.io import TableLoad, Warehouse, WarehouseError, open_warehouse
from minimizer.io.postgres_warehouse import PostgresWarehouse
from minimizer.io.warehouse import DIALECTS, sql_type

pytestmark = pytest.mark.postgres

PG_URL = os.environ.get("MINIMIZER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
SECRET = "alice@example.com"

EVENTS = pa.schema(
    [("user", pa.string()), ("ts", pa.timestamp("us", tz="UTC")), ("page", pa.string())]
)
CUSTOMERS = pa.schema([("customer", pa.string()), ("tier", pa.string())])


def day(d: int, hour: int = 0) -> datetime:
    return datetime(2024, 3, d, hour, tzinfo=UTC)


def stage(directory: Path, name: str, table: pa.Table) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.parquet"
    pq.write_table(table, path)
    return path


def plain(values: pd.Series) -> list[object]:
    """A column as Python values, every kind of missing as None (to compare with Arrow)."""
    return [None if v is None or v is pd.NA or v is pd.NaT or v != v else v for v in values]


@pytest.fixture
def purpose() -> Iterator[str]:
    """A fresh schema name (the purpose id); the schema and its audit rows go afterwards."""
    name = f"mz_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL unreachable at 127.0.0.1:5432 ({type(exc).__name__})")
    try:
        yield name
    finally:
        admin.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        admin.execute(
            "DO $$ BEGIN IF to_regclass('minimizer_audit.runs') IS NOT NULL THEN"
            f" DELETE FROM minimizer_audit.runs WHERE purpose LIKE '{name}%'; END IF;"
            " IF to_regclass('minimizer_audit.loaded_tables') IS NOT NULL THEN DELETE FROM"
            f" minimizer_audit.loaded_tables WHERE purpose LIKE '{name}%'; END IF; END $$"
        )
        admin.close()


@pytest.fixture
def wh(purpose: str) -> Iterator[PostgresWarehouse]:
    with PostgresWarehouse(PG_URL) as warehouse:
        yield warehouse


def audit(purpose: str, run_id: str = "run-1", status: str = "success") -> dict:
    return {
        "run_id": f"{purpose}-{run_id}",
        "purpose": purpose,
        "policy_sha256": "0" * 64,
        "status": status,
        "started_at": datetime(2024, 3, 5, 1, tzinfo=UTC),
        "finished_at": datetime(2024, 3, 5, 1, 5, tzinfo=UTC),
        "key_version": 2,
        "rows_in": {"customers": 3},
        "rows_out": {"customers": 3},
        "dropped_columns": {"customers": ["email"]},
        "schema_drift": {"customers": ["fax"]},
        "details": {"gate": {"failed": 0}},
    }


def customers(tmp_path: Path, name: str, rows: dict[str, list[object]]) -> TableLoad:
    path = stage(tmp_path, name, pa.table(rows, schema=CUSTOMERS))
    comments = {"customer": "Pseudonym of the customer (keyed hash, v2).", "tier": "Loyalty tier."}
    return TableLoad("customers", [path], CUSTOMERS, comments, "Customers, minimised.")


def events_day(tmp_path: Path, d: int, users: list[str]) -> TableLoad:
    rows = {"user": users, "ts": [day(d, h) for h in range(len(users))], "page": ["/"] * len(users)}
    path = stage(tmp_path / f"d{d}", f"e{len(users)}", pa.table(rows, schema=EVENTS))
    return TableLoad("events", [path], EVENTS, {}, "", mode="replace_range",
                     range_column="ts", range_start=day(d), range_end=day(d + 1))  # fmt: skip


ROUND_TRIP = pa.table(
    {
        "s": pa.array(["a", "", None, 'it\'s "quoted", new\nline, 100% \\ back'], pa.string()),
        "ls": pa.array(["x", None, "y", "z"], pa.large_string()),
        "b": pa.array([True, False, None, True]),
        "i8": pa.array([1, -128, None, 127], pa.int8()),
        "i16": pa.array([1, -32768, None, 32767], pa.int16()),
        "i32": pa.array([1, -(2**31), None, 2**31 - 1], pa.int32()),
        "i64": pa.array([1, -(2**63), None, 2**63 - 1], pa.int64()),
        "f32": pa.array([1.5, -0.25, None, 3.0], pa.float32()),
        "f64": pa.array([1.5, float("inf"), None, -1e300], pa.float64()),
        "dec": pa.array([Decimal("1.25"), Decimal("-99999999.99"), None, Decimal("0.00")],
                        pa.decimal128(10, 2)),
        "d": pa.array([date(2024, 1, 1), date(1900, 2, 28), None, date(2099, 12, 31)], pa.date32()),
        "ts": pa.array([datetime(2024, 1, 1, 12, 30, 1, 123456), None, datetime(1970, 1, 1),
                        datetime(2038, 1, 19, 3, 14, 8)], pa.timestamp("us")),
        "tstz": pa.array([day(1, 5), None, datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
                          datetime(2024, 3, 1, 5, tzinfo=UTC)], pa.timestamp("us", tz="UTC")),
        "nothing": pa.array([None, None, None, None], pa.null()),
    }
)  # fmt: skip

# information_schema spells some types out in full.
_SPELLED = {
    "TEXT": "text", "BOOLEAN": "boolean", "SMALLINT": "smallint", "INTEGER": "integer",
    "BIGINT": "bigint", "REAL": "real", "DOUBLE PRECISION": "double precision",
    "NUMERIC(10,2)": "numeric", "DATE": "date", "TIMESTAMP": "timestamp without time zone",
    "TIMESTAMPTZ": "timestamp with time zone",
}  # fmt: skip


def test_every_mapped_arrow_type_round_trips_through_copy(
    wh: PostgresWarehouse, purpose: str, tmp_path: Path
) -> None:
    load = TableLoad("types", [stage(tmp_path, "types", ROUND_TRIP)], ROUND_TRIP.schema, {}, "")
    assert wh.load(purpose, [load], audit(purpose)) == {"types": 4}
    declared = wh.query(
        "SELECT column_name, data_type FROM information_schema.columns"
        f" WHERE table_schema = '{purpose}' AND table_name = 'types'"
    )
    expected = {
        f.name: _SPELLED[sql_type(f, DIALECTS["postgresql"], "t")] for f in ROUND_TRIP.schema
    }
    assert dict(zip(declared["column_name"], declared["data_type"], strict=True)) == expected
    back = wh.read(purpose, "types")  # a fresh heap returns rows in COPY order
    for column in ROUND_TRIP.column_names:
        assert plain(back[column]) == ROUND_TRIP.column(column).to_pylist(), column


def test_an_empty_load_creates_an_empty_typed_table(wh: PostgresWarehouse, purpose: str) -> None:
    empty = TableLoad("customers", [], CUSTOMERS, {"tier": "Loyalty tier."}, "Customers.")
    assert wh.load(purpose, [empty], audit(purpose)) == {"customers": 0}
    assert list(wh.read(purpose, "customers").columns) == ["customer", "tier"]
    assert wh.column_comments(purpose, "customers") == {"tier": "Loyalty tier."}


def test_loading_the_same_files_twice_gives_identical_contents(
    wh: PostgresWarehouse, purpose: str, tmp_path: Path
) -> None:
    load = customers(tmp_path, "c", {"customer": ["a", "b", "c"], "tier": ["gold", None, ""]})
    assert wh.load(purpose, [load], audit(purpose, "r1")) == {"customers": 3}
    before = wh.read(purpose, "customers").sort_values("customer", ignore_index=True)
    assert wh.load(purpose, [load], audit(purpose, "r2")) == {"customers": 3}
    after = wh.read(purpose, "customers").sort_values("customer", ignore_index=True)
    pd.testing.assert_frame_equal(before, after)
    assert plain(after["tier"]) == ["gold", None, ""]  # NULL and empty text stay apart


def test_replace_range_replaces_one_day_and_never_duplicates(
    wh: PostgresWarehouse, purpose: str, tmp_path: Path
) -> None:
    wh.load(purpose, [events_day(tmp_path, 1, ["a", "b"])], audit(purpose, "r1"))
    wh.load(purpose, [events_day(tmp_path, 2, ["c", "d", "e"])], audit(purpose, "r2"))
    rerun = events_day(tmp_path, 1, ["x"])
    assert wh.load(purpose, [rerun], audit(purpose, "r3")) == {"events": 4}
    assert wh.load(purpose, [rerun], audit(purpose, "r4")) == {"events": 4}
    assert sorted(wh.read(purpose, "events")["user"]) == ["c", "d", "e", "x"]


def test_retention_in_a_load_and_on_its_own(
    wh: PostgresWarehouse, purpose: str, tmp_path: Path
) -> None:
    rows = pa.table({"user": ["old", "new", "newer", "unknown"],
                     "ts": [day(1), day(7), day(9), None], "page": ["/"] * 4}, schema=EVENTS)  # fmt: skip
    load = TableLoad("events", [stage(tmp_path, "e", rows)], EVENTS, {}, "",
                     retention_column="ts", retention_cutoff=day(5))  # fmt: skip
    assert wh.load(purpose, [load], audit(purpose)) == {"events": 2}
    assert wh.apply_retention(purpose, "events", "ts", datetime(2024, 3, 8)) == 1  # naive = UTC
    assert wh.read(purpose, "events")["user"].tolist() == ["newer"]


def test_a_failure_in_the_second_table_leaves_the_first_untouched(
    wh: PostgresWarehouse, purpose: str, tmp_path: Path
) -> None:
    wh.load(purpose, [customers(tmp_path, "old", {"customer": ["a"], "tier": ["gold"]})],
            audit(purpose))  # fmt: skip
    counts = pa.schema([("customer", pa.string()), ("visits", pa.int64())])
    bad_rows = pa.table({"customer": ["b"], "visits": [SECRET]})  # text where int64 is declared
    bad = TableLoad("visits", [stage(tmp_path, "bad", bad_rows)], counts, {}, "")
    fresh = customers(tmp_path, "new", {"customer": ["b", "c"], "tier": ["iron", "gold"]})
    with pytest.raises(WarehouseError) as err:
        wh.load(purpose, [fresh, bad], audit(purpose, "r2"))
    assert (err.value.reason, err.value.table) == ("load_failed", "visits")
    assert "22P02" in str(err.value.cause)  # invalid text representation, value not quoted
    assert SECRET not in str(err.value) and err.value.__cause__ is None
    assert wh.read(purpose, "customers")["customer"].tolist() == ["a"]
    assert (purpose, "visits") not in wh.tables()
    assert wh.audit_runs(purpose)["run_id"].tolist() == [f"{purpose}-run-1"]


def test_an_exception_injected_mid_load_rolls_everything_back(
    wh: PostgresWarehouse, purpose: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wh.load(purpose, [customers(tmp_path, "old", {"customer": ["a"], "tier": ["gold"]})],
            audit(purpose))  # fmt: skip
    real = PostgresWarehouse._copy
    calls: list[str] = []

    def failing(self: PostgresWarehouse, cursor: object, schema: str, load: TableLoad) -> None:
        calls.append(load.table)
        real(self, cursor, schema, load)  # type: ignore[arg-type]
        if len(calls) == 2:
            raise RuntimeError("injected after the second COPY")

    monkeypatch.setattr(PostgresWarehouse, "_copy", failing)
    fresh = customers(tmp_path, "new", {"customer": ["b"], "tier": ["iron"]})
    with pytest.raises(RuntimeError):
        wh.load(purpose, [fresh, events_day(tmp_path, 1, ["e"])], audit(purpose, "r2"))
    assert wh.read(purpose, "customers")["customer"].tolist() == ["a"]
    assert (purpose, "events") not in wh.tables()
    assert len(wh.audit_runs(purpose)) == 1


def test_comments_are_visible_to_psql(wh: PostgresWarehouse, purpose: str, tmp_path: Path) -> None:
    nasty = "Tier; it's 'gold' or \"iron\" at 100% \\'); DROP TABLE customers; --"
    base = customers(tmp_path, "c", {"customer": ["a"], "tier": ["gold"]})
    load = TableLoad(base.table, base.files, base.schema, {"tier": nasty}, "It's minimised.")
    wh.load(purpose, [load], audit(purpose))
    shown = wh.query(
        f"SELECT col_description('\"{purpose}\".customers'::regclass, 2) AS c,"
        f" obj_description('\"{purpose}\".customers'::regclass, 'pg_class') AS t"
    )
    assert (shown["c"][0], shown["t"][0]) == (nasty, "It's minimised.")
    assert wh.column_comments(purpose, "customers") == {"tier": nasty}
    assert wh.table_comment(purpose, "customers") == "It's minimised."


def test_audit_rows_are_jsonb_and_upsert_by_run_id(
    wh: PostgresWarehouse, purpose: str, tmp_path: Path
) -> None:
    wh.record_audit(audit(purpose, "r1", status="started"))
    wh.load(purpose, [customers(tmp_path, "c", {"customer": ["a"], "tier": ["t"]})],
            audit(purpose, "r1"))  # fmt: skip
    wh.record_audit(audit(purpose, "r2", status="failed"))
    runs = wh.audit_runs(purpose)
    assert runs["run_id"].tolist() == [f"{purpose}-r1", f"{purpose}-r2"]
    assert runs["status"].tolist() == ["success", "failed"]
    assert runs["schema_drift"][0] == {"customers": ["fax"]}
    kinds = wh.query(
        "SELECT data_type FROM information_schema.columns WHERE table_schema = 'minimizer_audit'"
        " AND table_name = 'runs' AND column_name = 'details'"
    )
    assert kinds["data_type"].tolist() == ["jsonb"]
    assert wh.query(
        f"SELECT details->'gate'->>'failed' AS f FROM minimizer_audit.runs"
        f" WHERE run_id = '{purpose}-r2'"
    )["f"].tolist() == ["0"]
    assert set(wh.column_comments("minimizer_audit", "runs")) == set(runs.columns)


def test_delete_rows_erases_exactly_the_given_values(
    wh: PostgresWarehouse, purpose: str, tmp_path: Path
) -> None:
    ids = ["a", "b", "o'brien", "c;--", "d"]
    wh.load(purpose, [customers(tmp_path, "c", {"customer": ids, "tier": ["t"] * 5})],
            audit(purpose))  # fmt: skip
    assert wh.delete_rows(purpose, "customers", "customer", ["o'brien", "c;--", "zz"]) == 2
    assert sorted(wh.read(purpose, "customers")["customer"]) == ["a", "b", "d"]
    many = [f"x{i}" for i in range(20_000)] + ["a"]
    assert wh.delete_rows(purpose, "customers", "customer", many) == 1
    with pytest.raises(WarehouseError) as err:
        wh.delete_rows(purpose, "nope", "customer", ["a"])
    assert err.value.reason == "missing_table"


def test_names_too_long_for_postgres_are_refused_not_truncated(
    wh: PostgresWarehouse, purpose: str
) -> None:
    long = TableLoad("t" * 64, [], CUSTOMERS, {}, "")
    with pytest.raises(WarehouseError) as err:
        wh.load(purpose, [long], audit(purpose))
    assert err.value.reason == "invalid_identifier"


def test_open_warehouse_picks_postgres_and_reports_an_unreachable_server() -> None:
    with open_warehouse(PG_URL) as warehouse:
        assert warehouse.kind == "postgresql" and isinstance(warehouse, Warehouse)
    with pytest.raises(WarehouseError) as err:
        open_warehouse("postgresql://nobody:s3cret@127.0.0.1:1/test", connect_timeout=2)
    assert err.value.reason == "unreachable"
    assert "s3cret" not in str(err.value)
