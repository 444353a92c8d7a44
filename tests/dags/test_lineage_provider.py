"""Inside Airflow, a run's OpenLineage events go through apache-airflow-providers-openlineage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from minimizer.flow import RunState, run_purpose
from minimizer.keys import KeyRing
from minimizer.orchestration.lineage import emit_staged_run
from minimizer.pipeline import Sources
from minimizer.policy import load_policy
from tests.conftest import AS_OF, TEST_MASTER

ROOT = Path(__file__).resolve().parents[2]
CHURN = ROOT / "configs" / "purposes" / "churn_analysis.yaml"


def test_the_cleanup_emits_the_final_report_through_the_provider(
    airflow_home, synth_sources, tmp_path, monkeypatch
):
    from airflow.providers.openlineage import conf
    from airflow.providers.openlineage.plugins.adapter import OpenLineageAdapter

    from minimizer.io.warehouse import open_warehouse

    events = tmp_path / "events.jsonl"
    config = tmp_path / "openlineage.yml"
    config.write_text(f"transport:\n  type: file\n  log_file_path: {events}\n  append: true\n")
    monkeypatch.setenv("OPENLINEAGE_CONFIG", str(config))
    for cached in (conf.is_disabled, conf.config_path, conf.transport):
        getattr(cached, "cache_clear", lambda: None)()
    ring = KeyRing(masters={1: TEST_MASTER}, current=1)
    policy = load_policy(CHURN)
    with open_warehouse(str(tmp_path / "w.duckdb")) as wh:
        report = run_purpose(policy, Sources.from_dir(synth_sources), wh, ring, as_of=AS_OF)
    emitted: list[str] = []
    real = OpenLineageAdapter.emit

    def spy(self: OpenLineageAdapter, event: object) -> object:
        emitted.append(event.eventType.value)  # type: ignore[attr-defined]
        return real(self, event)

    monkeypatch.setattr(OpenLineageAdapter, "emit", spy)
    where = tmp_path / "staging"
    where.mkdir()
    (where / "gate.json").write_text(RunState(report=report).to_json())
    sources = Sources.from_dir(synth_sources)
    warehouse = str(tmp_path / "w.duckdb")
    # Only a gate report: the run did not publish, so it failed.
    assert emit_staged_run(CHURN, where, warehouse=warehouse, sources=sources) == 2
    (where / "publish.json").write_text(RunState(report=report).to_json())
    assert emit_staged_run(CHURN, where, warehouse=warehouse, sources=sources) == 2
    assert emitted == ["START", "FAIL", "START", "COMPLETE"]
    docs = [json.loads(line) for line in events.read_text().splitlines()]
    assert [d["eventType"] for d in docs] == emitted
    assert docs[-1]["run"]["facets"]["minimizer_privacy"]["status"] == "loaded"


@pytest.mark.parametrize("disabled", ["true"])
def test_a_disabled_provider_sends_nothing(airflow_home, tmp_path, monkeypatch, disabled):
    from airflow.providers.openlineage import conf

    from minimizer.orchestration.lineage import airflow_emitter

    monkeypatch.setenv("OPENLINEAGE_DISABLED", disabled)
    getattr(conf.is_disabled, "cache_clear", lambda: None)()
    assert airflow_emitter() is None
