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
CHAIN = ["extract", "minimise", "gate", "load", "publish", "cleanup"]


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
        # The policies are read by the CLI's own reader (minimizer.policy): nothing heavier.
        "heavy = [m for m in ('pandas', 'pyarrow', 'duckdb', 'great_expectations', 'psycopg',"
        " 'minimizer.flow', 'minimizer.io') if m in sys.modules]\n"
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


def test_a_policy_without_a_purpose_line_makes_the_same_dag_as_in_the_cli(airflow_home, tmp_path):
    # The CLI takes the purpose from the file name; the DAG factory reads policies the same way.
    text = (PURPOSES / "churn_analysis.yaml").read_text()
    lines = [line for line in text.splitlines() if not line.startswith("purpose:")]
    (tmp_path / "churn_analysis.yaml").write_text("\n".join(lines) + "\n")
    probe = (
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(DAGS / 'minimise_purposes.py')!r})\n"
        "print('ERRORS:', len(bag.import_errors), 'DAGS:', ','.join(sorted(bag.dag_ids)))\n"
    )
    env = {**_parse_env(), "MINIMIZER_POLICY_DIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=False
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "ERRORS: 0 DAGS: minimise_churn_analysis\n" in out.stdout, out.stdout[-2000:]
    from minimizer.policy import load_policy

    assert load_policy(tmp_path / "churn_analysis.yaml").purpose == "churn_analysis"
