"""Re-identification risk figures: record uniqueness, class sizes and trace unicity.

Unicity follows de Montjoye et al., "Unique in the Crowd", Sci. Rep. 3:1376 (2013): draw ``p``
(place, time) points from a subject's own trace; the subject is unique if no other subject's trace
holds all of them. The share of unique subjects among up to ``samples`` sampled subjects is the
unicity. Points are integer-coded once, each point gets a sorted posting list of the subjects seen
there, and a sample is the intersection of ``p`` posting lists, shortest first. Only the sampled
subjects are looped over, never the events.
"""

from __future__ import annotations

from collections.abc import Sequence

import h3
import numpy as np
import pandas as pd

__all__ = ["class_sizes", "raw_points", "raw_unicity", "unicity", "uniqueness"]


def _class_size_per_row(frame: pd.DataFrame, quasi_identifiers: Sequence[str]) -> np.ndarray:
    groups = frame.groupby(list(quasi_identifiers), dropna=False, observed=True, sort=False)
    ids: np.ndarray = groups.ngroup().to_numpy()
    sizes: np.ndarray = np.bincount(ids)[ids]
    return sizes


def uniqueness(frame: pd.DataFrame, quasi_identifiers: Sequence[str]) -> float:
    """Share of records whose quasi-identifier combination occurs exactly once (0.0 if empty)."""
    if frame.empty:
        return 0.0
    return float((_class_size_per_row(frame, quasi_identifiers) == 1).mean())


def class_sizes(frame: pd.DataFrame, quasi_identifiers: Sequence[str]) -> dict[str, float]:
    """Smallest and median equivalence-class size, and the number of classes."""
    sizes = frame.groupby(list(quasi_identifiers), dropna=False, observed=True).size()
    if sizes.empty:
        return {"min": 0, "median": 0.0, "classes": 0}
    return {"min": int(sizes.min()), "median": float(sizes.median()), "classes": int(sizes.size)}


def _posting_lists(
    subjects: np.ndarray, points: np.ndarray, n_points: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Subject → points and point → subjects, both as CSR (offsets, values), deduplicated."""
    n_subjects = int(subjects.max()) + 1
    # Subject-major and sorted, as np.unique gives; hash-deduplicating first is ~8x faster on
    # millions of pairs (numpy's unique sorts everything, duplicates included).
    pairs = np.sort(pd.unique(subjects.astype(np.int64) * n_points + points))
    pair_subject, pair_point = np.divmod(pairs, n_points)
    by_subject = np.searchsorted(pair_subject, np.arange(n_subjects + 1))
    # A stable sort by point keeps subjects ascending inside each posting list.
    order = np.argsort(pair_point, kind="stable")
    by_point = np.searchsorted(pair_point[order], np.arange(n_points + 1))
    return by_subject, pair_point, by_point, pair_subject[order]


def unicity(
    frame: pd.DataFrame,
    *,
    subject: str,
    place: str,
    time: str,
    p: int = 4,
    samples: int = 1000,
    seed: int = 0,
    min_points: int = 1,
) -> float:
    """Share of sampled subjects singled out by ``p`` random points of their own trace.

    Subjects with fewer than ``p`` distinct points use all of theirs. Only subjects with at
    least ``min_points`` distinct points are sampled (``min_points=p``: the basis "subjects
    with p points or more"); every subject still counts as a possible match. Rows with a null
    subject, place or time are ignored. Deterministic for a given ``seed``; 0.0 when no
    subject qualifies.
    """
    if p < 1 or samples < 1:
        raise ValueError("p and samples must be at least 1")
    rows = frame[[subject, place, time]].dropna()
    if rows.empty:
        return 0.0
    subjects = pd.factorize(rows[subject])[0]
    place_code = pd.factorize(rows[place])[0]
    time_code, times = pd.factorize(rows[time])
    point_code, point_values = pd.factorize(place_code.astype(np.int64) * len(times) + time_code)
    subj_ptr, subj_points, point_ptr, point_subjects = _posting_lists(
        subjects, point_code, len(point_values)
    )

    rng = np.random.default_rng(seed)
    eligible = np.flatnonzero(np.diff(subj_ptr) >= min_points)
    if eligible.size == 0:
        return 0.0
    chosen = rng.choice(eligible, size=min(samples, eligible.size), replace=False)
    unique = 0
    for s in chosen:
        own = subj_points[subj_ptr[s] : subj_ptr[s + 1]]
        if own.size > p:
            own = rng.choice(own, size=p, replace=False)
        lists = sorted((point_subjects[point_ptr[q] : point_ptr[q + 1]] for q in own), key=len)
        candidates = lists[0]  # always holds s itself
        for other in lists[1:]:
            if candidates.size == 1:
                break
            at = np.minimum(np.searchsorted(other, candidates), other.size - 1)
            candidates = candidates[other[at] == candidates]
        unique += int(candidates.size == 1)
    return unique / chosen.size


def raw_points(
    frame: pd.DataFrame,
    *,
    subject: str,
    lat: str,
    lon: str,
    ts: str,
    decimals: int = 4,
    h3_resolution: int | None = None,
    time_freq: str = "h",
) -> pd.DataFrame:
    """(subject, place, time) points of raw events, for a "before" unicity.

    ``place`` is lat/lon rounded to ``decimals`` (4 ≈ 11 m) or, given ``h3_resolution``, the H3
    cell (computed once per distinct coordinate). ``time`` is ``ts`` floored to ``time_freq``.
    """
    if not 0 <= decimals <= 7:
        raise ValueError("decimals must be between 0 and 7")
    rows = frame[[subject, lat, lon, ts]].dropna()
    lat_v = rows[lat].to_numpy(dtype=np.float64)
    lon_v = rows[lon].to_numpy(dtype=np.float64)
    if h3_resolution is None:
        scale = 10.0**decimals
        # One int64 per rounded coordinate pair: lat index times the width of the lon range.
        lat_i = np.round(lat_v * scale).astype(np.int64)
        lon_i = np.round((lon_v + 180.0) * scale).astype(np.int64)
        place: np.ndarray = lat_i * (360 * int(scale) + 1) + lon_i
    else:
        codes, uniques = pd.MultiIndex.from_arrays([lat_v, lon_v]).factorize()
        cells = [h3.latlng_to_cell(a, b, h3_resolution) for a, b in uniques]
        place = np.asarray(cells, dtype=object)[codes]
    return pd.DataFrame(
        {
            "subject": rows[subject].to_numpy(),
            "place": place,
            "time": pd.to_datetime(rows[ts]).dt.floor(time_freq).array,
        }
    )


def raw_unicity(
    frame: pd.DataFrame,
    *,
    subject: str,
    lat: str,
    lon: str,
    ts: str,
    decimals: int = 4,
    h3_resolution: int | None = None,
    time_freq: str = "h",
    p: int = 4,
    samples: int = 1000,
    seed: int = 0,
) -> float:
    """Unicity of raw events, with places and times as in :func:`raw_points`."""
    points = raw_points(
        frame,
        subject=subject,
        lat=lat,
        lon=lon,
        ts=ts,
        decimals=decimals,
        h3_resolution=h3_resolution,
        time_freq=time_freq,
    )
    return unicity(
        points, subject="subject", place="place", time="time", p=p, samples=samples, seed=seed
    )
