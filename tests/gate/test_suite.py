"""Suites are derived from the policy alone, one per output table."""

from __future__ import annotations

import doctest
import json
import subprocess
import sys
from pathlib import Path

import pytest

import minimizer.gate
import minimizer.gate.suite
from minimizer.gate.suite import build_suites, subject_column, table_columns
from minimizer.pii import DETECTORS as KINDS
from minimizer.policy import load_policy
from minimizer.transforms.truncate_time import TruncateTime

ROOT = Path(__file__).resolve().parents[2]
POLICIES = sorted((ROOT / "configs" / "purposes").glob("*.yaml"))
DETECTORS = len(KINDS)


def test_suite_doctests_pass() -> None:
    assert doctest.testmod(minimizer.gate.suite).failed == 0


@pytest.mark.parametrize("file", POLICIES, ids=[p.stem for p in POLICIES])
def test_every_output_table_gets_a_suite_from_its_policy(file: Path) -> None:
    policy = load_policy(file)
    suites = build_suites(policy)
    assert set(suites) == set(policy.sources)
    for table, suite in suites.items():
        spec = policy.sources[table]
        assert suite.name == f"{policy.purpose}.{table}"
        first = suite.expectations[0]
        assert first.expectation_type == "expect_table_columns_to_match_set"
        # the loaded table's columns: the outputs, and what the load adds (<bucket>_from ...)
        assert first.column_set == table_columns(policy, table) and first.exact_match
        assert first.column_set[: len(spec.outputs())] == list(spec.outputs())
        per_column: dict[str, list[str]] = {}
        for e in suite.expectations[1:]:
            column = getattr(e, "column", None)
            if column:
                per_column.setdefault(column, []).append(e.expectation_type)
        for column, transform in spec.outputs().items():
            detectors = [
                t
                for t in per_column.get(column, [])
                if t.startswith("expect_column_values_to_not_contain_") and "own_names" not in t
            ]
            # truncated dates and times hold no text, a closed format (token, H3 cell) fails
            # on any other value; every other output gets every detector
            formatted = "expect_column_values_to_match_output_format" in per_column.get(column, [])
            plain = not isinstance(transform, TruncateTime) and not formatted
            assert len(detectors) == (DETECTORS if plain else 0)
        guarantees = {
            e.meta["check"]: e.unexpected_rows_query
            for e in suite.expectations
            if e.expectation_type == "unexpected_rows_expectation"
        }
        k = policy.guarantees.k_anonymity
        loc = policy.guarantees.location
        has_k = k is not None and k.source == table
        assert ("k_anonymity" in guarantees) == has_k == ("k_anonymity_suppression" in guarantees)
        assert ("location" in guarantees) == (loc is not None and loc.source == table)
        if has_k:  # counted over people when the table publishes a stable pseudonym of its key
            subject = subject_column(spec)
            assert subject == "customer_id"
            assert f'COUNT(DISTINCT "{subject}")' in guarantees["k_anonymity"]


def test_the_same_policy_gives_the_same_suite() -> None:
    policy = load_policy(ROOT / "configs" / "purposes" / "marketing_segments.yaml")

    def plain(table: str) -> list[dict[str, object]]:
        doc = build_suites(policy)[table].to_json_dict()
        return [{"type": e["type"], "kwargs": e["kwargs"]} for e in doc["expectations"]]

    assert plain("customers") == plain("customers")
    assert json.dumps(plain("customers"))  # JSON as GX stores it
    retention = [e for e in plain("orders") if e["type"].endswith("within_retention")]
    assert retention == [
        {
            "type": "expect_column_values_to_be_within_retention",
            "kwargs": {
                "column": "order_quarter",
                "retention_cutoff": {"$PARAMETER": "retention_cutoff"},
                "unit": "quarter",
                "retention_days": 365.0,
            },
        }
    ]


def test_importing_the_gate_package_does_not_import_great_expectations() -> None:
    """The CLI and DAG files import minimizer.gate; GX (seconds to import) waits for a check."""
    code = (
        "import sys, minimizer.gate, minimizer.service; print('great_expectations' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
    assert sorted(minimizer.gate.__all__) == minimizer.gate.__all__


# -- red team: exact positions in float columns, and hierarchy labels that are the value ---------


@pytest.mark.parametrize(
    ("values", "flagged"),
    [
        ([52.5201, 52.5202, 52.5203], 3),  # latitudes of Berlin, to 10 m
        ([13.4049, -0.1276, 179.9999], 3),  # longitudes, both sides of Greenwich
        ([52.52, 13.4, 19.99, 0.30000000000000004], 0),  # 2 decimals, float (and float32) noise
        ([252.12345, -1000.5, float("nan"), float("inf")], 0),  # out of range, not finite
    ],
)
def test_a_float_column_with_precise_coordinates_fails_the_gate_under_any_name(
    values: list[float], flagged: int
) -> None:
    import pyarrow as pa

    from minimizer.gate.facts import ColumnFacts

    counts = pa.array([2] * len(values), type=pa.int64())
    for facts in (
        ColumnFacts.from_arrow(pa.array(values, type=pa.float64()), counts),
        ColumnFacts.from_arrow(pa.array(values, type=pa.float32()), counts),
        ColumnFacts.of(values, [2] * len(values)),
    ):
        hit = facts.detector("precise_coordinates")
        assert hit.applicable and hit.distinct == flagged and hit.rows == 2 * flagged
        # the policy's own grid is the bar: with 4 decimals allowed, none is flagged
        assert facts.detector("precise_coordinates", 4).distinct == 0


def test_a_decimal_column_gets_the_coordinate_check_too() -> None:
    from decimal import Decimal

    import pyarrow as pa

    from minimizer.gate.facts import ColumnFacts

    values = pa.array([Decimal("52.520008"), Decimal("12.50")], type=pa.decimal128(9, 6))
    facts = ColumnFacts.from_arrow(values, pa.array([1, 1], type=pa.int64()))
    assert facts.detector("precise_coordinates").distinct == 1


def test_a_kept_float_column_gets_the_coordinate_expectation(tmp_path: Path) -> None:
    text = (
        "description: d\nlegal_basis: consent\nowner: o\nretention: 30d\nsources:\n"
        "  s:\n    columns:\n      pos_a: keep\n      pos_b: keep\n"
    )
    (tmp_path / "floats.yaml").write_text(text)
    suite = build_suites(load_policy(tmp_path / "floats.yaml"))["s"]
    coords = [
        e.column
        for e in suite.expectations
        if e.expectation_type == "expect_column_values_to_not_contain_precise_coordinates"
    ]
    assert coords == ["pos_a", "pos_b"]


def test_a_hierarchy_over_a_name_gets_the_own_name_check(tmp_path: Path) -> None:
    from minimizer.gate.rules import identifier_plan, output_checks

    (tmp_path / "h.csv").write_text("Bauer;A-G;*\nBecker;A-G;*\nWagner;H-Z;*\nMeyer;H-Z;*\n")
    text = (
        "description: d\nlegal_basis: consent\nowner: o\nretention: 30d\nsources:\n"
        "  customers:\n    key: customer_id\n    columns:\n      customer_id: pseudonymise\n"
        "      grp: {generalise: hierarchy, file: h.csv, level: 1, source: last_name}\n"
        "      tier: {generalise: hierarchy, file: h.csv, level: 1, source: loyalty_tier}\n"
    )
    (tmp_path / "hier.yaml").write_text(text)
    policy = load_policy(tmp_path / "hier.yaml")
    assert identifier_plan(policy, "customers").text_outputs == ("grp",)
    checks = {c.column: c for c in output_checks(policy, "customers")[0]}
    assert checks["grp"].text and not checks["tier"].text
    suite = build_suites(policy)["customers"]
    own = [
        e.column
        for e in suite.expectations
        if e.expectation_type == "expect_column_values_to_not_contain_own_names"
    ]
    assert own == ["grp"]
