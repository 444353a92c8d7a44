"""k and l count people, not rows: an attacker who repeats one person's row must not make a
class. Every property is re-checked with a plain pandas group-by and ``nunique``."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minimizer.errors import GuaranteeError
from minimizer.guarantees.kanon import k_anonymise, plan_k_anonymity, qi_histogram
from minimizer.hierarchy import TOP, Hierarchy

CITIES = ["Berlin", "Bonn", "Köln", "Kiel", "Hof"]
CITY = Hierarchy.from_rows([[c, "west" if c in ("Bonn", "Köln") else "rest", "*"] for c in CITIES])
TIER = Hierarchy.from_rows([["gold", "*"], ["silver", "*"], ["bronze", "*"]])
QIS = {"city": CITY, "tier": TIER}


def _min_people(frame: pd.DataFrame, columns: list[str], subject: str) -> int:
    """Smallest class in distinct subjects, masked rows left out: the auditor's view."""
    kept = frame.loc[~(frame[columns] == TOP).all(axis=1)]
    if kept.empty:
        return 0
    return int(kept.groupby(columns, dropna=False)[subject].nunique(dropna=False).min())


def _crowd(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "cid": [f"p{i}" for i in range(n)],
            "city": rng.choice(CITIES[:3], n),
            "tier": rng.choice(["gold", "silver", "bronze"], n),
            "disease": rng.choice(["flu", "cold", "none"], n),
        }
    )


@pytest.mark.parametrize("method", ["full_domain", "mondrian"])
def test_one_customer_repeated_five_times_in_a_lone_city_is_not_a_class(method):
    crowd = _crowd(200, 1)
    lone = pd.DataFrame({"cid": ["hermit"] * 5, "city": "Hof", "tier": "gold", "disease": "flu"})
    frame = pd.concat([crowd, lone], ignore_index=True)
    result = k_anonymise(frame, QIS, 5, 0.05, method=method, subject="cid")
    out = result.frame
    hermit = out.loc[out.cid == "hermit", ["city", "tier"]]
    # The hermit's rows are suppressed or share their class with 4 other people.
    assert _min_people(out, ["city", "tier"], "cid") >= 5
    mates = out.merge(hermit.drop_duplicates(), on=["city", "tier"])
    assert (hermit == TOP).all(axis=None) or mates.cid.nunique() >= 5


def test_counting_rows_alone_would_have_published_the_lone_customer():
    # The same input without a subject: five rows look like five people (the old behaviour).
    lone = pd.DataFrame({"cid": ["hermit"] * 5, "city": "Hof", "tier": "gold"})
    frame = pd.concat([_crowd(200, 2)[["cid", "city", "tier"]], lone], ignore_index=True)
    by_rows = k_anonymise(frame, QIS, 5, 0.05)
    by_people = k_anonymise(frame, QIS, 5, 0.05, subject="cid")
    assert by_rows.levels == {"city": 0, "tier": 0}  # Hof/gold released as a "class of 5"
    hermit = by_people.frame.loc[by_people.frame.cid == "hermit", ["city", "tier"]]
    assert (hermit == TOP).all(axis=None) or by_people.levels != by_rows.levels


def test_a_class_of_exactly_k_people_is_kept_and_k_minus_one_people_with_copies_is_not():
    exact = pd.DataFrame({"cid": list("abcde"), "city": "Kiel", "tier": "gold"})
    short = pd.DataFrame({"cid": list("abcd") * 3, "city": "Kiel", "tier": "gold"})
    assert k_anonymise(exact, QIS, 5, 0.0, subject="cid").suppressed == 0
    with pytest.raises(GuaranteeError):
        k_anonymise(short, QIS, 5, 1.0, subject="cid")
    with pytest.raises(GuaranteeError):
        k_anonymise(short, QIS, 5, 1.0, method="mondrian", subject="cid")


def test_k_above_the_number_of_people_fails_closed_whatever_the_rows():
    frame = pd.DataFrame({"cid": ["a", "b"] * 50, "city": "Kiel", "tier": "gold"})
    hist = qi_histogram([frame], QIS, subject="cid")
    assert (hist.rows, hist.subjects) == (100, 2)
    with pytest.raises(GuaranteeError, match="2 distinct subject"):
        plan_k_anonymity(hist, 5, 0.5)


def test_missing_subjects_count_as_one_person_not_many():
    frame = pd.DataFrame({"cid": [None] * 6, "city": "Kiel", "tier": "gold"})
    with pytest.raises(GuaranteeError):
        k_anonymise(frame, QIS, 2, 1.0, subject="cid")


def test_l_diversity_needs_l_people_not_one_person_with_many_values():
    # Two people; one of them holds three diagnoses. Three values, but only two people.
    frame = pd.DataFrame(
        {
            "cid": ["a", "a", "a", "b"],
            "city": "Kiel",
            "tier": "gold",
            "disease": ["flu", "cold", "none", "flu"],
        }
    )
    by_rows = k_anonymise(frame, QIS, 2, 0.0, sensitive=["disease"], diversity=3)
    assert by_rows.suppressed == 0  # counted in rows, the class looks 3-diverse
    for method in ("full_domain", "mondrian"):
        with pytest.raises(GuaranteeError):
            k_anonymise(
                frame,
                QIS,
                2,
                1.0,
                sensitive=["disease"],
                diversity=3,
                subject="cid",
                method=method,
            )


def _duplicated(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 40))
    cities = draw(st.lists(st.sampled_from(CITIES), min_size=n, max_size=n))
    tiers = draw(st.lists(st.sampled_from(["gold", "silver", "bronze"]), min_size=n, max_size=n))
    copies = draw(st.lists(st.integers(1, 6), min_size=n, max_size=n))
    people = pd.DataFrame({"cid": [f"p{i}" for i in range(n)], "city": cities, "tier": tiers})
    frame = people.loc[people.index.repeat(copies)].reset_index(drop=True)
    # Some people also appear with a second, different city (moved, or a dirty CRM).
    movers = draw(st.lists(st.integers(0, n - 1), max_size=5))
    moved = people.iloc[movers].assign(city=draw(st.sampled_from(CITIES)))
    return pd.concat([frame, moved], ignore_index=True)


frames = st.composite(_duplicated)()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    frame=frames,
    k=st.integers(2, 6),
    budget=st.sampled_from([0.0, 0.1, 0.5, 1.0]),
    method=st.sampled_from(["full_domain", "mondrian"]),
)
def test_every_released_class_holds_k_distinct_people(frame, k, budget, method):
    try:
        result = k_anonymise(frame, QIS, k, budget, method=method, subject="cid", suppress="drop")
    except GuaranteeError:
        # Failing closed is allowed only when the table cannot hold k people at all, or (full
        # domain) when the budget is too small; never silently.
        people = frame.cid.nunique()
        assert method == "full_domain" or people < k
        return
    out = result.frame  # suppressed rows dropped: every row left is released
    assert len(out) == len(frame) - result.suppressed
    assert result.suppressed <= budget * len(frame) + 1e-9
    assert out.groupby(["city", "tier"], dropna=False).cid.nunique(dropna=False).min() >= k
    assert result.min_class >= k


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=frames, k=st.integers(2, 4), diversity=st.integers(2, 3))
def test_every_released_class_holds_l_values_and_l_people(frame, k, diversity):
    rng = np.random.default_rng(len(frame))
    frame = frame.assign(disease=rng.choice(["flu", "cold", "none"], len(frame)))
    try:
        result = k_anonymise(
            frame,
            QIS,
            k,
            1.0,
            sensitive=["disease"],
            diversity=diversity,
            subject="cid",
            suppress="drop",
        )
    except GuaranteeError:
        return
    kept = result.frame
    if kept.empty:
        return
    groups = kept.groupby(["city", "tier"], dropna=False)
    assert groups.cid.nunique().min() >= max(k, diversity)
    assert groups.disease.nunique().min() >= diversity


def _oracle_best(frame: pd.DataFrame, k: int, budget: float) -> int | None:
    """The least discernibility over every lattice node, by pandas alone: a class is kept
    when it holds k distinct people; DM = sum(rows^2) + suppressed * n."""
    rows = {"city": [[c, "west" if c in ("Bonn", "Köln") else "rest", "*"] for c in CITIES]}
    maps = {lv: {r[0]: r[lv] for r in rows["city"]} for lv in range(3)}
    n, best = len(frame), None
    for city_level in range(3):
        for tier_level in range(2):
            g = pd.DataFrame(
                {
                    "city": frame.city.map(maps[city_level]),
                    "tier": frame.tier if tier_level == 0 else "*",
                    "cid": frame.cid,
                }
            )
            stats = g.groupby(["city", "tier"]).agg(rows=("cid", "size"), people=("cid", "nunique"))
            kept = stats.loc[stats.people >= k, "rows"]
            suppressed = n - int(kept.sum())
            if suppressed <= math.floor(budget * n + 1e-9) and suppressed < n:
                dm = int((kept**2).sum()) + suppressed * n
                best = dm if best is None else min(best, dm)
    return best


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=frames, k=st.integers(2, 5), budget=st.sampled_from([0.0, 0.2, 1.0]))
def test_full_domain_is_optimal_when_counting_people(frame, k, budget):
    best = _oracle_best(frame, k, budget)
    try:
        result = k_anonymise(frame, QIS, k, budget, subject="cid")
    except GuaranteeError:
        assert best is None
        return
    assert result.discernibility == best
