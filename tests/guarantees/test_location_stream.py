"""The location guarantee computed in a scratch DuckDB (location_stream) is the in-memory one.

Old and new run side by side on random staged tables built to hit every branch: anchors kept,
dropped and coarsened; cells raised level by level or fixed; upper-case cells; nulls in every
column; night and weekend hours; several buckets. The rows, their order, the cells, the
resolution column, every figure and the unicity after must be identical.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import h3
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from minimizer.errors import DataError
from minimizer.guarantees.anchors import remove_anchors
from minimizer.guarantees.location import (
    CellSize,
    cell_size,
    check_cell_sizes,
    enforce_min_subjects,
)
from minimizer.guarantees.location_stream import enforce_location_staged, supported
from minimizer.guarantees.risk import unicity
from minimizer.minimise import to_arrow

KW = {"cell": "cell", "bucket": "hour", "subject": "who"}
Mode = Literal["keep", "drop", "coarsen"]


def _size(floor: int, anchors: Mode, coarsen_to: int | None) -> CellSize:
    """As location_cell_size gives it for a res-8 cell (anchors coarsened count as raised)."""
    coarsest = min(floor, coarsen_to or 0) if anchors == "coarsen" else floor
    return cell_size("cell", 8, coarsest)


def staged(seed: int, n: int = 4000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    base = [h3.latlng_to_cell(52.5 + i * 0.05, 13.4, 8) for i in range(3)]
    pool = [c for b in base for c in h3.grid_disk(b, 2)]
    cells = np.asarray(pool, dtype=object)[rng.integers(0, len(pool), n)]
    upper = rng.random(n) < 0.05
    cells[upper] = [c.upper() for c in cells[upper]]
    who = rng.integers(0, 60, n)
    # A routine: each subject mostly at one home cell at night, one work cell by day.
    home = np.asarray(pool, dtype=object)[who % len(pool)]
    hours = rng.integers(0, 24 * 9, n)  # nine days from a Saturday: weekends and weekdays
    routine = rng.random(n) < 0.4
    cells[routine] = home[routine]
    frame = pd.DataFrame(
        {
            "who": pd.Series(np.char.add("S", who.astype(str)), dtype="str"),
            "hour": pd.Series(
                np.datetime64("2026-10-31T00", "h") + (hours // 3 * 3).astype("m8[h]")
            ).dt.tz_localize("UTC"),
            "cell": pd.Series(cells, dtype="str"),
            "page": pd.Series(np.array(["/", "/a", "/b"])[rng.integers(0, 3, n)], dtype="str"),
        }
    )
    for column in ("who", "hour", "cell"):
        frame.loc[rng.random(n) < 0.01, column] = None
    return frame


def _write(tmp: Path, frame: pd.DataFrame) -> Path:
    path = tmp / "staged.parquet"
    pq.write_table(to_arrow(frame), path)
    return path


def old_way(
    path: Path, m: int, floor: int, anchors: Mode, coarsen_to: int | None
) -> tuple[pd.DataFrame, dict[str, object]]:
    """As enforce.py's in-memory path: the staged file whole in pandas."""
    frame = pq.read_table(path).to_pandas()
    anchored = 0
    if anchors != "keep":
        frame, anchored = remove_anchors(
            frame, subject="who", cell="cell", ts="hour", mode=anchors, coarsen_to=coarsen_to
        )
    size = _size(floor, anchors, coarsen_to)
    out, stats = enforce_min_subjects(
        frame, **KW, m=m, min_resolution=floor, resolution_column=size.resolution_column
    )
    after = unicity(out, subject="who", place="cell", time="hour", p=3, samples=200)
    figures = {
        "stats": stats,
        "anchored": anchored,
        "broken": check_cell_sizes(out, size),
        "unicity": after if len(out) else 0.0,
    }
    return out.reset_index(drop=True), figures


def new_way(
    path: Path, m: int, floor: int, anchors: Mode, coarsen_to: int | None
) -> tuple[pa.Table, dict[str, object]]:
    out = path.parent / "out.parquet"
    size = _size(floor, anchors, coarsen_to)
    assert supported(pq.read_schema(path), "cell", "hour", "who", size.resolution_column)
    done = enforce_location_staged(
        path,
        out,
        **KW,
        m=m,
        min_resolution=floor,
        anchors=anchors,
        coarsen_to=coarsen_to,
        resolution_column=size.resolution_column,
        size=size,
        unicity_points=3,
        unicity_samples=200,
        work=path.parent,
    )
    figures = {
        "stats": done.stats,
        "anchored": done.anchored,
        "broken": done.broken,
        "unicity": done.unicity_after,
    }
    return pq.read_table(out), figures


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    ("m", "floor", "anchors", "coarsen_to"),
    [
        (5, 5, "drop", None),
        (3, 0, "keep", None),
        (4, 6, "coarsen", 6),
        (2, 8, "drop", None),
        (6, 7, "coarsen", 5),
    ],
)
def test_the_scratch_database_publishes_what_pandas_publishes(
    tmp_path: Path, seed: int, m: int, floor: int, anchors: Mode, coarsen_to: int | None
) -> None:
    frame = staged(seed)
    path = _write(tmp_path, frame)
    want, want_figures = old_way(path, m, floor, anchors, coarsen_to)
    got, got_figures = new_way(path, m, floor, anchors, coarsen_to)
    assert 0 < len(want) < len(frame)  # something published, something withheld
    pq.write_table(to_arrow(want), tmp_path / "old.parquet")  # as the in-memory path writes
    assert got.equals(pq.read_table(tmp_path / "old.parquet"))  # rows, order, cells, types
    assert got_figures == want_figures


def test_invalid_cells_fail_closed_the_same_way(tmp_path: Path) -> None:
    frame = staged(3)
    frame.loc[7, "cell"] = "not-a-cell"
    path = _write(tmp_path, frame)
    with pytest.raises(DataError) as old:
        old_way(path, 5, 5, "keep", None)
    with pytest.raises(DataError) as new:
        new_way(path, 5, 5, "keep", None)
    assert (new.value.check, new.value.reason, new.value.count) == (
        old.value.check,
        old.value.reason,
        old.value.count,
    )
    assert "not-a-cell" not in str(new.value)


def test_only_text_cells_and_utc_hours_take_the_scratch_path() -> None:
    fields = {"who": pa.string(), "cell": pa.string(), "hour": pa.timestamp("us", "UTC")}
    assert supported(pa.schema(fields), "cell", "hour", "who", None)
    berlin = {**fields, "hour": pa.timestamp("us", "Europe/Berlin")}
    assert not supported(pa.schema(berlin), "cell", "hour", "who", None)
    assert not supported(pa.schema({**fields, "cell": pa.uint64()}), "cell", "hour", "who", None)
    assert not supported(pa.schema(fields), "cell", "hour", "who", "who")  # name taken


def test_small_windows_and_batches_give_the_same_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import minimizer.guarantees.location_stream as stream

    monkeypatch.setattr(stream, "WINDOW_ROWS", 777)  # decisions read back in many windows
    monkeypatch.setattr(stream, "BATCH_ROWS", 500)  # staged rows rewritten in many batches
    path = _write(tmp_path, staged(4))
    want, want_figures = old_way(path, 4, 5, "drop", None)
    got, got_figures = new_way(path, 4, 5, "drop", None)
    pq.write_table(to_arrow(want), tmp_path / "old.parquet")
    assert got.equals(pq.read_table(tmp_path / "old.parquet"))
    assert got_figures == want_figures
