"""Policy checks of aggregate outputs and budgets: each problem located at its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from minimizer.errors import PolicyError
from minimizer.policy import load_policy

POLICY = Path(__file__).parent / "policies" / "footfall_counts.yaml"


def _load(tmp_path: Path, text: str):
    path = tmp_path / "footfall_counts.yaml"
    path.write_text(text)
    return load_policy(path)


def _problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(PolicyError) as err:
        _load(tmp_path, text)
    return [str(p) for p in err.value.problems]


def test_the_test_policy_loads():
    policy = load_policy(POLICY)
    agg = policy.sources["events"].aggregate
    assert agg is not None and agg.dp is not None and policy.budget is not None
    assert agg.dp.epsilon == 1.0 and policy.budget.period.days == 30


def test_a_group_key_that_is_not_published_is_named_with_its_line(tmp_path):
    text = POLICY.read_text().replace("by: [cell, hour]", "by: [cel, hour]")
    problems = _problems(tmp_path, text)
    line = text.splitlines().index("      by: [cel, hour]") + 1
    assert any(f":{line}" in p and "'cel'" in p and "did you mean 'cell'" in p for p in problems)


def test_dp_needs_one_h3_cell_and_one_hour_bucket(tmp_path):
    text = POLICY.read_text().replace("by: [cell, hour]", "by: [cell]")
    assert any("exactly two columns" in p for p in _problems(tmp_path, text))


def test_dp_needs_a_budget_and_a_budget_needs_dp(tmp_path):
    no_budget = POLICY.read_text().replace("budget: {epsilon: 3.0, period: 30d}\n", "")
    assert any("set budget" in p for p in _problems(tmp_path, no_budget))
    lines = POLICY.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "dp:")
    no_dp = "\n".join(lines[:start]) + "\n"
    assert any("no source releases with dp" in p for p in _problems(tmp_path, no_dp))


def test_a_row_level_guarantee_cannot_name_an_aggregate_source(tmp_path):
    text = POLICY.read_text() + (
        "guarantees:\n  location: {source: events, cell: cell, bucket: hour, subject: visitor,"
        " min_distinct_subjects_per_cell: 5}\n"
    )
    assert any("publishes an aggregate, not rows" in p for p in _problems(tmp_path, text))


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ("epsilon: 1.0", "epsilon: 0", "greater than 0"),
        ("max_groups_per_day: 2", "max_groups_per_day: 0", "greater than or equal to 1"),
        ("[52.41, 13.23, 52.63, 13.58]", "[52.63, 13.23, 52.41, 13.58]", "south < north"),
        ("min_distinct_subjects: 5", "min_distinct_subjects: 0", "greater than or equal to 1"),
    ],
)
def test_dp_parameters_out_of_range_are_refused(tmp_path, old, new, says):
    text = POLICY.read_text().replace(old, new, 1)
    assert any(says in p for p in _problems(tmp_path, text))


def test_a_dp_subject_rotating_within_a_day_is_refused_at_its_line(tmp_path):
    """rotate: 12h makes one person two privacy units a day: bounded and charged twice."""
    text = POLICY.read_text().replace("rotate: day", "rotate: 12h")
    problems = _problems(tmp_path, text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "rotate: 12h" in row)
    assert any(
        f":{line} at 'sources.events.columns.visitor.rotate'" in p
        and "every 12h" in p
        and "allowed with dp: rotate: never, day, week, month" in p
        for p in problems
    ), problems


@pytest.mark.parametrize("rotate", ["never", "week", "month"])
def test_a_dp_subject_rotating_no_faster_than_a_day_loads(tmp_path, rotate):
    text = POLICY.read_text()
    same = "rotate: day, time: ts"
    text = text.replace(same, f"rotate: {rotate}, time: ts" if rotate != "never" else "time: ts")
    assert _load(tmp_path, text).sources["events"].aggregate is not None


def test_a_dp_subject_rotating_by_another_time_column_is_refused(tmp_path):
    """A token that rotates by another clock (say a local or a received-at time) can change
    within a day of the source's time: one person, several units that day."""
    text = POLICY.read_text().replace("rotate: day, time: ts}", "rotate: day, time: received}")
    problems = _problems(tmp_path, text)
    assert any("columns.visitor.time" in p and "rotate by time: ts" in p for p in problems), (
        problems
    )
