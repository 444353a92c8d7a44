"""The Spark engine loads what the single-process engine loads, row for row, for every purpose.

Each example purpose runs twice over the same demo sources, with every step (suppression,
guarantees, gate): once staged in this process, once on Spark (``local[2]``, the CRM from
Parquet exports). Every table of the purpose must be equal, in the same order: same tokens,
cells, classes and suppressed rows; and the runs' facts (rows in and out, the guarantees'
levels and figures, the observers' measures) must be equal too.

footfall_heatmap releases differentially private counts: it is compared before the noise.
The test seam is the aggregate step's call of ``dp_release``: its noise is the identity and
its choice of the groups a visitor keeps is seeded, so both engines release the true bounded
counts, and must release the same groups with the same counts. max_unicity's cap of points per
day chooses by a fresh salt per run: fixed here too (else one engine differs from itself).
"""

from __future__ import annotations

import dataclasses
import json
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from minimizer.flow import ALL, run_purpose
from minimizer.io.warehouse import open_warehouse
from minimizer.keys import KeyRing
from minimizer.pipeline import RunReport, Sources
from minimizer.policy import load_policy
from tests.conftest import AS_OF

ROOT = Path(__file__).resolve().parents[3]
PURPOSES = sorted((ROOT / "configs" / "purposes").glob("*.yaml"))
# The demo data each purpose is compared on: dense enough that it publishes rows.
DATA = {"mobility_research": "demo_dense"}
# Facts of a run that differ between any two runs (ids, times, paths), never compared.
_RUN_SPECIFIC = {"run_id", "started_at", "finished_at", "seconds", "staged", "canary", "subjects"}


@pytest.fixture
def fixed_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    """The guarantees' keyed choices with a fixed salt: which points per day max_unicity keeps
    (fresh per run otherwise, so two runs of one engine would differ too)."""
    from minimizer.guarantees import traces

    monkeypatch.setattr(
        traces, "cap_points_per_day", partial(traces.cap_points_per_day, salt="identical")
    )


def _same(counts: Any) -> Any:
    return counts


@pytest.fixture
def true_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    """dp_release without noise, and with a fixed choice of the groups each unit keeps."""
    from minimizer.aggregate import dp, feature

    mechanism = dp.measure_mechanism

    def exact(*args: Any, **kwargs: Any) -> dp.DPMeasure:
        # The release's noise taken out: the measurement returns the true counts.
        identity: Any = partial(_same)
        return dataclasses.replace(mechanism(*args, **kwargs), measurement=identity)

    monkeypatch.setattr(dp, "measure_mechanism", exact)
    monkeypatch.setattr(feature, "dp_release", partial(dp.dp_release, seed="identical"))


def _run(policy_file: Path, data: Path, wh_path: Path, keyring: KeyRing, engine: Any) -> RunReport:
    policy = load_policy(policy_file)
    extra = {} if engine is None else {"engine": engine}
    with open_warehouse(str(wh_path)) as wh:
        return run_purpose(
            policy, Sources.from_dir(data), wh, keyring, as_of=AS_OF, steps=ALL, **extra
        )


def _tables(wh_path: Path, purpose: str) -> dict[str, pd.DataFrame]:
    with open_warehouse(str(wh_path)) as wh:
        return {t: wh.read(s, t) for s, t in wh.tables() if s == purpose}


def _facts(report: RunReport) -> Any:
    """The report as JSON, without what is specific to one run."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in _RUN_SPECIFIC}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    doc = json.loads(report.to_json())
    return strip({k: doc.get(k) for k in ("sources", "guarantees", "loaded_rows", "status")})


@pytest.fixture
def engine(spark: Any) -> Any:
    from minimizer.engines.spark.engine import SparkEngine

    return partial(SparkEngine, spark=spark)


@pytest.mark.parametrize("policy_file", PURPOSES, ids=[p.stem for p in PURPOSES])
def test_every_table_equals_the_single_process_one(
    policy_file: Path,
    request: pytest.FixtureRequest,
    engine: Any,
    keyring: KeyRing,
    tmp_path: Path,
    true_counts: None,
    fixed_choices: None,
) -> None:
    data: Path = request.getfixturevalue(DATA.get(policy_file.stem, "demo_small"))
    local = _run(policy_file, data, tmp_path / "local.duckdb", keyring, None)
    on_spark = engine(tables=data / "exports")
    spark = _run(policy_file, data, tmp_path / "spark.duckdb", keyring, on_spark)

    assert local.status == spark.status == "loaded"
    purpose = load_policy(policy_file).purpose
    expected, got = (
        _tables(tmp_path / "local.duckdb", purpose),
        _tables(tmp_path / "spark.duckdb", purpose),
    )
    assert set(got) == set(expected) == set(load_policy(policy_file).sources)
    for table, frame in expected.items():
        assert len(frame) > 0, f"{purpose}.{table} is empty: the comparison would be vacuous"
        pd.testing.assert_frame_equal(got[table], frame, obj=f"{purpose}.{table}")
    assert _facts(spark) == _facts(local)
