"""The record for auditors in words: figures explained, risks marked, erasures and rotations
summarised without ids, plots over time, and no record at all from the wrong folder."""

from __future__ import annotations

import doctest
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

import minimizer.audit.explain
from minimizer.audit.explain import DEFAULT_MAX_UNICITY
from minimizer.audit.html import render
from minimizer.audit.record import ProcessingRecord
from minimizer.cli import main
from tests.audit.conftest import ExampleRuns


@pytest.fixture(scope="module")
def report(example_runs: ExampleRuns, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("words")
    code = main(
        ["audit", "report", "--warehouse", str(example_runs.warehouse), "--out", str(out),
         "--artifacts", str(example_runs.artifacts), "--policies", str(example_runs.policies)]
    )  # fmt: skip
    assert code == 0
    return out


def _record(report: Path, purpose: str) -> dict[str, Any]:
    doc = json.loads((report / "processing_record.json").read_text())
    (record,) = [p for p in doc["purposes"] if p["purpose"] == purpose]
    return record


def _texts(record: dict[str, Any], start: str) -> list[dict[str, Any]]:
    (found,) = [v for k, v in record["findings"].items() if k.startswith(start)]
    return found


def test_explain_doctests_pass() -> None:
    assert doctest.testmod(minimizer.audit.explain).failed == 0


def test_k_anonymity_levels_are_words_and_a_collapsed_column_is_a_warning(
    report: Path, example_runs: ExampleRuns
) -> None:
    with duckdb.connect(str(example_runs.warehouse), read_only=True) as con:
        tiers = con.sql("SELECT DISTINCT loyalty_tier FROM churn_analysis.customers").fetchall()
    assert tiers == [("*",)]  # checked independently: the column really collapsed
    found = _texts(_record(report, "churn_analysis"), "k-anonymity on customers")
    texts = [f["text"] for f in found]
    assert "loyalty_tier: generalised one level (to *)" in texts
    (warning,) = [f["text"] for f in found if f["warning"]]
    assert warning.startswith("loyalty_tier collapsed to * in every row")
    for fix in ("lower k", "fewer quasi-identifiers", "max_suppression", "mondrian"):
        assert fix in warning
    assert any(t.startswith("discernibility ") and "information loss" in t for t in texts)
    assert any("rows suppressed" in t and "allows up to 5%" in t for t in texts)


def test_unicity_states_its_basis_and_is_marked_against_the_target(report: Path) -> None:
    record = _record(report, "footfall_rows")
    (unicity,) = [
        f for f in _texts(record, "location on events") if f["text"].startswith("unicity with")
    ]
    value = float(record["measured"]["guarantees"]["location.unicity_after"])
    assert "raw lat/lon rounded to 4 decimals" in unicity["text"]
    assert unicity["warning"] is (value > DEFAULT_MAX_UNICITY)
    assert ("above" if value > DEFAULT_MAX_UNICITY else "below") in unicity["text"]


def test_the_page_shows_the_findings_with_their_warnings(report: Path) -> None:
    html = (report / "index.html").read_text()
    assert "loyalty_tier: generalised one level (to *)" in html
    assert '<li class="warning"><strong>warning:</strong> loyalty_tier collapsed' in html


def test_erasures_are_counted_and_dated_without_any_id(
    report: Path, example_runs: ExampleRuns
) -> None:
    erasures = _record(report, "churn_analysis")["erasures"]
    assert erasures["subjects"] == 1 and erasures["first"] == erasures["last"]
    with duckdb.connect(str(example_runs.warehouse), read_only=True) as con:
        ids = con.sql("SELECT erasure_id, subject_digest FROM minimizer_audit.erasures").fetchall()
    total = sum(
        sum(_record(report, p)["erasures"]["rows_deleted"].values())
        for p in ("churn_analysis", "footfall_rows")
    )
    assert total == example_runs.erased_rows
    for path in report.iterdir():
        data = path.read_bytes()
        assert not [v for row in ids for v in row if v.encode() in data], path.name
    assert "Erasures (GDPR Art. 17)" in (report / "index.html").read_text()


def test_key_rotations_show_versions_and_dates(report: Path) -> None:
    rotations = _record(report, "churn_analysis")["rotations"]
    (rekey,) = [r for r in rotations if r["event"].startswith("re-keyed")]
    assert (rekey["from_versions"], rekey["to_version"]) == ([1], 2) and rekey["rows"] > 0
    assert "Key rotations" in (report / "index.html").read_text()


def test_plots_are_over_time_and_risk_only_where_guarantees_measure_it(report: Path) -> None:
    for purpose in ("churn_analysis", "footfall_rows"):
        for kind in ("rows", "gate", "risk"):
            image = report / f"{purpose}-{kind}.png"
            assert image.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
            assert f'src="{image.name}"' in (report / "index.html").read_text()
    assert not (report / "marketing_segments-risk.png").exists()  # no runs of it here


@pytest.mark.parametrize("folder", ["missing", "empty"])
def test_audit_report_from_the_wrong_folder_is_an_error(
    folder: str, example_runs: ExampleRuns, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policies = tmp_path / folder
    if folder == "empty":
        policies.mkdir()
    args = ["audit", "report", "--warehouse", str(example_runs.warehouse)]
    assert main([*args, "--out", str(tmp_path / "out"), "--policies", str(policies)]) == 2
    err = capsys.readouterr().err
    assert "no purpose policy (*.yaml)" in err and str(policies) in err
    assert not (tmp_path / "out" / "index.html").exists()


def test_the_page_escapes_every_text_of_a_policy() -> None:
    record = ProcessingRecord(purpose="p", description="<script>alert(1)</script> & <b>")
    record.guarantees = ['<img src="x" onerror="alert(2)">']
    html = render([record], {}, Path("."))
    assert "<script>alert" not in html and "<img src=" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;" in html
