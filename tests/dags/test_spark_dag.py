"""A purpose DAG on the Spark engine: `engine: spark` in the policy makes its chain
``spark_stage >> gate >> load >> publish >> cleanup``, the Spark task runs through the official
provider's ``@task.pyspark`` on ``spark_default`` (local[2] here), and the tables it loads
equal a single-process run's, row for row. Only paths cross XCom.

Spark needs Java 17+: without it this fails in CI and skips elsewhere
(tests/engines/spark/_java.py). It shares the session's Airflow home (tests/dags/conftest.py).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from minimizer.io.warehouse import open_warehouse
from tests.dags.conftest import DAGS, PURPOSES, RECENT_END, connect
from tests.dags.test_dag_runs import DAY, at, staged_files
from tests.engines.spark._java import _java_17  # noqa: F401

PURPOSE = "spark_churn"  # a DAG id of its own in the shared metadata database
SPARK_CHAIN = ["spark_stage", "gate", "load", "publish", "cleanup"]
LOCAL_CHAIN = ["extract", "minimise", "gate", "load", "publish", "cleanup"]


def _policy_dir(tmp: Path, engine: str | None) -> Path:
    """churn_analysis under the purpose ``spark_churn``, with ``engine:`` as given."""
    doc = yaml.safe_load((PURPOSES / "churn_analysis.yaml").read_text())
    doc["purpose"] = PURPOSE
    if engine is not None:
        doc["engine"] = engine
    folder = tmp / f"policies_{engine or 'default'}"
    folder.mkdir(parents=True)
    (folder / f"{PURPOSE}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return folder


def _dag(monkeypatch: pytest.MonkeyPatch, policies: Path, engine_env: str | None = None) -> Any:
    """The purpose DAG as the DAG file builds it from ``policies`` (parsed afresh)."""
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("MINIMIZER_POLICY_DIR", str(policies))
    if engine_env is None:
        monkeypatch.delenv("MINIMIZER_ENGINE", raising=False)
    else:
        monkeypatch.setenv("MINIMIZER_ENGINE", engine_env)
    bag = DagBag(dag_folder=str(DAGS / "minimise_purposes.py"))
    assert bag.import_errors == {}
    return bag.get_dag(f"minimise_{PURPOSE}")


def _chain(dag: Any) -> list[str]:
    return [t.task_id for t in dag.topological_sort()]


def _spark_connection(monkeypatch: pytest.MonkeyPatch, host: str, port: int | None = None) -> None:
    # Extras are Spark settings: the test data is small, and 200 shuffle partitions (Spark's
    # default) would cost seconds per job.
    extra = {"spark.sql.shuffle.partitions": "2"}
    conn: dict[str, Any] = {"conn_type": "spark", "host": host, "extra": extra}
    if port is not None:
        conn["port"] = port
    monkeypatch.setenv("AIRFLOW_CONN_SPARK_DEFAULT", json.dumps(conn))


def _states(run: Any) -> dict[str, str]:
    return {"run": str(run.state), **{ti.task_id: str(ti.state) for ti in run.get_task_instances()}}


def _tables(warehouse: str) -> dict[str, pd.DataFrame]:
    with open_warehouse(warehouse) as wh:
        found = {t for s, t in wh.tables() if s == PURPOSE}
        frames = {t: wh.read(PURPOSE, t) for t in sorted(found)}
    return {t: f.sort_values(list(f.columns)).reset_index(drop=True) for t, f in frames.items()}


# -- wiring (no Spark job) -------------------------------------------------------------------
def test_the_policy_or_the_environment_picks_the_chain(airflow_home, tmp_path, monkeypatch):
    spark = _dag(monkeypatch, _policy_dir(tmp_path, "spark"))
    assert _chain(spark) == SPARK_CHAIN
    stage = spark.get_task("spark_stage")
    assert stage.custom_operator_name == "@task.pyspark" and stage.conn_id == "spark_default"
    assert spark.get_task("spark_stage").downstream_task_ids == {"gate"}
    assert _chain(_dag(monkeypatch, _policy_dir(tmp_path, None))) == LOCAL_CHAIN
    # MINIMIZER_ENGINE, where the DAGs are parsed, overrides every policy, both ways.
    assert _chain(_dag(monkeypatch, tmp_path / "policies_default", "spark")) == SPARK_CHAIN
    assert _chain(_dag(monkeypatch, tmp_path / "policies_spark", "local")) == LOCAL_CHAIN


def test_engine_of_refuses_an_unknown_engine() -> None:
    from minimizer.orchestration.spark import engine_of
    from minimizer.policy import load_policy

    policy = load_policy(PURPOSES / "churn_analysis.yaml")
    assert engine_of(policy, {}) == "local"
    assert engine_of(policy, {"MINIMIZER_ENGINE": " Spark "}) == "spark"
    with pytest.raises(ValueError, match="MINIMIZER_ENGINE"):
        engine_of(policy, {"MINIMIZER_ENGINE": "dask"})


@pytest.mark.parametrize(
    ("conn", "master"),
    [
        ({"conn_type": "spark", "host": "local[2]"}, "local[2]"),
        ({"conn_type": "spark", "host": "spark://10.0.0.5", "port": 7077}, "spark://10.0.0.5:7077"),
        ({"conn_type": "spark", "host": "yarn"}, "yarn"),
        ({"conn_type": "spark"}, "local[*]"),
    ],
)
def test_the_master_is_the_connection_as_the_provider_reads_it(airflow_home, conn, master):
    from airflow.sdk import Connection

    from minimizer.orchestration.spark import master_of

    assert master_of(Connection(conn_id="spark_default", **conn)) == master


class _Task:
    """What the pre_execute hook sees of the @task.pyspark operator."""

    def __init__(self, own: dict[str, str] | None = None) -> None:
        self.config_kwargs = own


def test_the_preflight_puts_the_engine_settings_over_the_connection(airflow_home, monkeypatch):
    from minimizer.orchestration.spark import preflight

    _spark_connection(monkeypatch, "local[2]")
    task = _Task({"spark.executor.memory": "3g"})
    preflight("spark_churn", {"task": task})
    settings = task.config_kwargs or {}
    assert settings["spark.sql.session.timeZone"] == "UTC"
    assert settings["spark.pyspark.python"] == sys.executable
    assert "log4j2.configurationFile" in settings["spark.driver.extraJavaOptions"]
    assert settings["spark.jars"].endswith("postgresql.jar")
    assert settings["spark.executor.memory"] == "3g"  # the task's own setting stays


def test_the_preflight_fails_without_a_connection_and_retries_a_dead_master(
    airflow_home, monkeypatch
):
    from airflow.sdk.exceptions import AirflowException, AirflowFailException

    from minimizer.orchestration.spark import preflight

    monkeypatch.delenv("AIRFLOW_CONN_SPARK_DEFAULT", raising=False)
    with pytest.raises(AirflowFailException, match="SetupError"):
        preflight("spark_churn", {"task": _Task()})
    _spark_connection(monkeypatch, "spark://127.0.0.1", 1)
    with pytest.raises(AirflowException) as info:
        preflight("spark_churn", {"task": _Task()})
    assert not isinstance(info.value, AirflowFailException)  # a master may come back: retried
    assert "cannot be reached" in str(info.value)


def test_the_spark_dag_parses_without_spark_or_pandas(airflow_home, tmp_path):
    probe = (
        "import runpy, sys\n"
        f"runpy.run_path({str(DAGS / 'minimise_purposes.py')!r})\n"
        "heavy = [m for m in ('pandas', 'pyarrow', 'pyspark', 'py4j', 'duckdb', "
        "'minimizer.flow', 'minimizer.io', 'minimizer.engines.spark.engine') if m in sys.modules]\n"
        "print('HEAVY:' + ','.join(heavy))\n"
    )
    env = {**os.environ, "MINIMIZER_POLICY_DIR": str(_policy_dir(tmp_path, "spark"))}
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env
    )
    assert "HEAVY:\n" in out.stdout, out.stdout[-500:]


def test_a_dead_master_fails_the_stage_fast_and_loads_nothing(
    airflow_home, recent_sources, tmp_path, monkeypatch
):
    dag = _dag(monkeypatch, _policy_dir(tmp_path, "spark"))
    setup = connect(monkeypatch, tmp_path, recent_sources)
    _spark_connection(monkeypatch, "spark://127.0.0.1", 1)
    started = time.monotonic()
    states = _states(dag.test(logical_date=at(RECENT_END + DAY)))
    assert time.monotonic() - started < 120  # no Spark session waited out its reconnects
    assert states["run"] == "failed" and states["spark_stage"] == "failed", states
    assert states["load"] == "upstream_failed"
    assert not Path(setup.warehouse).exists() or _tables(setup.warehouse) == {}
    assert staged_files(setup.staging) == []


# -- a real run on local[2] ------------------------------------------------------------------
@pytest.mark.usefixtures("_java_17")
def test_the_spark_dag_loads_what_the_single_process_dag_loads(
    airflow_home, recent_sources, tmp_path, monkeypatch
):
    logical = at(RECENT_END + DAY)
    local = connect(monkeypatch, tmp_path / "local", recent_sources)
    single = _dag(monkeypatch, _policy_dir(tmp_path, None))
    states = _states(single.test(logical_date=logical))
    assert set(states.values()) == {"success"}, states

    spark_setup = connect(monkeypatch, tmp_path / "spark", recent_sources)
    _spark_connection(monkeypatch, "local[2]")
    on_spark = _dag(monkeypatch, _policy_dir(tmp_path, "spark"))
    run = on_spark.test(logical_date=logical)
    states = _states(run)
    assert set(states.values()) == {"success"}, states
    assert set(states) == {"run", *SPARK_CHAIN}

    expected, got = _tables(local.warehouse), _tables(spark_setup.warehouse)
    assert set(got) == set(expected) == {"customers", "orders"}
    for table, frame in expected.items():
        assert len(frame) > 0
        pd.testing.assert_frame_equal(got[table], frame, check_dtype=True, obj=table)
    with open_warehouse(spark_setup.warehouse) as wh:
        audit = wh.audit_runs(PURPOSE)
    assert list(audit.status) == ["loaded"]
    assert staged_files(spark_setup.staging) == []  # cleanup removed the run's staging

    # Only paths crossed XCom: the Spark task's is its saved run state.
    with sqlite3.connect(airflow_home / "airflow.db") as meta:
        rows = meta.execute(
            "SELECT task_id, value FROM xcom WHERE dag_id = ? AND run_id = ?",
            (on_spark.dag_id, run.run_id),
        ).fetchall()
    pushed = {task: json.loads(v) if isinstance(v, (str, bytes)) else v for task, v in rows}
    assert str(pushed["spark_stage"]).endswith("minimise.json")
    for task, value in pushed.items():  # a path, or cleanup's counts: never rows or URLs
        assert isinstance(value, (str, dict, int)) and len(json.dumps(value)) < 500, task
        assert "postgresql://" not in json.dumps(value) and "SELECT" not in json.dumps(value)
