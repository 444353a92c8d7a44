"""The run summary of an aggregate source names what the table holds: keys and measures."""

from __future__ import annotations

from pathlib import Path

from minimizer.policy import load_policy
from minimizer.report import SourceReport, _published

ROOT = Path(__file__).resolve().parents[2]


def test_the_summary_lists_group_keys_and_measures_never_the_counted_subject() -> None:
    policy = load_policy(ROOT / "configs" / "purposes" / "footfall_heatmap.yaml")
    (name,) = [n for n, s in policy.sources.items() if s.aggregate is not None]
    agg = policy.sources[name].aggregate
    assert agg is not None
    published = _published(policy, name, SourceReport(source=name))
    assert published == [*agg.by, *agg.measures]
    assert agg.subject not in published
