"""Minimum distinct subjects per published (H3 cell, time bucket).

A sparse (cell, bucket) group is lifted to its parent H3 resolution, where it pools with the other
sparse groups of the same parent and bucket, and again, until it reaches ``m`` distinct subjects or
``min_resolution``; what is still sparse there is suppressed. Dense groups stay at their own (fine)
resolution, so one bucket may publish a parent next to some of its children: that is allowed because
every published group is counted on its own and holds at least ``m`` subjects.

The work is vectorised over integer codes: cells, buckets and subjects are factorised once, H3 is
only called on the unique cells of a level, and each level is one group-by. Only the resolutions
(15 → 0) are looped over.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import h3
import numpy as np
import pandas as pd

from minimizer.errors import DataError

if TYPE_CHECKING:
    from minimizer.policy import Policy

__all__ = [
    "RESOLUTION_SUFFIX",
    "CellSize",
    "CellStats",
    "cell_size",
    "check_cell_sizes",
    "check_min_subjects",
    "enforce_min_subjects",
    "location_cell_size",
]

_CHECK = "min_subjects_per_cell"
RESOLUTION_SUFFIX = "_resolution"  # cell -> cell_resolution, beside it, when sizes mix


@dataclass(frozen=True)
class CellStats:
    """Figures for the audit record. No values, only counts.

    ``raised`` maps a target resolution to the number of sparse (cell, bucket) groups lifted to it.
    ``min_subjects`` is the smallest distinct-subject count over published groups (0 if none).
    """

    published_cells: int
    raised: dict[int, int]
    suppressed_rows: int
    min_subjects: int
    published_groups: int


class _CellTable:
    """Interns H3 cell strings to integer ids, so rows carry ints and H3 sees unique cells only."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.res: list[int] = []
        self._ids: dict[str, int] = {}

    def intern(self, names: list[str]) -> np.ndarray:
        ids = np.empty(len(names), dtype=np.int64)
        for i, name in enumerate(names):
            if (known := self._ids.get(name)) is None:
                known = self._ids[name] = len(self.names)
                self.names.append(name)
                self.res.append(h3.get_resolution(name))
            ids[i] = known
        return ids

    def parents(self, ids: np.ndarray, resolution: int) -> np.ndarray:
        # A hash factorize, not np.unique's sort: ids are only names, their order is not used.
        inverse, uniq = pd.factorize(ids)
        parent = [h3.cell_to_parent(self.names[i], resolution) for i in uniq]
        found: np.ndarray = self.intern(parent)[inverse]
        return found


def _cell_ids(cells: pd.Series, table: _CellTable, column: str) -> np.ndarray:
    """Canonical (lower-case) cell ids per row; invalid cells fail closed, by count only."""
    codes, uniques = pd.factorize(cells)
    names = [str(c).lower() for c in uniques]
    valid = np.fromiter((h3.is_valid_cell(c) for c in names), dtype=bool, count=len(names))
    if not valid.all():
        raise DataError(
            "values are not valid H3 cells",
            column=column,
            check=_CHECK,
            reason="invalid_h3_cell",
            count=int((~valid[codes]).sum()),
        )
    ids: np.ndarray = table.intern(names)[codes]
    return ids


def _distinct(values: np.ndarray) -> int:
    """How many distinct integers: a hash count. (numpy 2's hash-based ``np.unique`` is about
    ten times slower than pandas' on a million grouped codes: seconds per run.)"""
    return int(pd.unique(values).size)


def _distinct_per_group(groups: np.ndarray, subjects: np.ndarray) -> np.ndarray:
    """Distinct subjects of each row's group, aligned with the rows. ``subjects`` are codes
    (0..n-1): each distinct (group, subject) pair is one int64, counted per group (twice as
    fast as a group-by's nunique)."""
    codes, uniques = pd.factorize(groups)
    if codes.size == 0:
        return np.zeros(0, dtype=np.int64)
    span = np.int64(subjects.max()) + 1
    pairs = pd.unique(codes.astype(np.int64) * span + subjects.astype(np.int64))
    per_group = np.bincount(pairs // span, minlength=len(uniques))
    distinct: np.ndarray = per_group[codes]
    return distinct


def enforce_min_subjects(
    frame: pd.DataFrame,
    *,
    cell: str,
    bucket: str,
    subject: str,
    m: int,
    min_resolution: int = 0,
    resolution_column: str | None = None,
) -> tuple[pd.DataFrame, CellStats]:
    """Return a copy in which every (cell, bucket) holds at least ``m`` distinct subjects.

    Raised groups publish coarser cells beside finer ones; ``resolution_column`` adds a column
    of that name, right after the cell column, holding each row's H3 resolution (int8), so
    that a reader never ranks a 250 km² cell against a 0.7 km² one unawares.

    Rows whose cell, bucket or subject is null are suppressed: they cannot be counted. Cells come
    back in canonical lower-case form; row order, index and other columns are kept.
    """
    if m < 1:
        raise ValueError("m must be at least 1")
    if not 0 <= min_resolution <= 15:
        raise ValueError("min_resolution must be between 0 and 15")
    missing = [c for c in (cell, bucket, subject) if c not in frame.columns]
    if missing:
        raise DataError("columns missing", column=",".join(missing), check=_CHECK, reason="missing")

    pos = np.flatnonzero(frame[[cell, bucket, subject]].notna().all(axis=1).to_numpy())
    table = _CellTable()
    cur = _cell_ids(frame[cell].iloc[pos], table, cell)
    bkt, bucket_values = pd.factorize(frame[bucket].iloc[pos])
    subj = pd.factorize(frame[subject].iloc[pos])[0]
    n_buckets = max(len(bucket_values), 1)

    pending = np.ones(pos.size, dtype=bool)
    published = np.zeros(pos.size, dtype=bool)
    raised: dict[int, int] = {}
    top = max(table.res, default=-1)
    for r in range(top, -1, -1):
        # Coarser rows wait: groups raised from level r may still join them at their level.
        at = np.flatnonzero(pending & (np.asarray(table.res)[cur] == r))
        if at.size == 0:
            continue
        groups = cur[at] * n_buckets + bkt[at]
        dense = _distinct_per_group(groups, subj[at]) >= m
        published[at[dense]] = True
        pending[at] = False
        sparse = at[~dense]
        if sparse.size and r > min_resolution:
            raised[r - 1] = _distinct(groups[~dense])
            cur[sparse] = table.parents(cur[sparse], r - 1)
            pending[sparse] = True

    keep = pos[published]
    out = frame.iloc[keep].copy()
    out[cell] = pd.Series(
        np.asarray(table.names, dtype=object)[cur[published]], index=out.index, name=cell
    )
    if resolution_column is not None:
        levels = np.asarray(table.res, dtype=np.int8)[cur[published]]
        out.insert(out.columns.get_loc(cell) + 1, resolution_column, levels)
    groups = cur[published] * n_buckets + bkt[published]
    sizes = pd.Series(subj[published]).groupby(groups).nunique()
    stats = CellStats(
        published_cells=_distinct(cur[published]),
        raised=raised,
        suppressed_rows=len(frame) - keep.size,
        min_subjects=int(sizes.min()) if sizes.size else 0,
        published_groups=int(sizes.size),
    )
    return out, stats


@dataclass(frozen=True)
class CellSize:
    """What size a published H3 cell column has: one resolution, or several with a column
    beside it naming each row's (``cell_resolution``). ``note`` is the sentence the column
    comment and the data dictionary carry."""

    column: str
    resolution: int  # the policy's coarsen resolution: the finest published
    min_resolution: int  # the coarsest a sparse cell may be raised to

    @property
    def mixed(self) -> bool:
        return self.min_resolution < self.resolution

    @property
    def resolution_column(self) -> str | None:
        return f"{self.column}{RESOLUTION_SUFFIX}" if self.mixed else None

    @property
    def note(self) -> str:
        if not self.mixed:
            return (
                f"one cell size: every {self.column} is an H3 cell at resolution "
                f"{self.resolution} (sparse cells are withheld, never raised)"
            )
        return (
            f"mixed cell sizes: H3 resolutions {self.min_resolution}-{self.resolution} "
            f"(sparse cells raised to parents); {self.resolution_column} gives each row's; "
            "compare cells of one resolution only"
        )


def cell_size(column: str, resolution: int, min_resolution: int) -> CellSize:
    """The size of a location guarantee's cell column: ``min_resolution`` at or above the
    cell's resolution fixes it (no raising); below it, sizes mix and need the column."""
    return CellSize(column, int(resolution), min(int(min_resolution), int(resolution)))


def location_cell_size(policy: Policy, source: str) -> CellSize | None:
    """The size of the cell column the policy's location guarantee publishes for ``source``
    (None when it guards another source, or the cell is not an H3 coarsening). Anchors
    coarsened to a parent publish a coarser cell too, so they count like raised cells."""
    g = policy.guarantees.location
    if g is None or g.source != source:
        return None
    t = policy.sources[source].columns.get(g.cell)
    resolution = getattr(t, "resolution", None)
    if getattr(t, "method", None) != "h3" or resolution is None:
        return None
    coarsest = g.min_resolution
    if g.anchors == "coarsen":  # remove_anchors: coarsen_to, or res 0 when unset
        coarsest = min(coarsest, int(g.anchors_resolution or 0))
    return cell_size(g.cell, int(resolution), coarsest)


def check_cell_sizes(
    frame: pd.DataFrame, size: CellSize, *, column: str | None = None
) -> dict[str, int]:
    """Counts of rows breaking the cell-size rule (the gate's check, independent of
    :func:`enforce_min_subjects`): ``other_resolution`` (a cell of a resolution the policy does
    not allow, or no valid cell), ``missing_resolution_column`` (rows of a coarser size when
    sizes mix and no column names them) and ``wrong_resolution`` (the column disagrees with
    the cell). Null cells are not counted. H3 sees unique cells only."""
    cells = frame[size.column]
    codes, uniques = pd.factorize(cells.astype("string").str.lower())
    res = np.array(
        [h3.get_resolution(c) if h3.is_valid_cell(c) else -1 for c in uniques], dtype=np.int64
    )
    per_row = res[codes] if len(codes) else np.empty(0, dtype=np.int64)
    known = codes >= 0
    allowed = (per_row >= size.min_resolution) & (per_row <= size.resolution)
    found = {"other_resolution": int((known & ~allowed).sum())}
    named = column or size.resolution_column
    sizes = np.unique(per_row[known])
    if named is not None and named in frame.columns:
        stated = pd.to_numeric(frame[named], errors="coerce").to_numpy()
        found["wrong_resolution"] = int((known & (stated != per_row)).sum())
    elif sizes.size > 1:
        # Sizes mix with nothing naming them: every row not of the finest size is unreadable.
        found["missing_resolution_column"] = int((known & (per_row != sizes.max())).sum())
    return found


def check_min_subjects(frame: pd.DataFrame, *, cell: str, bucket: str, subject: str, m: int) -> int:
    """Number of (cell, bucket) groups with fewer than ``m`` distinct subjects.

    Deliberately a plain group-by, independent of :func:`enforce_min_subjects`. Null keys form
    groups of their own and null subjects do not count, so they can only add violations.
    """
    counts = frame.groupby([cell, bucket], dropna=False, observed=True, sort=False)[
        subject
    ].nunique()
    return int((counts < m).sum())
