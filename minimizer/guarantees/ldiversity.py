"""Distinct l-diversity: every equivalence class holds at least l distinct values of each
sensitive attribute, so knowing someone's class does not pin down their sensitive value.

``check_l_diversity`` measures it with a plain pandas group-by (independent of the engine).
``l_diversify`` enforces k-anonymity and l-diversity together: the same lattice search (or
Mondrian) as k-anonymity, where a class is kept only if it has at least k rows *and* l distinct
values of every sensitive attribute, and is otherwise suppressed within the budget; the search
generalises further wherever that is cheaper in discernibility than suppressing. If no
generalisation meets both within the budget, it fails closed with a GuaranteeError.

A missing sensitive value is not a distinct value (it cannot make a class more diverse); a
missing quasi-identifier is a value of its own, as in k-anonymity.

>>> frame = pd.DataFrame({"zip": ["a", "a", "b", "b"], "disease": ["x", "y", "x", "x"]})
>>> report = check_l_diversity(frame, ["zip"], ["disease"], diversity=2)
>>> report.achieved, report.violating_classes, report.violating_rows
(1, 1, 2)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from minimizer.guarantees.kanon import KAnonResult, k_anonymise
from minimizer.guarantees.kanon.plan import Method, Suppress
from minimizer.hierarchy import Hierarchy

__all__ = ["LDiversityReport", "check_l_diversity", "l_diversify"]


@dataclass(frozen=True)
class LDiversityReport:
    """How diverse the classes are. Counts only: no values."""

    diversity: int
    achieved: int  # fewest distinct sensitive values in any class, over all sensitive attributes
    classes: int
    violating_classes: int
    violating_rows: int

    @property
    def ok(self) -> bool:
        return self.violating_classes == 0


def check_l_diversity(
    frame: pd.DataFrame,
    quasi_identifiers: Sequence[str],
    sensitive: Sequence[str],
    diversity: int,
    *,
    exclude: np.ndarray | pd.Series | None = None,
) -> LDiversityReport:
    """Measure distinct l-diversity; ``exclude`` masks rows to leave out (suppressed rows)."""
    if exclude is not None:
        frame = frame.loc[~np.asarray(exclude, dtype=bool)]
    if frame.empty:
        return LDiversityReport(
            diversity=diversity, achieved=0, classes=0, violating_classes=0, violating_rows=0
        )
    groups = frame.groupby(list(quasi_identifiers), dropna=False, sort=False, observed=True)
    distinct = pd.concat([groups[s].nunique(dropna=True) for s in sensitive], axis=1).min(axis=1)
    sizes = groups.size()
    bad = distinct < diversity
    return LDiversityReport(
        diversity=diversity,
        achieved=int(distinct.min()),
        classes=len(sizes),
        violating_classes=int(bad.sum()),
        violating_rows=int(sizes[bad].sum()),
    )


def l_diversify(
    frame: pd.DataFrame,
    quasi_identifiers: Mapping[str, Hierarchy],
    sensitive: Sequence[str],
    k: int,
    diversity: int,
    max_suppression: float,
    *,
    method: Method = "full_domain",
    suppress: Suppress = "mask",
    subject: str | None = None,
    table: str | None = None,
) -> KAnonResult:
    """A copy of ``frame`` that is k-anonymous and distinct l-diverse; fails closed otherwise.
    With ``subject``, k and l are counted over distinct subjects (l values from l people)."""
    sensitive = list(sensitive)
    if not sensitive:
        raise ValueError("name at least one sensitive attribute")
    overlap = set(sensitive) & set(quasi_identifiers)
    if overlap:
        raise ValueError(f"{len(overlap)} column(s) are both quasi-identifier and sensitive")
    return k_anonymise(
        frame,
        quasi_identifiers,
        k,
        max_suppression,
        method=method,
        suppress=suppress,
        sensitive=sensitive,
        diversity=diversity,
        subject=subject,
        table=table,
    )
