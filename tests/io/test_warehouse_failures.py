"""What goes wrong in a warehouse says what, where and why, on both targets, and never
quotes a value: reserved names are refused, a file named like a purpose works, a failing
statement is named with its table and column, and the driver's message is shown only when
it cannot hold data. Every load registers its tables and records the counts they hold."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from minimizer.io.warehouse import (
    RESERVED_SCHEMAS,
    TableLoad,
    Warehouse,
    WarehouseError,
    is_reserved_schema,
    open_warehouse,
)
from minimizer.keys import KeyRing
from minimizer.rights.erasure import ErasureRequest, erase_subjects
from tests.conftest import TEST_MASTER

PG_URL = os.environ.get("MINIMIZER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
SECRET = "Berlin-Mitte-4711"  # a value that must never appear in an error
SCHEMA = pa.schema([("customer", pa.string()), ("tier", pa.string()), ("when", pa.string())])


def audit(purpose: str) -> dict:
    now = datetime.now(UTC)
    return {
        "run_id": f"{purpose}-{uuid.uuid4().hex[:8]}",
        "purpose": purpose,
        "policy_sha256": "0" * 64,
        "status": "loaded",
        "started_at": now,
        "finished_at": now,
        "key_version": 1,
        "rows_in": {"customers": 3},
        "rows_out": {"customers": 3},
        "dropped_columns": {},
        "schema_drift": {},
        "details": {},
    }


def staged(tmp_path: Path, table: pa.Table) -> Path:
    path = tmp_path / f"{uuid.uuid4().hex}.parquet"
    pq.write_table(table, path)
    return path


def rows(tmp_path: Path) -> TableLoad:
    table = pa.table(
        {"customer": ["a", "b", "c"], "tier": ["gold", SECRET, "iron"], "when": ["x"] * 3},
        schema=SCHEMA,
    )
    return TableLoad("customers", [staged(tmp_path, table)], SCHEMA)


@pytest.fixture(params=["duckdb", pytest.param("postgresql", marks=pytest.mark.postgres)])
def target(request, tmp_path: Path) -> Iterator[tuple[Warehouse, str]]:
    """(warehouse, a fresh purpose) on each target; PostgreSQL cleans up after itself."""
    if request.param == "duckdb":
        # Named like the purpose: DuckDB would call its catalogue churn_analysis too.
        with open_warehouse(tmp_path / "churn_analysis.duckdb") as wh:
            yield wh, "churn_analysis"
        return
    name = f"mz_fail_{uuid.uuid4().hex[:10]}"
    with open_warehouse(PG_URL) as wh:
        try:
            yield wh, name
        finally:
            with psycopg.connect(PG_URL, autocommit=True) as admin:
                admin.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
                admin.execute(f"DELETE FROM minimizer_audit.runs WHERE purpose = '{name}'")
                admin.execute(f"DELETE FROM minimizer_audit.loaded_tables WHERE purpose = '{name}'")


@pytest.mark.parametrize(
    "schema", ["minimizer_audit", "MINIMIZER_AUDIT", "pg_catalog", "pg_mine", "public", "main"]
)
def test_the_loader_never_writes_a_reserved_schema(target, tmp_path, schema):
    wh, _ = target
    before = sorted(wh.tables())
    with pytest.raises(WarehouseError) as info:
        wh.load(schema, [TableLoad("suppressed_subjects", [], SCHEMA)], audit(schema))
    assert info.value.reason == "reserved_name" and "reserved schema name" in str(info.value)
    assert sorted(wh.tables()) == before


def test_the_reserved_names_cover_the_audit_schema_and_the_engines():
    assert {"minimizer_audit", "information_schema", "main", "memory", "temp"} <= RESERVED_SCHEMAS
    assert is_reserved_schema("Minimizer_Audit") and is_reserved_schema("pg_toast_1")
    assert not is_reserved_schema("churn_analysis")


def test_a_warehouse_file_named_like_the_purpose_loads_reads_and_queries(target, tmp_path):
    wh, purpose = target
    counts = wh.load(purpose, [rows(tmp_path)], audit(purpose))
    assert counts == {"customers": 3}
    assert sorted(wh.read(purpose, "customers").customer) == ["a", "b", "c"]
    assert wh.query(f"SELECT count(*) AS n FROM {purpose}.customers").n.tolist() == [3]
    assert (purpose, "customers") in wh.tables()
    if wh.kind == "duckdb":  # (on the shared server it would leave an erasure record)
        # Erasure's catalogue reads and deletes resolve the purpose's tables too.
        ring = KeyRing({1: TEST_MASTER}, 1)
        report = erase_subjects(wh, [], ring, [ErasureRequest("nobody")])
        assert report.not_found == 1 and f"{purpose}.customers" in report.tables


def test_a_binder_error_is_shown_with_statement_table_and_column(target, tmp_path):
    wh, purpose = target
    wh.load(purpose, [rows(tmp_path)], audit(purpose))
    # Retention on a text column: the database refuses to compare text with a timestamp.
    more = pa.table({"customer": ["d"], "tier": [SECRET], "when": ["y"]}, schema=SCHEMA)
    bad = TableLoad(
        "customers",
        [staged(tmp_path, more)],
        SCHEMA,
        retention_column="when",
        retention_cutoff=datetime(2026, 1, 1, tzinfo=UTC),
    )
    with pytest.raises(WarehouseError) as info:
        wh.load(purpose, [bad], audit(purpose))
    text = str(info.value)
    assert "statement=retention delete" in text and "table=customers" in text
    assert "column=when" in text and info.value.detail  # the driver's message, shown
    assert any(w in info.value.detail.lower() for w in ("compare", "operator", "type"))
    assert SECRET not in text
    assert sorted(wh.read(purpose, "customers").customer) == ["a", "b", "c"]  # rolled back


def test_a_data_error_is_named_but_its_message_is_not_shown(target, tmp_path):
    wh, purpose = target
    typed = pa.schema([("customer", pa.string()), ("tier", pa.int64()), ("when", pa.string())])
    # The staged file holds text where the load schema promises integers.
    load = TableLoad("customers", [rows(tmp_path).files[0]], typed)
    with pytest.raises(WarehouseError) as info:
        wh.load(purpose, [load], audit(purpose))
    text = str(info.value)
    assert "table=customers" in text and "statement=" in text
    assert info.value.detail is None and SECRET not in text and "gold" not in text


def test_the_audit_row_records_the_rows_the_tables_hold_after_retention(target, tmp_path):
    wh, purpose = target
    times = pa.schema([("customer", pa.string()), ("ts", pa.timestamp("us", tz="UTC"))])
    table = pa.table(
        {
            "customer": ["old", "new", "none"],
            "ts": [datetime(2020, 1, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC), None],
        },
        schema=times,
    )
    load = TableLoad(
        "events",
        [staged(tmp_path, table)],
        times,
        retention_column="ts",
        retention_cutoff=datetime(2026, 1, 1, tzinfo=UTC),
        registry={"subject:customer:token:never": {"column": "customer", "kind": "token"}},
    )
    row = audit(purpose)
    assert wh.load(purpose, [load], {**row, "rows_out": {"events": 3}}) == {"events": 1}
    runs = wh.audit_runs(purpose)
    assert (
        runs.rows_out.tolist() == [{"events": 1}] == [{"events": len(wh.read(purpose, "events"))}]
    )
    registry = wh.read("minimizer_audit", "loaded_tables")
    mine = registry[registry.purpose == purpose]
    assert sorted(mine.entry) == ["subject:customer:token:never", "table"]
    assert set(mine.run_id) == {row["run_id"]}
