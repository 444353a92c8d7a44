"""GX validates the staged rows themselves: results identify the file they checked, a stock
expectation added to a suite measures real rows, Data Docs work offline, GX stays quiet."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path

import pandas as pd
import pytest
from great_expectations.expectations import ExpectColumnValuesToBeInSet

import minimizer.gate.validate as validate
from tests.gate.test_expectations import KEEP, _gate, _policy, _token

EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e"  # the MD5 of nothing: what a row-less frame gives


def _frame(rows: int) -> pd.DataFrame:
    return pd.DataFrame(
        {"customer_id": [_token(f"C{i % 7}") for i in range(rows)], "note": ["fine"] * rows}
    )


def test_results_identify_the_staged_file_and_count_its_rows(tmp_path: Path) -> None:
    outcome = _gate(tmp_path, _policy(KEEP), _frame(1234), artefacts=True)
    assert outcome.success
    staged = tmp_path / "t.parquet"
    sha = hashlib.sha256(staged.read_bytes()).hexdigest()
    assert outcome.tables["t"]["rows"] == 1234 and outcome.tables["t"]["sha256"] == sha
    result = json.loads((tmp_path / "gate" / "results" / "t.json").read_text())
    markers = result["meta"]["batch_markers"]
    assert markers["staged_sha256"] == sha and markers["staged_rows"] == 1234
    assert markers["staged_file"] == str(staged) and markers["run_id"] == "run-1"
    assert result["meta"]["batch_spec"]["table_name"] == "t"  # a SQL batch over the view
    counted = [
        r for r in result["results"]
        if r["expectation_config"]["type"] == "expect_table_row_count_to_equal"
    ]  # fmt: skip
    assert counted[0]["result"]["observed_value"] == 1234  # GX counted the rows itself
    text = json.dumps(result)
    assert EMPTY_MD5 not in text and "pandas_data_fingerprint" not in text
    # the Data Docs page shows the same identity
    page = next((tmp_path / "gate" / "data_docs" / "validations").rglob("*.html")).read_text()
    assert sha in page


def test_a_stock_expectation_added_to_a_suite_checks_the_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Were GX handed a stand-in, a stock expectation would see no row and pass."""
    real = validate.build_suites

    def with_stock(*args: object, **kwargs: object) -> dict[str, object]:
        suites = real(*args, **kwargs)  # type: ignore[arg-type]
        suites["t"].add_expectation(ExpectColumnValuesToBeInSet(column="note", value_set=["fine"]))
        return suites  # type: ignore[return-value]

    monkeypatch.setattr(validate, "build_suites", with_stock)
    assert _gate(tmp_path / "ok", _policy(KEEP), _frame(500)).success
    planted = _frame(500)
    planted.loc[321, "note"] = "planted"
    outcome = _gate(tmp_path / "bad", _policy(KEEP), planted)
    failed = [
        f for f in outcome.failures if f["expectation"] == "expect_column_values_to_be_in_set"
    ]
    assert [(f["unexpected_count"], f["element_count"]) for f in failed] == [(1, 500)]


def test_the_stock_email_regex_list_sees_a_planted_address(tmp_path: Path) -> None:
    planted = _frame(300)
    planted.loc[7, "note"] = "schreib an erika.musterfrau@example.de"
    outcome = _gate(tmp_path, _policy(KEEP), planted, artefacts=True)
    stock = [
        f for f in outcome.failures
        if f["expectation"] == "expect_column_values_to_not_match_regex_list"
    ]  # fmt: skip
    assert [(f["column"], f["unexpected_count"]) for f in stock] == [("note", 1)]
    for path in (tmp_path / "gate").rglob("*"):
        if path.is_file():
            assert b"musterfrau" not in path.read_bytes(), path


def test_data_docs_reference_no_remote_asset_and_share_one_assets_folder(tmp_path: Path) -> None:
    gate = tmp_path / "artifacts" / "gate"
    for run in ("run-a", "run-b"):
        _gate(tmp_path / run, _policy(KEEP), _frame(5), into=gate / run)
    pages = sorted(gate.rglob("*.html"))
    assert len(pages) >= 6
    remote = re.compile(r"""<(?:link|script|img)\b[^>]*(?:href|src)=["']https?://""", re.I)
    for page in pages:
        html = page.read_text()
        assert not remote.search(html), page
        if "data_docs" in page.parts and "static" not in page.parts:
            assert "minimizer-offline.css" in html, page
    shared = gate / "_assets" / "gx-static"
    assert (shared / "styles" / "minimizer-offline.css").exists()
    for run in ("run-a", "run-b"):
        static = gate / run / "data_docs" / "static"
        assert static.is_symlink() and static.resolve() == shared.resolve()
    # the status icons have a glyph without Font Awesome
    assert "fa-check-circle::before" in (shared / "styles" / "minimizer-offline.css").read_text()


def test_great_expectations_logs_no_info_lines(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    _gate(tmp_path, _policy(KEEP), _frame(20), artefacts=True)
    chatty = [r for r in caplog.records if r.name.startswith("great_expectations")]
    assert all(r.levelno >= logging.WARNING for r in chatty), [r.getMessage() for r in chatty]
    assert logging.getLogger("great_expectations").getEffectiveLevel() == logging.WARNING
