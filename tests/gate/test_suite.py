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
from minimizer.gate.suite import build_suites
from minimizer.policy import load_policy
from minimizer.transforms.truncate_time import TruncateTime

ROOT = Path(__file__).resolve().parents[2]
POLICIES = sorted((ROOT / "configs" / "purposes").glob("*.yaml"))
DETECTORS = 9


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
        assert first.column_set == list(spec.outputs()) and first.exact_match
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
            # truncated dates and times hold no text; every other output gets every detector
            assert len(detectors) == (0 if isinstance(transform, TruncateTime) else DETECTORS)
        guarantees = {
            e.expectation_type for e in suite.expectations if not getattr(e, "column", None)
        }
        k = policy.guarantees.k_anonymity
        loc = policy.guarantees.location
        assert ("expect_table_equivalence_classes_to_have_min_size" in guarantees) == (
            k is not None and k.source == table
        )
        assert ("expect_table_cells_to_have_min_distinct_subjects" in guarantees) == (
            loc is not None and loc.source == table
        )


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
