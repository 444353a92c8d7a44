"""Optimal full-domain generalisation: a pruned search of the generalisation lattice.

A lattice node is one level per quasi-identifier. At a node, records with equal generalised
values form an equivalence class; classes smaller than k (or, with l-diversity, with fewer than
l distinct sensitive values) are suppressed. A node is *feasible* when it suppresses at most the
budget. Among feasible nodes the search returns the one with the least discernibility

    DM = sum(size^2 over kept classes) + suppressed * n

(ties: fewer suppressed rows, then lower total level). It is exact, yet evaluates only part of
the lattice, using one monotonicity fact: generalising only merges classes, so a row kept at a
node is kept at every ancestor, and ``suppressed`` never grows going up. Hence for any
descendant D of an evaluated node A, ``DM(D) >= n * suppressed(D) >= n * suppressed(A)``. The
search walks the lattice top-down (most general first), one height at a time, and skips

* every node with an ancestor whose ``suppressed > min(budget, best_DM // n)``: it is either
  infeasible or cannot beat the best found;
* every node whose lower bound from its evaluated parents (see ``child_bounds``) or from its
  number of possible classes (``_cannot_win``) already exceeds the best DM.

A greedy descent first finds a good ``best_DM``.

When the histogram carries subjects, a class is kept only with at least k distinct subjects
(and, with l-diversity, l of them as well as l distinct sensitive values): rows of one person
never make a class. Distinct subjects only grow when classes merge, so the monotonicity above
holds; discernibility and the suppression budget stay in rows, and every kept class still has
at least k rows, so the bounds below hold too.

Nodes are evaluated on integer codes only, from the histogram projected onto the
quasi-identifiers the node does not fully generalise (cached per projection), with
``np.bincount`` over the node's dense code space when it is small and a sort otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from minimizer.errors import GuaranteeError
from minimizer.guarantees.kanon.grouping import group_rows, group_rows_weighted, measure_classes
from minimizer.guarantees.kanon.histogram import QIHistogram

__all__ = ["NodeStats", "kept_classes", "search_full_domain"]

# A projection of the histogram: codes, rows, sensitive codes, subject codes (exact count of
# distinct subjects) or subjects per row (when no subject spans two combinations).
_Projection = tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray | None]

# Refuse lattices too large to search exhaustively-with-pruning in reasonable time.
MAX_NODES = 1_000_000


@dataclass(frozen=True)
class NodeStats:
    """What one lattice node achieves on the histogram."""

    levels: tuple[int, ...]
    suppressed: int
    classes: int
    min_class: int
    discernibility: int

    def rank(self) -> tuple[int, int, int, tuple[int, ...]]:
        return (self.discernibility, self.suppressed, sum(self.levels), self.levels)


def search_full_domain(
    hist: QIHistogram,
    k: int,
    max_suppressed: int,
    *,
    diversity: int = 1,
    max_levels: tuple[int | None, ...] | None = None,
) -> NodeStats:
    """The feasible node with the least discernibility; GuaranteeError when there is none.

    ``max_levels``: per quasi-identifier, the highest level the search may use (None: its top),
    e.g. to keep a retention time column from becoming '*', which retention would delete."""
    lattice = _Lattice(hist, k, diversity)
    caps = max_levels or (None,) * len(hist.hierarchies)
    depths = np.array(
        [
            h.depth if cap is None else min(h.depth, cap + 1)
            for h, cap in zip(hist.hierarchies, caps, strict=True)
        ],
        dtype=np.int64,
    )
    tops = depths - 1
    if float(np.prod(depths.astype(float))) > MAX_NODES:
        raise GuaranteeError(
            f"the generalisation lattice has more than {MAX_NODES} nodes; use fewer "
            "quasi-identifiers, shallower hierarchies or method='mondrian'",
            check="k_anonymity",
            reason="lattice_too_large",
        )
    best = lattice.greedy(tuple(int(t) for t in tops), max_suppressed)
    n = hist.rows
    size = int(np.prod(depths))
    strides = np.ones(len(depths), dtype=np.int64)
    for j in range(len(depths) - 2, -1, -1):
        strides[j] = strides[j + 1] * depths[j + 1]
    levels = np.stack(np.unravel_index(np.arange(size), tuple(depths)), axis=1)
    heights = levels.sum(axis=1)
    # low_sup[x]: a lower bound on suppressed(x) (exact when x was evaluated); the sentinel
    # slot `size` stands in for "no such successor".
    low_sup = np.zeros(size + 1, dtype=np.int64)
    # Upper bound on the number of classes at each node: the product, over quasi-identifiers,
    # of the distinct generalised values present. With C classes holding the n - s kept rows,
    # DM >= (n - s)^2 / C + s * n (Cauchy-Schwarz), which rules out most very general nodes.
    class_bound = np.ones(size, dtype=float)
    for j, present in enumerate(lattice.present_values()):
        class_bound *= np.asarray(present, dtype=float)[levels[:, j]]
    # split_lb[x]: a lower bound on DM(x) from its evaluated parents (see child_bounds).
    split_lb = np.zeros(size, dtype=float)
    for height in range(int(tops.sum()), -1, -1):
        layer = np.flatnonzero(heights == height)
        succ = layer[:, None] + strides[None, :]
        succ = np.where(levels[layer] < tops[None, :], succ, size)
        floors = low_sup[succ].max(axis=1)
        low_sup[layer] = floors
        # Vectorised first cut with the best DM at the start of the layer (conservative:
        # floating point only ever lets an extra node through); exact re-check per node.
        open_ = floors <= max_suppressed
        if best:
            open_ &= (floors <= best.discernibility // n) & (split_lb[layer] <= best.discernibility)
            slack = best.discernibility - floors * float(n)
            spread = (n - floors).astype(float) ** 2
            open_ &= ~((slack < 0) | (spread > slack * np.minimum(class_bound[layer], n) + 1.0))
        for node, floor in zip(layer[open_].tolist(), floors[open_].tolist(), strict=True):
            if best and (
                floor > best.discernibility // n
                or split_lb[node] > best.discernibility
                or _cannot_win(n, floor, class_bound[node], best)
            ):
                continue
            node_levels = tuple(levels[node].tolist())
            stats = lattice.evaluate(node_levels)
            low_sup[node] = stats.suppressed
            for j, bound in lattice.child_bounds(node_levels, lattice.sizes):
                child = node - int(strides[j])
                split_lb[child] = max(split_lb[child], bound)
            if stats.suppressed <= max_suppressed and (best is None or stats.rank() < best.rank()):
                best = stats
    if best is None:
        raise GuaranteeError(
            f"no generalisation reaches k={k}"
            + (f" with l={diversity}" if diversity > 1 else "")
            + f" within the suppression budget of {max_suppressed} of {n} row(s)",
            check="l_diversity" if diversity > 1 else "k_anonymity",
            reason="k_unreachable",
            count=n,
        )
    return best


def kept_classes(
    sizes: np.ndarray,
    distinct: np.ndarray | None,
    people: np.ndarray | None,
    k: int,
    diversity: int,
) -> np.ndarray:
    """Which classes are released: k rows, or k distinct subjects when subjects are known;
    with l-diversity, l distinct sensitive values (and l distinct subjects)."""
    if people is None:
        kept = sizes >= k
    else:
        kept = (sizes > 0) & (people >= max(k, diversity if distinct is not None else 0))
    if distinct is not None:
        kept &= distinct >= diversity
    return kept


def _cannot_win(n: int, floor: int, classes: float, best: NodeStats) -> bool:
    """True when DM >= (n - floor)^2 / classes + floor * n already exceeds the best DM."""
    slack = best.discernibility - floor * n
    return slack < 0 or (n - floor) ** 2 > slack * min(classes, n)


def _fanout(lower: np.ndarray, upper: np.ndarray, leaves: np.ndarray) -> int:
    """The most distinct ``lower``-level values present under one ``upper``-level value."""
    present = np.unique(lower[leaves])
    parents = upper[_first_leaf(lower)[present]]
    return int(np.bincount(parents).max(initial=1))


def _first_leaf(lut: np.ndarray) -> np.ndarray:
    """For each code at a level, one leaf code that maps to it."""
    first = np.empty(int(lut.max()) + 1, dtype=np.int64)
    first[lut[::-1]] = np.arange(len(lut) - 1, -1, -1)
    return first


class _Lattice:
    """Evaluates nodes on the histogram, caching the projections it evaluates them from."""

    def __init__(self, hist: QIHistogram, k: int, diversity: int) -> None:
        self.hist = hist
        self.k = k
        self.diversity = diversity
        self.n = hist.rows
        self.tops = tuple(h.depth - 1 for h in hist.hierarchies)
        self._projections: dict[tuple[int, ...], _Projection]
        # Column-major codes: every evaluation reads whole columns.
        base = self._base(hist, diversity)
        self._projections = {tuple(range(len(self.tops))): base}
        self._evaluated: dict[tuple[int, ...], NodeStats] = {}
        self._luts = [[h.level_codes(lv) for lv in range(h.depth)] for h in hist.hierarchies]
        self._cards = [[h.cardinality(lv) for lv in range(h.depth)] for h in hist.hierarchies]
        self._radices = hist.radices
        tables = [lut for luts in self._luts for lut in luts]
        starts = np.cumsum([0, *(len(t) for t in tables)])[:-1].tolist()
        self._all_luts = np.concatenate(tables) if tables else np.empty(0, dtype=np.int64)
        depths = [len(luts) for luts in self._luts]
        firsts = np.cumsum([0, *depths])[:-1].tolist()
        self._lut_offset = [starts[f : f + d] for f, d in zip(firsts, depths, strict=True)]
        self.sizes = np.empty(0, dtype=np.int64)  # class sizes of the last node evaluated
        self._greedy_sizes: dict[tuple[int, ...], np.ndarray] = {}
        self._fanout = [
            [_fanout(luts[lv], luts[lv + 1], hist.codes[:, j]) for lv in range(len(luts) - 1)]
            for j, luts in enumerate(self._luts)
        ]

    @staticmethod
    def _base(hist: QIHistogram, diversity: int) -> _Projection:
        """The histogram to evaluate nodes from. Subjects with one combination are summed
        away once (one weight each), so projections stay as small as without subjects; only
        the codes of subjects with several combinations are carried, to be counted distinct."""
        codes = np.asfortranarray(hist.codes)
        if hist.people is None:
            return codes, hist.counts, hist.sensitive_codes, None, None
        sens = hist.sensitive_codes if diversity > 1 else None
        split = hist.split_codes
        parts = [
            codes,
            *([] if sens is None else [sens]),
            *([] if split is None else [split[:, None]]),
        ]
        grouped, rows, people = group_rows_weighted(
            np.concatenate(parts, axis=1), hist.counts, hist.people
        )
        width = codes.shape[1]
        end = width + (0 if sens is None else sens.shape[1])
        return (
            np.asfortranarray(grouped[:, :width]),
            rows,
            None if sens is None else grouped[:, width:end],
            None if split is None else np.ascontiguousarray(grouped[:, end]),
            people,
        )

    def evaluate(self, levels: tuple[int, ...]) -> NodeStats:
        if levels in self._evaluated:
            # Repeats are nodes the greedy descent visited; it kept their class sizes.
            self.sizes = self._greedy_sizes.get(levels, np.empty(0, dtype=np.int64))
            return self._evaluated[levels]
        dims = tuple(j for j, lv in enumerate(levels) if lv < self.tops[j])
        codes, counts, sens, subj, people = self._projection(dims)
        # One gather for all columns: every (column, level) table lives in one array.
        offsets = np.array([self._lut_offset[j][levels[j]] for j in dims], dtype=np.int64)
        generalised = self._all_luts[codes + offsets]
        cards = [self._cards[j][levels[j]] for j in dims]
        sizes, distinct, persons = measure_classes(
            generalised, cards, counts, sens, self.diversity > 1, subj, people
        )
        stats = self._evaluated[levels] = self._stats(levels, sizes, distinct, persons)
        self.sizes = sizes[sizes > 0]
        return stats

    def child_bounds(self, levels: tuple[int, ...], sizes: np.ndarray) -> list[tuple[int, float]]:
        """Lower bounds on the DM of each child (one level down in one quasi-identifier).

        Going down in dimension j splits each class of size s into at most f pieces (f: the
        most level-l values present under one level-(l+1) value), and every row costs at
        least k (kept: class >= k; suppressed: n >= k), so a child's DM is at least
        sum over classes of max(s^2 / f, k * s)."""
        dims = [j for j, level in enumerate(levels) if level > 0]
        if not dims or not len(sizes):
            return []
        fans = np.array([self._fanout[j][levels[j] - 1] for j in dims], dtype=float)
        squares = (sizes * sizes)[None, :] / fans[:, None]
        bounds = np.maximum(squares, float(self.k) * sizes[None, :]).sum(axis=1)
        return list(zip(dims, bounds.tolist(), strict=True))

    def _radix_product(self, dims: tuple[int, ...]) -> float:
        return math.prod(self._radices[j] for j in dims)

    def present_values(self) -> list[list[int]]:
        """Per quasi-identifier and level, how many distinct generalised values occur."""
        return [
            [int(np.count_nonzero(np.bincount(lut[self.hist.codes[:, j]]))) for lut in luts]
            for j, luts in enumerate(self._luts)
        ]

    def greedy(self, top: tuple[int, ...], max_suppressed: int) -> NodeStats | None:
        """Walk down from the top, always to the feasible child with the least DM."""
        current = self._remember(top)
        if current.suppressed > max_suppressed:
            return None
        while True:
            children = [
                self._remember((*current.levels[:j], lv - 1, *current.levels[j + 1 :]))
                for j, lv in enumerate(current.levels)
                if lv > 0
            ]
            feasible = [c for c in children if c.suppressed <= max_suppressed]
            if not feasible:
                return current
            step = min(feasible, key=NodeStats.rank)
            if step.rank() >= current.rank():
                return current
            current = step

    def _remember(self, levels: tuple[int, ...]) -> NodeStats:
        """Evaluate for the greedy descent, keeping the class sizes for the bounds later
        (unless they are large: the descent must not hold many big arrays)."""
        stats = self.evaluate(levels)
        if len(self.sizes) <= 100_000:
            self._greedy_sizes[levels] = self.sizes
        return stats

    def _stats(
        self,
        levels: tuple[int, ...],
        sizes: np.ndarray,
        distinct: np.ndarray | None,
        people: np.ndarray | None,
    ) -> NodeStats:
        kept = kept_classes(sizes, distinct, people, self.k, self.diversity)
        kept_sizes = sizes[kept]
        measured = (sizes if people is None else people)[kept]
        suppressed = self.n - int(kept_sizes.sum())
        return NodeStats(
            levels=levels,
            suppressed=suppressed,
            classes=len(kept_sizes),
            min_class=int(measured.min()) if len(measured) else 0,
            discernibility=int((kept_sizes * kept_sizes).sum()) + suppressed * self.n,
        )

    def _projection(self, dims: tuple[int, ...]) -> _Projection:
        """The histogram grouped on ``dims`` (and the sensitive codes), from its smallest cached
        refinement, so every node with the same fully-generalised dimensions is evaluated from
        far fewer rows than the full histogram."""
        if dims in self._projections:
            return self._projections[dims]
        # Build from the projection with one more dimension: the cached one with the fewest
        # rows, or else (recursively) the one adding the dimension with the fewest values.
        # Chains of small steps cost far less than grouping the full histogram every time.
        wider = [tuple(sorted((*dims, j))) for j in range(len(self.tops)) if j not in dims]
        cached = [d for d in wider if d in self._projections]
        if cached:
            source_dims = min(cached, key=lambda d: len(self._projections[d][1]))
        else:
            source_dims = min(wider, key=lambda d: self._radix_product(d))
        codes, counts, sens, subj, people = self._projection(source_dims)
        matrix = codes[:, [source_dims.index(j) for j in dims]]
        diverse = sens is not None and self.diversity > 1
        if diverse:
            matrix = np.concatenate([matrix, sens], axis=1)
        if subj is not None:
            matrix = np.concatenate([matrix, subj[:, None]], axis=1)
        if people is None:
            grouped, summed = group_rows(matrix, counts)
        else:
            grouped, summed, people = group_rows_weighted(matrix, counts, people)
        width = len(dims)
        end = width + (sens.shape[1] if diverse and sens is not None else 0)
        projection = (
            np.asfortranarray(grouped[:, :width]),
            summed,
            grouped[:, width:end] if diverse else None,
            None if subj is None else np.ascontiguousarray(grouped[:, end]),
            people,
        )
        self._projections[dims] = projection
        return projection
