"""The privacy budget ledger: refuses to overspend, and a re-run of a day does not spend twice."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from minimizer.aggregate.ledger import LEDGER_KEY, ledger_days, ledger_table, plan_spend
from minimizer.errors import GuaranteeError
from minimizer.flow import run_purpose
from minimizer.io.warehouse import open_warehouse
from minimizer.pipeline import Sources, day_interval
from minimizer.policy import Budget, load_policy
from tests.conftest import AS_OF, SYNTH_END

POLICY = Path(__file__).parent / "policies" / "footfall_counts.yaml"
D0 = date(2026, 6, 1)


def _days(n: int, start: date = D0) -> list[date]:
    return [start + timedelta(days=i) for i in range(n)]


def test_spending_up_to_the_budget_is_allowed_and_one_more_day_is_refused():
    budget = Budget(epsilon=3.0, period=timedelta(days=30))
    history = {d.isoformat(): (0.1, "r1") for d in _days(29)}
    day30 = D0 + timedelta(days=29)
    spend = plan_spend(budget, 0.1, [day30], history)  # 30 x 0.1 = 3.0: fits (float sums too)
    assert spend.spent == pytest.approx(3.0) and spend.left == pytest.approx(0.0)
    with pytest.raises(GuaranteeError) as err:
        plan_spend(budget, 0.2, [day30], history)
    assert err.value.exit_code == 3 and err.value.reason == "budget_exceeded"
    # ε 0.1 a day never breaks 3.0 per 30 days, however long it goes on.
    history[day30.isoformat()] = (0.1, "r2")
    assert plan_spend(budget, 0.1, [D0 + timedelta(days=30)], history).spent == pytest.approx(3.0)


def test_the_window_slides_a_day_outside_it_no_longer_counts():
    budget = Budget(epsilon=1.0, period=timedelta(days=7))
    history = {"2026-06-01": (1.0, "old")}
    with pytest.raises(GuaranteeError):
        plan_spend(budget, 0.5, [date(2026, 6, 7)], history)
    assert plan_spend(budget, 1.0, [date(2026, 6, 8)], history).spent == pytest.approx(1.0)


def test_a_day_released_before_a_later_one_cannot_be_squeezed_in_between():
    """Windows after the new day count too: back-filling a day inside a full window fails."""
    budget = Budget(epsilon=1.0, period=timedelta(days=7))
    with pytest.raises(GuaranteeError):
        plan_spend(budget, 0.5, [date(2026, 6, 1)], {"2026-06-05": (0.6, "later")})


def test_a_rerun_of_the_same_days_replaces_their_spend_and_names_the_release_it_replaces():
    budget = Budget(epsilon=3.0, period=timedelta(days=30))
    history = {d.isoformat(): (1.0, "first") for d in _days(3)}
    spend = plan_spend(budget, 1.0, _days(3), history)
    assert spend.spent == pytest.approx(3.0)
    assert spend.replaces == {d.isoformat(): "first" for d in _days(3)}


def test_the_latest_loaded_release_of_a_day_is_the_one_counted():
    runs = pd.DataFrame(
        {
            "run_id": ["a", "b", "c"],
            "status": ["loaded", "loaded", "failed"],
            "started_at": pd.to_datetime(["2026-06-01", "2026-06-02", "2026-06-03"], utc=True),
            "details": [
                {"guarantees": {LEDGER_KEY: {"days": {"2026-06-01": 1.0}}}},
                {"guarantees": {LEDGER_KEY: {"days": {"2026-06-01": 0.5}}}},
                {"guarantees": {LEDGER_KEY: {"days": {"2026-06-01": 9.0}}}},
            ],
        }
    )
    assert ledger_days(runs) == {"2026-06-01": (0.5, "b")}


# -- end to end: the ledger in the audit record of real runs -------------------------------


def _run(policy, sources, warehouse, keyring, interval=None):
    # The flow's aggregate step is never optional: the bare run releases the counts.
    with open_warehouse(str(warehouse)) as wh:
        return run_purpose(
            policy, Sources.from_dir(sources), wh, keyring, as_of=AS_OF, interval=interval
        )


def _ledger(warehouse) -> list[dict]:
    with open_warehouse(str(warehouse)) as wh:
        runs = wh.audit_runs("footfall_counts")
    return [d["guarantees"][LEDGER_KEY] for d in runs["details"]]


def test_runs_spend_the_budget_reruns_replace_and_overspending_loads_nothing(
    tmp_path, synth_sources, keyring
):
    policy = load_policy(POLICY)  # ε 1.0 per day, budget 3.0 per 30 days; 3 days of events
    warehouse = tmp_path / "w.duckdb"
    first = _run(policy, synth_sources, warehouse, keyring)
    assert first.guarantees[LEDGER_KEY]["spent_in_window"] == pytest.approx(3.0)
    again = _run(policy, synth_sources, warehouse, keyring)  # a re-run: nothing more spent
    assert again.guarantees[LEDGER_KEY]["replaces"] == dict.fromkeys(
        first.guarantees[LEDGER_KEY]["days"], first.run_id
    )
    assert again.guarantees[LEDGER_KEY]["left_in_window"] == pytest.approx(0.0)
    one_day = _run(
        policy,
        synth_sources,
        warehouse,
        keyring,
        day_interval(pd.Timestamp(SYNTH_END, tz="UTC").to_pydatetime()),
    )
    assert list(one_day.guarantees[LEDGER_KEY]["days"]) == [SYNTH_END.isoformat()]
    with open_warehouse(str(warehouse)) as wh:
        before = wh.read("footfall_counts", "events")

    greedy = policy.model_copy(
        update={
            "sources": {
                "events": policy.sources["events"].model_copy(
                    update={
                        "aggregate": policy.sources["events"].aggregate.model_copy(
                            update={
                                "dp": policy.sources["events"].aggregate.dp.model_copy(
                                    update={"epsilon": 1.5}
                                )
                            }
                        )
                    }
                )
            }
        }
    )
    with pytest.raises(GuaranteeError) as err:
        _run(greedy, synth_sources, warehouse, keyring)
    assert err.value.exit_code == 3
    with open_warehouse(str(warehouse)) as wh:
        after = wh.read("footfall_counts", "events")
        statuses = wh.audit_runs("footfall_counts")["status"].tolist()
    pd.testing.assert_frame_equal(before, after)
    assert statuses == ["loaded", "loaded", "loaded"]  # the refused run recorded nothing here
    assert [e["epsilon_this_run"] for e in _ledger(warehouse)] == [3.0, 3.0, 1.0]
    with open_warehouse(str(warehouse)) as wh:
        table = ledger_table(wh.audit_runs("footfall_counts"))
    assert len(table) == 3 + 3 + 1 and table.current.sum() == 3  # one current release a day
    current = table[table.current]
    assert current.epsilon.sum() == pytest.approx(3.0)
    last = current[current.day == SYNTH_END.isoformat()].iloc[0]
    assert last.run_id == one_day.run_id and last.replaces == again.run_id
