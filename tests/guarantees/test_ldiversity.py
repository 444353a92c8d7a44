"""Distinct l-diversity: measured by a plain group-by, enforced together with k-anonymity, and
refused (fail closed) when the data cannot satisfy it."""

from __future__ import annotations

import doctest
import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minimizer.guarantees.ldiversity
from minimizer.errors import GuaranteeError
from minimizer.guarantees.ldiversity import check_l_diversity, l_diversify
from minimizer.hierarchy import TOP, Hierarchy

AGE_ROWS = [[str(a), f"{a // 10 * 10}s", "<50" if a < 50 else ">=50", "*"] for a in range(20, 80)]
CITY_ROWS = [
    ["Leeds", "North", "*"],
    ["York", "North", "*"],
    ["Bath", "South", "*"],
    ["Kent", "South", "*"],
]
ROWS = {"age": AGE_ROWS, "city": CITY_ROWS}
HIERARCHIES = {name: Hierarchy.from_rows(rows) for name, rows in ROWS.items()}
QIS = list(ROWS)


def patients(n: int, seed: int = 0, diseases: int = 4, missing: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(20, 80, n),
            "city": rng.choice([r[0] for r in CITY_ROWS], n),
            "disease": rng.choice(["flu", "cold", "asthma", "cancer"][:diseases], n),
        }
    )
    if missing:
        frame["disease"] = frame["disease"].where(rng.random(n) >= missing, None)
    return frame


def kept_rows(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.loc[~(frame[QIS] == TOP).all(axis=1)]


def assert_k_and_l(frame: pd.DataFrame, k: int, l: int) -> None:  # noqa: E741
    """Independent check: plain pandas group-by over the released rows."""
    groups = kept_rows(frame).groupby(QIS, dropna=False)
    if groups.ngroups:
        assert groups.size().min() >= k
        if l > 1:  # l = 1 asks for nothing (a class of only missing values has 0 distinct)
            assert groups["disease"].nunique(dropna=True).min() >= l


def brute_force(frame: pd.DataFrame, k: int, l: int, budget: int) -> int | None:  # noqa: E741
    """Least DM over every lattice node where classes with < k rows or < l diseases are
    suppressed within the budget (plain pandas, no engine code)."""
    best = None
    n = len(frame)
    for node in itertools.product(*(range(len(ROWS[c][0])) for c in QIS)):
        generalised = pd.DataFrame(
            {
                c: frame[c].astype(str).map({r[0]: r[lv] for r in ROWS[c]})
                for c, lv in zip(QIS, node, strict=True)
            }
        )
        generalised["disease"] = frame["disease"]
        groups = generalised.groupby(QIS)
        sizes, distinct = groups.size(), groups["disease"].nunique()
        bad = (sizes < k) | (distinct < l)
        suppressed = int(sizes[bad].sum())
        if suppressed <= budget:
            dm = int((sizes[~bad] ** 2).sum()) + suppressed * n
            best = dm if best is None else min(best, dm)
    return best


def test_docstring_examples_run() -> None:
    assert doctest.testmod(minimizer.guarantees.ldiversity).failed == 0


def test_check_counts_violating_classes_and_rows() -> None:
    frame = pd.DataFrame(
        {
            "age": ["20s"] * 3 + ["30s"] * 3 + ["40s"] * 2,
            "city": "North",
            "disease": ["flu", "flu", "flu", "flu", "cold", "cold", "flu", "asthma"],
        }
    )
    report = check_l_diversity(frame, QIS, ["disease"], 2)
    assert (report.classes, report.violating_classes, report.violating_rows) == (3, 1, 3)
    assert report.achieved == 1
    assert not report.ok
    assert check_l_diversity(frame, QIS, ["disease"], 1).ok


def test_check_can_leave_out_suppressed_rows() -> None:
    frame = pd.DataFrame(
        {"age": ["20s", "20s", TOP], "city": ["N", "N", TOP], "disease": list("abc")}
    )
    report = check_l_diversity(frame, QIS, ["disease"], 2, exclude=frame["age"] == TOP)
    assert (report.classes, report.ok) == (1, True)


def test_missing_sensitive_values_do_not_count_as_distinct() -> None:
    frame = pd.DataFrame({"age": ["20s"] * 3, "city": "N", "disease": ["flu", None, None]})
    assert check_l_diversity(frame, QIS, ["disease"], 2).achieved == 1


@pytest.mark.parametrize(("k", "l", "max_suppression"), [(2, 2, 0.0), (3, 2, 0.05), (4, 3, 0.1)])
def test_full_domain_finds_the_brute_force_optimum(
    k: int,
    l: int,  # noqa: E741
    max_suppression: float,
) -> None:
    frame = patients(200, seed=k + l)
    result = l_diversify(frame, HIERARCHIES, ["disease"], k, l, max_suppression)
    budget = math.floor(max_suppression * len(frame))
    assert result.discernibility == brute_force(frame, k, l, budget)
    assert result.suppressed <= budget
    assert_k_and_l(result.frame, k, l)


@pytest.mark.parametrize("method", ["full_domain", "mondrian"])
def test_enforcing_l_generalises_or_suppresses_further_than_k_alone(method: str) -> None:
    frame = patients(300, seed=1)
    result = l_diversify(frame, HIERARCHIES, ["disease"], 2, 3, 0.05, method=method)
    assert_k_and_l(result.frame, 2, 3)
    report = check_l_diversity(result.frame, QIS, ["disease"], 3, exclude=None)
    if result.suppressed == 0:
        assert report.ok


def test_impossible_diversity_fails_closed() -> None:
    frame = patients(100, diseases=1)
    for method in ("full_domain", "mondrian"):
        with pytest.raises(GuaranteeError) as caught:
            l_diversify(frame, HIERARCHIES, ["disease"], 2, 2, 0.1, method=method)
        assert caught.value.check == "l_diversity"
        assert "flu" not in str(caught.value)


def test_missing_sensitive_values_cannot_satisfy_l() -> None:
    frame = pd.DataFrame({"age": [30] * 6, "city": "York", "disease": ["flu"] + [None] * 5})
    with pytest.raises(GuaranteeError):
        l_diversify(frame, HIERARCHIES, ["disease"], 2, 2, 0.0)


def test_a_column_cannot_be_both_quasi_identifier_and_sensitive() -> None:
    with pytest.raises(ValueError):
        l_diversify(patients(10), HIERARCHIES, ["city"], 2, 2, 0.0)
    with pytest.raises(ValueError):
        l_diversify(patients(10), HIERARCHIES, [], 2, 2, 0.0)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(2, 80),
    seed=st.integers(0, 10_000),
    k=st.integers(1, 5),
    l=st.integers(1, 3),
    max_suppression=st.sampled_from([0.0, 0.1, 0.3]),
    missing=st.sampled_from([0.0, 0.3]),
    method=st.sampled_from(["full_domain", "mondrian"]),
)
def test_property_released_classes_are_k_anonymous_and_l_diverse(
    n: int,
    seed: int,
    k: int,
    l: int,  # noqa: E741
    max_suppression: float,
    missing: float,
    method: str,
) -> None:
    frame = patients(n, seed=seed, missing=missing)
    try:
        result = l_diversify(frame, HIERARCHIES, ["disease"], k, l, max_suppression, method=method)
    except GuaranteeError:
        # Only allowed when even the whole table (one class) cannot meet k and l.
        assert n < k or frame["disease"].nunique() < l
        return
    assert result.suppressed <= math.floor(max_suppression * n + 1e-9)
    assert_k_and_l(result.frame, k, l)


def test_a_full_budget_does_not_turn_an_impossible_l_into_an_empty_release() -> None:
    frame = patients(50, diseases=1)
    with pytest.raises(GuaranteeError) as caught:
        l_diversify(frame, HIERARCHIES, ["disease"], 2, 2, 1.0)
    assert caught.value.reason == "all_suppressed"
