"""The location guarantee's raw unicity, collected chunk by chunk, is the one over all rows.

The observer keeps points, not events, and drops repeated points every few chunks; these
tests feed it many small chunks (so repeats are dropped across them) with a figure strictly
between 0 and 1, where any change of order or of the points would show.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from minimizer.guarantees.enforce import _RawPoints
from minimizer.guarantees.risk import raw_unicity


def clicks(n: int = 30_000, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    who = rng.integers(0, 1500, n)
    start = np.datetime64("2026-11-01", "us")
    return pd.DataFrame(
        {
            "customer_id": pd.Series(np.char.add("C", who.astype(str)), dtype="str"),
            "lat": 52 + (who % 60) / 1e3 + rng.integers(0, 4, n) / 1e4,
            "lon": 13 + (who % 7) / 1e3 + rng.integers(0, 4, n) / 1e4,
            "ts": pd.Series(start + rng.integers(0, 3_600_000_000 * 5, n).astype("m8[us]")),
        }
    ).assign(ts=lambda f: f["ts"].dt.tz_localize("UTC"))


@pytest.mark.parametrize(("p", "samples"), [(4, 1000), (2, 300), (1, 50)])
def test_chunked_points_give_the_unicity_of_all_rows(p: int, samples: int) -> None:
    frame = clicks()
    frame.loc[[5, 77], "lat"] = np.nan  # rows without a place are left out on both sides
    whole = frame.rename(columns={"customer_id": "s"})
    want = raw_unicity(whole, subject="s", lat="lat", lon="lon", ts="ts", p=p, samples=samples)
    assert 0.0 < want < 1.0  # a figure that order or lost points would move
    observer = _RawPoints(SimpleNamespace(key="customer_id", time="ts"), "lat", "lon", p, samples)
    for rows in np.array_split(np.arange(len(frame)), 23):  # more chunks than it keeps apart
        observer.observe(frame.iloc[rows].reset_index(drop=True), pd.DataFrame())
    assert len(observer.parts) <= _RawPoints._CONSOLIDATE + 1
    assert sum(len(part) for part in observer.parts) < len(frame)  # repeats were dropped
    report = SimpleNamespace(measures={})
    observer.finish(report)  # type: ignore[arg-type]
    assert report.measures["unicity_before"]["unicity_before"] == want
