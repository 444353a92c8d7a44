"""Try to break the minimum-distinct-subjects guarantee per (H3 cell, time bucket)."""

from __future__ import annotations

import h3
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minimizer.errors import DataError
from minimizer.guarantees.location import check_min_subjects, enforce_min_subjects

DENSE = h3.latlng_to_cell(52.3700, 4.8900, 9)  # Amsterdam
PARENT = h3.cell_to_parent(DENSE, 8)
SIBLINGS = sorted(set(h3.cell_to_children(PARENT, 9)) - {DENSE})
REMOTE = h3.latlng_to_cell(-75.0, 120.0, 9)  # Antarctica: nobody else for thousands of km
T0 = pd.Timestamp("2024-03-01 10:00")
T1 = pd.Timestamp("2024-03-01 11:00")
KW = {"cell": "cell", "bucket": "hour", "subject": "who"}


def events(rows: list[tuple[str, pd.Timestamp, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["cell", "hour", "who"])
    frame["payload"] = np.arange(len(frame))
    return frame


def independent_min(frame: pd.DataFrame) -> int:
    """The guarantee, checked with nothing but a pandas group-by."""
    return int(frame.groupby(["cell", "hour"])["who"].nunique().min())


def crowd(cell: str, n: int, hour: pd.Timestamp = T0, prefix: str = "d") -> list:
    return [(cell, hour, f"{prefix}{i}") for i in range(n)]


def test_a_lone_subject_in_a_remote_cell_is_never_published_alone() -> None:
    frame = events([*crowd(DENSE, 6), (REMOTE, T0, "hermit")])
    out, stats = enforce_min_subjects(frame, **KW, m=5)
    assert "hermit" not in set(out["who"])
    assert stats.suppressed_rows == 1
    assert set(stats.raised) == set(range(9))  # lifted all the way to res 0, still alone
    assert (out["cell"] == DENSE).all()
    assert check_min_subjects(out, **KW, m=5) == 0
    assert independent_min(out) >= 5


def test_raising_stops_at_min_resolution_and_then_suppresses() -> None:
    frame = events([*crowd(DENSE, 6), (REMOTE, T0, "hermit")])
    out, stats = enforce_min_subjects(frame, **KW, m=5, min_resolution=7)
    assert set(stats.raised) == {8, 7}
    assert "hermit" not in set(out["who"])


def test_sparse_siblings_pool_at_their_parent_while_a_dense_neighbour_stays_fine() -> None:
    sparse = [(c, T0, f"s{i}{j}") for i, c in enumerate(SIBLINGS[:3]) for j in range(2)]
    frame = events([*crowd(DENSE, 6), *sparse])
    out, stats = enforce_min_subjects(frame, **KW, m=5)
    assert stats.suppressed_rows == 0
    assert stats.raised == {8: 3}
    assert (out.loc[out["who"].str.startswith("d"), "cell"] == DENSE).all()
    assert (out.loc[out["who"].str.startswith("s"), "cell"] == PARENT).all()
    # Parent and child published in one bucket: allowed, each group stands on its own.
    assert out.groupby("cell")["who"].nunique().to_dict() == {DENSE: 6, PARENT: 6}
    assert stats.published_groups == 2 and stats.min_subjects == 6
    assert check_min_subjects(out, **KW, m=5) == 0


def test_groups_are_counted_per_time_bucket_not_across_buckets() -> None:
    frame = events([*crowd(DENSE, 3, T0, "a"), *crowd(DENSE, 3, T1, "b")])
    out, stats = enforce_min_subjects(frame, **KW, m=5)
    assert out.empty and stats.suppressed_rows == 6


def test_repeated_rows_of_one_subject_count_once() -> None:
    frame = events([(DENSE, T0, "same")] * 10 + crowd(DENSE, 3))
    out, _ = enforce_min_subjects(frame, **KW, m=5)
    assert out.empty
    assert check_min_subjects(frame, **KW, m=5) == 1


def test_subjects_in_distinct_nearby_cells_are_raised_until_they_meet() -> None:
    grand = h3.cell_to_parent(DENSE, 7)
    parents = sorted(h3.cell_to_children(grand, 8))
    # At most two per res-8 parent, so only the shared res-7 ancestor reaches m.
    cells = [sorted(h3.cell_to_children(p, 9))[k] for k in (0, 1) for p in parents][:10]
    frame = events([(c, T0, f"p{i}") for i, c in enumerate(cells)])
    assert frame["cell"].nunique() == 10
    out, stats = enforce_min_subjects(frame, **KW, m=5)
    assert stats.suppressed_rows == 0
    assert (out["cell"] == grand).all()
    assert stats.raised == {8: 10, 7: 7}


def test_subjects_in_distinct_distant_cells_are_all_suppressed() -> None:
    spots = [(-60 + 12 * i, -170 + 34 * i) for i in range(10)]
    cells = [h3.latlng_to_cell(lat, lon, 9) for lat, lon in spots]
    assert len({h3.get_base_cell_number(c) for c in cells}) == 10
    frame = events([(c, T0, f"p{i}") for i, c in enumerate(cells)])
    out, stats = enforce_min_subjects(frame, **KW, m=2)
    assert out.empty and stats.suppressed_rows == 10


def test_m_larger_than_all_subjects_suppresses_everything() -> None:
    frame = events([*crowd(DENSE, 6), *crowd(SIBLINGS[0], 6, T1)])
    out, stats = enforce_min_subjects(frame, **KW, m=50)
    assert out.empty and list(out.columns) == list(frame.columns)
    assert stats.suppressed_rows == 12
    assert (stats.published_cells, stats.published_groups, stats.min_subjects) == (0, 0, 0)


def test_rows_with_null_cell_bucket_or_subject_are_suppressed() -> None:
    frame = events([*crowd(DENSE, 5), (None, T0, "x"), (DENSE, pd.NaT, "y"), (DENSE, T0, None)])
    out, stats = enforce_min_subjects(frame, **KW, m=5)
    assert stats.suppressed_rows == 3
    assert out["payload"].tolist() == [0, 1, 2, 3, 4]
    assert out[["cell", "hour", "who"]].notna().all().all()
    # The independent check fails closed on nulls: a null-only group or null cell is a violation.
    assert check_min_subjects(frame, **KW, m=5) == 2


def test_input_is_not_mutated_and_index_and_other_columns_survive() -> None:
    sparse = [(c, T0, f"s{i}{j}") for i, c in enumerate(SIBLINGS[:3]) for j in range(2)]
    frame = events([*crowd(DENSE, 6), *sparse]).set_index(np.arange(100, 112))
    before = frame.copy(deep=True)
    out, _ = enforce_min_subjects(frame, **KW, m=5)
    pd.testing.assert_frame_equal(frame, before)
    assert out.index.tolist() == list(range(100, 112))
    pd.testing.assert_series_equal(out["payload"], frame["payload"])
    assert out["hour"].equals(frame["hour"])


def test_upper_case_cells_are_canonicalised_and_counted_together() -> None:
    frame = events([*crowd(DENSE, 3, prefix="a"), *crowd(DENSE.upper(), 3, prefix="b")])
    out, stats = enforce_min_subjects(frame, **KW, m=5)
    assert stats.suppressed_rows == 0 and (out["cell"] == DENSE).all()


def test_invalid_cells_fail_closed_without_quoting_them() -> None:
    frame = events([*crowd(DENSE, 5), ("not-a-secret-cell", T0, "x")])
    with pytest.raises(DataError) as caught:
        enforce_min_subjects(frame, **KW, m=5)
    assert caught.value.reason == "invalid_h3_cell" and caught.value.count == 1
    assert "not-a-secret-cell" not in str(caught.value)


def test_bad_parameters_are_rejected() -> None:
    frame = events(crowd(DENSE, 5))
    with pytest.raises(ValueError):
        enforce_min_subjects(frame, **KW, m=0)
    with pytest.raises(ValueError):
        enforce_min_subjects(frame, **KW, m=5, min_resolution=16)
    with pytest.raises(DataError):
        enforce_min_subjects(frame, cell="cell", bucket="nope", subject="who", m=5)


def test_check_min_subjects_counts_each_violating_group() -> None:
    frame = events([*crowd(DENSE, 5), *crowd(DENSE, 2, T1), *crowd(REMOTE, 1)])
    assert check_min_subjects(frame, **KW, m=5) == 2
    assert check_min_subjects(frame, **KW, m=1) == 0
    assert check_min_subjects(frame.iloc[:0], **KW, m=5) == 0


AREA = h3.cell_to_parent(DENSE, 7)
AREA_CELLS = sorted(h3.cell_to_children(AREA, 9))  # 49 cells under one res-7 cell


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 48), st.integers(0, 2), st.integers(0, 14)),
        min_size=1,
        max_size=60,
    ),
    m=st.integers(1, 6),
    min_resolution=st.sampled_from([0, 5, 7, 8, 9]),
)
def test_property_every_published_group_holds_m_subjects_at_an_ancestor_cell(
    rows: list[tuple[int, int, int]], m: int, min_resolution: int
) -> None:
    hours = [T0 + pd.Timedelta(hours=h) for h in range(3)]
    frame = events([(AREA_CELLS[c], hours[h], f"p{s}") for c, h, s in rows])
    out, stats = enforce_min_subjects(frame, **KW, m=m, min_resolution=min_resolution)

    assert len(out) + stats.suppressed_rows == len(frame)
    assert check_min_subjects(out, **KW, m=m) == 0
    if not out.empty:
        assert independent_min(out) >= m and stats.min_subjects >= m
    source = frame.loc[out.index]
    assert out["who"].equals(source["who"]) and out["hour"].equals(source["hour"])
    for original, published in set(zip(source["cell"], out["cell"], strict=True)):
        res = h3.get_resolution(published)
        assert min_resolution <= res <= 9
        assert h3.cell_to_parent(original, res) == published
    # Dense groups are never coarsened or dropped.
    sizes = frame.groupby(["cell", "hour"])["who"].transform("nunique")
    dense = frame[sizes >= m]
    assert dense.index.isin(out.index).all()
    assert (out.loc[dense.index, "cell"] == dense["cell"]).all()
