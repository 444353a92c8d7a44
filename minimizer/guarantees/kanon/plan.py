"""The transform pass: a decided recoding, applied chunk by chunk.

A ``KAnonPlan`` is what the search over the histogram decided, in a form that can be applied to
any chunk of the same data without seeing the rest: for full-domain generalisation, the level
of every quasi-identifier and the set of generalised classes to suppress; for Mondrian, the
released label of every distinct combination. Applying it never mutates its input.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from minimizer.errors import DataError
from minimizer.guarantees.kanon.grouping import find_rows, measure_classes, row_ids, row_index
from minimizer.guarantees.kanon.histogram import QIHistogram, encode_frame
from minimizer.guarantees.kanon.lattice import NodeStats, kept_classes
from minimizer.guarantees.kanon.mondrian import MondrianCut
from minimizer.hierarchy import TOP, Hierarchy, string_series

__all__ = ["KAnonPlan", "Method", "Suppress", "full_domain_plan", "mondrian_plan"]

Method = Literal["full_domain", "mondrian"]
Suppress = Literal["mask", "drop"]


@dataclass(frozen=True, eq=False)
class KAnonPlan:
    """A recoding decided on the histogram, with the figures it achieves."""

    method: Method
    k: int
    diversity: int
    columns: tuple[str, ...]
    hierarchies: tuple[Hierarchy, ...]
    levels: dict[str, int] | None
    rows: int
    suppressed: int
    classes: int
    min_class: int
    discernibility: int
    # Lookup: distinct code rows (generalised codes for full-domain, leaf codes for Mondrian),
    # their code radices, and per row whether it is suppressed and (Mondrian) its labels.
    table: np.ndarray
    radices: tuple[int, ...]
    suppress_row: np.ndarray
    labels: tuple[tuple[pa.Array, np.ndarray], ...] | None = None  # distinct labels, code per row

    @cached_property
    def _index(self) -> pd.Index:
        return row_index(self.table, self.radices)

    def apply(self, chunk: pd.DataFrame, *, suppress: Suppress = "mask") -> pd.DataFrame:
        """The chunk with its quasi-identifiers recoded and suppressed rows masked or dropped."""
        out, suppressed = self.recode(chunk)
        if suppress == "drop":
            return out.loc[~suppressed]
        for column in self.columns:
            out[column] = out[column].where(~suppressed, TOP)
        return out

    def recode(
        self, chunk: pd.DataFrame, *, codes: np.ndarray | None = None
    ) -> tuple[pd.DataFrame, np.ndarray]:
        """The recoded copy (before suppression) and the boolean mask of suppressed rows.

        ``codes``: the chunk's leaf codes when the caller has them already."""
        pairs = list(zip(self.columns, self.hierarchies, strict=True))
        if codes is None:
            codes = encode_frame(chunk, self.columns, self.hierarchies)
        leaf_codes = codes
        if self.levels is not None:
            levels = self.levels
            codes = np.stack(
                [h.level_codes(levels[c])[codes[:, j]] for j, (c, h) in enumerate(pairs)], axis=1
            )
        position = find_rows(self._index, self.radices, codes)
        unseen = int(np.count_nonzero(position < 0))
        if unseen:
            raise DataError(
                f"{unseen} row(s) hold a quasi-identifier combination the counting pass did not "
                "see; the data changed between the two passes",
                check="k_anonymity",
                reason="unseen_combination",
                count=unseen,
            )
        out = chunk.copy()
        for j, (column, h) in enumerate(pairs):
            if self.labels is not None:
                names, label_codes = self.labels[j]
                out[column] = string_series(names, label_codes[position], index=chunk.index)
            elif self.levels is not None:
                level = self.levels[column]
                out[column] = h.labels_of(leaf_codes[:, j], level, index=chunk.index)
            else:  # not a plan this module builds: never release the column unrecoded
                raise ValueError("a plan needs Mondrian labels or full-domain levels")
        return out, self.suppress_row[position]


def full_domain_plan(hist: QIHistogram, stats: NodeStats, k: int, diversity: int) -> KAnonPlan:
    generalised = [
        h.level_codes(lv)[hist.codes[:, j]]
        for j, (h, lv) in enumerate(zip(hist.hierarchies, stats.levels, strict=True))
    ]
    cards = [h.cardinality(lv) for h, lv in zip(hist.hierarchies, stats.levels, strict=True)]
    matrix = np.stack(generalised, axis=1)
    ids, groups = row_ids(matrix)
    sizes, distinct, people = measure_classes(
        ids[:, None],
        [groups],
        hist.counts,
        hist.sensitive_codes,
        count_distinct=diversity > 1,
        subjects=hist.split_codes,
        people=hist.people,
    )
    kept = kept_classes(sizes, distinct, people, k, diversity)
    first = np.empty(groups, dtype=np.int64)
    first[ids[::-1]] = np.arange(len(ids) - 1, -1, -1)
    return KAnonPlan(
        method="full_domain",
        k=k,
        diversity=diversity,
        columns=hist.columns,
        hierarchies=hist.hierarchies,
        levels=dict(zip(hist.columns, stats.levels, strict=True)),
        rows=hist.rows,
        suppressed=stats.suppressed,
        classes=stats.classes,
        min_class=stats.min_class,
        discernibility=stats.discernibility,
        table=matrix[first],
        radices=tuple(cards),
        suppress_row=~kept,
    )


def mondrian_plan(hist: QIHistogram, cut: MondrianCut, k: int, diversity: int) -> KAnonPlan:
    ids, groups = row_ids(hist.codes)
    first = np.empty(groups, dtype=np.int64)
    first[ids[::-1]] = np.arange(len(ids) - 1, -1, -1)
    return KAnonPlan(
        method="mondrian",
        k=k,
        diversity=diversity,
        columns=hist.columns,
        hierarchies=hist.hierarchies,
        levels=None,
        rows=hist.rows,
        suppressed=0,
        classes=cut.classes,
        min_class=cut.min_class,
        discernibility=cut.discernibility,
        table=hist.codes[first],
        radices=hist.radices,
        suppress_row=np.zeros(groups, dtype=bool),
        labels=tuple(
            (pa.array(names, type=pa.large_string()), codes[first]) for names, codes in cut.labels
        ),
    )
