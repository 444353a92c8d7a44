"""The privacy budget ledger: refuses to overspend, counts every fresh release of a day (a
re-release with fresh noise is a second release of the same data), and a re-publication of a
stored release spends nothing."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minimizer.aggregate.ledger import (
    LEDGER_KEY,
    Release,
    ledger_history,
    ledger_table,
    period_days,
    plan_spend,
    refuse_unledgered,
    spent_by_day,
)
from minimizer.errors import GuaranteeError
from minimizer.policy import Budget

D0 = date(2026, 6, 1)


def _days(n: int, start: date = D0) -> list[date]:
    return [start + timedelta(days=i) for i in range(n)]


def _fresh(days: list[date], eps: float, run: str) -> list[Release]:
    return [Release(d.isoformat(), run, eps, run) for d in days]


def test_spending_up_to_the_budget_is_allowed_and_one_more_day_is_refused():
    budget = Budget(epsilon=3.0, period=timedelta(days=30))
    history = _fresh(_days(29), 0.1, "r1")
    day30 = D0 + timedelta(days=29)
    spend = plan_spend(budget, 0.1, [day30], history)  # 30 x 0.1 = 3.0: fits (float sums too)
    assert spend.spent == pytest.approx(3.0) and spend.left == pytest.approx(0.0)
    with pytest.raises(GuaranteeError) as err:
        plan_spend(budget, 0.2, [day30], history)
    assert err.value.exit_code == 3 and err.value.reason == "budget_exceeded"
    # ε 0.1 a day never breaks 3.0 per 30 days, however long it goes on.
    history += _fresh([day30], 0.1, "r2")
    assert plan_spend(budget, 0.1, [D0 + timedelta(days=30)], history).spent == pytest.approx(3.0)


def test_the_window_slides_a_day_outside_it_no_longer_counts():
    budget = Budget(epsilon=1.0, period=timedelta(days=7))
    history = _fresh([date(2026, 6, 1)], 1.0, "old")
    with pytest.raises(GuaranteeError):
        plan_spend(budget, 0.5, [date(2026, 6, 7)], history)
    assert plan_spend(budget, 1.0, [date(2026, 6, 8)], history).spent == pytest.approx(1.0)


def test_a_day_released_before_a_later_one_cannot_be_squeezed_in_between():
    """Windows after the new day count too: back-filling a day inside a full window fails."""
    budget = Budget(epsilon=1.0, period=timedelta(days=7))
    with pytest.raises(GuaranteeError):
        plan_spend(budget, 0.5, [date(2026, 6, 1)], _fresh([date(2026, 6, 5)], 0.6, "later"))


def test_a_fresh_release_of_a_day_already_released_spends_again_and_names_the_earlier_run():
    budget = Budget(epsilon=3.0, period=timedelta(days=30))
    history = _fresh(_days(2), 1.0, "first")
    spend = plan_spend(budget, 1.0, _days(1), history)  # day 1 again: 2 + 1 = 3.0 fits
    assert spend.spent == pytest.approx(3.0) and spend.days == {D0.isoformat(): 1.0}
    assert spend.previous == {D0.isoformat(): ["first"]}
    assert spend.notes() == [
        f"second release of day {D0.isoformat()}, previous run first: its true counts"
        " changed, so fresh noise was drawn and ε 1 spent again"
    ]
    # A third: 4.0 in the window. The latest-only count (2.0) would let it through.
    history += _fresh(_days(1), 1.0, "second")
    with pytest.raises(GuaranteeError) as err:
        plan_spend(budget, 1.0, _days(1), history)
    assert err.value.exit_code == 3 and "released before" in str(err.value)


def test_re_publishing_spends_nothing_even_in_a_full_window():
    budget = Budget(epsilon=3.0, period=timedelta(days=30))
    history = _fresh(_days(3), 1.0, "first")
    again = {d.isoformat(): "first" for d in _days(3)}
    spend = plan_spend(budget, 1.0, [], history, again)
    assert spend.days == {} and spend.republished == again
    assert spend.as_dict()["epsilon_this_run"] == 0
    assert spend.spent == pytest.approx(3.0) and spend.left == pytest.approx(0.0)
    assert all("ε 0" in note for note in spend.notes())


def _runs(*entries: tuple[str, str, dict]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "run_id": [r for r, _, _ in entries],
            "status": [s for _, s, _ in entries],
            "started_at": pd.date_range("2026-06-01", periods=len(entries), tz="UTC"),
            "details": [{"guarantees": {LEDGER_KEY: e}} for _, _, e in entries],
        }
    )


def test_every_loaded_release_of_a_day_is_counted_and_failed_runs_are_not():
    runs = _runs(
        ("a", "loaded", {"days": {"2026-06-01": 1.0}}),
        # An older record (a re-run "replaced" the day): it drew fresh noise, so it counts.
        ("b", "loaded", {"days": {"2026-06-01": 0.5}, "replaces": {"2026-06-01": "a"}}),
        ("c", "failed", {"days": {"2026-06-01": 9.0}}),
        ("d", "loaded", {"days": {}, "republished": {"2026-06-01": "b"}}),
    )
    history = ledger_history(runs)
    assert [(r.run_id, r.epsilon, r.origin) for r in history] == [
        ("a", 1.0, "a"),
        ("b", 0.5, "b"),
        ("d", 0.0, "b"),
    ]
    assert spent_by_day(history) == {"2026-06-01": 1.5}


def test_the_ledger_table_shows_each_release_what_it_spent_and_which_is_current():
    runs = _runs(
        ("a", "loaded", {"days": {"2026-06-01": 1.0, "2026-06-02": 1.0}, "left_in_window": 1.0}),
        ("b", "loaded", {"days": {"2026-06-01": 1.0}, "republished": {"2026-06-02": "a"}}),
        ("c", "loaded", {"days": {}, "republished": {"2026-06-01": "b"}}),
    )
    table = ledger_table(runs)
    rows = table[["day", "run_id", "action", "epsilon", "release", "previous_run", "current"]]
    assert rows.to_dict("records") == [
        {"day": "2026-06-01", "run_id": "a", "action": "fresh", "epsilon": 1.0, "release": 1,
         "previous_run": None, "current": False},
        {"day": "2026-06-01", "run_id": "b", "action": "fresh", "epsilon": 1.0, "release": 2,
         "previous_run": "a", "current": False},
        {"day": "2026-06-01", "run_id": "c", "action": "republished", "epsilon": 0.0,
         "release": 2, "previous_run": "b", "current": True},
        {"day": "2026-06-02", "run_id": "a", "action": "fresh", "epsilon": 1.0, "release": 1,
         "previous_run": None, "current": False},
        {"day": "2026-06-02", "run_id": "b", "action": "republished", "epsilon": 0.0,
         "release": 1, "previous_run": "a", "current": True},
    ]  # fmt: skip
    assert table.groupby("day").epsilon.sum().to_dict() == {"2026-06-01": 2.0, "2026-06-02": 1.0}


# -- property: whatever the runs and re-runs, no window ever holds more than the budget ------

PERIOD, BUDGET = 7, 3.0
RUNS = st.lists(
    st.tuples(
        st.lists(st.integers(0, 20), min_size=1, max_size=6, unique=True),  # days of the run
        st.sets(st.integers(0, 20), max_size=6),  # days whose true counts changed since
        st.sampled_from([0.25, 0.5, 1.0, 1.5]),  # ε per day
    ),
    max_size=30,
)


def _over_budget(spends: dict[str, float]) -> bool:
    """A plain brute force over every window: no code shared with plan_spend."""
    daily = {date.fromisoformat(d): e for d, e in spends.items()}
    if not daily:
        return False
    first, last = min(daily), max(daily)
    starts = [first + timedelta(days=i) for i in range(-PERIOD, (last - first).days + 1)]
    return any(
        sum(e for d, e in daily.items() if s <= d < s + timedelta(days=PERIOD)) > BUDGET + 1e-9
        for s in starts
    )


@settings(max_examples=150, deadline=None)
@given(RUNS)
def test_no_sequence_of_runs_and_reruns_spends_more_than_the_budget_in_any_window(runs):
    budget = Budget(epsilon=BUDGET, period=timedelta(days=PERIOD))
    history: list[Release] = []
    current: dict[str, str] = {}  # day -> run whose noisy counts the warehouse holds
    spent: dict[str, float] = {}  # the test's own sum: every fresh release adds its ε
    for i, (offsets, changed, eps) in enumerate(runs):
        run = f"r{i}"
        days = [D0 + timedelta(days=o) for o in offsets]
        # Re-publish what is stored and unchanged; release the rest afresh.
        again = {
            d.isoformat(): current[d.isoformat()]
            for d, o in zip(days, offsets, strict=True)
            if d.isoformat() in current and o not in changed
        }
        fresh = [d for d in days if d.isoformat() not in again]
        would = dict(spent)
        for d in fresh:
            would[d.isoformat()] = would.get(d.isoformat(), 0.0) + eps
        try:
            spend = plan_spend(budget, eps, fresh, history, again)
        except GuaranteeError as err:
            assert err.exit_code == 3
            assert fresh, "a run that only re-publishes spends nothing and is never refused"
            assert _over_budget(would), "refused a run that fits the budget"
            continue
        assert not _over_budget(would), "let through a run that breaks the budget"
        assert sum(spend.days.values()) == pytest.approx(eps * len(fresh))
        assert spend.left >= -1e-9
        history += [Release(d, run, e, run) for d, e in spend.days.items()]
        history += [Release(d, run, 0.0, o) for d, o in spend.republished.items()]
        current.update({d: run for d in spend.days})
        spent = would
    assert not _over_budget(spent)
    assert spent_by_day(history) == pytest.approx(spent)


def test_a_period_counts_in_whole_days_rounded_up():
    assert period_days(Budget(epsilon=1.0, period="36h")) == 2
    assert period_days(Budget(epsilon=1.0, period="1h")) == 1
    assert period_days(Budget(epsilon=1.0, period="30d")) == 30
    assert period_days(Budget(epsilon=1.0, period="721h")) == 31


def test_a_day_the_table_holds_but_the_ledger_does_not_know_is_refused():
    held = {"events": ["2026-06-12", "2026-06-13"]}
    with pytest.raises(GuaranteeError) as err:
        refuse_unledgered(["2026-06-13", "2026-06-14"], [], held)
    assert err.value.exit_code == 3 and err.value.count == 1
    assert "2026-06" not in str(err.value)  # counts, never the days themselves
    # A day the ledger has a loaded release of is a re-release, which the budget decides on.
    known = [Release("2026-06-13", "run-1", 1.0, "run-1")]
    refuse_unledgered(["2026-06-13", "2026-06-14"], known, held)
    refuse_unledgered(["2026-06-14"], [], held)  # a day the table does not hold: a first release
