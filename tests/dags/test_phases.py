"""The run split into phases (one per Airflow task) gives what ``run_purpose`` gives, and a run
report survives the trip between tasks as JSON."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from minimizer.errors import GateError, SourceError
from minimizer.io.warehouse import open_warehouse
from minimizer.orchestration import phases
from minimizer.orchestration.staged import RawWriter, StagedSource
from minimizer.pipeline import (
    Hooks,
    RunReport,
    SourceReport,
    Sources,
    day_interval,
    run_purpose,
    start_run,
)
from minimizer.policy import load_policy
from tests.conftest import AS_OF
from tests.dags.conftest import PURPOSES

NO_HOOKS = Hooks()


def phased(policy, sources, wh, keyring, run_dir, *, interval=None, hooks=NO_HOOKS):
    """All phases in a row, each from the JSON of the one before, as the tasks do."""
    report, _ = start_run(policy, keyring, AS_OF)
    phases.extract(
        policy, report, Sources.from_dir(sources), run_dir, interval=interval, hooks=hooks
    )
    report = RunReport.from_json(report.to_json())
    phases.minimise(policy, report, keyring, run_dir, quarantine=run_dir / "q", hooks=hooks)
    report = RunReport.from_json(report.to_json())
    phases.check(policy, report, run_dir, hooks=hooks)
    report = RunReport.from_json(report.to_json())
    phases.load(policy, report, wh, interval=interval)
    phases.enforce_retention(policy, report, wh)
    return RunReport.from_json(report.to_json())


def tables(wh, schema):
    return {
        t: wh.read(s, t).sort_values(list(wh.read(s, t).columns)).reset_index(drop=True)
        for s, t in wh.tables()
        if s == schema
    }


@pytest.mark.parametrize("purpose", ["churn_analysis", "footfall_heatmap", "marketing_segments"])
def test_the_phases_load_exactly_what_run_purpose_loads(tmp_path, synth_sources, keyring, purpose):
    policy = load_policy(PURPOSES / f"{purpose}.yaml")
    interval = day_interval(AS_OF - timedelta(days=2)) if purpose == "footfall_heatmap" else None
    with open_warehouse(tmp_path / "a.duckdb") as a, open_warehouse(tmp_path / "b.duckdb") as b:
        direct = run_purpose(
            policy, Sources.from_dir(synth_sources), a, keyring, as_of=AS_OF, interval=interval
        )
        split = phased(policy, synth_sources, b, keyring, tmp_path / "run", interval=interval)
        expected, got = tables(a, purpose), tables(b, purpose)
    assert expected.keys() == got.keys() == set(policy.sources)
    for name in expected:
        assert len(got[name]) > 0
        pd.testing.assert_frame_equal(expected[name], got[name])
        rep, ref = split.sources[name], direct.sources[name]
        assert (rep.rows_in, rep.rows_out, rep.dropped, rep.drift) == (
            ref.rows_in,
            ref.rows_out,
            ref.dropped,
            ref.drift,
        )
    assert split.loaded_rows == direct.loaded_rows
    assert split.guarantees["retention_enforced"]["deleted_after_load"].keys() <= set(expected)


def test_a_report_round_trips_through_json_with_paths_schemas_and_numpy_counts(
    tmp_path, synth_sources, keyring
):
    policy = load_policy(PURPOSES / "churn_analysis.yaml")
    report, _ = start_run(policy, keyring, AS_OF)
    phases.extract(
        policy, report, Sources.from_dir(synth_sources), tmp_path, interval=None, hooks=Hooks()
    )
    phases.minimise(policy, report, keyring, tmp_path, quarantine=tmp_path / "q", hooks=Hooks())
    rep = report.sources["customers"]
    rep.measures["uniques"] = np.int64(7)
    rep.scratch.update({"counts": tmp_path / "counts.parquet", "label": "x", "n": [1, 2]})
    back = RunReport.from_json(report.to_json())
    rep.measures["uniques"] = 7
    assert back == report
    assert isinstance(back.sources["customers"].scratch["counts"], Path)
    assert back.sources["customers"].schema == pq.read_schema(rep.staged)


def test_working_data_that_cannot_cross_tasks_is_refused_by_name_without_values(keyring):
    policy = load_policy(PURPOSES / "churn_analysis.yaml")
    report, _ = start_run(policy, keyring, AS_OF)
    report.sources["customers"] = SourceReport(source="customers")
    report.sources["customers"].scratch["frame"] = pd.DataFrame({"email": ["a.secret@x.org"]})
    with pytest.raises(TypeError, match=r"scratch\['frame'\] of source 'customers'") as info:
        report.to_json()
    assert "a.secret" not in str(info.value)


def test_the_extract_stages_only_policy_columns_and_leaves_out_excluded_subjects(
    tmp_path, synth_sources, keyring
):
    policy = load_policy(PURPOSES / "churn_analysis.yaml")
    report, _ = start_run(policy, keyring, AS_OF)

    def every_other(name, spec, chunk):
        return np.arange(len(chunk)) % 2 == 0

    phases.extract(
        policy,
        report,
        Sources.from_dir(synth_sources),
        tmp_path,
        interval=None,
        hooks=Hooks(exclude=every_other),
    )
    raw = StagedSource(tmp_path / phases.RAW / "customers", "customers")
    staged = pd.concat(raw.chunks(raw.columns()))
    assert list(staged.columns) == list(policy.sources["customers"].inputs())
    assert "email" not in staged.columns
    rep = report.sources["customers"]
    assert rep.rows_in == 300 and rep.excluded == 150 and len(staged) == 150
    assert "email" in rep.dropped


def test_a_failed_extract_leaves_no_raw_data_behind(tmp_path, synth_sources, keyring):
    policy = load_policy(PURPOSES / "churn_analysis.yaml")
    report, _ = start_run(policy, keyring, AS_OF)

    def fail_on_orders(name, spec, chunk):
        if name == "orders":
            raise SourceError("planted", table=name, reason="unreadable")
        return np.ones(len(chunk), dtype=bool)

    with pytest.raises(SourceError):
        phases.extract(
            policy,
            report,
            Sources.from_dir(synth_sources),
            tmp_path,
            interval=None,
            hooks=Hooks(exclude=fail_on_orders),
        )
    assert not (tmp_path / phases.RAW).exists()


def test_the_check_phase_starts_from_the_minimised_files_on_every_attempt(
    tmp_path, synth_sources, keyring
):
    policy = load_policy(PURPOSES / "churn_analysis.yaml")
    report, _ = start_run(policy, keyring, AS_OF)
    phases.extract(
        policy, report, Sources.from_dir(synth_sources), tmp_path, interval=None, hooks=Hooks()
    )
    phases.minimise(policy, report, keyring, tmp_path, quarantine=tmp_path / "q", hooks=Hooks())
    saved = report.to_json()

    def halve_then_refuse(policy, report):
        staged = report.sources["customers"].staged
        table = pq.read_table(staged)
        pq.write_table(table.slice(0, table.num_rows // 2), staged)
        raise GateError("planted", table="customers", check="test")

    hooks = Hooks(checks=(halve_then_refuse,))
    for _ in range(2):  # a retry sees the full minimised output again, not the halved copy
        attempt = RunReport.from_json(saved)
        with pytest.raises(GateError):
            phases.check(policy, attempt, tmp_path, hooks=hooks)
        assert pq.read_metadata(tmp_path / "minimised" / "customers.parquet").num_rows == 300
    assert pq.read_metadata(attempt.sources["customers"].staged).num_rows == 150


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


def test_reports_keep_their_fields_when_the_dataclass_grows():
    # The JSON covers every field of both reports: a new field must be added to to_json too.
    names = {f.name for f in dataclasses.fields(RunReport)}
    assert names == {
        "run_id",
        "purpose",
        "policy_sha256",
        "key_version",
        "started_at",
        "as_of",
        "retention_cutoff",
        "sources",
        "guarantees",
        "gate",
        "status",
        "finished_at",
        "loaded_rows",
        "error",
    }
