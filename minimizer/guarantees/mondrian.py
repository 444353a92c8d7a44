"""Mondrian local recoding: strict multidimensional partitioning (LeFevre et al., ICDE 2006).

Each quasi-identifier is put on an ordinal axis: numeric hierarchies in numeric order, others
in hierarchy order (every subtree contiguous, so a range of positions reads as hierarchy
nodes). Starting from the whole table, a partition is cut in two along the axis where it is
widest (relative to the whole table), at the allowable threshold closest to its weighted
median; a cut is allowable when both halves keep at least k rows (and, for l-diversity, at
least l distinct values of every sensitive attribute). A partition with no allowable cut is
released as one equivalence class.

It runs on the histogram of distinct combinations (counts as weights), so identical records are
never separated and the memory bound is that of the counting pass. Nothing is ever suppressed:
the whole table is always a valid partition when it holds at least k rows.

A released value is the range of values present in the partition: one value as itself; a
numeric range as ``low-high``; a categorical range as the fewest whole hierarchy nodes that
tile it, joined by ``|`` (``Asia|Europe``, or ``*`` for everything). A range that mixes a missing
value with known ones is released as ``*``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from minimizer.errors import GuaranteeError
from minimizer.guarantees.kanon_histogram import QIHistogram, row_ids
from minimizer.hierarchy import TOP, Hierarchy

__all__ = ["MondrianCut", "mondrian"]


@dataclass(frozen=True, eq=False)
class MondrianCut:
    """The released label of every histogram row, and the resulting class statistics."""

    labels: tuple[np.ndarray, ...]  # per quasi-identifier: label (str or None) per histogram row
    classes: int
    min_class: int
    discernibility: int


def mondrian(hist: QIHistogram, k: int, *, l: int = 1) -> MondrianCut:
    n = hist.rows
    sens = hist.sensitive_codes if l > 1 else None
    if n < k:
        raise GuaranteeError(
            f"k={k} exceeds the {n} row(s) of the table",
            check="k_anonymity",
            reason="k_unreachable",
            count=n,
        )
    if sens is not None and min(_distinct(sens, np.ones(len(sens), bool))) < l:
        raise GuaranteeError(
            f"the table has fewer than l={l} distinct values of a sensitive attribute",
            check="l_diversity",
            reason="l_unreachable",
        )
    ordinals = np.stack([h.order[hist.codes[:, j]] for j, h in enumerate(hist.hierarchies)], 1)
    part = _partition(ordinals, hist.counts, k, l, sens)
    frame = pd.DataFrame(ordinals).groupby(part)
    lows, highs = frame.min().to_numpy(), frame.max().to_numpy()
    labels = []
    for j, h in enumerate(hist.hierarchies):
        spans = pd.factorize(pd.MultiIndex.from_arrays([lows[:, j], highs[:, j]]))
        names = np.array([_label(h, int(a), int(b)) for a, b in spans[1]], dtype=object)
        labels.append(names[spans[0]][part])
    # Distinct partitions almost always get distinct labels; where two do not, they are one
    # released class, so the statistics are taken over the labels.
    codes = np.stack([pd.factorize(pd.Series(lab), use_na_sentinel=False)[0] for lab in labels], 1)
    cls, groups = row_ids(codes)
    sizes = np.bincount(cls, weights=hist.counts, minlength=groups).astype(np.int64)
    return MondrianCut(
        labels=tuple(labels),
        classes=groups,
        min_class=int(sizes.min()),
        discernibility=int((sizes * sizes).sum()),
    )


def _partition(
    ordinals: np.ndarray, counts: np.ndarray, k: int, l: int, sens: np.ndarray | None
) -> np.ndarray:
    """Partition id of every histogram row."""
    scale = np.maximum(ordinals.max(axis=0) - ordinals.min(axis=0), 1).astype(float)
    part = np.zeros(len(ordinals), dtype=np.int64)
    stack = [(np.arange(len(ordinals)), int(counts.sum()))]
    next_id = 0
    while stack:
        idx, total = stack.pop()
        cut = None
        if total >= 2 * k and len(idx) > 1:  # otherwise no cut can leave k rows on each side
            sub = ordinals[idx]
            low, high = sub.min(axis=0), sub.max(axis=0)
            weights = counts[idx]
            for dim in np.argsort((low - high) / scale, kind="stable").tolist():
                if high[dim] == low[dim]:
                    break
                values = sub[:, dim] - low[dim]
                found = _best_cut(values, weights, total, k, l, None if sens is None else sens[idx])
                if found is not None:
                    cut, left = values <= found[0], found[1]
                    break
        if cut is None:
            part[idx] = next_id
            next_id += 1
        else:
            stack += [(idx[cut], left), (idx[~cut], total - left)]
    return part


def _best_cut(
    values: np.ndarray, weights: np.ndarray, total: int, k: int, l: int, sens: np.ndarray | None
) -> tuple[int, int] | None:
    """The allowable threshold t (left half: values <= t) closest to the weighted median, and
    the rows it leaves on the left."""
    mass = np.bincount(values, weights=weights).cumsum()[:-1]
    allowed = (mass >= k) & (mass <= total - k)
    if sens is not None:
        allowed &= _diverse_cuts(values, sens, len(mass), l)
    if not allowed.any():
        return None
    threshold = int(np.argmin(np.where(allowed, np.abs(mass - total / 2), np.inf)))
    return threshold, int(mass[threshold])


def _diverse_cuts(values: np.ndarray, sens: np.ndarray, cuts: int, l: int) -> np.ndarray:
    """For every threshold, whether both halves keep l distinct values of each attribute."""
    ok = np.ones(cuts, dtype=bool)
    for column in sens.T:
        present = column >= 0
        frame = pd.DataFrame({"s": column[present], "v": values[present]}).groupby("s")["v"]
        first, last = frame.min().to_numpy(), frame.max().to_numpy()
        # A value is on the left of threshold t if it first occurs at or before t, and on the
        # right if it last occurs after t.
        left = np.cumsum(np.bincount(first, minlength=cuts + 1))[:-1]
        right = len(last) - np.cumsum(np.bincount(last, minlength=cuts + 1))[:-1]
        ok &= (left >= l) & (right >= l)
    return ok


def _distinct(sens: np.ndarray, mask: np.ndarray) -> list[int]:
    return [len(np.unique(col[mask & (col >= 0)])) for col in sens.T]


def _label(h: Hierarchy, low: int, high: int) -> str | None:
    return _labeller(h)(low, high)


@lru_cache(maxsize=64)
def _labeller(h: Hierarchy):  # type: ignore[no-untyped-def]
    """A cached function (low, high) -> label for the ordinal axis of ``h``."""
    ranking = np.argsort(h.order[:-1])  # leaf code at each ordinal position
    leaves = np.asarray(h.leaves, dtype=object)[ranking]
    null = h.null_code
    top = h.depth - 1
    # Per level: the node at each position, and the first and last position of each node.
    nodes = [h.level_codes(level)[ranking] for level in range(1, top)]
    starts = [pd.Series(np.arange(len(ranking))).groupby(c).min().to_numpy() for c in nodes]
    ends = [pd.Series(np.arange(len(ranking))).groupby(c).max().to_numpy() for c in nodes]
    names = [h.level_labels(level) for level in range(1, top)]

    @lru_cache(maxsize=None)
    def label(low: int, high: int) -> str | None:
        if high == null:
            return None if low == null else TOP
        if low == high:
            return str(leaves[low])
        if low == 0 and high == len(leaves) - 1:
            return TOP
        if h.is_numeric:
            return f"{leaves[low]}-{leaves[high]}"
        parts, position = [], low
        while position <= high:
            # The largest hierarchy node that starts here and ends inside the range.
            part, step = str(leaves[position]), position + 1
            for level in range(len(nodes) - 1, -1, -1):
                node = nodes[level][position]
                if starts[level][node] == position and ends[level][node] <= high:
                    part, step = str(names[level][node]), int(ends[level][node]) + 1
                    break
            parts.append(part)
            position = step
        return "|".join(parts)

    return label
