"""k-anonymity by generalisation over hierarchies, with a suppression budget.

Two passes, so tables larger than memory work the same way as frames:

1. **Count.** ``qi_histogram(chunks, hierarchies)`` encodes each chunk to integer codes and
   merges the counts of distinct quasi-identifier combinations.
2. **Decide.** ``plan_k_anonymity(histogram, k, max_suppression, method=...)`` searches the
   histogram only: ``"full_domain"`` finds the lattice node (one hierarchy level per
   quasi-identifier, as ARX does) with the least discernibility that suppresses at most the
   budget; ``"mondrian"`` cuts the table into multidimensional ranges (local recoding).
3. **Transform.** ``plan.apply(chunk)`` recodes each chunk independently.

``k_anonymise(frame, ...)`` runs all three on one frame and then re-checks k on the output
with a plain group-by, failing closed if that independent check disagrees.

With ``subject=`` (the column that identifies the data subject, e.g. the pseudonym of the
customer id), k and l are counted over distinct subjects: five rows of one person are one
person, and their class is suppressed or generalised like any class of one.

>>> from minimizer.hierarchy import Hierarchy
>>> h = Hierarchy.numeric_bands(0, 99, [10, 50])
>>> frame = pd.DataFrame({"age": [21, 23, 25, 27, 41, 42, 44, 48, 61, 62, 64, 68, 90]})
>>> result = k_anonymise(frame, {"age": h}, k=4, max_suppression=0.1)
>>> result.levels, result.suppressed, result.classes, result.discernibility
({'age': 1}, 1, 3, 61)
>>> result.frame["age"].tolist()[-5:]
['60-69', '60-69', '60-69', '60-69', '*']
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from minimizer.errors import GuaranteeError
from minimizer.guarantees.kanon.histogram import (
    HistogramBuilder,
    QIHistogram,
    encode_frame,
    qi_histogram,
)
from minimizer.guarantees.kanon.lattice import search_full_domain
from minimizer.guarantees.kanon.mondrian import mondrian
from minimizer.guarantees.kanon.plan import (
    KAnonPlan,
    Method,
    Suppress,
    full_domain_plan,
    mondrian_plan,
)
from minimizer.hierarchy import TOP, Hierarchy

__all__ = [
    "KAnonPlan",
    "KAnonResult",
    "QIHistogram",
    "k_anonymise",
    "k_anonymise_chunks",
    "plan_k_anonymity",
    "qi_histogram",
    "verify_classes",
]


@dataclass(frozen=True)
class KAnonResult:
    """An anonymised copy of the input and the figures the audit record carries."""

    frame: pd.DataFrame  # suppressed rows hold '*' in every quasi-identifier, or are dropped
    levels: dict[str, int] | None  # full-domain level per quasi-identifier; None for Mondrian
    suppressed: int
    classes: int
    min_class: int
    discernibility: int  # sum(size^2 over classes) + suppressed * rows
    method: str
    rows: int = 0  # rows in the input


def plan_k_anonymity(
    histogram: QIHistogram,
    k: int,
    max_suppression: float,
    *,
    method: Method = "full_domain",
    diversity: int = 1,
    max_levels: Mapping[str, int] | None = None,
) -> KAnonPlan:
    """Decide the recoding on the histogram alone (no records needed). ``max_levels`` caps the
    full-domain level of some quasi-identifiers (Mondrian ignores it)."""
    _check_arguments(k, max_suppression, method, "mask", diversity, histogram.columns)
    n = histogram.rows
    people = histogram.subjects
    if people < k:
        unit = "row(s)" if histogram.subject_codes is None else "distinct subject(s)"
        raise GuaranteeError(
            f"k={k} exceeds the {people} {unit} of the table",
            check="k_anonymity",
            reason="k_unreachable",
            count=people,
        )
    if method == "mondrian":
        return mondrian_plan(histogram, mondrian(histogram, k, diversity=diversity), k, diversity)
    budget = math.floor(max_suppression * n + 1e-9)
    caps = tuple((max_levels or {}).get(c) for c in histogram.columns)
    stats = search_full_domain(histogram, k, budget, diversity=diversity, max_levels=caps)
    if stats.suppressed == n:
        # Only the whole table as one class could be kept, and it fails: nothing to release.
        raise GuaranteeError(
            f"no generalisation keeps any of the {n} row(s) at k={k}"
            + (f" and l={diversity}" if diversity > 1 else ""),
            check="l_diversity" if diversity > 1 else "k_anonymity",
            reason="all_suppressed",
            count=n,
        )
    return full_domain_plan(histogram, stats, k, diversity)


def k_anonymise_chunks(
    read_chunks: Callable[[], Iterable[pd.DataFrame]],
    quasi_identifiers: Mapping[str, Hierarchy],
    k: int,
    max_suppression: float,
    *,
    method: Method = "full_domain",
    suppress: Suppress = "mask",
) -> tuple[KAnonPlan, Iterator[pd.DataFrame]]:
    """Counting pass over ``read_chunks()``, then a lazy transform pass over it again."""
    histogram = qi_histogram(read_chunks(), quasi_identifiers)
    plan = plan_k_anonymity(histogram, k, max_suppression, method=method)
    return plan, (plan.apply(chunk, suppress=suppress) for chunk in read_chunks())


def k_anonymise(
    frame: pd.DataFrame,
    quasi_identifiers: Mapping[str, Hierarchy],
    k: int,
    max_suppression: float,
    *,
    method: Method = "full_domain",
    suppress: Suppress = "mask",
    sensitive: Sequence[str] = (),
    diversity: int = 1,
    subject: str | None = None,
    table: str | None = None,
) -> KAnonResult:
    """A k-anonymous copy of ``frame`` (and distinct l-diverse in ``sensitive`` when
    ``diversity`` = l > 1), self-checked; counted over distinct values of ``subject`` when it
    is given. GuaranteeError if k (or l) cannot be met within the suppression budget."""
    _check_arguments(k, max_suppression, method, suppress, diversity, tuple(quasi_identifiers))
    columns, hierarchies = tuple(quasi_identifiers), tuple(quasi_identifiers.values())
    codes = encode_frame(frame, columns, hierarchies, table=table)  # encoded once, used twice
    builder = HistogramBuilder(quasi_identifiers, sensitive=sensitive, subject=subject, table=table)
    builder.add(frame, codes=codes)
    plan = plan_k_anonymity(builder.build(), k, max_suppression, method=method, diversity=diversity)
    recoded, suppressed = plan.recode(frame, codes=codes)
    verify_classes(
        recoded.loc[~suppressed], plan.columns, plan.k, plan.diversity, sensitive, subject
    )
    if suppress == "drop":
        out = recoded.loc[~suppressed]
    else:
        out = recoded
        for column in plan.columns:
            out[column] = out[column].where(~suppressed, TOP)
    return KAnonResult(
        frame=out,
        levels=plan.levels,
        suppressed=plan.suppressed,
        classes=plan.classes,
        min_class=plan.min_class,
        discernibility=plan.discernibility,
        method=plan.method,
        rows=plan.rows,
    )


def verify_classes(
    kept: pd.DataFrame,
    columns: Sequence[str],
    k: int,
    diversity: int,
    sensitive: Sequence[str] = (),
    subject: str | None = None,
) -> None:
    """Re-check the released classes with a plain group-by, independent of the codes: k rows,
    or k distinct subjects (a missing subject counts as one); l distinct sensitive values."""
    if kept.empty:
        return
    groups = kept.groupby(list(columns), dropna=False, sort=False, observed=True)
    sizes = groups.size() if subject is None else groups[subject].nunique(dropna=False)
    need = max(k, diversity) if subject is not None and diversity > 1 else k
    small = int((sizes < need).sum())
    diverse = [groups[s].nunique().min() for s in sensitive] if diversity > 1 else []
    if small or any(d < diversity for d in diverse):
        raise GuaranteeError(
            f"internal check failed: {small} released class(es) below k={k}"
            + (f" or below l={diversity}" if diversity > 1 else ""),
            check="l_diversity" if diversity > 1 else "k_anonymity",
            reason="self_check_failed",
            count=small,
        )


def _check_arguments(
    k: int,
    max_suppression: float,
    method: str,
    suppress: str,
    diversity: int,
    columns: Sequence[str],
) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError("k must be an integer >= 1")
    if isinstance(diversity, bool) or not isinstance(diversity, int) or diversity < 1:
        raise ValueError("diversity (diversity) must be an integer >= 1")
    if not 0.0 <= float(max_suppression) <= 1.0:
        raise ValueError("max_suppression must be a fraction between 0 and 1")
    if method not in ("full_domain", "mondrian"):
        raise ValueError(f"unknown method {method!r}; use 'full_domain' or 'mondrian'")
    if suppress not in ("mask", "drop"):
        raise ValueError(f"unknown suppress {suppress!r}; use 'mask' or 'drop'")
    if not columns:
        raise ValueError("name at least one quasi-identifier")
