import json
from pathlib import Path

import pytest

from minimizer.errors import PolicyError
from minimizer.policy import load_policy, parse_duration, policy_json_schema

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "policies"
EXAMPLES = sorted((ROOT / "configs" / "purposes").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_policy_loads(path):
    policy = load_policy(path)
    assert policy.purpose == path.stem
    assert len(policy.sha256) == 64


def test_the_three_required_examples_exist():
    assert {"churn_analysis", "footfall_heatmap", "marketing_segments"} <= {
        p.stem for p in EXAMPLES
    }


def test_an_unknown_action_names_file_line_field_and_the_allowed_ones():
    with pytest.raises(PolicyError) as info:
        load_policy(FIXTURES / "unknown_action.yaml")
    (problem,) = info.value.problems
    assert problem.file.endswith("unknown_action.yaml")
    assert problem.line == 10
    assert problem.path == "sources.customers.columns.customer_id"
    assert "did you mean pseudonymise?" in problem.message
    assert "allowed:" in problem.message and "{generalise: month}" in problem.message


def test_all_problems_are_reported_at_once():
    with pytest.raises(PolicyError) as info:
        load_policy(FIXTURES / "many_problems.yaml")
    by_path = {p.path: p for p in info.value.problems}
    assert (
        by_path["legal_basis"].line == 3 and "legitimate_interest" in by_path["legal_basis"].message
    )
    assert by_path["retention"].line == 5 and "400d" in by_path["retention"].message
    assert "unknown field 'colums'" in by_path["sources.customers.colums"].message
    assert by_path["sources.customers.columns.age"].line == 10
    assert "width" in by_path["sources.customers.columns.age"].message
    assert "lon" in by_path["sources.customers.columns.cell"].message


def test_a_guarantee_must_name_published_columns():
    with pytest.raises(
        PolicyError, match=r"names \['postcode'\].*output columns: \['loyalty_tier'\]"
    ):
        load_policy(FIXTURES / "guarantee_on_unpublished_column.yaml")


def test_broken_yaml_points_at_the_line():
    with pytest.raises(PolicyError) as info:
        load_policy(FIXTURES / "broken_yaml.yaml")
    assert info.value.problems[0].line is not None
    assert "not valid YAML" in str(info.value)


def test_purpose_must_match_the_file_name(tmp_path):
    path = tmp_path / "churn.yaml"
    path.write_text((ROOT / "configs/purposes/churn_analysis.yaml").read_text())
    with pytest.raises(PolicyError, match="must equal the file name 'churn'"):
        load_policy(path)


def test_a_missing_file_is_a_policy_error(tmp_path):
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "nope.yaml")


@pytest.mark.parametrize(("text", "days"), [("400d", 400), ("12w", 84), ("2y", 730), ("36h", 1.5)])
def test_durations(text, days):
    assert parse_duration(text).total_seconds() / 86400 == days


def test_json_schema_lists_every_action_and_is_json():
    schema = policy_json_schema()
    titles = {a.get("title") or a.get("const") for a in schema["$defs"]["Action"]["oneOf"]}
    assert {"keep", "drop", "pseudonymise", "generalise: month", "coarsen: h3"} <= titles
    json.dumps(schema)


def test_errors_never_quote_values(tmp_path):
    path = tmp_path / "leaky.yaml"
    path.write_text(
        "description: d\nlegal_basis: consent\nowner: o\nretention: 1d\n"
        "sources:\n  s:\n    columns:\n      email: {mask: last, n: alice@example.com}\n"
    )
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert "alice@example.com" not in str(info.value)
