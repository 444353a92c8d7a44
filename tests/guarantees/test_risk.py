"""Risk figures: record uniqueness, class sizes and trace unicity (de Montjoye et al. 2013)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from minimizer.guarantees.risk import class_sizes, raw_points, raw_unicity, unicity, uniqueness

KW = {"subject": "who", "place": "place", "time": "time"}


def traces(rows: list[tuple[str, str, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["who", "place", "time"])


def movement(n: int = 200, days: int = 7, seed: int = 1) -> pd.DataFrame:
    """People around a home (nights, weekends) and a work place (weekdays 9-17), GPS noise ~50 m."""
    rng = np.random.default_rng(seed)
    home = np.array([52.37, 4.89]) + rng.normal(0, [0.04, 0.06], (n, 2))
    work = np.array([52.37, 4.89]) + rng.normal(0, [0.015, 0.02], (n, 2))
    per_day = 12
    who = np.repeat(np.arange(n), days * per_day)
    day = np.tile(np.repeat(np.arange(days), per_day), n)
    hour = rng.integers(0, 24, who.size)
    at_work = (hour >= 9) & (hour < 17) & (day % 7 < 5)
    pos = np.where(at_work[:, None], work[who], home[who]) + rng.normal(0, 5e-4, (who.size, 2))
    minutes = day * 24 * 60 + hour * 60 + rng.integers(0, 60, who.size)
    ts = pd.Timestamp("2024-03-04") + pd.to_timedelta(minutes, unit="min")
    return pd.DataFrame({"who": who, "lat": pos[:, 0], "lon": pos[:, 1], "ts": ts})


def brute_force_unicity(frame: pd.DataFrame) -> float:
    """With every point drawn, a subject is unique iff no other trace contains theirs."""
    sets = {w: set(zip(g["place"], g["time"], strict=True)) for w, g in frame.groupby("who")}
    unique = [not any(s <= t for v, t in sets.items() if v != w) for w, s in sets.items()]
    return sum(unique) / len(unique)


def test_uniqueness_is_the_share_of_records_alone_in_their_class() -> None:
    frame = pd.DataFrame({"age": [30, 30, 40, 50, None], "zip": ["10", "10", "10", "20", "20"]})
    assert uniqueness(frame, ["age", "zip"]) == pytest.approx(3 / 5)
    assert uniqueness(frame, ["zip"]) == 0.0
    assert uniqueness(frame.iloc[:0], ["zip"]) == 0.0


def test_class_sizes_report_min_median_and_count() -> None:
    frame = pd.DataFrame({"age": [30, 30, 30, 40, 40, 50], "zip": ["1"] * 6})
    assert class_sizes(frame, ["age", "zip"]) == {"min": 1, "median": 2.0, "classes": 3}
    assert class_sizes(frame.iloc[:0], ["age"]) == {"min": 0, "median": 0.0, "classes": 0}


def test_identical_traces_have_unicity_zero() -> None:
    points = [("p", 1), ("q", 2), ("r", 3), ("s", 4), ("t", 5), ("u", 6)]
    frame = traces([(f"w{i}", pl, t) for i in range(30) for pl, t in points])
    assert unicity(frame, **KW) == 0.0
    assert unicity(frame, **KW, p=1) == 0.0


def test_traces_of_unique_points_have_unicity_one() -> None:
    frame = traces([(f"w{i}", f"p{i}", t) for i in range(30) for t in range(8)])
    assert unicity(frame, **KW) == 1.0
    assert unicity(frame, **KW, p=1) == 1.0


def test_one_shared_point_does_not_single_anyone_out_but_one_own_point_does() -> None:
    shared = [(f"w{i}", "station", 8) for i in range(5)]
    own = [("w0", "cabin", 3)]  # w0 alone has a point nobody else has
    frame = traces(shared + own)
    # With one point drawn, w0 is unique only if the draw is the cabin.
    assert unicity(frame, **KW, p=1) in (0.0, 1 / 5)
    # With all points drawn: w0 is unique; w1..w4 (one shared point, fewer than p) are not.
    assert unicity(frame, **KW, p=4) == pytest.approx(1 / 5)


def test_unicity_matches_a_brute_force_when_every_point_is_drawn() -> None:
    rng = np.random.default_rng(7)
    frame = traces(
        [
            (f"w{w}", f"p{rng.integers(4)}", int(rng.integers(3)))
            for w in range(40)
            for _ in range(3)
        ]
    )
    assert unicity(frame, **KW, p=100, samples=1000) == pytest.approx(brute_force_unicity(frame))


def test_unicity_is_deterministic_and_bounded_by_samples() -> None:
    frame = raw_points(
        movement(n=60, days=2),
        subject="who",
        lat="lat",
        lon="lon",
        ts="ts",
        h3_resolution=7,
        time_freq="D",
    )
    first = unicity(frame, subject="subject", place="place", time="time", p=2, samples=25, seed=3)
    again = unicity(frame, subject="subject", place="place", time="time", p=2, samples=25, seed=3)
    assert first == again
    assert (first * 25) == pytest.approx(round(first * 25))


def test_nulls_are_ignored_and_empty_data_has_unicity_zero() -> None:
    frame = traces([("a", "x", 1), ("b", "y", 1), (None, "z", 1), ("c", None, 2)])
    assert unicity(frame, **KW) == 1.0
    assert unicity(frame.iloc[:0], **KW) == 0.0
    with pytest.raises(ValueError):
        unicity(frame, **KW, p=0)


def test_coarsening_reduces_unicity_but_space_alone_barely_helps() -> None:
    frame = movement()
    kw = {"subject": "who", "lat": "lat", "lon": "lon", "ts": "ts", "samples": 200}
    raw = raw_unicity(frame, **kw)  # ~11 m, hourly
    res7_hourly = raw_unicity(frame, **kw, h3_resolution=7)
    res7_daily = raw_unicity(frame, **kw, h3_resolution=7, time_freq="D")
    res6_daily = raw_unicity(frame, **kw, h3_resolution=6, time_freq="D")
    assert raw == 1.0
    assert res7_hourly > 0.9  # de Montjoye: uniqueness decays slowly with spatial resolution
    assert raw >= res7_hourly > res7_daily > res6_daily
    assert res6_daily < 0.5


def test_raw_points_round_coordinates_and_floor_time() -> None:
    frame = pd.DataFrame(
        {
            "who": ["a", "a", "b"],
            "lat": [52.370001, 52.370004, 52.3701],
            "lon": [4.89, 4.89, 4.89],
            "ts": pd.to_datetime(["2024-03-04 10:05", "2024-03-04 10:55", "2024-03-04 10:30"]),
        }
    )
    points = raw_points(frame, subject="who", lat="lat", lon="lon", ts="ts")
    assert points["place"].iloc[0] == points["place"].iloc[1] != points["place"].iloc[2]
    assert (points["time"] == pd.Timestamp("2024-03-04 10:00")).all()
    cells = raw_points(frame, subject="who", lat="lat", lon="lon", ts="ts", h3_resolution=7)
    assert cells["place"].nunique() == 1
