"""The run split into Airflow tasks gives what ``run_purpose`` gives (the same steps of
minimizer.flow), its state survives the trip between tasks as JSON, and what a dead run leaves
behind is swept by the next one."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from minimizer import flow
from minimizer.errors import GateError, SourceError
from minimizer.flow import ALL, RunState, run_purpose
from minimizer.io.sources import EventSource, Source, TableSource
from minimizer.io.staging import OWNER, held
from minimizer.io.warehouse import open_warehouse
from minimizer.orchestration import tasks
from minimizer.orchestration.staged import RawWriter, StagedSource
from minimizer.pipeline import RunReport, SourceReport, Sources, day_interval, start_run
from minimizer.policy import load_policy
from minimizer.rights.digest import subject_digests
from tests.conftest import AS_OF
from tests.dags.conftest import PURPOSES
from tests.dags.test_tasks import environment, files_under, repeatable_releases

EXAMPLES = sorted(p.stem for p in PURPOSES.glob("*.yaml"))


def tables(wh, schema):
    return {
        t: wh.read(s, t).sort_values(list(wh.read(s, t).columns)).reset_index(drop=True)
        for s, t in wh.tables()
        if s == schema
    }


def split_run(run: tasks.Run, env) -> RunReport:
    """Every task of a DAG run in a row, each from the state the one before saved."""
    state = tasks.extract(run, env)
    for step in tasks.STEPS.values():
        state = step(run, state, env)
    tasks.cleanup(run, env, load_policy(run.policy).purpose)
    return RunReport.from_json(Path(state).read_text())


@pytest.mark.parametrize("purpose", EXAMPLES)
def test_the_airflow_tasks_load_exactly_what_run_purpose_loads(
    tmp_path, synth_sources, keyring, purpose, monkeypatch
):
    repeatable_releases(monkeypatch)
    policy_file = PURPOSES / f"{purpose}.yaml"
    policy = load_policy(policy_file)
    events = any(s.kind == "events" for s in policy.sources.values())
    interval = day_interval(AS_OF - timedelta(days=2)) if events else None
    env = environment(tmp_path / "split", synth_sources, keyring)
    with open_warehouse(tmp_path / "a.duckdb") as a:
        direct = run_purpose(
            policy,
            Sources.from_dir(synth_sources),
            a,
            keyring,
            as_of=AS_OF,
            interval=interval,
            artifacts=tmp_path / "direct",
            steps=ALL,
        )
        expected = tables(a, purpose)
    split = split_run(tasks.Run(policy_file, "manual__eq", interval, AS_OF), env)
    with open_warehouse(env.warehouse) as b:
        got = tables(b, purpose)
    assert expected.keys() == got.keys() == set(policy.sources)
    for name in expected:
        pd.testing.assert_frame_equal(expected[name], got[name])
        rep, ref = split.sources[name], direct.sources[name]
        assert (rep.rows_in, rep.rows_out, rep.excluded, rep.dropped, rep.drift) == (
            ref.rows_in,
            ref.rows_out,
            ref.excluded,
            ref.dropped,
            ref.drift,
        )
    assert split.loaded_rows == direct.loaded_rows
    assert split.guarantees == direct.guarantees
    assert split.gate.get("success") is direct.gate.get("success") is True


def test_a_state_round_trips_through_json_with_paths_schemas_and_numpy_counts(
    tmp_path, synth_sources, keyring
):
    policy_file = PURPOSES / "churn_analysis.yaml"
    env = environment(tmp_path, synth_sources, keyring)
    run = tasks.Run(policy_file, "manual__json", None, AS_OF)
    saved = Path(tasks.minimise(run, tasks.extract(run, env), env))
    state = RunState.from_json(saved.read_text())
    rep = state.report.sources["customers"]
    assert isinstance(rep.canary, Path) and rep.canary.exists()  # the gate's observer ran
    assert rep.schema == pq.read_schema(rep.staged)
    rep.measures["uniques"] = np.int64(7)
    back = RunState.from_json(state.to_json())
    rep.measures["uniques"] = 7
    assert back == state
    assert json.loads(state.to_json())["format"] == "minimizer-run-state/1"
    tasks.cleanup(run, env, "churn_analysis")


def test_figures_that_cannot_cross_tasks_are_refused_without_their_values(keyring):
    policy = load_policy(PURPOSES / "churn_analysis.yaml")
    report, _ = start_run(policy, keyring, AS_OF)
    report.sources["customers"] = SourceReport(source="customers")
    report.sources["customers"].measures["frame"] = pd.DataFrame({"email": ["a.secret@x.org"]})
    with pytest.raises((TypeError, ValueError)) as info:
        RunState(report=report).to_json()
    assert "a.secret" not in str(info.value)


def _flow_run(policy, keyring, tmp_path) -> flow.Run:
    report, _ = start_run(policy, keyring, AS_OF)
    return flow.Run(policy, keyring, None, RunState(report=report), tmp_path / "a", tmp_path)


def test_the_extract_reads_only_policy_columns_and_leaves_out_erased_subjects(
    tmp_path, synth_sources, keyring
):
    policy = load_policy(PURPOSES / "churn_analysis.yaml")
    run = _flow_run(policy, keyring, tmp_path)
    sources = Sources.from_dir(synth_sources)
    everyone = pd.concat(
        sources.open("customers", policy.sources["customers"]).chunks(["customer_id"])
    )
    half = everyone.customer_id.iloc[::2].tolist()
    suppressed = {1: pd.Index(subject_digests(keyring, half, 1))}
    handle = flow.open_source_report(run, sources, "customers")
    staged = pd.concat(flow.extract(run, "customers", handle, suppressed, interval=None))
    assert list(staged.columns) == list(policy.sources["customers"].inputs())
    assert "email" not in staged.columns and not staged.customer_id.isin(half).any()
    rep = run.report.sources["customers"]
    assert rep.rows_in == 300 and rep.excluded == 150 and len(staged) == 150
    assert "email" in rep.dropped


def test_a_failed_extract_leaves_no_raw_data_behind(tmp_path, synth_sources, keyring, monkeypatch):
    real = flow.extract

    def fail_on_orders(run, name, *args, **kwargs):
        if name == "orders":
            raise SourceError("planted", table=name, reason="unreadable")
        return real(run, name, *args, **kwargs)

    monkeypatch.setattr(flow, "extract", fail_on_orders)
    env = environment(tmp_path, synth_sources, keyring)
    run = tasks.Run(PURPOSES / "churn_analysis.yaml", "manual__fail", None, AS_OF)
    with pytest.raises(SourceError):
        tasks.extract(run, env)
    where = tasks.run_dir(env, "churn_analysis", run.run_id)
    assert not (where / tasks.RAW).exists() and (where / "failed.json").exists()


def test_the_gate_task_starts_from_the_minimised_files_on_every_attempt(
    tmp_path, synth_sources, keyring, monkeypatch
):
    env = environment(tmp_path, synth_sources, keyring)
    run = tasks.Run(PURPOSES / "churn_analysis.yaml", "manual__retry", None, AS_OF)
    minimised = tasks.minimise(run, tasks.extract(run, env), env)

    def halve_then_refuse(steps: flow.Run) -> None:
        staged = steps.report.sources["customers"].staged
        table = pq.read_table(staged)
        pq.write_table(table.slice(0, table.num_rows // 2), staged)
        raise GateError("planted", table="customers", check="test")

    monkeypatch.setattr(flow, "check", halve_then_refuse)
    where = tasks.run_dir(env, "churn_analysis", run.run_id)
    for _ in range(2):  # a retry sees the full minimised output again, not the halved copy
        with pytest.raises(GateError):
            tasks.gate(run, minimised, env)
        assert pq.read_metadata(where / tasks.MINIMISED / "customers.parquet").num_rows == 300
    assert pq.read_metadata(where / tasks.CHECKED / "customers.parquet").num_rows == 150


def test_the_next_run_sweeps_the_staging_of_a_dead_run_but_not_of_a_live_task(
    tmp_path, synth_sources, keyring
):
    env = environment(tmp_path, synth_sources, keyring)
    dead = tasks.run_dir(env, "churn_analysis", "scheduled__dead")
    (dead / tasks.RAW).mkdir(parents=True)
    (dead / tasks.RAW / "part-00000.parquet").write_bytes(b"raw rows of a killed worker")
    (dead / OWNER).write_text("4242\n")  # its task died: nobody holds the lock
    live = tasks.run_dir(env, "churn_analysis", "manual__live")
    with held(live):  # a task of another run, working right now
        run = tasks.Run(PURPOSES / "churn_analysis.yaml", "manual__next", None, AS_OF)
        tasks.extract(run, env)
        assert not dead.exists() and live.exists()
    tasks.cleanup(run, env, "churn_analysis")


def test_the_gate_works_inside_the_run_staging_so_a_sweep_takes_it_too(
    tmp_path, synth_sources, keyring, monkeypatch
):
    import tempfile

    import minimizer.gate.validate as validate

    made: list[Path] = []
    real = tempfile.mkdtemp

    def spy(*args, **kwargs):
        path = Path(real(*args, **kwargs))
        if path.name.startswith("minimizer-gate-"):
            made.append(path)
        return str(path)

    monkeypatch.setattr(validate.tempfile, "mkdtemp", spy)
    env = environment(tmp_path, synth_sources, keyring)
    run = tasks.Run(PURPOSES / "churn_analysis.yaml", "manual__gate", None, AS_OF)
    state = tasks.minimise(run, tasks.extract(run, env), env)
    tasks.gate(run, state, env)
    where = tasks.run_dir(env, "churn_analysis", run.run_id)
    assert made and all(p.parent == where for p in made)
    tasks.cleanup(run, env, "churn_analysis")
    assert files_under(env.staging) == []


def test_airflow_runs_prune_old_artefacts_like_the_cli(
    tmp_path, synth_sources, keyring, monkeypatch
):
    monkeypatch.setenv("MINIMIZER_KEEP_ARTIFACTS", "30d")
    env = environment(tmp_path, synth_sources, keyring)
    old = env.artifacts / "gate" / "20200101T000000Z-deadbeef"
    old.mkdir(parents=True)
    (old / "result.json").write_text("{}")
    run = tasks.Run(PURPOSES / "churn_analysis.yaml", "manual__prune", None, AS_OF)
    split_run(run, env)
    assert not old.exists()
    assert len((env.artifacts / "runs.jsonl").read_text().splitlines()) == 1


def test_every_source_kind_is_a_source(tmp_path, synth_sources):
    RawWriter(tmp_path / "raw", "t").write(pd.DataFrame({"a": ["x"]}))
    staged = StagedSource(tmp_path / "raw", "t")
    for source in (
        staged,
        TableSource(synth_sources / "crm.sqlite", "customers"),
        EventSource(synth_sources / "events"),
    ):
        assert isinstance(source, Source)


def test_staged_chunks_come_back_with_the_dtypes_the_source_gave(tmp_path):
    frame = pd.DataFrame(
        {
            "n": pd.array([1, None], dtype="Int64"),
            "flag": pd.array([True, None], dtype="boolean"),
            "ts": pd.to_datetime(["2026-06-14T10:00Z", None], utc=True).astype(
                "datetime64[us, UTC]"
            ),
            "text": pd.Series(["a", None], dtype="str"),
        }
    )
    writer = RawWriter(tmp_path / "raw", "t")
    writer.write(frame)
    writer.write(frame.iloc[:0])
    chunks = list(StagedSource(tmp_path / "raw", "t").chunks(["text", "n", "flag", "ts"]))
    pd.testing.assert_frame_equal(chunks[0], frame[["text", "n", "flag", "ts"]])
    assert len(chunks[1]) == 0 and list(chunks[1].dtypes) == list(chunks[0].dtypes)
    assert (tmp_path / "raw").stat().st_mode & 0o077 == 0


def test_a_missing_staging_directory_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match="run the extract task"):
        StagedSource(tmp_path / "nothing", "customers")
