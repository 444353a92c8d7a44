"""The DAG files parse cleanly, cheaply, and wire one DAG per purpose policy."""

from __future__ import annotations

import os
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import yaml

from tests.dags.conftest import DAGS, PURPOSES

CRON = {"@daily": "0 0 * * *", "@weekly": "0 0 * * 0"}
CHAIN = ["extract", "minimise", "gate", "load", "retention", "publish", "cleanup"]


def policies() -> dict[str, dict]:
    docs = [yaml.safe_load(f.read_text()) for f in sorted(PURPOSES.glob("*.yaml"))]
    return {d["purpose"]: d for d in docs}


def test_every_dag_file_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}
    expected = {f"minimise_{p}" for p in policies()} | {"analyst_churn_by_age_band"}
    assert expected <= set(dagbag.dag_ids)  # other features add their own DAGs


def test_each_purpose_dag_is_the_task_chain_with_a_teardown_cleanup(dagbag):
    for purpose, doc in policies().items():
        dag = dagbag.get_dag(f"minimise_{purpose}")
        assert [t.task_id for t in dag.topological_sort()] == CHAIN
        for upstream, downstream in pairwise(CHAIN):
            assert dag.get_task(upstream).downstream_task_ids == {downstream}
        cleanup = dag.get_task("cleanup")
        # A teardown runs once everything upstream is done (no setup task: all done) and
        # does not hide a failed run behind its own success.
        assert cleanup.is_teardown and not cleanup.on_failure_fail_dagrun
        assert cleanup.trigger_rule.value == "all_done_setup_success"
        assert not cleanup.upstream_list[0].is_setup  # so "all done" is all it waits for
        assert dag.max_active_runs == 1 and not dag.catchup
        assert dag.owner == doc["owner"]


def test_schedules_come_from_the_policies_with_data_intervals(dagbag):
    for purpose, doc in policies().items():
        timetable = dagbag.get_dag(f"minimise_{purpose}").timetable
        assert type(timetable).__name__ == "CronDataIntervalTimetable"
        assert (timetable.expression, str(timetable.timezone)) == (CRON[doc["schedule"]], "UTC")


def test_each_load_emits_one_asset_per_table_and_the_consumer_waits_for_them(dagbag):
    for purpose, doc in policies().items():
        dag = dagbag.get_dag(f"minimise_{purpose}")
        outlets = {a.uri for a in dag.get_task("load").outlets}
        assert outlets == {f"warehouse://{purpose}/{table}" for table in doc["sources"]}
        others = [t for t in dag.tasks if t.task_id != "load"]
        assert not any(t.outlets for t in others)
    consumer = dagbag.get_dag("analyst_churn_by_age_band")
    wanted = {a.uri for a in consumer.timetable.asset_condition.objects}
    assert wanted == {"warehouse://churn_analysis/customers", "warehouse://churn_analysis/orders"}


def test_dag_files_are_thin_and_import_nothing_heavy_at_parse_time(airflow_home):
    for file in DAGS.glob("*.py"):
        assert len(file.read_text().splitlines()) < 100, file.name
    probe = (
        "import runpy, sys\n"
        f"for f in {sorted(str(p) for p in DAGS.glob('*.py'))!r}: runpy.run_path(f)\n"
        "heavy = [m for m in ('minimizer', 'pandas', 'pyarrow', 'duckdb', 'great_expectations',"
        " 'psycopg') if m in sys.modules]\n"
        "print('HEAVY:' + ','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(DAGS).parent,
        env=_parse_env(),
    )
    assert "HEAVY:\n" in out.stdout


def _parse_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
