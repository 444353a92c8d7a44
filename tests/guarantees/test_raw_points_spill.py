"""Raw points past the in-memory cap go to a file in the run's folder; the unicity before
counted from it (in a scratch DuckDB) is the one over all rows, and the file goes after."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from minimizer.guarantees.enforce import _RawPoints
from minimizer.guarantees.risk import raw_unicity
from tests.guarantees.test_raw_points_streaming import clicks


@pytest.mark.parametrize(("p", "samples"), [(4, 1000), (2, 300)])
def test_spilled_points_give_the_unicity_of_all_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, p: int, samples: int
) -> None:
    monkeypatch.setattr(_RawPoints, "_SPILL_POINTS", 2_000)
    frame = clicks()
    frame.loc[[5, 77], "lat"] = np.nan
    whole = frame.rename(columns={"customer_id": "s"})
    want = raw_unicity(whole, subject="s", lat="lat", lon="lon", ts="ts", p=p, samples=samples)
    assert 0.0 < want < 1.0
    spec = SimpleNamespace(key="customer_id", time="ts")
    observer = _RawPoints(spec, "lat", "lon", p, samples, tmp_path)  # type: ignore[arg-type]
    for rows in np.array_split(np.arange(len(frame)), 23):
        observer.observe(frame.iloc[rows].reset_index(drop=True), frame.iloc[:0])
        assert sum(len(part) for part in observer.parts) <= 2_000 + len(rows)
    assert list(tmp_path.glob("minimizer-points-*/points.parquet"))  # it did spill
    report = SimpleNamespace(measures={})
    observer.finish(report)  # type: ignore[arg-type]
    assert report.measures["unicity_before"]["unicity_before"] == want
    assert not list(tmp_path.iterdir())  # the spill file and the scratch database are gone
