"""The warehouse contract, on every target: typed round trips, atomic and idempotent loads,
range replacement, retention, comments analysts can read, audit rows, erasure deletes, quoted
names and one transaction for work spanning schemas.

Each test runs on DuckDB and on PostgreSQL (marked ``postgres``). PostgreSQL tests use a fresh
schema (the purpose) each and remove it and its audit rows afterwards; the server is required:
if it cannot be reached these tests fail, they do not skip."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from minimizer.errors import MinimizerError
from minimizer.io import ARROW_TYPES, TableLoad, Warehouse, WarehouseError, WarehouseLockedError
from minimizer.io import open_warehouse as open_wh
from minimizer.io.warehouse import DIALECTS, sql_type

PG_URL = os.environ.get("MINIMIZER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "warehouses.md"
SECRET = "alice@example.com"  # a value that must never appear in an error

EVENTS = pa.schema(
    [("user", pa.string()), ("ts", pa.timestamp("us", tz="UTC")), ("page", pa.string())]
)
CUSTOMERS = pa.schema([("customer", pa.string()), ("tier", pa.string())])


def _drop_pg(prefix: str) -> None:
    """Every schema named ``prefix...`` and its audit and registry rows."""
    with psycopg.connect(PG_URL, autocommit=True, connect_timeout=5) as admin:
        like = prefix.replace("_", "\\_") + "%"
        names = admin.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", [like])
        for (name,) in names.fetchall():
            admin.execute(f'DROP SCHEMA IF EXISTS "{name.replace(chr(34), chr(34) * 2)}" CASCADE')
        for table in ("runs", "loaded_tables"):
            admin.execute(
                f"DO $$ BEGIN IF to_regclass('minimizer_audit.{table}') IS NOT NULL THEN DELETE"
                f" FROM minimizer_audit.{table} WHERE purpose LIKE '{like}'; END IF; END $$"
            )


@pytest.fixture(params=["duckdb", pytest.param("postgresql", marks=pytest.mark.postgres)])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Warehouse, str]]:
    """(warehouse, a purpose of its own) on each target."""
    if request.param == "duckdb":
        with open_wh(tmp_path / "wh" / "warehouse.duckdb") as warehouse:
            yield warehouse, "churn_analysis"
        return
    name = f"mz_{uuid.uuid4().hex[:12]}"
    try:
        warehouse = open_wh(PG_URL, connect_timeout=5)
    except WarehouseError as exc:
        pytest.fail(f"PostgreSQL unreachable at 127.0.0.1:5432 ({exc.cause})")
    try:
        with warehouse:
            yield warehouse, name
    finally:
        _drop_pg(name)


def day(d: int, hour: int = 0) -> datetime:
    return datetime(2024, 3, d, hour, tzinfo=UTC)


def stage(directory: Path, name: str, table: pa.Table) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.parquet"
    pq.write_table(table, path)
    return path


def audit(purpose: str, run_id: str = "run-1", status: str = "success") -> dict:
    """An audit row; its run id carries the purpose (the PostgreSQL audit table is shared)."""
    return {
        "run_id": f"{purpose}-{run_id}",
        "purpose": purpose,
        "policy_sha256": "0" * 64,
        "status": status,
        "started_at": datetime(2024, 3, 5, 1, tzinfo=UTC),
        "finished_at": datetime(2024, 3, 5, 1, 5, tzinfo=UTC),
        "key_version": 1,
        "rows_in": {"customers": 3},
        "rows_out": {"customers": 3},
        "dropped_columns": {"customers": ["email"]},
        "schema_drift": {"customers": ["fax"]},
        "details": {"k_anonymity": {"k": 5, "suppressed": 0}},
    }


def customers(tmp_path: Path, name: str, rows: dict[str, list[object]]) -> TableLoad:
    path = stage(tmp_path, name, pa.table(rows, schema=CUSTOMERS))
    comments = {"customer": "Pseudonym of the customer (keyed hash, v1).", "tier": "Loyalty tier."}
    return TableLoad("customers", [path], CUSTOMERS, comments, "Customers, minimised.")


def events_day(tmp_path: Path, d: int, users: list[str]) -> TableLoad:
    rows = {"user": users, "ts": [day(d, h) for h in range(len(users))], "page": ["/"] * len(users)}
    path = stage(tmp_path / f"d{d}", f"events-{len(users)}", pa.table(rows, schema=EVENTS))
    return TableLoad("events", [path], EVENTS, {"ts": "Event time, truncated to the hour."},
                     "Events.", mode="replace_range", range_column="ts", range_start=day(d),
                     range_end=day(d + 1))  # fmt: skip


def plain(values: pd.Series) -> list[object]:
    """A column as Python values, every kind of missing as None (to compare with Arrow)."""
    return [None if v is None or v is pd.NA or v is pd.NaT or v != v else v for v in values]


def declared(wh: Warehouse, schema: str, table: str) -> dict[str, str]:
    """Column -> data type, as information_schema spells it on the target."""
    frame = wh.query(
        "SELECT column_name, data_type FROM information_schema.columns"
        f" WHERE table_schema = '{schema}' AND table_name = '{table}'"
    )
    return dict(zip(frame["column_name"], frame["data_type"], strict=True))


# ------------------------------------------------------------------ types


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

# information_schema spells some types its own way.
_SPELLED = {
    "duckdb": {"TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE", "REAL": "FLOAT"},
    "postgresql": {
        "TEXT": "text", "BOOLEAN": "boolean", "SMALLINT": "smallint", "INTEGER": "integer",
        "BIGINT": "bigint", "REAL": "real", "DOUBLE PRECISION": "double precision",
        "NUMERIC(10,2)": "numeric", "DATE": "date", "TIMESTAMP": "timestamp without time zone",
        "TIMESTAMPTZ": "timestamp with time zone", "JSONB": "jsonb",
    },
}  # fmt: skip


def test_every_mapped_arrow_type_round_trips_with_its_declared_type(target, tmp_path):
    wh, purpose = target
    load = TableLoad("types", [stage(tmp_path, "types", ROUND_TRIP)], ROUND_TRIP.schema, {}, "")
    assert wh.load(purpose, [load], audit(purpose)) == {"types": 4}
    spelled = _SPELLED[wh.kind]
    expected = {
        f.name: spelled.get(t, t)
        for f in ROUND_TRIP.schema
        for t in [sql_type(f, DIALECTS[wh.kind], "types")]
    }
    assert declared(wh, purpose, "types") == expected
    back = wh.read(purpose, "types")  # a fresh table returns rows in load order
    for column in ROUND_TRIP.column_names:
        assert plain(back[column]) == ROUND_TRIP.column(column).to_pylist(), column
    assert str(back["tstz"].dtype) == "datetime64[us, UTC]"
    assert str(back["i64"].dtype) == "Int64"


def test_an_unmapped_arrow_type_is_refused_before_anything_changes(target, tmp_path):
    wh, purpose = target
    wh.load(purpose, [customers(tmp_path, "old", {"customer": ["a"], "tier": ["gold"]})],
            audit(purpose))  # fmt: skip
    nested = pa.table({"tags": pa.array([[1, 2]], pa.list_(pa.int64()))})
    bad = TableLoad("nested", [stage(tmp_path, "nested", nested)], nested.schema, {}, "")
    fresh = customers(tmp_path, "new", {"customer": ["b"], "tier": ["iron"]})
    with pytest.raises(WarehouseError) as err:
        wh.load(purpose, [fresh, bad], audit(purpose, "run-2"))
    assert (err.value.reason, err.value.column) == ("unsupported_type", "tags")
    assert wh.read(purpose, "customers")["customer"].tolist() == ["a"]
    assert wh.audit_runs(purpose)["run_id"].tolist() == [f"{purpose}-run-1"]


def test_the_docs_type_table_matches_the_mapping() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for key, targets in ARROW_TYPES.items():
        row = re.search(rf"^\| `{re.escape(key)}`[^|]*\|([^|]*)\|([^|]*)\|", text, re.MULTILINE)
        assert row is not None, key
        shown = [cell.strip().strip("`") for cell in row.groups()]
        assert shown == [targets["duckdb"], targets["postgresql"]], key


# ------------------------------------------------------------------ replace, empty, idempotent


def test_an_empty_load_creates_an_empty_typed_table(target):
    wh, purpose = target
    empty = TableLoad("customers", [], CUSTOMERS, {"tier": "Loyalty tier."}, "Customers.")
    assert wh.load(purpose, [empty], audit(purpose)) == {"customers": 0}
    frame = wh.read(purpose, "customers")
    assert list(frame.columns) == ["customer", "tier"] and frame.empty
    assert wh.column_comments(purpose, "customers") == {"tier": "Loyalty tier."}


def test_loading_the_same_files_twice_gives_identical_contents(target, tmp_path):
    wh, purpose = target
    load = customers(tmp_path, "c", {"customer": ["a", "b", "c"], "tier": ["gold", None, ""]})
    assert wh.load(purpose, [load], audit(purpose, "r1")) == {"customers": 3}
    before = wh.read(purpose, "customers").sort_values("customer", ignore_index=True)
    assert wh.load(purpose, [load], audit(purpose, "r2")) == {"customers": 3}
    after = wh.read(purpose, "customers").sort_values("customer", ignore_index=True)
    pd.testing.assert_frame_equal(before, after)
    assert plain(after["tier"]) == ["gold", None, ""]  # NULL and empty text stay apart


def test_replace_swaps_the_whole_table_even_when_the_schema_changes(target, tmp_path):
    wh, purpose = target
    wh.load(purpose, [customers(tmp_path, "c", {"customer": ["a"], "tier": ["gold"]})],
            audit(purpose))  # fmt: skip
    narrower = pa.schema([("customer", pa.string())])
    path = stage(tmp_path, "n", pa.table({"customer": ["z", "y"]}, schema=narrower))
    wh.load(purpose, [TableLoad("customers", [path], narrower, {}, "")], audit(purpose, "r2"))
    assert sorted(wh.read(purpose, "customers")["customer"]) == ["y", "z"]
    assert list(wh.read(purpose, "customers").columns) == ["customer"]


def test_several_files_load_into_one_table(target, tmp_path):
    wh, purpose = target
    parts = [
        stage(tmp_path, f"part{i}", pa.table({"customer": [f"c{i}"], "tier": ["t"]}))
        for i in range(3)
    ]
    assert wh.load(purpose, [TableLoad("customers", parts, CUSTOMERS)], audit(purpose)) == {
        "customers": 3
    }


# ------------------------------------------------------------------ ranges and retention


def test_replace_range_replaces_one_day_and_never_duplicates(target, tmp_path):
    wh, purpose = target
    wh.load(purpose, [events_day(tmp_path, 1, ["a", "b"])], audit(purpose, "r1"))
    wh.load(purpose, [events_day(tmp_path, 2, ["c", "d", "e"])], audit(purpose, "r2"))
    rerun = events_day(tmp_path, 1, ["x"])
    assert wh.load(purpose, [rerun], audit(purpose, "r3")) == {"events": 4}
    assert wh.load(purpose, [rerun], audit(purpose, "r4")) == {"events": 4}
    assert sorted(wh.read(purpose, "events")["user"]) == ["c", "d", "e", "x"]


def test_replace_range_refuses_staged_rows_outside_its_range(target, tmp_path):
    wh, purpose = target
    wh.load(purpose, [events_day(tmp_path, 1, ["a"])], audit(purpose, "r1"))
    stray = pa.table({"user": ["p", "q"], "ts": [day(2, 1), day(3)], "page": ["/", "/"]},
                     schema=EVENTS)  # fmt: skip
    load = TableLoad(
        "events", [stage(tmp_path, "stray", stray)], EVENTS, {}, "", mode="replace_range",
        range_column="ts", range_start=day(2), range_end=day(3),
    )  # fmt: skip
    with pytest.raises(WarehouseError) as err:
        wh.load(purpose, [load], audit(purpose, "r2"))
    assert (err.value.reason, err.value.count) == ("out_of_range", 1)
    assert wh.read(purpose, "events")["user"].tolist() == ["a"]


def test_replace_range_on_a_date_column_uses_utc_days(target, tmp_path):
    wh, purpose = target
    schema = pa.schema([("d", pa.date32()), ("n", pa.int64())])
    for d, n in ((1, 10), (2, 20), (2, 21)):
        path = stage(tmp_path / f"{d}-{n}", "x", pa.table({"d": [date(2024, 3, d)], "n": [n]},
                                                           schema=schema))  # fmt: skip
        wh.load(purpose, [TableLoad("daily", [path], schema, {}, "", mode="replace_range",
                                    range_column="d", range_start=day(d),
                                    range_end=day(d + 1))], audit(purpose, f"r{n}"))  # fmt: skip
    assert sorted(wh.read(purpose, "daily")["n"]) == [10, 21]


def test_a_range_load_into_a_table_with_other_columns_fails_cleanly(target, tmp_path):
    wh, purpose = target
    wh.load(purpose, [events_day(tmp_path, 1, ["a"])], audit(purpose, "r1"))
    wider = EVENTS.append(pa.field("extra", pa.int64()))
    rows = pa.table({"user": ["b"], "ts": [day(2)], "page": ["/"], "extra": [1]}, schema=wider)
    load = TableLoad("events", [stage(tmp_path, "w", rows)], wider, {}, "", mode="replace_range",
                     range_column="ts", range_start=day(2), range_end=day(3))  # fmt: skip
    with pytest.raises(WarehouseError) as err:
        wh.load(purpose, [load], audit(purpose, "r2"))
    assert (err.value.reason, err.value.column) == ("schema_mismatch", "extra")
    assert wh.read(purpose, "events")["user"].tolist() == ["a"]


def test_retention_in_a_load_and_on_its_own(target, tmp_path):
    wh, purpose = target
    rows = pa.table({"user": ["old", "new", "newer", "unknown"],
                     "ts": [day(1), day(7), day(9), None], "page": ["/"] * 4}, schema=EVENTS)  # fmt: skip
    load = TableLoad("events", [stage(tmp_path, "e", rows)], EVENTS, {}, "",
                     retention_column="ts", retention_cutoff=day(5))  # fmt: skip
    assert wh.load(purpose, [load], audit(purpose)) == {"events": 2}
    assert wh.apply_retention(purpose, "events", "ts", datetime(2024, 3, 8)) == 1  # naive = UTC
    assert wh.read(purpose, "events")["user"].tolist() == ["newer"]
    assert wh.apply_retention(purpose, "events", "ts", day(8)) == 0


# ------------------------------------------------------------------ atomicity


def test_a_type_error_in_the_second_table_leaves_the_first_table_untouched(target, tmp_path):
    wh, purpose = target
    wh.load(purpose, [customers(tmp_path, "old", {"customer": ["a"], "tier": ["gold"]})],
            audit(purpose))  # fmt: skip
    counts = pa.schema([("customer", pa.string()), ("visits", pa.int64())])
    # The staged file says int64 in the load schema but holds text: the database refuses it.
    bad_rows = pa.table({"customer": ["b"], "visits": [SECRET]})
    bad = TableLoad("visits", [stage(tmp_path, "bad", bad_rows)], counts, {}, "")
    fresh = customers(tmp_path, "new", {"customer": ["b", "c"], "tier": ["iron", "gold"]})
    with pytest.raises(WarehouseError) as err:
        wh.load(purpose, [fresh, bad], audit(purpose, "run-2"))
    assert (err.value.reason, err.value.table) == ("load_failed", "visits")
    assert SECRET not in str(err.value) and err.value.__cause__ is None
    if wh.kind == "postgresql":
        assert "22P02" in str(err.value.cause)  # invalid text representation, value not quoted
    assert wh.read(purpose, "customers")["customer"].tolist() == ["a"]
    assert (purpose, "visits") not in wh.tables()
    assert wh.audit_runs(purpose)["run_id"].tolist() == [f"{purpose}-run-1"]


def test_an_exception_injected_mid_load_rolls_everything_back(target, tmp_path, monkeypatch):
    wh, purpose = target
    wh.load(purpose, [customers(tmp_path, "old", {"customer": ["a"], "tier": ["gold"]})],
            audit(purpose))  # fmt: skip
    wh.load(purpose, [events_day(tmp_path, 1, ["e1"])], audit(purpose, "run-e"))
    real = type(wh.driver).bulk_load
    calls: list[str] = []

    def failing(self: object, schema: str, table: str, *rest: object) -> None:
        calls.append(table)
        real(self, schema, table, *rest)  # type: ignore[arg-type]
        if len(calls) == 2:
            raise RuntimeError("injected after the second table was written")

    monkeypatch.setattr(type(wh.driver), "bulk_load", failing)
    fresh = customers(tmp_path, "new", {"customer": ["b"], "tier": ["iron"]})
    with pytest.raises(RuntimeError):
        wh.load(purpose, [fresh, events_day(tmp_path, 1, ["e2", "e3"])], audit(purpose, "run-2"))
    assert calls == ["customers", "events"]
    assert wh.read(purpose, "customers")["customer"].tolist() == ["a"]
    assert wh.read(purpose, "events")["user"].tolist() == ["e1"]
    assert set(wh.audit_runs(purpose)["run_id"]) == {f"{purpose}-run-1", f"{purpose}-run-e"}


def test_a_corrupt_staged_file_fails_before_anything_changes(target, tmp_path):
    wh, purpose = target
    wh.load(purpose, [customers(tmp_path, "old", {"customer": ["a"], "tier": ["gold"]})],
            audit(purpose))  # fmt: skip
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1 not really parquet")
    fresh = customers(tmp_path, "new", {"customer": ["b"], "tier": ["iron"]})
    with pytest.raises(WarehouseError) as err:
        wh.load(purpose, [fresh, TableLoad("visits", [corrupt], CUSTOMERS)], audit(purpose, "r2"))
    assert (err.value.reason, err.value.table) == ("unreadable_file", "visits")
    assert wh.read(purpose, "customers")["customer"].tolist() == ["a"]


def test_work_through_atomic_commits_together_or_not_at_all(target, tmp_path):
    wh, purpose = target
    ids = ["a", "b", "c"]
    wh.load(purpose, [customers(tmp_path, "c", {"customer": ids, "tier": ["t"] * 3})],
            audit(purpose))  # fmt: skip
    with pytest.raises(RuntimeError), wh.atomic() as tx:
        assert tx.delete_matches(purpose, "customers", "customer", ["a", "b"]) == 2
        assert tx.count(purpose, "customers") == 1
        raise RuntimeError("after the delete")
    assert sorted(wh.read(purpose, "customers")["customer"]) == ids
    with pytest.raises(WarehouseError) as err, wh.atomic() as tx:
        tx.delete_matches(purpose, "customers", "customer", ["a"])
        tx.count_matches(purpose, "customers", "nope", [SECRET])
    assert err.value.reason == "transaction_failed" and SECRET not in str(err.value)
    assert (err.value.statement, err.value.table, err.value.column) == (
        "count matches",
        "customers",
        "nope",
    )
    assert err.value.detail and "nope" in err.value.detail  # a binder message: shown
    assert sorted(wh.read(purpose, "customers")["customer"]) == ids
    with wh.atomic() as tx:
        assert tx.count_matches(purpose, "customers", "customer", ["a", "zz"]) == [("a", 1)]
        assert tx.count_like(purpose, "customers", ["customer", "tier"], ["t%", "b"]) == 3
        assert tx.delete_like(purpose, "customers", ["customer"], ["b"]) == 1
        tx.remap({purpose: (["a"], ["z"])}, [(purpose, "customers", "customer", purpose)])
    assert sorted(wh.read(purpose, "customers")["customer"]) == ["c", "z"]


def test_warehouse_errors_belong_to_the_minimizer_family() -> None:
    assert issubclass(WarehouseLockedError, WarehouseError)
    assert issubclass(WarehouseError, MinimizerError)


# ------------------------------------------------------------------ comments and audit


def test_comments_are_visible_to_analysts_in_the_engine_catalogue(target, tmp_path):
    wh, purpose = target
    nasty = "Tier; it's 'gold' or \"iron\" at 100% \\'); DROP TABLE customers; --"
    base = customers(tmp_path, "c", {"customer": ["a"], "tier": ["gold"]})
    load = TableLoad(base.table, base.files, base.schema, {"tier": nasty}, "It's minimised.")
    wh.load(purpose, [load], audit(purpose))
    if wh.kind == "duckdb":
        shown = wh.query(
            "SELECT c.comment AS c, t.comment AS t FROM duckdb_columns() c JOIN duckdb_tables() t"
            " USING (schema_name, table_name) WHERE c.column_name = 'tier'"
            f" AND schema_name = '{purpose}' AND table_name = 'customers'"
        )
    else:
        shown = wh.query(
            f"SELECT col_description('\"{purpose}\".customers'::regclass, 2) AS c,"
            f" obj_description('\"{purpose}\".customers'::regclass, 'pg_class') AS t"
        )
    assert (shown["c"][0], shown["t"][0]) == (nasty, "It's minimised.")
    assert wh.column_comments(purpose, "customers") == {"tier": nasty}
    assert wh.table_comment(purpose, "customers") == "It's minimised."
    assert (purpose, "customers") in wh.tables()


def test_a_load_writes_its_audit_row_with_json_fields(target, tmp_path):
    wh, purpose = target
    wh.load(purpose, [customers(tmp_path, "c", {"customer": ["a"], "tier": ["t"]})],
            audit(purpose))  # fmt: skip
    runs = wh.audit_runs(purpose)
    assert len(runs) == 1
    row = runs.iloc[0]
    assert row["status"] == "success" and row["key_version"] == 1
    assert row["dropped_columns"] == {"customers": ["email"]}
    assert row["details"] == {"k_anonymity": {"k": 5, "suppressed": 0}}
    assert row["started_at"] == datetime(2024, 3, 5, 1, tzinfo=UTC)
    assert wh.audit_runs(f"{purpose}_other").empty
    comments = wh.column_comments("minimizer_audit", "runs")
    assert set(comments) == set(runs.columns)
    assert "never stored" in comments["key_version"]
    json_type = {"duckdb": "JSON", "postgresql": "jsonb"}[wh.kind]
    assert declared(wh, "minimizer_audit", "runs")["details"] == json_type


def test_record_audit_stands_alone_and_upserts_by_run_id(target):
    wh, purpose = target
    wh.record_audit(audit(purpose, "run-9", status="started"))
    wh.record_audit(audit(purpose, "run-9", status="failed"))
    wh.record_audit(audit(purpose, "run-10", status="failed"))
    runs = wh.audit_runs(purpose)
    # Same start: ordered by run id.
    assert runs["run_id"].tolist() == [f"{purpose}-run-10", f"{purpose}-run-9"]
    assert runs.set_index("run_id").loc[f"{purpose}-run-9", "status"] == "failed"
    assert {("minimizer_audit", "loaded_tables"), ("minimizer_audit", "runs")} <= set(wh.tables())
    if wh.kind == "duckdb":
        assert wh.tables() == [("minimizer_audit", "loaded_tables"), ("minimizer_audit", "runs")]


def test_an_audit_record_with_wrong_keys_is_refused(target):
    wh, purpose = target
    record = audit(purpose)
    del record["details"]
    record["email"] = SECRET
    with pytest.raises(WarehouseError) as err:
        wh.record_audit(record)
    assert (err.value.reason, err.value.column) == ("invalid_audit", "details, email")
    assert SECRET not in str(err.value)


# ------------------------------------------------------------------ erasure


def test_delete_rows_erases_exactly_the_given_values(target, tmp_path):
    wh, purpose = target
    ids = ["a", "b", "o'brien", "c;--", "d"]
    wh.load(purpose, [customers(tmp_path, "c", {"customer": ids, "tier": ["t"] * 5})],
            audit(purpose))  # fmt: skip
    assert wh.delete_rows(purpose, "customers", "customer", ["o'brien", "c;--", "zz"]) == 2
    assert sorted(wh.read(purpose, "customers")["customer"]) == ["a", "b", "d"]
    assert wh.delete_rows(purpose, "customers", "customer", []) == 0
    many = [f"x{i}" for i in range(20_000)] + ["a"]
    assert wh.delete_rows(purpose, "customers", "customer", many) == 1


def test_delete_rows_on_a_missing_table_or_column_says_which(target):
    wh, purpose = target
    with pytest.raises(WarehouseError) as err:
        wh.delete_rows(purpose, "nope", "customer", ["a"])
    assert (err.value.reason, err.value.table) == ("missing_table", "nope")
    wh.load(purpose, [TableLoad("customers", [], CUSTOMERS, {}, "")], audit(purpose))
    with pytest.raises(WarehouseError) as err:
        wh.delete_rows(purpose, "customers", "email", ["a"])
    assert (err.value.reason, err.value.column) == ("missing_column", "email")


# ------------------------------------------------------------------ names


def test_odd_identifiers_are_quoted_not_interpreted(target, tmp_path):
    wh, purpose = target
    schema = pa.schema([('we"ird col', pa.string()), ("select", pa.int64())])
    path = stage(tmp_path, "odd", pa.table({'we"ird col': ["v"], "select": [1]}, schema=schema))
    load = TableLoad('ta"ble; drop', [path], schema, {'we"ird col': "odd"}, "")
    odd = f'{purpose} "X"'
    wh.load(odd, [load], audit(odd))
    assert wh.read(odd, 'ta"ble; drop').to_dict("list") == {'we"ird col': ["v"], "select": [1]}


def test_names_too_long_for_the_target_are_refused_not_truncated(target):
    wh, purpose = target
    long = TableLoad("t" * 64, [], CUSTOMERS, {}, "")
    if wh.kind == "duckdb":  # DuckDB keeps long names whole
        assert wh.load(purpose, [long], audit(purpose)) == {"t" * 64: 0}
        return
    with pytest.raises(WarehouseError) as err:
        wh.load(purpose, [long], audit(purpose))
    assert err.value.reason == "invalid_identifier"


def test_a_load_naming_a_table_twice_is_refused(target):
    wh, purpose = target
    before = wh.tables()
    twice = [TableLoad("customers", [], CUSTOMERS, {}, "")] * 2
    with pytest.raises(WarehouseError) as err:
        wh.load(purpose, twice, audit(purpose))
    assert (err.value.reason, err.value.table) == ("invalid_load", "customers")
    assert wh.tables() == before  # refused before anything, even the audit table, was created


def test_a_load_spec_that_cannot_work_is_refused_at_construction() -> None:
    with pytest.raises(WarehouseError) as err:
        TableLoad("events", [], EVENTS, {"nope": "x"}, "", mode="replace_range")
    assert err.value.reason == "invalid_load"
    assert "range_column" in str(err.value) and "nope" in str(err.value)


# ------------------------------------------------------------------ opening each target


def test_open_warehouse_creates_parent_directories_for_a_duckdb_file(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "w.duckdb"
    with open_wh(target) as warehouse:
        assert warehouse.kind == "duckdb" and isinstance(warehouse, Warehouse)
        assert warehouse.tables() == []
    assert target.exists()


@pytest.mark.postgres
def test_open_warehouse_picks_postgres_and_reports_an_unreachable_server() -> None:
    with open_wh(PG_URL) as warehouse:
        assert warehouse.kind == "postgresql" and isinstance(warehouse, Warehouse)
    with pytest.raises(WarehouseError) as err:
        open_wh("postgresql://nobody:s3cret@127.0.0.1:1/test", connect_timeout=2)
    assert err.value.reason == "unreachable" and err.value.transient
    assert "s3cret" not in str(err.value)


HOLDER = textwrap.dedent(
    """
    import sys, duckdb
    con = duckdb.connect(sys.argv[1])
    print("held", flush=True)
    sys.stdin.read()
    """
)


def test_a_file_held_by_another_process_gives_a_clear_locked_error(tmp_path: Path) -> None:
    target = tmp_path / "w.duckdb"
    duckdb.connect(str(target)).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(target)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        started = datetime.now(UTC)
        with pytest.raises(WarehouseLockedError) as err:
            open_wh(target, lock_timeout=0.3)
        assert datetime.now(UTC) - started >= timedelta(seconds=0.3)
        assert "locked by another writer" in str(err.value)
        assert isinstance(err.value, MinimizerError) and err.value.reason == "locked"
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=10)
        assert holder.stdout is not None
        holder.stdout.close()
    with open_wh(target) as warehouse:  # released: usable again
        assert warehouse.tables() == []
