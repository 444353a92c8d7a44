"""Cells of one size: a raised cell carries its resolution beside it."""

from __future__ import annotations

import h3
import pandas as pd

from minimizer.guarantees.location import enforce_min_subjects


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
