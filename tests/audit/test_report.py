"""The processing record: derived from the policy and the runs, written as HTML and JSON."""

from __future__ import annotations

import doctest
import json
from pathlib import Path
from typing import Any

import pytest

import minimizer.audit.categories
from minimizer.audit.history import load_runs
from minimizer.audit.record import flatten
from minimizer.cli import main
from minimizer.io.warehouse import open_warehouse
from tests.audit.conftest import AuditRuns
from tests.gate.probe import PLANTED, PURPOSE

SECTIONS = (
    "Records of processing activities",
    f"Processing record: {PURPOSE}",
    "Purpose and legal basis",
    "Categories of personal data",
    "Transformation of each column",
    "Retention",
    "Guarantees",
    "Gate results over time",
)


@pytest.fixture(scope="module")
def report(audit_runs: AuditRuns, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    code = main(
        ["audit", "report", "--warehouse", str(audit_runs.warehouse), "--out", str(out),
         "--artifacts", str(audit_runs.artifacts), "--policies", str(audit_runs.policies)]
    )  # fmt: skip
    assert code == 0
    return out


def _record(report: Path) -> dict[str, Any]:
    doc = json.loads((report / "processing_record.json").read_text())
    assert doc["format"] == "minimizer-processing-record/1"
    (record,) = [p for p in doc["purposes"] if p["purpose"] == PURPOSE]
    return record


def test_categories_doctests_pass() -> None:
    assert doctest.testmod(minimizer.audit.categories).failed == 0


def test_runs_come_from_the_warehouse_and_failed_ones_from_the_run_log(
    audit_runs: AuditRuns,
) -> None:
    assert audit_runs.codes == (0, 3, 0)
    with open_warehouse(str(audit_runs.warehouse)) as wh:
        runs = load_runs(wh, audit_runs.artifacts)[PURPOSE]
    assert [r["status"] for r in runs] == ["loaded", "failed", "loaded"]
    assert [r["origin"] for r in runs] == ["warehouse", "runs.jsonl", "warehouse"]
    with open_warehouse(str(audit_runs.warehouse)) as wh:
        assert load_runs(wh, None)[PURPOSE][0]["status"] == "loaded"  # no log: loaded only


def test_the_record_states_purpose_basis_owner_and_retention_from_the_policy(
    report: Path,
) -> None:
    record = _record(report)
    assert record["description"] == "Probe of the leak gate with planted values."
    assert (record["legal_basis"], record["owner"]) == ("legitimate_interest", "gate-tests")
    assert record["retention_days"] == 3650
    assert record["policy_sha256"] and record["policy_file"].endswith(f"{PURPOSE}.yaml")


def test_categories_in_and_out_and_every_column_transformation(report: Path) -> None:
    record = _record(report)
    assert "customers.first_name" in record["categories_in"]["names"]
    assert "customers.customer_id" in record["categories_in"]["identifiers"]
    assert "customers.customer_id (pseudonym)" in record["categories_out"]["identifiers"]
    customers = next(s for s in record["sources"] if s["source"] == "customers")
    by_output = {t["output"]: t for t in customers["transformations"] if t["output"]}
    assert by_output["customer_id"]["treatment"] == "pseudonym"
    assert by_output["notes"]["treatment"] == "scrubbed"
    dropped = {t["from"][0] for t in customers["transformations"] if t["action"] == "drop"}
    assert {"email", "iban", "contact_email"} <= dropped  # contact_email: schema drift
    assert customers["drift"] == ["contact_email"]


def test_the_history_shows_each_gate_result_with_its_failures(
    report: Path, audit_runs: AuditRuns
) -> None:
    runs = _record(report)["runs"]
    assert [r["gate"]["success"] for r in runs] == [True, False, True]
    failed = runs[1]
    assert failed["status"] == "failed" and failed["rows_out"] > 0
    assert {
        "table": "customers",
        "column": "note_email",
        "expectation": "expect_column_values_to_not_contain_email",
    }.items() <= failed["gate"]["failures"][0].items()
    assert failed["error"].startswith("GateError: leak gate failed")
    for run in runs:
        docs = Path(run["gate"]["data_docs"])
        assert docs.is_file() and audit_runs.artifacts in docs.parents


def test_measured_values_come_from_the_last_loaded_run(report: Path) -> None:
    record = _record(report)
    measured = record["measured"]
    assert measured["run_id"] == record["runs"][-1]["run_id"]
    assert measured["measures"]["customers.canary.identifier_columns"].startswith("customer_id")
    assert measured["measures"]["customers.canary.own_name_rows.notes"] == 0


def test_the_page_has_every_section_plots_and_links(report: Path) -> None:
    html = (report / "index.html").read_text()
    for section in SECTIONS:
        assert section in html
    for image in (f"{PURPOSE}-rows.png", f"{PURPOSE}-gate.png"):
        assert f'src="{image}"' in html
        assert (report / image).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert html.count(">gate results</a>") == 3
    assert "<script" not in html and "http" not in html.replace("http-equiv", "")


def test_the_record_and_page_hold_no_raw_value(report: Path, audit_runs: AuditRuns) -> None:
    planted = [text.lower() for text in PLANTED.values()]
    for path in report.iterdir():
        data = path.read_bytes().lower()
        assert not [p for p in planted if p.encode() in data], path.name


def test_a_purpose_without_its_policy_file_keeps_its_run_history(
    audit_runs: AuditRuns, tmp_path: Path
) -> None:
    from minimizer.audit.report import write_report

    files = write_report(
        str(audit_runs.warehouse), tmp_path, artifacts=audit_runs.artifacts, policies=None
    )
    assert files.purposes == (PURPOSE,)
    html = files.html.read_text()
    assert "no policy file found" in html and "Gate results over time" in html


def test_flatten_keeps_figures_and_names_only() -> None:
    doc = {"k": {"min": 5, "qis": ["a", "b"], "nested": {"ok": True}}, "frames": [{"x": 1}]}
    assert flatten(doc) == {"k.min": 5, "k.qis": "a, b", "k.nested.ok": True}
