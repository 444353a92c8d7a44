"""The task bodies without Airflow: backfills by day, retries, failures and cleanup."""

from __future__ import annotations

import dataclasses
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from minimizer import flow
from minimizer.errors import GateError
from minimizer.io.warehouse import open_warehouse
from minimizer.orchestration import tasks
from minimizer.orchestration.environment import Environment, SetupError
from minimizer.pipeline import RunReport, day_interval
from minimizer.policy import load_policy
from tests.conftest import AS_OF
from tests.dags.conftest import PURPOSES


def environment(tmp_path: Path, sources: Path, keyring) -> Environment:
    return Environment(
        crm=str(sources / "crm.sqlite"),
        events=sources / "events",
        warehouse=str(tmp_path / "warehouse.duckdb"),
        artifacts=tmp_path / "artifacts",
        staging=tmp_path / "staging",
        keyring=lambda: keyring,
    )


def day_run(policy: Path, day, run_id: str | None = None) -> tasks.Run:
    start, end = day_interval(datetime(day.year, day.month, day.day, tzinfo=UTC))
    return tasks.Run(
        policy=policy,
        run_id=run_id or f"scheduled__{start:%Y-%m-%d}",
        as_of=end,
        interval=(start, end),
    )


def run_all(run: tasks.Run, env: Environment) -> str:
    report = tasks.extract(run, env)
    for step in tasks.STEPS.values():
        report = step(run, report, env)
    tasks.cleanup(run, env, load_policy(run.policy).purpose)
    return report


def repeatable_releases(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two runs over the same data release the same rows: the fresh salts of the points cap
    and the dp sampling are fixed, and OpenDP's noise (which cannot be seeded) releases the
    bounded counts as they are. Everything but the noise is then compared."""
    from minimizer.aggregate import dp

    monkeypatch.setattr("secrets.token_hex", lambda n=16: "5a" * n)
    real = dp.measure_mechanism
    monkeypatch.setattr(
        dp,
        "measure_mechanism",
        lambda *a, **k: dataclasses.replace(real(*a, **k), measurement=lambda v: v),
    )


def files_under(path: Path) -> list[Path]:
    return [p for p in path.rglob("*") if p.is_file()] if path.exists() else []


def test_a_backfill_by_day_with_a_rerun_loads_each_event_once(tmp_path, synth_sources, keyring):
    # Real OpenDP noise: the re-run re-publishes the day's stored counts, it draws none.
    policy_file = PURPOSES / "footfall_heatmap.yaml"
    env = environment(tmp_path, synth_sources, keyring)
    days = [(AS_OF - timedelta(days=n)).date() for n in (3, 2, 1)]
    counts = []
    for day in days:
        run_all(day_run(policy_file, day), env)
        counts.append(len(events(env)))
    backfilled = events(env)
    run_all(day_run(policy_file, days[1]), env)  # a cleared run, or the backfill run again
    again = events(env)
    pd.testing.assert_frame_equal(again, backfilled)
    # Each day adds its own cell-hours (a day whose every cell-hour stays under the threshold
    # of 5 visitors adds none: footfall publishes dp counts, never rows).
    assert set(again.hour.dt.date) <= set(days) and len(set(again.hour.dt.date)) >= 2
    assert 0 < counts[0] <= counts[1] <= counts[2] == len(again)
    with open_warehouse(env.warehouse) as wh:
        audit = wh.audit_runs("footfall_heatmap")
    assert len(audit) == 4 and set(audit.status) == {"loaded"}
    ledgers = [d["guarantees"]["privacy_ledger"] for d in audit.details]
    assert [e["epsilon_this_run"] for e in ledgers] == [0.5, 0.5, 0.5, 0.0]  # ε 0.5 a day
    assert ledgers[3]["republished"] == {days[1].isoformat(): audit.run_id.iloc[1]}
    assert files_under(env.staging) == []
    assert len((env.artifacts / "runs.jsonl").read_text().splitlines()) == 4


def events(env: Environment) -> pd.DataFrame:
    with open_warehouse(env.warehouse) as wh:
        frame = wh.read("footfall_heatmap", "events")
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def test_a_backfilled_day_past_retention_loads_nothing(tmp_path, synth_sources, keyring):
    # Without a fixed as-of, the clock decides the cutoff: an expired day is never reloaded.
    day = (AS_OF - timedelta(days=2)).date()
    start, end = day_interval(datetime(day.year, day.month, day.day, tzinfo=UTC))
    assert datetime.now(UTC) - timedelta(days=90) > end, "the test data must be expired"
    env = environment(tmp_path, synth_sources, keyring)
    run = tasks.Run(PURPOSES / "footfall_heatmap.yaml", "backfill__old", interval=(start, end))
    report = RunReport.from_json(Path(run_all(run, env)).read_text())
    assert report.sources["events"].rows_in == 0
    assert len(events(env)) == 0


def test_every_task_can_run_again_with_the_same_result(tmp_path, synth_sources, keyring):
    run = tasks.Run(
        policy=PURPOSES / "churn_analysis.yaml", run_id="manual__1", as_of=AS_OF, interval=None
    )
    once = environment(tmp_path / "once", synth_sources, keyring)
    run_all(run, once)
    twice = environment(tmp_path / "twice", synth_sources, keyring)
    report = tasks.extract(run, twice)
    assert tasks.extract(run, twice) == report
    for step in tasks.STEPS.values():
        first = step(run, report, twice)
        assert step(run, report, twice) == first  # a retry from the same input report
        report = first
    tasks.cleanup(run, twice, "churn_analysis")
    with open_warehouse(once.warehouse) as a, open_warehouse(twice.warehouse) as b:
        for table in ("customers", "orders"):
            pd.testing.assert_frame_equal(
                a.read("churn_analysis", table), b.read("churn_analysis", table)
            )
        assert len(b.audit_runs("churn_analysis")) == 1  # one run id, upserted
    assert files_under(twice.staging) == []


def test_a_failing_check_loads_nothing_records_the_failure_and_cleans_up(
    tmp_path, synth_sources, keyring, monkeypatch
):
    def refuse(run):
        raise GateError("planted", table="orders", column="channel", check="no_email", count=2)

    monkeypatch.setattr(flow, "run_gate", refuse)
    env = environment(tmp_path, synth_sources, keyring)
    run = tasks.Run(
        policy=PURPOSES / "churn_analysis.yaml", run_id="manual__2", as_of=AS_OF, interval=None
    )
    minimised = tasks.minimise(run, tasks.extract(run, env), env)
    with pytest.raises(GateError):
        tasks.gate(run, minimised, env)
    where = tasks.run_dir(env, "churn_analysis", run.run_id)
    assert (where / "failed.json").exists() and not (where / "raw").exists()
    outcome = tasks.cleanup(run, env, "churn_analysis")
    assert outcome["recorded"] == "failed"
    assert files_under(env.staging) == []
    record = json.loads((env.artifacts / "runs.jsonl").read_text().splitlines()[-1])
    assert record["status"] == "failed"
    assert "check=no_email" in record["details"]["error"]
    with open_warehouse(env.warehouse) as wh:
        assert "churn_analysis" not in {s for s, _ in wh.tables()}


def test_a_crashed_run_is_recorded_as_failed_by_the_cleanup(tmp_path, synth_sources, keyring):
    env = environment(tmp_path, synth_sources, keyring)
    run = tasks.Run(
        policy=PURPOSES / "churn_analysis.yaml", run_id="manual__3", as_of=AS_OF, interval=None
    )
    tasks.extract(run, env)  # then the worker dies: no failed.json, no later report
    assert tasks.cleanup(run, env, "churn_analysis")["recorded"] == "failed"
    record = json.loads((env.artifacts / "runs.jsonl").read_text())
    assert record["details"]["error"] == "a task failed; see its Airflow log"
    assert files_under(env.staging) == []


def test_a_policy_edited_during_a_run_stops_the_run(tmp_path, synth_sources, keyring):
    policy = tmp_path / "churn_analysis.yaml"
    shutil.copy(PURPOSES / "churn_analysis.yaml", policy)
    env = environment(tmp_path, synth_sources, keyring)
    run = tasks.Run(policy=policy, run_id="manual__4", as_of=AS_OF, interval=None)
    extracted = tasks.extract(run, env)
    policy.write_text(policy.read_text().replace("retention: 400d", "retention: 500d"))
    with pytest.raises(SetupError, match="changed while run"):
        tasks.minimise(run, extracted, env)


def test_the_run_dict_from_airflow_gives_an_interval_unless_a_full_refresh_is_asked():
    doc = {
        "policy": "p.yaml",
        "run_id": "scheduled__x",
        "start": "2026-06-13T00:00:00+00:00",
        "end": "2026-06-14T00:00:00+00:00",
        "as_of": "2026-06-14T00:00:00+00:00",
        "full_refresh": False,
    }
    run = tasks.Run.from_dict(doc)
    assert run.interval is not None and run.interval[1] - run.interval[0] == timedelta(days=1)
    assert tasks.Run.from_dict({**doc, "full_refresh": True}).interval is None
    assert tasks.Run.from_dict({**doc, "start": doc["end"]}).interval is None  # manual, no schedule
