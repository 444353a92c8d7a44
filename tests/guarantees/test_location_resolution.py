"""Cells of one size: one resolution per cell column, or a column naming each row's."""

from __future__ import annotations

import h3
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minimizer.guarantees.location import cell_size, check_cell_sizes, enforce_min_subjects


def test_the_resolution_column_names_each_rows_cell_size():
    dense = h3.latlng_to_cell(52.52, 13.40, 8)
    sparse = [h3.latlng_to_cell(52.52 + d, 13.40, 8) for d in (0.01, 0.012)]
    frame = pd.DataFrame(
        {
            "cell": [dense] * 3 + sparse,
            "hour": [1] * 5,
            "s": ["a", "b", "c", "d", "e"],
        }
    )
    out, stats = enforce_min_subjects(
        frame, cell="cell", bucket="hour", subject="s", m=2, min_resolution=5,
        resolution_column="cell_resolution",
    )  # fmt: skip
    assert list(out.columns) == ["cell", "cell_resolution", "hour", "s"]
    assert (out.cell_resolution == out.cell.map(h3.get_resolution)).all()
    assert set(out.cell_resolution) == {8, min(stats.raised)}  # the dense cell, the raised parent


def test_a_fixed_resolution_suppresses_instead_of_raising():
    cells = [h3.latlng_to_cell(52.52 + d, 13.40, 7) for d in (0.0, 0.0, 0.05)]
    frame = pd.DataFrame({"cell": cells, "hour": [1, 1, 1], "s": ["a", "b", "c"]})
    out, stats = enforce_min_subjects(
        frame, cell="cell", bucket="hour", subject="s", m=2, min_resolution=7
    )
    assert stats.raised == {} and {h3.get_resolution(c) for c in out.cell} == {7}
    assert stats.suppressed_rows == 1


# -- the rule, as the gate checks it: one size, or a column naming each row's ------------------


_BASE = [
    h3.latlng_to_cell(52.40 + 0.03 * i, 13.30 + 0.02 * j, 8) for i in range(4) for j in range(3)
]


def test_a_fixed_resolution_needs_no_column_and_says_so():
    fixed = cell_size("cell", 6, 6)
    assert not fixed.mixed and fixed.resolution_column is None
    assert "one cell size" in fixed.note and "resolution 6" in fixed.note
    mixed = cell_size("cell", 8, 5)
    assert mixed.mixed and mixed.resolution_column == "cell_resolution"
    assert "5-8" in mixed.note and "cell_resolution" in mixed.note
    assert cell_size("cell", 6, 9).mixed is False  # a floor above the resolution: nothing raised


def test_mixed_sizes_without_the_column_or_with_a_lying_one_are_caught():
    parent = h3.cell_to_parent(_BASE[0], 6)
    frame = pd.DataFrame({"cell": [_BASE[0], _BASE[1], parent], "hour": [1, 1, 1]})
    size = cell_size("cell", 8, 5)
    assert check_cell_sizes(frame, size)["missing_resolution_column"] == 1
    frame["cell_resolution"] = [8, 8, 8]  # the parent is res 6
    assert check_cell_sizes(frame, size)["wrong_resolution"] == 1
    frame["cell_resolution"] = [8, 8, 6]
    assert check_cell_sizes(frame, size) == {"other_resolution": 0, "wrong_resolution": 0}
    # Under a fixed resolution the parent is refused outright, column or not.
    assert check_cell_sizes(frame, cell_size("cell", 8, 8))["other_resolution"] == 1
    too_fine = pd.DataFrame({"cell": [h3.cell_to_center_child(_BASE[0], 9), "nonsense", None]})
    assert check_cell_sizes(too_fine, size)["other_resolution"] == 2  # the null is not counted


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.tuples(st.integers(0, len(_BASE) - 1), st.integers(0, 2), st.integers(0, 12)),
        min_size=1,
        max_size=150,
    ),
    m=st.integers(2, 6),
    floor=st.sampled_from([5, 6, 7, 8]),
)
def test_what_the_guarantee_publishes_keeps_the_cell_size_rule(rows, m, floor):
    """Raised or not: with the column when sizes may mix, the published cells pass the check."""
    cells, hours, subjects = zip(*rows, strict=True)
    frame = pd.DataFrame({"cell": [_BASE[c] for c in cells], "hour": hours, "s": subjects})
    size = cell_size("cell", 8, floor)
    out, _ = enforce_min_subjects(
        frame, cell="cell", bucket="hour", subject="s", m=m, min_resolution=floor,
        resolution_column=size.resolution_column,
    )  # fmt: skip
    assert not any(check_cell_sizes(out, size).values())
