"""Mondrian local recoding: strict multidimensional partitioning (LeFevre et al., ICDE 2006).

Each quasi-identifier is put on an ordinal axis: numeric hierarchies in numeric order, others
in hierarchy order (every subtree contiguous, so a range of positions reads as hierarchy
nodes). Starting from the whole table, a partition is cut in two along the axis where it is
widest (relative to the whole table), at the allowable threshold closest to its weighted
median; a cut is allowable when both halves keep at least k rows (and, for l-diversity, at
least l distinct values of every sensitive attribute). When the histogram carries subjects,
"k rows" reads "k distinct subjects" (and l-diversity needs l of them): a cut that leaves one
person's many rows on a side is not allowable. A partition with no allowable cut is released as
one equivalence class.

It runs on the histogram of distinct combinations (counts as weights), so identical records are
never separated and the memory bound is that of the counting pass. Nothing is ever suppressed:
the whole table is always a valid partition when it holds at least k rows.

A released value is the range of values present in the partition: one value as itself; a
numeric range as ``low-high``; a categorical range as the fewest whole hierarchy nodes that
tile it, joined by ``|`` (``Asia|Europe``, or ``*`` for everything). A range that mixes a missing
value with known ones is released as ``*``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np
import pandas as pd

from minimizer.errors import GuaranteeError
from minimizer.guarantees.kanon.grouping import distinct_per_class, row_ids
from minimizer.guarantees.kanon.histogram import QIHistogram
from minimizer.hierarchy import TOP, Hierarchy

__all__ = ["MondrianCut", "mondrian"]


@dataclass(frozen=True, eq=False)
class MondrianCut:
    """The released label of every histogram row, and the resulting class statistics."""

    # Per quasi-identifier: the distinct released labels (None: missing), and the index of
    # each histogram row's label among them.
    labels: tuple[tuple[list[str | None], np.ndarray], ...]
    classes: int
    min_class: int
    discernibility: int


def mondrian(hist: QIHistogram, k: int, *, diversity: int = 1) -> MondrianCut:
    counted = hist.people is not None
    # Subjects per part: one weight per subject with one combination, summed like rows, plus
    # the distinct codes of subjects with several (see QIHistogram).
    subj = hist.split_codes
    weights = hist.people
    n = hist.subjects if counted else hist.rows
    sens = hist.sensitive_codes if diversity > 1 else None
    people = max(k, diversity if diversity > 1 else 0) if counted else 0
    if n < max(k, people):
        unit = "subject(s)" if counted else "row(s)"
        raise GuaranteeError(
            f"k={k}"
            + (f" and l={diversity}" if people > k else "")
            + f" exceed the {n} {unit} of the table",
            check="k_anonymity",
            reason="k_unreachable",
            count=n,
        )
    if sens is not None and min(_distinct(sens, np.ones(len(sens), bool))) < diversity:
        raise GuaranteeError(
            f"the table has fewer than l={diversity} distinct values of a sensitive attribute",
            check="l_diversity",
            reason="l_unreachable",
        )
    ordinals = np.stack([h.order[hist.codes[:, j]] for j, h in enumerate(hist.hierarchies)], 1)
    need = _Need(hist.counts, k, diversity, sens, subj, people, weights)
    part = _partition(ordinals, need)
    order = np.argsort(part, kind="stable")
    starts = np.flatnonzero(np.diff(part[order], prepend=-1))
    lows = np.minimum.reduceat(ordinals[order], starts, axis=0)
    highs = np.maximum.reduceat(ordinals[order], starts, axis=0)
    labels = []
    for j, h in enumerate(hist.hierarchies):
        # Label each distinct (low, high) range once, then share equal labels.
        span_of_part, spans = pd.factorize(pd.MultiIndex.from_arrays([lows[:, j], highs[:, j]]))
        distinct: dict[str | None, int] = {}
        name_of_span = np.array(
            [distinct.setdefault(_label(h, int(a), int(b)), len(distinct)) for a, b in spans]
        )
        labels.append((list(distinct), name_of_span[span_of_part][part]))
    # Distinct partitions almost always get distinct labels; where two do not, they are one
    # released class, so the statistics are taken over the labels.
    cls, groups = row_ids(np.stack([codes for _, codes in labels], axis=1))
    sizes = np.bincount(cls, weights=hist.counts, minlength=groups).astype(np.int64)
    measured = sizes
    if weights is not None:
        measured = np.bincount(cls, weights=weights, minlength=groups).astype(np.int64)
    if subj is not None:
        measured = measured + distinct_per_class(cls, groups, subj)
    return MondrianCut(
        labels=tuple(labels),
        classes=groups,
        min_class=int(measured.min()),
        discernibility=int((sizes * sizes).sum()),
    )


@dataclass(frozen=True, eq=False)
class _Need:
    """What each side of a cut must keep, and the weights it is counted in."""

    counts: np.ndarray  # rows per histogram row
    k: int
    diversity: int
    sens: np.ndarray | None  # sensitive codes, when l-diversity is asked
    subj: np.ndarray | None = None  # codes of subjects with several combinations (-1: none)
    people: int = 0  # subjects each side needs; 0 when not counted in subjects
    weights: np.ndarray | None = None  # single-combination subjects per histogram row


def _partition(ordinals: np.ndarray, need: _Need) -> np.ndarray:
    """Partition id of every histogram row.

    All open partitions are cut together, one round per depth of the recursion: each round is
    a handful of whole-array numpy operations (sort rows by partition and value, cumulative
    weights, pick the best allowable threshold per partition), never a loop over partitions.
    """
    scale = np.maximum(ordinals.max(axis=0) - ordinals.min(axis=0), 1).astype(float)
    part = np.zeros(len(ordinals), dtype=np.int64)
    k = need.k
    total = np.array([int(need.counts.sum())], dtype=np.int64)
    closed = np.array([False])  # no allowable cut: final, never tried again
    while True:
        # Partitions under 2k rows cannot be cut.
        rows = np.flatnonzero((total[part] >= 2 * k) & ~closed[part])
        if len(rows) == 0:
            return part
        rows = rows[np.argsort(part[rows], kind="stable")]
        starts = np.flatnonzero(np.diff(part[rows], prepend=-1))
        owner = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(rows))))
        parts = part[rows[starts]]
        sub = ordinals[rows]
        low = np.minimum.reduceat(sub, starts, axis=0)
        widths = (np.maximum.reduceat(sub, starts, axis=0) - low) / scale
        preference = np.argsort(-widths, axis=1, kind="stable")
        cut_dim = np.full(len(starts), -1)
        cut_at = np.zeros(len(starts), dtype=np.int64)
        cut_left = np.zeros(len(starts), dtype=np.int64)
        pending = np.ones(len(starts), dtype=bool)
        for attempt in range(ordinals.shape[1]):
            dims = preference[:, attempt]
            # Widths are sorted: once the preferred width is 0, every later one is too.
            pending &= widths[np.arange(len(starts)), dims] > 0
            if not pending.any():
                break
            chosen, at, left = _best_cuts(sub, rows, owner, dims, pending, total[parts], need)
            cut_dim[chosen], cut_at[chosen], cut_left[chosen] = dims[chosen], at, left
            pending[chosen] = False
        split = cut_dim >= 0
        closed[parts[~split]] = True
        if not split.any():
            return part
        # The right half of every cut partition gets a new id; the left half keeps the old one.
        new_ids = np.full(len(starts), -1)
        new_ids[split] = len(total) + np.arange(int(split.sum()))
        on_split = split[owner]
        right = on_split & (sub[np.arange(len(rows)), cut_dim[owner]] > cut_at[owner])
        part[rows[right]] = new_ids[owner[right]]
        old_totals = total[parts[split]]
        total[parts[split]] = cut_left[split]
        total = np.append(total, old_totals - cut_left[split])
        closed = np.append(closed, np.zeros(int(split.sum()), dtype=bool))


def _best_cuts(
    sub: np.ndarray,
    rows: np.ndarray,
    owner: np.ndarray,
    dims: np.ndarray,
    pending: np.ndarray,
    totals: np.ndarray,
    need: _Need,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each pending partition, along its preferred dimension, the allowable threshold
    closest to the weighted median: (partitions that have one, threshold, rows left of it)."""
    k, sens, subj, weights = need.k, need.sens, need.subj, need.weights
    positions = np.flatnonzero(pending[owner])
    who = owner[positions]
    values = sub[positions, dims[who]]
    order = np.lexsort((values, who))
    positions, who, values = positions[order], who[order], values[order]
    new_part = np.diff(who, prepend=-1) != 0
    runs = np.diff(np.append(np.flatnonzero(new_part), len(who)))
    left = _left_mass(need.counts[rows[positions]], new_part, runs)
    last_of_value = np.append((np.diff(who) != 0) | (np.diff(values) != 0), True)
    last_of_part = np.append(np.diff(who) != 0, True)
    candidates = np.flatnonzero(last_of_value & ~last_of_part)
    mass = left[candidates]
    size = totals[who[candidates]]
    allowed = (mass >= k) & (size - mass >= k)
    if sens is not None:
        allowed &= _diverse(candidates, who, values, sens[rows[positions]], need.diversity)
    if weights is not None:
        # k (and l) subjects on both sides: one weight per single-combination subject, plus
        # the distinct subjects with several combinations.
        held = weights[rows[positions]]
        on_left = _left_mass(held, new_part, runs)[candidates]
        in_part = np.bincount(who, weights=held, minlength=int(who.max(initial=0)) + 1)
        on_right = in_part[who[candidates]] - on_left
        if subj is not None:
            left_split, right_split = _sides(candidates, who, values, subj[rows[positions]])
            on_left, on_right = on_left + left_split, on_right + right_split
        allowed &= (on_left >= need.people) & (on_right >= need.people)
    candidates, mass, size = candidates[allowed], mass[allowed], size[allowed]
    # Per partition, the candidate with the smallest imbalance (ties: the lower threshold).
    order = np.lexsort((candidates, np.abs(2 * mass - size), who[candidates]))
    candidates, mass = candidates[order], mass[order]
    first = np.diff(who[candidates], prepend=-1) != 0
    return who[candidates][first], values[candidates][first], mass[first]


def _left_mass(weights: np.ndarray, new_part: np.ndarray, runs: np.ndarray) -> np.ndarray:
    """Running sum of ``weights`` within each partition (rows sorted by partition)."""
    running = np.cumsum(weights)
    before = (running - weights)[new_part]
    within: np.ndarray = running - np.repeat(before, runs)
    return within


def _diverse(
    candidates: np.ndarray, who: np.ndarray, values: np.ndarray, sens: np.ndarray, diversity: int
) -> np.ndarray:
    """Whether each candidate threshold leaves l distinct values of every sensitive attribute
    on both sides (rows are sorted by partition, then value)."""
    ok = np.ones(len(candidates), dtype=bool)
    for column in sens.T:
        left, right = _sides(candidates, who, values, column)
        ok &= (left >= diversity) & (right >= diversity)
    return ok


def _sides(
    candidates: np.ndarray, who: np.ndarray, values: np.ndarray, column: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct non-negative values of ``column`` left and right of each candidate threshold
    (rows are sorted by partition, then value)."""
    span = int(values.max(initial=0)) + 2
    at = who[candidates] * span + values[candidates]
    start = who[candidates] * span
    present = np.flatnonzero(column >= 0)
    if len(present) == 0:  # no value here at all (e.g. no subject with several combinations)
        none = np.zeros(len(candidates), dtype=np.int64)
        return none, none
    pair = who[present] * (int(column.max(initial=0)) + 1) + column[present]
    order = np.argsort(pair, kind="stable")  # within a pair, rows stay in value order
    pair, rows = pair[order], present[order]
    bounds = np.flatnonzero(np.diff(pair, prepend=-1))
    firsts = rows[bounds]
    lasts = rows[np.append(bounds[1:], len(rows)) - 1]
    # A value is left of threshold t if it first occurs at or before t, and right of it if it
    # last occurs after t.
    first_key = np.sort(who[firsts] * span + values[firsts])
    last_key = np.sort(who[lasts] * span + values[lasts])
    end = start + span
    left = np.searchsorted(first_key, at, "right") - np.searchsorted(first_key, start)
    in_part = np.searchsorted(last_key, end) - np.searchsorted(last_key, start)
    right = in_part - (np.searchsorted(last_key, at, "right") - np.searchsorted(last_key, start))
    return left, right


def _distinct(sens: np.ndarray, mask: np.ndarray) -> list[int]:
    return [len(np.unique(col[mask & (col >= 0)])) for col in sens.T]


def _label(h: Hierarchy, low: int, high: int) -> str | None:
    return _labeller(h)(low, high)


@lru_cache(maxsize=64)
def _labeller(h: Hierarchy) -> Callable[[int, int], str | None]:
    """A cached function (low, high) -> label for the ordinal axis of ``h``."""
    ranking = np.argsort(h.order[:-1])  # leaf code at each ordinal position
    leaves = np.asarray(h.leaves, dtype=object)[ranking]
    null = h.null_code
    # Per level above the leaves: the node at each position, and where each node starts and
    # ends. A node whose leaves are not contiguous on the axis (possible in numeric order) never
    # labels a range: its label would claim values it does not hold.
    positions = pd.Series(np.arange(len(ranking)))
    tiles: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    for level in range(h.depth - 2, 0, -1):  # highest first
        nodes = h.level_codes(level)[ranking]
        grouped = positions.groupby(nodes)
        first, last = grouped.min().to_numpy(), grouped.max().to_numpy()
        last = np.where(grouped.size().to_numpy() == last - first + 1, last, -1)
        tiles.append((nodes, first, last, h.level_labels(level)))

    def node_at(position: int, high: int) -> tuple[str, int] | None:
        """The largest contiguous node starting at ``position`` and ending by ``high``."""
        for nodes, first, last, names in tiles:
            node = nodes[position]
            if first[node] == position and 0 <= last[node] <= high:
                return str(names[node]), int(last[node])
        return None

    @cache
    def label(low: int, high: int) -> str | None:
        if high == null:
            return None if low == null else TOP
        if low == high:
            return str(leaves[low])
        if low == 0 and high == len(leaves) - 1:
            return TOP
        if h.is_numeric:
            exact = node_at(low, high)
            if exact is not None and exact[1] == high:
                return exact[0]
            return f"{leaves[low]}-{leaves[high]}"
        parts, position = [], low
        while position <= high:
            found = node_at(position, high) or (str(leaves[position]), position)
            parts.append(found[0])
            position = found[1] + 1
        return "|".join(parts)

    return label
