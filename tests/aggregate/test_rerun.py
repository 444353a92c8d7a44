"""Re-runs of released days, end to end through the flow and a real warehouse.

A re-run of unchanged days re-publishes the noisy counts already stored (ε 0); a re-run after
late data draws fresh noise for the changed day and spends its ε again, the ledger summing both
releases; re-runs that would overspend are refused (exit 3) and load nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from minimizer.aggregate.ledger import LEDGER_KEY, ledger_table
from minimizer.errors import GuaranteeError
from minimizer.flow import run_purpose
from minimizer.io.warehouse import open_warehouse
from minimizer.keys import KeyRing
from minimizer.pipeline import Sources, day_interval
from minimizer.policy import Budget, Policy, load_policy
from tests.conftest import AS_OF, SYNTH_END

POLICY = Path(__file__).parent / "policies" / "footfall_counts.yaml"
DAYS = [(SYNTH_END - pd.Timedelta(days=n)).isoformat() for n in (2, 1, 0)]
LATE = DAYS[1]  # the day that gets late events


def _run(policy: Policy, sources: Path, warehouse: Path, keyring: KeyRing, interval=None):
    with open_warehouse(str(warehouse)) as wh:
        return run_purpose(
            policy, Sources.from_dir(sources), wh, keyring, as_of=AS_OF, interval=interval
        )


def _table(warehouse: Path) -> pd.DataFrame:
    with open_warehouse(str(warehouse)) as wh:
        frame = wh.read("footfall_counts", "events")
    return frame.sort_values(["cell", "hour"]).reset_index(drop=True)


def _audit(warehouse: Path) -> pd.DataFrame:
    with open_warehouse(str(warehouse)) as wh:
        return wh.audit_runs("footfall_counts")


def _with_budget(policy: Policy, epsilon: float) -> Policy:
    return policy.model_copy(
        update={"budget": Budget(epsilon=epsilon, period=policy.budget.period)}
    )


def _add_late_events(sources: Path, day: str, n: int, part: int) -> None:
    """Events that arrive after the day was released: copies of the day's first ``n`` events,
    an hour later, in a new file of the day's partition."""
    folder = sources / "events" / f"date={day}"
    rows = pq.read_table(folder / "part-0.parquet").slice(0, n).to_pandas()
    rows["ts"] = rows["ts"] + pd.Timedelta(minutes=30)
    rows = rows[rows["ts"].dt.strftime("%Y-%m-%d") == day]
    schema = pq.read_schema(folder / "part-0.parquet")
    table = pa.Table.from_pandas(rows, schema=schema, preserve_index=False)
    pq.write_table(table, folder / f"part-{part}.parquet")


@pytest.fixture
def sources(tmp_path: Path, synth_sources: Path) -> Path:
    copy = tmp_path / "sources"
    shutil.copytree(synth_sources, copy)
    return copy


def test_a_rerun_of_unchanged_days_republishes_the_same_noisy_counts_and_spends_nothing(
    tmp_path, sources, keyring
):
    policy = load_policy(POLICY)  # ε 1.0 per day, budget 3.0 per 30 days; 3 days of events
    warehouse = tmp_path / "w.duckdb"
    first = _run(policy, sources, warehouse, keyring)
    ledger = first.guarantees[LEDGER_KEY]
    assert ledger["epsilon_this_run"] == pytest.approx(3.0) and ledger["left_in_window"] == 0
    assert set(ledger["digests"]) == set(DAYS)
    released = _table(warehouse)
    # The budget is spent: only a re-publication can load now. The noise cannot be seeded,
    # so identical counts are the stored release itself.
    again = _run(policy, sources, warehouse, keyring)
    pd.testing.assert_frame_equal(_table(warehouse), released)
    entry = again.guarantees[LEDGER_KEY]
    assert entry["days"] == {} and entry["epsilon_this_run"] == 0
    assert entry["republished"] == dict.fromkeys(DAYS, first.run_id)
    assert entry["digests"] == ledger["digests"]  # the same true counts, the same digest
    figures = again.guarantees["aggregate"]["events"]
    assert figures["republished_days"] == 3 and figures["fresh_days"] == 0
    # A one-day re-run (a cleared Airflow task) re-publishes that day alone.
    one = _run(policy, sources, warehouse, keyring, day_interval(pd.Timestamp(LATE, tz="UTC")))
    assert one.guarantees[LEDGER_KEY]["republished"] == {LATE: first.run_id}
    pd.testing.assert_frame_equal(_table(warehouse), released)
    table = ledger_table(_audit(warehouse))
    assert table.epsilon.sum() == pytest.approx(3.0)
    assert (table[table.action == "republished"].previous_run == first.run_id).all()


def test_the_digest_is_keyed_a_different_key_ring_cannot_republish(tmp_path, sources, keyring):
    policy = _with_budget(load_policy(POLICY), 6.0)
    warehouse = tmp_path / "w.duckdb"
    first = _run(policy, sources, warehouse, keyring)
    other = KeyRing(masters={1: b"\x07" * 32}, current=1)
    again = _run(policy, sources, warehouse, other)
    assert again.guarantees[LEDGER_KEY]["republished"] == {}
    assert again.guarantees[LEDGER_KEY]["digests"] != first.guarantees[LEDGER_KEY]["digests"]
    assert again.guarantees[LEDGER_KEY]["spent_in_window"] == pytest.approx(6.0)


def test_late_data_is_a_second_release_that_spends_again_until_the_budget_refuses(
    tmp_path, sources, keyring
):
    policy = _with_budget(load_policy(POLICY), 5.0)  # room for two more releases of a day
    warehouse = tmp_path / "w.duckdb"
    first = _run(policy, sources, warehouse, keyring)
    stored = _table(warehouse)

    _add_late_events(sources, LATE, 40, part=1)
    second = _run(policy, sources, warehouse, keyring)
    entry = second.guarantees[LEDGER_KEY]
    assert entry["days"] == {LATE: 1.0}  # only the changed day draws fresh noise
    assert entry["republished"] == {d: first.run_id for d in DAYS if d != LATE}
    assert entry["released_before"] == {LATE: [first.run_id]}
    assert entry["notes"][0].startswith(
        f"second release of day {LATE}, previous run {first.run_id}"
    )
    assert entry["spent_in_window"] == pytest.approx(4.0)  # both releases of the day count
    assert entry["digests"][LATE] != first.guarantees[LEDGER_KEY]["digests"][LATE]
    now = _table(warehouse)
    day = now.hour.dt.strftime("%Y-%m-%d")
    old_day = stored.hour.dt.strftime("%Y-%m-%d")
    # The other days are the stored noisy counts, untouched.
    pd.testing.assert_frame_equal(
        now[day != LATE].reset_index(drop=True), stored[old_day != LATE].reset_index(drop=True)
    )

    _add_late_events(sources, LATE, 40, part=2)
    third = _run(policy, sources, warehouse, keyring)
    assert third.guarantees[LEDGER_KEY]["released_before"] == {LATE: [first.run_id, second.run_id]}
    assert third.guarantees[LEDGER_KEY]["left_in_window"] == pytest.approx(0.0)
    before = _table(warehouse)
    runs_before = _audit(warehouse)

    _add_late_events(sources, LATE, 40, part=3)
    with pytest.raises(GuaranteeError) as err:
        _run(policy, sources, warehouse, keyring)  # a fourth release: 6.0 > 5.0
    assert err.value.exit_code == 3 and err.value.reason == "budget_exceeded"
    pd.testing.assert_frame_equal(_table(warehouse), before)  # nothing loaded
    runs_after = _audit(warehouse)
    assert runs_after.run_id.tolist() == runs_before.run_id.tolist()

    table = ledger_table(runs_after)
    late = table[table.day == LATE]
    assert late.action.tolist() == ["fresh", "fresh", "fresh"]
    assert late.release.tolist() == [1, 2, 3] and late.epsilon.sum() == pytest.approx(3.0)
    assert table.epsilon.sum() == pytest.approx(5.0)  # 3 days + 2 re-releases, all counted


def test_a_changed_policy_is_a_fresh_release_not_a_republication(tmp_path, sources, keyring):
    policy = _with_budget(load_policy(POLICY), 6.0)
    warehouse = tmp_path / "w.duckdb"
    _run(policy, sources, warehouse, keyring)
    agg = policy.sources["events"].aggregate
    stricter = policy.model_copy(
        update={
            "sources": {
                "events": policy.sources["events"].model_copy(
                    update={"aggregate": agg.model_copy(update={"min_distinct_subjects": 6})}
                )
            }
        }
    )
    again = _run(stricter, sources, warehouse, keyring)
    assert again.guarantees[LEDGER_KEY]["republished"] == {}
    assert again.guarantees[LEDGER_KEY]["spent_in_window"] == pytest.approx(6.0)


def test_a_stored_release_no_longer_complete_is_released_afresh(tmp_path, sources, keyring):
    """Re-publishing what is left of a release would publish a day with rows missing: when the
    warehouse no longer holds every row the day's release published, the day is released again
    (and spends again)."""
    policy = _with_budget(load_policy(POLICY), 6.0)
    warehouse = tmp_path / "w.duckdb"
    first = _run(policy, sources, warehouse, keyring)
    with open_warehouse(str(warehouse)) as wh:
        wh.query(
            "DELETE FROM footfall_counts.events WHERE rowid IN (SELECT min(rowid) FROM"
            f" footfall_counts.events WHERE strftime(hour, '%Y-%m-%d') = '{LATE}')"
        )
    again = _run(policy, sources, warehouse, keyring)
    entry = again.guarantees[LEDGER_KEY]
    assert entry["days"] == {LATE: 1.0}
    assert entry["republished"] == {d: first.run_id for d in DAYS if d != LATE}
    assert "no longer complete" in entry["notes"][0]
