"""The plan: data categories per source column, and source columns that do not exist."""

from __future__ import annotations

from pathlib import Path

import pytest

from minimizer.audit.record import build_record
from minimizer.cli import main
from minimizer.errors import PolicyError
from minimizer.plan import check_columns, plan_policy
from minimizer.policy import load_policy

ROOT = Path(__file__).resolve().parents[1]
PURPOSES = ROOT / "configs" / "purposes"
FIXTURES = Path(__file__).parent / "fixtures" / "policies"


def test_every_planned_source_column_has_a_data_category() -> None:
    plans = {p.source: p for p in plan_policy(load_policy(PURPOSES / "marketing_segments.yaml"))}
    customers = plans["customers"]
    assert customers.categories["first_name"].category.value == "direct_identifier"
    assert customers.categories["notes"].category.value == "free_text"
    assert customers.categories["birth_date"].kind == "birth_date"
    hint = next(c for c in customers.columns if c.output == "phone_hint")
    assert hint.source_columns == ("phone",) and hint.data_categories == ("direct_identifier",)
    web = plans["web_profiles"]
    assert web.categories["device_id"].category.value == "direct_identifier"


def test_drifted_columns_get_a_category_too() -> None:
    policy = load_policy(PURPOSES / "churn_analysis.yaml")
    (customers, _) = plan_policy(policy, {"customers": ["customer_id", "email", "lat"]})
    assert customers.drift == ("email", "lat")
    assert customers.categories["lat"].category.value == "precise_location"


def test_plan_prints_the_categories(capsys) -> None:
    assert main(["plan", str(PURPOSES / "footfall_heatmap.yaml")]) == 0
    out = capsys.readouterr().out
    assert "data categories" in out and "precise_location" in out and "time" in out


def test_plan_with_sources_refuses_a_column_the_source_lacks(synth_sources, tmp_path, capsys):
    text = (PURPOSES / "churn_analysis.yaml").read_text()
    text = text.replace("source: postcode,", "source: postcdoe,")
    policy = tmp_path / "churn_analysis.yaml"
    policy.write_text(text)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "postcdoe" in row)
    assert main(["plan", str(policy), "--sources", str(synth_sources)]) == 2
    err = capsys.readouterr().err
    assert f"churn_analysis.yaml:{line} at 'sources.customers.columns.postcode_area'" in err
    assert "'postcdoe' does not exist" in err and "did you mean 'postcode'?" in err


def test_plan_with_sources_passes_for_the_examples(synth_sources, capsys) -> None:
    for path in sorted(PURPOSES.glob("*.yaml")):
        assert main(["plan", str(path), "--sources", str(synth_sources)]) == 0, path


def test_check_columns_reports_keys_times_and_identifying_columns_at_once() -> None:
    policy = load_policy(PURPOSES / "marketing_segments.yaml")
    available = {"customers": ["customer_id", "birth_date", "city", "notes", "phone"]}
    with pytest.raises(PolicyError) as info:
        check_columns(policy, available)
    paths = {p.path for p in info.value.problems}
    assert {
        "sources.customers.columns.loyalty_tier",
        "sources.customers.identifying.0",
        "sources.customers.identifying.2",
    } <= paths
    assert all(p.line for p in info.value.problems)


def test_the_processing_record_lists_categories_and_exceptions() -> None:
    policy = load_policy(FIXTURES / "exception_with_reason.yaml")
    record = build_record(policy.purpose, policy, [], None)
    assert record.exceptions == policy.exceptions() and len(record.exceptions) == 1
    assert record.data_categories["direct_identifier"] == [
        "customers.customer_id",
        "customers.first_name",
    ]
    (source,) = record.sources
    read = {r["column"]: r["data_category"] for r in source["read"]}
    assert read == {"customer_id": "direct_identifier", "first_name": "direct_identifier"}
    json_record = record.to_json()
    assert json_record["exceptions"][0]["publishes"] == "direct_identifier"
