"""Thresholds of aggregate outputs, attacked with generated data (hypothesis)."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minimizer.aggregate.aggregate import aggregate_rows
from minimizer.policy import AggregateSpec

KEYS = st.one_of(st.none(), st.sampled_from(["a", "b", "c", "d"]))
HOURS = st.one_of(st.none(), st.integers(0, 3))
SUBJECTS = st.one_of(st.none(), st.sampled_from([f"s{i}" for i in range(8)]))
ROWS = st.lists(st.tuples(KEYS, HOURS, SUBJECTS), max_size=80)


def _table(rows: list[tuple[str | None, int | None, str | None]]) -> pa.Table:
    cells, hours, subjects = zip(*rows, strict=True) if rows else ((), (), ())
    return pa.table(
        {
            "cell": pa.array(cells, pa.string()),
            "hour": pa.array(hours, pa.int64()),
            "visitor": pa.array(subjects, pa.string()),
        }
    )


def _spec(m: int, small: str) -> AggregateSpec:
    return AggregateSpec(
        by=("cell", "hour"), subject="visitor", min_distinct_subjects=m, small_groups=small
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=ROWS, m=st.integers(1, 6), small=st.sampled_from(["withhold", "remainder"]))
def test_no_published_row_counts_fewer_subjects_than_the_minimum(rows, m, small):
    """Recount every published row from the input with a plain pandas group-by: a keyed row's
    group, and a remainder row's pooled groups, hold at least m distinct subjects."""
    table = _table(rows)
    out, stats = aggregate_rows(table, _spec(m, small))
    raw = table.to_pandas().dropna()
    truth = raw.groupby(["cell", "hour"]).visitor.agg(["nunique", "size"])
    published = out.to_pandas()
    keyed = published.dropna(subset=["cell"])
    for cell, hour, events, subjects in keyed.itertuples(index=False):
        assert truth.loc[(cell, hour), "nunique"] == subjects >= m
        assert truth.loc[(cell, hour), "size"] == events
    small_groups = truth[truth["nunique"] < m].index
    # Every group under m is withheld, never published with its keys.
    assert not set(small_groups) & set(zip(keyed.cell, keyed.hour, strict=True))
    remainder = published[published.cell.isna()]
    if small == "withhold":
        assert remainder.empty
    else:
        pooled = (
            raw.set_index(["cell", "hour"]).loc[list(small_groups)]
            if len(small_groups)
            else raw.iloc[:0]
        )
        assert len(remainder) <= 1
        if len(remainder):
            assert remainder.distinct_subjects.iloc[0] == pooled.visitor.nunique() >= m
            assert remainder.events.iloc[0] == len(pooled)
        else:
            assert pooled.visitor.nunique() < m
    assert stats.published_groups == len(keyed)
    assert stats.min_published_subjects >= (m if len(published) else 0)


@settings(max_examples=40, deadline=None)
@given(rows=ROWS, m=st.integers(1, 6))
def test_a_time_kept_remainder_pools_per_bucket_and_still_meets_the_minimum(rows, m):
    out, _ = aggregate_rows(_table(rows), _spec(m, "remainder"), remainder_by=("hour",))
    raw = _table(rows).to_pandas().dropna()
    sizes = raw.groupby(["cell", "hour"]).visitor.transform("nunique")
    small = raw[sizes < m]
    remainder = out.to_pandas()
    remainder = remainder[remainder.cell.isna()]
    assert remainder.hour.notna().all()
    for hour, events, subjects in remainder[["hour", "events", "distinct_subjects"]].itertuples(
        index=False
    ):
        pooled = small[small.hour == hour]
        assert subjects == pooled.visitor.nunique() >= m
        assert events == len(pooled)


def test_rows_without_a_key_or_subject_are_left_out_and_counted():
    table = _table([("a", 1, "s1"), ("a", 1, None), (None, 1, "s2"), ("a", None, "s3")])
    out, stats = aggregate_rows(table, _spec(1, "withhold"))
    assert out.to_pylist() == [{"cell": "a", "hour": 1, "events": 1, "distinct_subjects": 1}]
    assert stats.rows_left_out == 3


def test_only_the_requested_measures_are_published():
    spec = AggregateSpec(
        by=("cell",), subject="visitor", measures=("events",), min_distinct_subjects=1
    )
    out, _ = aggregate_rows(_table([("a", 1, "s1")]), spec)
    assert out.column_names == ["cell", "events"]


def test_an_empty_input_publishes_an_empty_typed_table():
    out, stats = aggregate_rows(_table([]), _spec(2, "remainder"))
    assert out.num_rows == 0 and out.column_names == ["cell", "hour", "events", "distinct_subjects"]
    assert stats.groups == 0


@pytest.mark.parametrize("subject", ["cell", "hour"])
def test_the_subject_cannot_be_a_group_key(subject):
    with pytest.raises(ValueError, match="cannot also be a group-by column"):
        AggregateSpec(by=("cell", "hour"), subject=subject, min_distinct_subjects=2)


def test_pandas_reference_agrees_on_a_fixed_case():
    rows = [("a", 1, "s1"), ("a", 1, "s2"), ("b", 1, "s1"), ("c", 2, "s3"), ("c", 2, "s3")]
    out, _ = aggregate_rows(_table(rows), _spec(2, "remainder"))
    got = out.to_pandas()
    expected = pd.DataFrame(
        {"cell": ["a", None], "hour": [1, None], "events": [2, 3], "distinct_subjects": [2, 2]}
    )
    assert (
        got.astype(object).where(got.notna(), None).values.tolist()
        == expected.astype(object).where(expected.notna(), None).values.tolist()
    )
