"""The DuckDB warehouse keeps its promises: typed round trips, atomic and idempotent loads,
range replacement, retention, comments analysts can read, audit rows, erasure, and a clear
error when another process holds the file."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from minimizer.errors import MinimizerError
from minimizer.io import ARROW_TYPES, TableLoad, Warehouse, WarehouseError, WarehouseLockedError
from minimizer.io import open_warehouse as open_wh
from minimizer.io.duckdb_warehouse import DuckDBWarehouse
from minimizer.io.warehouse import DIALECTS, sql_type

PURPOSE = "churn_analysis"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "warehouses.md"

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


def audit(run_id: str = "run-1", status: str = "success", purpose: str = PURPOSE) -> dict:
    return {
        "run_id": run_id,
        "purpose": purpose,
        "policy_sha256": "0" * 64,
        "status": status,
        "started_at": datetime(2024, 3, 5, 1, tzinfo=UTC),
        "finished_at": datetime(2024, 3, 5, 1, 5, tzinfo=UTC),
        "key_version": 1,
        "rows_in": {"customers": 3},
        "rows_out": {"customers": 3},
        "dropped_columns": {"customers": ["email"]},
        "schema_drift": {"customers": []},
        "details": {"k_anonymity": {"k": 5, "suppressed": 0}},
    }


def customers(tmp_path: Path, name: str, rows: dict[str, list[object]]) -> TableLoad:
    path = stage(tmp_path, name, pa.table(rows, schema=CUSTOMERS))
    comments = {"customer": "Pseudonym of the customer (keyed hash, v1).", "tier": "Loyalty tier."}
    return TableLoad("customers", [path], CUSTOMERS, comments, "Customers, minimised.")


def events_day(tmp_path: Path, d: int, users: list[str], **extra: object) -> TableLoad:
    rows = {"user": users, "ts": [day(d, h) for h in range(len(users))], "page": ["/"] * len(users)}
    path = stage(tmp_path / f"d{d}", f"events-{len(users)}", pa.table(rows, schema=EVENTS))
    return TableLoad(
        "events",
        [path],
        EVENTS,
        {"ts": "Event time, truncated to the hour."},
        "Events.",
        mode="replace_range",
        range_column="ts",
        range_start=day(d),
        range_end=day(d + 1),
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture
def wh(tmp_path: Path) -> Iterator[DuckDBWarehouse]:
    with DuckDBWarehouse(tmp_path / "wh" / "warehouse.duckdb") as warehouse:
        yield warehouse


def plain(values: pd.Series) -> list[object]:
    """A column as Python values, every kind of missing as None (to compare with Arrow)."""
    return [None if v is None or v is pd.NA or v is pd.NaT or v != v else v for v in values]


def sorted_frame(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    return frame.sort_values(by, ignore_index=True)


# ------------------------------------------------------------------ types


ROUND_TRIP = pa.table(
    {
        "s": pa.array(["a", "", None, "it's \"quoted\", new\nline"], pa.string()),
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


def test_every_mapped_arrow_type_round_trips_with_its_declared_type(
    wh: DuckDBWarehouse, tmp_path: Path
) -> None:
    path = stage(tmp_path, "types", ROUND_TRIP)
    load = TableLoad("types", [path], ROUND_TRIP.schema, {}, "")
    assert wh.load(PURPOSE, [load], audit()) == {"types": 4}

    described = wh.query(f"DESCRIBE {PURPOSE}.types")
    declared = dict(zip(described["column_name"], described["column_type"], strict=True))
    expected = {f.name: sql_type(f, DIALECTS["duckdb"], "types") for f in ROUND_TRIP.schema}
    aliases = {"TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE", "REAL": "FLOAT"}
    assert declared == {k: aliases.get(v, v) for k, v in expected.items()}

    back = wh.read(PURPOSE, "types")
    for column in ROUND_TRIP.column_names:
        assert plain(back[column]) == ROUND_TRIP.column(column).to_pylist(), column
    assert str(back["tstz"].dtype) == "datetime64[us, UTC]"
    assert str(back["i64"].dtype) == "Int64"


def test_an_unmapped_arrow_type_is_refused_before_anything_changes(
    wh: DuckDBWarehouse, tmp_path: Path
) -> None:
    wh.load(PURPOSE, [customers(tmp_path, "old", {"customer": ["a"], "tier": ["gold"]})], audit())
    nested = pa.table({"tags": pa.array([[1, 2]], pa.list_(pa.int64()))})
    bad = TableLoad("nested", [stage(tmp_path, "nested", nested)], nested.schema, {}, "")
    fresh = customers(tmp_path, "new", {"customer": ["b"], "tier": ["iron"]})
    with pytest.raises(WarehouseError) as err:
        wh.load(PURPOSE, [fresh, bad], audit("run-2"))
    assert err.value.reason == "unsupported_type"
    assert err.value.column == "tags"
    assert wh.read(PURPOSE, "customers")["customer"].tolist() == ["a"]
    assert wh.audit_runs(PURPOSE)["run_id"].tolist() == ["run-1"]


def test_the_docs_type_table_matches_the_mapping() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for key, targets in ARROW_TYPES.items():
        row = re.search(rf"^\| `{re.escape(key)}`[^|]*\|([^|]*)\|([^|]*)\|", text, re.MULTILINE)
        assert row is not None, key
        shown = [cell.strip().strip("`") for cell in row.groups()]
        assert shown == [targets["duckdb"], targets["postgresql"]], key


# ------------------------------------------------------------------ replace, empty, idempotent


def test_an_empty_load_creates_an_empty_typed_table(wh: DuckDBWarehouse) -> None:
    empty = TableLoad("customers", [], CUSTOMERS, {"tier": "Loyalty tier."}, "Customers.")
    assert wh.load(PURPOSE, [empty], audit()) == {"customers": 0}
    frame = wh.read(PURPOSE, "customers")
    assert list(frame.columns) == ["customer", "tier"] and frame.empty
    assert wh.column_comments(PURPOSE, "customers") == {"tier": "Loyalty tier."}


def test_loading_the_same_files_twice_gives_identical_contents(
    wh: DuckDBWarehouse, tmp_path: Path
) -> None:
    load = customers(tmp_path, "c", {"customer": ["a", "b", "c"], "tier": ["gold", None, "iron"]})
    first = wh.load(PURPOSE, [load], audit("run-1"))
    before = sorted_frame(wh.read(PURPOSE, "customers"), "customer")
    second = wh.load(PURPOSE, [load], audit("run-2"))
    after = sorted_frame(wh.read(PURPOSE, "customers"), "customer")
    assert first == second == {"customers": 3}
    pd.testing.assert_frame_equal(before, after)


def test_replace_swaps_the_whole_table_even_when_the_schema_changes(
    wh: DuckDBWarehouse, tmp_path: Path
) -> None:
    wh.load(PURPOSE, [customers(tmp_path, "c", {"customer": ["a"], "tier": ["gold"]})], audit())
    narrower = pa.schema([("customer", pa.string())])
    path = stage(tmp_path, "n", pa.table({"customer": ["z", "y"]}, schema=narrower))
    wh.load(PURPOSE, [TableLoad("customers", [path], narrower, {}, "")], audit("run-2"))
    assert sorted(wh.read(PURPOSE, "customers")["customer"]) == ["y", "z"]
    assert list(wh.read(PURPOSE, "customers").columns) == ["customer"]


def test_several_files_load_into_one_table(wh: DuckDBWarehouse, tmp_path: Path) -> None:
    parts = [
        stage(tmp_path, f"part{i}", pa.table({"customer": [f"c{i}"], "tier": ["t"]}))
        for i in range(3)
    ]
    load = TableLoad("customers", parts, CUSTOMERS, {}, "")
    assert wh.load(PURPOSE, [load], audit()) == {"customers": 3}


# ------------------------------------------------------------------ ranges and retention


def test_replace_range_replaces_one_day_and_never_duplicates(
    wh: DuckDBWarehouse, tmp_path: Path
) -> None:
    wh.load(PURPOSE, [events_day(tmp_path, 1, ["a", "b"])], audit("r1"))
    wh.load(PURPOSE, [events_day(tmp_path, 2, ["c", "d", "e"])], audit("r2"))
    rerun = events_day(tmp_path, 1, ["x"])
    assert wh.load(PURPOSE, [rerun], audit("r3")) == {"events": 4}
    assert wh.load(PURPOSE, [rerun], audit("r4")) == {"events": 4}
    frame = wh.read(PURPOSE, "events")
    assert sorted(frame["user"]) == ["c", "d", "e", "x"]


def test_replace_range_refuses_staged_rows_outside_its_range(
    wh: DuckDBWarehouse, tmp_path: Path
) -> None:
    wh.load(PURPOSE, [events_day(tmp_path, 1, ["a"])], audit("r1"))
    stray = pa.table({"user": ["p", "q"], "ts": [day(2, 1), day(3)], "page": ["/", "/"]},
                     schema=EVENTS)  # fmt: skip
    load = TableLoad(
        "events", [stage(tmp_path, "stray", stray)], EVENTS, {}, "", mode="replace_range",
        range_column="ts", range_start=day(2), range_end=day(3),
    )  # fmt: skip
    with pytest.raises(WarehouseError) as err:
        wh.load(PURPOSE, [load], audit("r2"))
    assert (err.value.reason, err.value.count) == ("out_of_range", 1)
    assert wh.read(PURPOSE, "events")["user"].tolist() == ["a"]


def test_replace_range_on_a_date_column_uses_utc_days(wh: DuckDBWarehouse, tmp_path: Path) -> None:
    schema = pa.schema([("d", pa.date32()), ("n", pa.int64())])
    for d, n in ((1, 10), (2, 20), (2, 21)):
        path = stage(tmp_path / f"{d}-{n}", "x", pa.table({"d": [date(2024, 3, d)], "n": [n]},
                                                           schema=schema))  # fmt: skip
        wh.load(PURPOSE, [TableLoad("daily", [path], schema, {}, "", mode="replace_range",
                                    range_column="d", range_start=day(d),
                                    range_end=day(d + 1))], audit(f"r{n}"))  # fmt: skip
    assert sorted(wh.read(PURPOSE, "daily")["n"]) == [10, 21]


def test_a_range_load_into_a_table_with_other_columns_fails_cleanly(
    wh: DuckDBWarehouse, tmp_path: Path
) -> None:
    wh.load(PURPOSE, [events_day(tmp_path, 1, ["a"])], audit("r1"))
    wider = EVENTS.append(pa.field("extra", pa.int64()))
    rows = pa.table({"user": ["b"], "ts": [day(2)], "page": ["/"], "extra": [1]}, schema=wider)
    load = TableLoad("events", [stage(tmp_path, "w", rows)], wider, {}, "", mode="replace_range",
                     range_column="ts", range_start=day(2), range_end=day(3))  # fmt: skip
    with pytest.raises(WarehouseError) as err:
        wh.load(PURPOSE, [load], audit("r2"))
    assert (err.value.reason, err.value.column) == ("schema_mismatch", "extra")
    assert wh.read(PURPOSE, "events")["user"].tolist() == ["a"]


def test_retention_inside_a_load_deletes_old_and_timeless_rows(
    wh: DuckDBWarehouse, tmp_path: Path
) -> None:
    rows = pa.table({"user": ["old", "new", "unknown"], "ts": [day(1), day(9), None],
                     "page": ["/"] * 3}, schema=EVENTS)  # fmt: skip
    load = TableLoad("events", [stage(tmp_path, "e", rows)], EVENTS, {}, "",
                     retention_column="ts", retention_cutoff=day(5))  # fmt: skip
    assert wh.load(PURPOSE, [load], audit()) == {"events": 1}
    assert wh.read(PURPOSE, "events")["user"].tolist() == ["new"]


def test_apply_retention_deletes_rows_before_the_cutoff_and_counts_them(
    wh: DuckDBWarehouse, tmp_path: Path
) -> None:
    wh.load(PURPOSE, [events_day(tmp_path, 1, ["u", "v"])], audit("r1"))
    wh.load(PURPOSE, [events_day(tmp_path, 2, ["w"])], audit("r2"))
    assert wh.apply_retention(PURPOSE, "events", "ts", datetime(2024, 3, 2)) == 2  # naive = UTC
    assert wh.read(PURPOSE, "events")["user"].tolist() == ["w"]
    assert wh.apply_retention(PURPOSE, "events", "ts", day(2)) == 0


# ------------------------------------------------------------------ atomicity


def test_a_type_error_in_the_second_table_leaves_the_first_table_untouched(
    wh: DuckDBWarehouse, tmp_path: Path
) -> None:
    wh.load(PURPOSE, [customers(tmp_path, "old", {"customer": ["a"], "tier": ["gold"]})], audit())
    counts = pa.schema([("customer", pa.string()), ("visits", pa.int64())])
    # The staged file says int64 in the load schema but holds text: the database refuses it.
    bad_rows = pa.table({"customer": ["b"], "visits": ["alice@example.com"]})
    bad = TableLoad("visits", [stage(tmp_path, "bad", bad_rows)], counts, {}, "")
    fresh = customers(tmp_path, "new", {"customer": ["b", "c"], "tier": ["iron", "gold"]})
    with pytest.raises(WarehouseError) as err:
        wh.load(PURPOSE, [fresh, bad], audit("run-2"))
    assert (err.value.reason, err.value.table) == ("load_failed", "visits")
    assert "alice" not in str(err.value) and err.value.__cause__ is None
    assert wh.read(PURPOSE, "customers")["customer"].tolist() == ["a"]
    assert (PURPOSE, "visits") not in wh.tables()
    assert wh.audit_runs(PURPOSE)["run_id"].tolist() == ["run-1"]


def test_an_exception_injected_mid_load_rolls_everything_back(
    wh: DuckDBWarehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wh.load(PURPOSE, [customers(tmp_path, "old", {"customer": ["a"], "tier": ["gold"]})], audit())
    wh.load(PURPOSE, [events_day(tmp_path, 1, ["e1"])], audit("run-e"))
    real = DuckDBWarehouse._load_table
    calls = []

    def failing(self: DuckDBWarehouse, schema: str, load: TableLoad, *rest: object) -> None:
        calls.append(load.table)
        real(self, schema, load, *rest)  # type: ignore[arg-type]
        if len(calls) == 2:
            raise RuntimeError("injected after the second table was written")

    monkeypatch.setattr(DuckDBWarehouse, "_load_table", failing)
    fresh = customers(tmp_path, "new", {"customer": ["b"], "tier": ["iron"]})
    with pytest.raises(RuntimeError):
        wh.load(PURPOSE, [fresh, events_day(tmp_path, 1, ["e2", "e3"])], audit("run-2"))
    assert wh.read(PURPOSE, "customers")["customer"].tolist() == ["a"]
    assert wh.read(PURPOSE, "events")["user"].tolist() == ["e1"]
    assert set(wh.audit_runs(PURPOSE)["run_id"]) == {"run-1", "run-e"}


def test_a_corrupt_staged_file_fails_before_anything_changes(
    wh: DuckDBWarehouse, tmp_path: Path
) -> None:
    wh.load(PURPOSE, [customers(tmp_path, "old", {"customer": ["a"], "tier": ["gold"]})], audit())
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1 not really parquet")
    fresh = customers(tmp_path, "new", {"customer": ["b"], "tier": ["iron"]})
    bad = TableLoad("visits", [corrupt], CUSTOMERS, {}, "")
    with pytest.raises(WarehouseError) as err:
        wh.load(PURPOSE, [fresh, bad], audit("run-2"))
    assert (err.value.reason, err.value.table) == ("unreadable_file", "visits")
    assert wh.read(PURPOSE, "customers")["customer"].tolist() == ["a"]


def test_warehouse_errors_belong_to_the_minimizer_family() -> None:
    assert issubclass(WarehouseLockedError, WarehouseError)
    assert issubclass(WarehouseError, MinimizerError)


# ------------------------------------------------------------------ comments and audit


def test_comments_are_visible_to_analysts_in_duckdb_catalogue(
    wh: DuckDBWarehouse, tmp_path: Path
) -> None:
    nasty = "Tier; it's 'gold' or \"iron\"'); DROP TABLE customers; --"
    load = customers(tmp_path, "c", {"customer": ["a"], "tier": ["gold"]})
    load = TableLoad(load.table, load.files, load.schema, {"tier": nasty}, "It's minimised.")
    wh.load(PURPOSE, [load], audit())
    rows = wh.query(
        "SELECT column_name, comment FROM duckdb_columns() "
        f"WHERE schema_name = '{PURPOSE}' AND table_name = 'customers' AND comment IS NOT NULL"
    )
    assert dict(zip(rows["column_name"], rows["comment"], strict=True)) == {"tier": nasty}
    assert wh.column_comments(PURPOSE, "customers") == {"tier": nasty}
    assert wh.table_comment(PURPOSE, "customers") == "It's minimised."
    assert (PURPOSE, "customers") in wh.tables()


def test_a_load_writes_its_audit_row_with_json_fields(wh: DuckDBWarehouse, tmp_path: Path) -> None:
    wh.load(PURPOSE, [customers(tmp_path, "c", {"customer": ["a"], "tier": ["t"]})], audit())
    runs = wh.audit_runs(PURPOSE)
    assert len(runs) == 1
    row = runs.iloc[0]
    assert row["status"] == "success" and row["key_version"] == 1
    assert row["dropped_columns"] == {"customers": ["email"]}
    assert row["details"] == {"k_anonymity": {"k": 5, "suppressed": 0}}
    assert row["started_at"] == datetime(2024, 3, 5, 1, tzinfo=UTC)
    assert wh.audit_runs("other_purpose").empty
    comments = wh.column_comments("minimizer_audit", "runs")
    assert set(comments) == set(runs.columns)
    assert "never stored" in comments["key_version"]


def test_record_audit_stands_alone_and_upserts_by_run_id(wh: DuckDBWarehouse) -> None:
    wh.record_audit(audit("run-9", status="started"))
    wh.record_audit(audit("run-9", status="failed"))
    wh.record_audit(audit("run-10", status="failed", purpose="other"))
    runs = wh.audit_runs()
    assert runs["run_id"].tolist() == ["run-10", "run-9"]  # same start: ordered by run id
    assert runs.set_index("run_id").loc["run-9", "status"] == "failed"
    assert wh.tables() == [("minimizer_audit", "loaded_tables"), ("minimizer_audit", "runs")]


def test_an_audit_record_with_wrong_keys_is_refused(wh: DuckDBWarehouse) -> None:
    record = audit()
    del record["details"]
    record["email"] = "alice@example.com"
    with pytest.raises(WarehouseError) as err:
        wh.record_audit(record)
    assert err.value.reason == "invalid_audit"
    assert err.value.column == "details, email"
    assert "alice" not in str(err.value)


# ------------------------------------------------------------------ erasure


def test_delete_rows_erases_exactly_the_given_values(wh: DuckDBWarehouse, tmp_path: Path) -> None:
    ids = ["a", "b", "o'brien", "c;--", "d"]
    wh.load(PURPOSE, [customers(tmp_path, "c", {"customer": ids, "tier": ["t"] * 5})], audit())
    assert wh.delete_rows(PURPOSE, "customers", "customer", ["o'brien", "c;--", "zz"]) == 2
    assert sorted(wh.read(PURPOSE, "customers")["customer"]) == ["a", "b", "d"]
    assert wh.delete_rows(PURPOSE, "customers", "customer", []) == 0
    many = [f"x{i}" for i in range(20_000)] + ["a"]
    assert wh.delete_rows(PURPOSE, "customers", "customer", many) == 1


def test_delete_rows_on_a_missing_table_or_column_says_which(wh: DuckDBWarehouse) -> None:
    with pytest.raises(WarehouseError) as err:
        wh.delete_rows(PURPOSE, "nope", "customer", ["a"])
    assert (err.value.reason, err.value.table) == ("missing_table", "nope")
    wh.load(PURPOSE, [TableLoad("customers", [], CUSTOMERS, {}, "")], audit())
    with pytest.raises(WarehouseError) as err:
        wh.delete_rows(PURPOSE, "customers", "email", ["a"])
    assert (err.value.reason, err.value.column) == ("missing_column", "email")


# ------------------------------------------------------------------ names, factory, locking


def test_odd_identifiers_are_quoted_not_interpreted(wh: DuckDBWarehouse, tmp_path: Path) -> None:
    schema = pa.schema([('we"ird col', pa.string()), ("select", pa.int64())])
    path = stage(tmp_path, "odd", pa.table({'we"ird col': ["v"], "select": [1]}, schema=schema))
    load = TableLoad('ta"ble; drop', [path], schema, {'we"ird col': "odd"}, "")
    wh.load('Purpose "X"', [load], audit())
    assert wh.read('Purpose "X"', 'ta"ble; drop').to_dict("list") == {
        'we"ird col': ["v"],
        "select": [1],
    }


def test_open_warehouse_creates_parent_directories(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "w.duckdb"
    with open_wh(target) as warehouse:
        assert warehouse.kind == "duckdb" and isinstance(warehouse, Warehouse)
        assert warehouse.tables() == []
    assert target.exists()


def test_a_load_naming_a_table_twice_is_refused(wh: DuckDBWarehouse) -> None:
    twice = [TableLoad("customers", [], CUSTOMERS, {}, "")] * 2
    with pytest.raises(WarehouseError) as err:
        wh.load(PURPOSE, twice, audit())
    assert (err.value.reason, err.value.table) == ("invalid_load", "customers")
    assert wh.tables() == []  # refused before anything, even the audit table, was created


def test_a_load_spec_that_cannot_work_is_refused_at_construction() -> None:
    with pytest.raises(WarehouseError) as err:
        TableLoad("events", [], EVENTS, {"nope": "x"}, "", mode="replace_range")
    assert err.value.reason == "invalid_load"
    assert "range_column" in str(err.value) and "nope" in str(err.value)


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
