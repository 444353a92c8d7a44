"""Buckets sort in numeric order through `<column>_from`, in DuckDB and PostgreSQL alike."""

from __future__ import annotations

import doctest
import os
import uuid
from pathlib import Path

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import minimizer.sortable
from minimizer.catalog import describe_purpose
from minimizer.flow import run_purpose
from minimizer.gate.suite import build_suites
from minimizer.gate.validate import _staged_database
from minimizer.io.warehouse import open_warehouse
from minimizer.keys import KeyRing
from minimizer.lineage.events import run_events
from minimizer.pipeline import RunReport, Sources
from minimizer.policy import load_policy
from minimizer.sortable import loaded_columns, lower_bounds, sortable_buckets, with_lower_bounds
from tests.conftest import AS_OF, TEST_MASTER

PG = os.environ.get("MINIMIZER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
POLICY = """\
purpose: {purpose}
description: Order amounts in buckets, sortable.
legal_basis: legitimate_interest
owner: analytics-team@example.com
retention: 400d
sources:
  orders:
    kind: table
    key: customer_id
    time: order_date
    on_invalid: reject
    columns:
      customer_id: pseudonymise
      order_month: {{generalise: month, source: order_date}}
      amount_band: {{generalise: bucket, source: amount, width: 25, top: 500, sortable: true}}
      channel: keep
"""


def _policy(tmp_path: Path, purpose: str):
    path = tmp_path / f"{purpose}.yaml"
    path.write_text(POLICY.format(purpose=purpose))
    return load_policy(path)


def _load(policy, sources: Path, warehouse: str) -> RunReport:
    ring = KeyRing(masters={1: TEST_MASTER}, current=1)
    with open_warehouse(warehouse) as wh:
        return run_purpose(policy, Sources.from_dir(sources), wh, ring, as_of=AS_OF)


def _check_order(warehouse: str, purpose: str) -> None:
    with open_warehouse(warehouse) as wh:
        table = f'"{purpose}"."orders"'
        by_text = wh.query(f"SELECT DISTINCT amount_band FROM {table} ORDER BY amount_band")
        by_bound = wh.query(
            f"SELECT amount_band, min(amount_band_from) AS lo FROM {table} "
            "GROUP BY amount_band ORDER BY lo"
        )
        comments = wh.column_comments(purpose, "orders")
    labels = list(by_bound["amount_band"])
    bounds = list(by_bound["lo"])
    assert bounds == sorted(bounds) and len(labels) > 3
    # The text order is wrong ([100, 125) before [25, 50)); the bound's order is numeric.
    assert list(by_text["amount_band"]) != labels
    assert labels[:2] == ["[0, 25)", "[25, 50)"]
    assert "ORDER BY amount_band_from" in comments["amount_band_from"]


def test_labels_become_their_lower_bound():
    labels = pa.array(["[100, 125)", "[25, 50)", "[-inf, 18)", "<0", ">=500", "*", None, "1e+06"])
    assert lower_bounds(labels).to_pylist()[:5] == [
        100.0,
        25.0,
        float("-inf"),
        float("-inf"),
        500.0,
    ]
    assert lower_bounds(labels).to_pylist()[5:] == [None, None, None]


def test_a_quasi_identifier_bucket_gets_no_bound_that_generalisation_would_leave_behind(tmp_path):
    text = POLICY.format(purpose="qi_bucket").replace(
        "      channel: keep\n",
        "      channel: keep\nguarantees:\n  k_anonymity:\n    source: orders\n    k: 5\n"
        "    quasi_identifiers: [amount_band, channel]\n    max_suppression: 0.05\n",
    )
    (tmp_path / "qi_bucket.yaml").write_text(text)
    assert sortable_buckets(load_policy(tmp_path / "qi_bucket.yaml"), "orders") == []
    assert sortable_buckets(_policy(tmp_path, "plain_bucket"), "orders") == ["amount_band"]


def test_order_by_the_bound_is_numeric_in_duckdb(tmp_path, synth_sources):
    policy = _policy(tmp_path, "sortable_orders")
    warehouse = str(tmp_path / "w.duckdb")
    report = _load(policy, synth_sources, warehouse)
    _check_order(warehouse, "sortable_orders")
    # The dictionary and the lineage know the added column too.
    with open_warehouse(warehouse) as wh:
        (orders,) = describe_purpose(policy, wh).tables
    bound = next(c for c in orders.columns if c.name == "amount_band_from")
    assert bound.after_load and "ORDER BY amount_band_from" in bound.after_load
    done = run_events(policy, report, warehouse=warehouse)[-1]
    fields = done.outputs[0].facets["columnLineage"].fields
    assert fields["amount_band_from"].inputFields[0].field == "amount"
    assert fields["amount_band_from"].inputFields[0].transformations[0].masking is True
    schema = [f.name for f in done.outputs[0].facets["schema"].fields]
    assert schema[-1] == "amount_band_from"
    with open_warehouse(warehouse) as wh:
        types = wh.query(
            "SELECT data_type FROM information_schema.columns "
            "WHERE table_schema = 'sortable_orders' AND column_name = 'amount_band_from'"
        )
    assert list(types["data_type"]) == ["DOUBLE"]


@pytest.mark.postgres
def test_order_by_the_bound_is_numeric_in_postgres(tmp_path, synth_sources):
    purpose = f"sortable_{uuid.uuid4().hex[:8]}"
    policy = _policy(tmp_path, purpose)
    try:
        _load(policy, synth_sources, PG)
        _check_order(PG, purpose)
    finally:
        with psycopg.connect(PG, autocommit=True) as con:
            con.execute(f'DROP SCHEMA IF EXISTS "{purpose}" CASCADE')
            con.execute("DELETE FROM minimizer_audit.runs WHERE purpose = %s", (purpose,))


def test_the_loaded_columns_and_the_gate_suite_come_from_the_policy(tmp_path):
    policy = _policy(tmp_path, "sortable_columns")
    columns = ["customer_id", "order_month", "amount_band", "channel", "amount_band_from"]
    assert loaded_columns(policy, "orders") == columns
    suite = build_suites(policy)["orders"]
    assert suite.expectations[0].column_set == columns
    (check,) = [e for e in suite.expectations if (e.meta or {}).get("check") == "sortable_bound"]
    assert '"amount_band_from" IS DISTINCT FROM' in check.unexpected_rows_query


def test_the_gate_sees_the_table_with_the_bounds_the_load_adds(tmp_path):
    """The gate validates the staged file as the load will publish it: same rows, same bounds
    (both from lower_bounds), no row lost or doubled by the lookup."""
    policy = _policy(tmp_path, "sortable_gate")
    labels = ["[0, 25)", "[100, 125)", ">=500", "*", None, "[25, 50)", "[0, 25)", "<0"]
    staged = tmp_path / "orders.parquet"
    pq.write_table(
        pa.table(
            {
                "customer_id": [f"c{i}" for i in range(len(labels))],
                "order_month": pa.array([None] * len(labels), pa.date32()),
                "amount_band": labels,
                "channel": ["web"] * len(labels),
            }
        ),
        staged,
    )
    loaded, _, _ = with_lower_bounds(policy, "orders", staged, pq.read_schema(staged))
    bounds = {"orders": ["amount_band"]}
    with _staged_database({"orders": staged}, tmp_path, bounds) as database:
        con = duckdb.connect(str(database), read_only=True)
        seen = con.sql("SELECT * FROM orders ORDER BY customer_id").to_arrow_table()
        con.close()
    expected = pq.read_table(loaded).sort_by("customer_id")
    assert seen.column_names == expected.column_names == loaded_columns(policy, "orders")
    assert seen.column("amount_band_from").to_pylist() == (
        expected.column("amount_band_from").to_pylist()
    )
    assert seen.num_rows == len(labels)


def test_doctests_pass():
    assert doctest.testmod(minimizer.sortable).failed == 0
