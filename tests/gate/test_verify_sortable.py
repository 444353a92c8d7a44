"""``minimizer audit verify`` on a demo-style warehouse: every example purpose run through the
CLI into one DuckDB file, churn_analysis with its sortable ``amount_band`` (so its orders table
holds ``amount_band_from`` beside the label). The suite's column set comes from the policy,
bounds included, and its own check recomputes every bound from its label: a bound that says
more than its label fails, as a missing one does."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from minimizer.cli import main
from minimizer.policy import load_policy
from tests.conftest import TEST_MASTER_B64

ROOT = Path(__file__).resolve().parents[2]
POLICIES = sorted((ROOT / "configs" / "purposes").glob("*.yaml"))
ORDERS = "churn_analysis.orders"
FOOTFALL = "footfall_heatmap.events"  # an aggregate: verify re-runs the loaded counts' suite
PURPOSES = [load_policy(p).purpose for p in POLICIES]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, synth_sources: Path) -> tuple[Path, Path]:
    """A warehouse and artefacts as `make demo` leaves them: every example purpose, loaded."""
    where = tmp_path_factory.mktemp("demo")
    warehouse, artifacts = where / "warehouse.duckdb", where / "artifacts"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MINIMIZER_MASTER_KEY", TEST_MASTER_B64)
        for policy in POLICIES:
            args = ["run", str(policy), "--sources", str(synth_sources)]
            args += ["--warehouse", str(warehouse), "--artifacts", str(artifacts)]
            assert main(args) == 0, policy.name
    return warehouse, artifacts


def _verify(warehouse: Path, artifacts: Path) -> int:
    purposes = [a for p in PURPOSES for a in ("--purpose", p)]
    args = ["audit", "verify", "--warehouse", str(warehouse), "--artifacts", str(artifacts)]
    return main([*args, *purposes])


def _copy(demo: tuple[Path, Path], tmp_path: Path) -> Path:
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy2(demo[0], copy)
    return copy


def test_the_demo_warehouse_verifies_with_the_bound_column(
    demo: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    warehouse, artifacts = demo
    assert _verify(warehouse, artifacts) == 0
    out = capsys.readouterr().out
    assert f"{ORDERS}:" in out and "every expectation passed" in out
    # The published suite (what verify re-runs) expects the bound, from the policy ...
    (index,) = (
        i
        for i in (artifacts / "gate").glob("*/suites/index.json")
        if json.loads(i.read_text())["purpose"] == "churn_analysis"
    )
    suite = json.loads((index.parent / "orders.json").read_text())
    by_type = {e["type"]: e for e in suite["expectations"]}
    columns = by_type["expect_table_columns_to_match_set"]["kwargs"]["column_set"]
    assert columns == ["customer_id", "order_month", "amount_band", "channel", "amount_band_from"]
    checks = [e["meta"].get("check") for e in suite["expectations"] if e.get("meta")]
    assert "sortable_bound" in checks
    # ... and the loaded table sorts its buckets numerically by it.
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.sql(
            f"SELECT amount_band, min(amount_band_from) AS lo FROM {ORDERS} "
            "GROUP BY amount_band ORDER BY lo NULLS LAST"
        ).fetchall()
    labels, bounds = [r[0] for r in rows], [r[1] for r in rows]
    assert labels[:2] == ["[0, 25)", "[25, 50)"] and bounds == sorted(bounds)


# What an insider (or a faulty re-enforcement) could leave in the loaded table.
TAMPERING = {
    # a bound finer than its bucket: one row's amount, to the cent
    "bound_finer_than_label": (
        f"UPDATE {ORDERS} SET amount_band_from = amount_band_from + 7.31 "
        f"WHERE rowid = (SELECT min(rowid) FROM {ORDERS} WHERE amount_band LIKE '[%')",
        "unexpected_rows_expectation",
    ),
    # a label suppressed to * that keeps its bound (the bound would tell the bucket)
    "bound_left_on_a_suppressed_row": (
        f"UPDATE {ORDERS} SET amount_band = '*' "
        f"WHERE rowid = (SELECT min(rowid) FROM {ORDERS} WHERE amount_band LIKE '[%')",
        "unexpected_rows_expectation",
    ),
    # the bound column gone: the table no longer is what the policy publishes
    "bound_dropped": (
        f"ALTER TABLE {ORDERS} DROP COLUMN amount_band_from",
        "expect_table_columns_to_match_set",
    ),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_verify_fails_when_the_bound_says_more_than_the_label_or_is_missing(
    case: str, demo: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    statement, expectation = TAMPERING[case]
    warehouse = _copy(demo, tmp_path)
    with duckdb.connect(str(warehouse)) as con:
        con.execute(statement)
    capsys.readouterr()
    assert _verify(warehouse, demo[1]) == 3
    seen = capsys.readouterr()
    assert expectation in seen.err and ORDERS in seen.err
    assert "7.31" not in seen.out + seen.err  # counts and names only, never a value


def test_an_aggregate_table_verifies_against_the_suite_of_its_loaded_counts(
    demo: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    warehouse, artifacts = demo
    assert _verify(warehouse, artifacts) == 0
    assert f"{FOOTFALL}:" in capsys.readouterr().out
    (index,) = (
        i
        for i in (artifacts / "gate").glob("*/suites/index.json")
        if json.loads(i.read_text())["purpose"] == "footfall_heatmap"
    )
    assert json.loads(index.read_text())["tables"]["events"] == "suites/events.loaded.json"
    suite = json.loads((index.parent / "events.loaded.json").read_text())
    checks = {e["meta"]["check"] for e in suite["expectations"] if e.get("meta")}
    assert {"aggregate_threshold", "aggregate_keys"} <= checks


# (the test's few synthetic visitors may leave every group withheld: the rows are added)
_ROW = "INSERT INTO " + FOOTFALL + " (cell, hour, events, distinct_subjects) VALUES "
AGGREGATE_TAMPERING = {
    # a group below the threshold: the one person in it could be singled out
    "small_group": _ROW + "('861fb4667ffffff', TIMESTAMP '2026-11-02 10:00:00', 3, 1)",
    # a row-level token put back beside the counts
    "token_column": f"ALTER TABLE {FOOTFALL} ADD COLUMN visitor VARCHAR",
    # a key blanked: counts of an unnamed group
    "null_key": _ROW + "(NULL, TIMESTAMP '2026-11-02 10:00:00', 40, 20)",
}


@pytest.mark.parametrize("case", sorted(AGGREGATE_TAMPERING))
def test_verify_fails_when_the_loaded_counts_are_tampered_with(
    case: str, demo: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    warehouse = _copy(demo, tmp_path)
    with duckdb.connect(str(warehouse)) as con:
        con.execute(AGGREGATE_TAMPERING[case])
    capsys.readouterr()
    assert _verify(warehouse, demo[1]) == 3
    assert FOOTFALL in capsys.readouterr().err
