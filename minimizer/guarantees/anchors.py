"""Home and work anchors: the places that re-identify a person on their own.

A subject's home is the cell where they are seen in the most distinct hours at night; their work is
the cell seen in the most distinct hours during working hours (weekdays only by default). Counting
distinct hours rather than rows keeps a burst of events in one place from outvoting a routine.
Hours are read from ``ts`` as it stands: convert it to the subjects' local time zone first (or pass
``tz`` for tz-aware timestamps).

:func:`remove_anchors` drops, or coarsens to a parent H3 resolution, each subject's rows located in
that subject's *own* anchors; other subjects' rows in the same cells are untouched. Run it on the
fine cells, before :func:`minimizer.guarantees.location.enforce_min_subjects`.
"""

from __future__ import annotations

from typing import Literal

import h3
import numpy as np
import pandas as pd

from minimizer.errors import DataError

__all__ = ["find_anchors", "remove_anchors"]

Window = tuple[int, int]


def _in_window(hours: np.ndarray, window: Window) -> np.ndarray:
    """Hours in [start, end), wrapping past midnight when start > end (e.g. 22 → 6)."""
    start, end = window
    if not (0 <= start <= 23 and 0 <= end <= 24):
        raise ValueError("hour windows must lie within 0..24")
    if start <= end:
        return (hours >= start) & (hours < end)
    return (hours >= start) | (hours < end)


def _dominant(subjects: pd.Series, cells: pd.Series, slots: pd.Series) -> pd.DataFrame:
    """Per subject, the cell seen in the most distinct hour slots; ties go to the smallest cell."""
    seen = pd.DataFrame({"s": subjects, "c": cells, "t": slots}).drop_duplicates()
    counts = seen.groupby(["s", "c"], observed=True, sort=False).size().reset_index(name="n")
    counts = counts.sort_values(["n", "c"], ascending=[False, True], kind="stable")
    return counts.drop_duplicates("s").set_index("s")


def find_anchors(
    frame: pd.DataFrame,
    *,
    subject: str,
    cell: str,
    ts: str,
    night: Window = (22, 6),
    work: Window = (9, 17),
    weekdays_only_for_work: bool = True,
    tz: str | None = None,
) -> pd.DataFrame:
    """One row per subject: ``home``, ``work`` (null when never seen in that window) and the
    number of distinct hours supporting each (``home_hours``, ``work_hours``)."""
    rows = frame[[subject, cell, ts]].dropna()
    when = pd.to_datetime(rows[ts])
    if tz is not None and when.dt.tz is not None:
        when = when.dt.tz_convert(tz)
    hours = when.dt.hour.to_numpy()
    slots = when.dt.floor("h")
    at_night = _in_window(hours, night)
    at_work = _in_window(hours, work)
    if weekdays_only_for_work:
        at_work &= when.dt.day_of_week.to_numpy() < 5

    out = pd.DataFrame({subject: rows[subject].unique()})
    for name, mask in (("home", at_night), ("work", at_work)):
        top = _dominant(rows[subject][mask], rows[cell][mask], slots[mask])
        out[name] = out[subject].map(top["c"])
        out[f"{name}_hours"] = out[subject].map(top["n"]).fillna(0).astype(np.int64)
    return out[[subject, "home", "work", "home_hours", "work_hours"]]


def remove_anchors(
    frame: pd.DataFrame,
    *,
    subject: str,
    cell: str,
    ts: str,
    mode: Literal["drop", "coarsen"],
    coarsen_to: int | None,
    night: Window = (22, 6),
    work: Window = (9, 17),
    weekdays_only_for_work: bool = True,
    tz: str | None = None,
) -> tuple[pd.DataFrame, int]:
    """Drop or coarsen each subject's rows in their own home/work cells; returns (copy, rows hit).

    ``coarsen`` lifts affected cells to ``coarsen_to``; cells already that coarse are kept as is.
    """
    if mode not in ("drop", "coarsen"):
        raise ValueError("mode must be 'drop' or 'coarsen'")
    if mode == "coarsen" and (coarsen_to is None or not 0 <= coarsen_to <= 15):
        raise ValueError("mode 'coarsen' needs coarsen_to between 0 and 15")
    anchors = find_anchors(
        frame,
        subject=subject,
        cell=cell,
        ts=ts,
        night=night,
        work=work,
        weekdays_only_for_work=weekdays_only_for_work,
        tz=tz,
    ).set_index(subject)
    cells = frame[cell]
    hit = np.zeros(len(frame), dtype=bool)
    for name in ("home", "work"):
        anchor = frame[subject].map(anchors[name])
        hit |= (cells == anchor).fillna(False).to_numpy(dtype=bool)

    if mode == "drop":
        return frame.loc[~hit].copy(), int(hit.sum())
    out = frame.copy()
    if hit.any():
        # Positional assignment: the caller's index may hold duplicate labels.
        column = out.columns.get_loc(cell)
        parents = _coarsen(frame[cell].iloc[hit], int(coarsen_to or 0), cell)
        out.iloc[np.flatnonzero(hit), column] = parents
    return out, int(hit.sum())


def _coarsen(cells: pd.Series, resolution: int, column: str) -> np.ndarray:
    """Parent cells at ``resolution``, computed once per unique cell."""
    codes, uniques = pd.factorize(cells)
    if not all(h3.is_valid_cell(str(c)) for c in uniques):
        raise DataError(
            "values are not valid H3 cells",
            column=column,
            check="anchors",
            reason="invalid_h3_cell",
        )
    parents = [
        c if h3.get_resolution(c) <= resolution else h3.cell_to_parent(c, resolution)
        for c in map(str, uniques)
    ]
    coarsened: np.ndarray = np.asarray(parents, dtype=object)[codes]
    return coarsened
