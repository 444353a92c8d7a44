"""The Spark engine in a purpose DAG: extract and minimise on Spark, the rest as always.

A policy with ``engine: spark`` (or every policy, with ``MINIMIZER_ENGINE=spark`` where the
DAGs are parsed) gets this chain::

    spark_stage ─▶ gate ─▶ load ─▶ publish ─▶ cleanup (teardown)

``spark_stage`` is a ``@task.pyspark`` task of the official provider
(``apache-airflow-providers-apache-spark``) on the connection ``spark_default``: the provider
builds the SparkSession from the connection (its host and port are the master URL, its extras
Spark settings) and hands it to the task, which runs the engine
(:class:`minimizer.engines.spark.engine.SparkEngine`) on it. The engine writes each source's
staged Parquet to ``<run>/minimised/<source>.parquet``, exactly where the ``minimise`` task of
the single-process chain leaves it, so ``gate``, ``load``, ``publish`` and ``cleanup`` are the
same tasks. Only the path of the saved run state crosses XCom, as in every other task.

Before the provider starts a session (a ``pre_execute`` hook): Java 17+ and a reachable master,
each failing in one line (a dead ``spark://`` master would otherwise leave the task hanging in
Spark's reconnect loop); then the engine's own settings on top of the connection's (UTC,
this interpreter for the Python workers, the JDBC driver, a JVM log that quotes no row).

Nothing here imports Airflow, Spark, pandas or the flow at import time: the DAG file imports
this module when it is parsed.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from minimizer.orchestration.environment import Environment
    from minimizer.orchestration.tasks import Run
    from minimizer.policy import Policy

__all__ = [
    "ENGINE_ENV",
    "SPARK_CONN",
    "TASK_ID",
    "build_chain",
    "engine_of",
    "master_of",
    "preflight",
    "spark_settings",
    "stage",
]

SPARK_CONN = "spark_default"
TASK_ID = "spark_stage"
ENGINE_ENV = "MINIMIZER_ENGINE"  # read where the DAGs are parsed: overrides every policy
ENGINES = ("local", "spark")
DOC = (
    "Extract and minimise every source on Spark (connection `spark_default`): the policy-named "
    "columns into the run's staged Parquet, as the minimise task would."
)


def engine_of(policy: Policy, environ: Mapping[str, str] | None = None) -> str:
    """The engine of a purpose's DAG: ``MINIMIZER_ENGINE`` if set, else the policy's."""
    chosen = (os.environ if environ is None else environ).get(ENGINE_ENV, "").strip().lower()
    if chosen and chosen not in ENGINES:
        raise ValueError(f"{ENGINE_ENV}={chosen!r}: expected one of {', '.join(ENGINES)}")
    return chosen or policy.engine


def build_chain(
    policy: Policy,
    path: str,
    extract: Callable[[], Any],
    step: Callable[[str], Any],
    steps: Sequence[str],
) -> Any:
    """The tasks before ``cleanup``, in order, inside the DAG being built; returns the last.

    The single-process chain is ``extract`` then ``steps``; the Spark chain puts
    ``spark_stage`` in place of ``extract`` and ``minimise``.
    """
    if engine_of(policy) == "spark":
        report = spark_stage(path, policy.purpose)
        rest = [name for name in steps if name != "minimise"]
    else:
        report, rest = extract(), list(steps)
    for name in rest:
        report = step(name)(report)
    return report


def spark_stage(path: str, purpose: str) -> Any:
    """The ``@task.pyspark`` task of a purpose (called while its DAG is being built)."""
    from airflow.providers.apache.spark.decorators.pyspark import pyspark_task

    def check(context: Any) -> None:
        preflight(purpose, context)

    @pyspark_task(task_id=TASK_ID, conn_id=SPARK_CONN, doc_md=DOC, pre_execute=check)
    def run(spark: SparkSession | None = None, **context: Any) -> str:
        return call(path, purpose, context, spark)

    return run()


# -- inside the task ------------------------------------------------------------------------


def master_of(conn: Any) -> str:
    """The master URL the provider builds from a connection (``@task.pyspark``'s own rule)."""
    if conn.conn_type == "spark_connect":
        from airflow.providers.apache.spark.hooks.spark_connect import SparkConnectHook

        return str(SparkConnectHook(conn.conn_id).get_connection_url())
    if conn.port:
        return f"{conn.host}:{conn.port}"
    return str(conn.host or "local[*]")


def spark_settings() -> dict[str, str]:
    """What the engine's results and privacy depend on, over the connection's extras."""
    from minimizer.engines.spark import session
    from minimizer.engines.spark.jdbc import session_conf
    from minimizer.errors import SourceError

    # The engine's log4j2 file (LOG4J_NO_VALUES: no row in the JVM's log), owner-only.
    log = f"-Dlog4j2.configurationFile=file:{session._log_config()}"
    settings = {
        **session.SETTINGS,
        "spark.driver.extraJavaOptions": log,
        "spark.executor.extraJavaOptions": log,
    }
    # A PostgreSQL CRM is read over JDBC. Without the jar here, such a CRM fails in the task,
    # naming the package; any other CRM needs none.
    with contextlib.suppress(SourceError):
        settings.update(session_conf())
    return settings


def preflight(purpose: str, context: Mapping[str, Any]) -> None:
    """Before the provider builds a session: Java, the master, and the engine's settings."""
    from minimizer.orchestration.runner import _fail

    try:
        from minimizer.engines.spark.preflight import check_master, quiet_value_logs, require_java
        from minimizer.orchestration.environment import _connection

        conn = _connection(SPARK_CONN)
        require_java()
        check_master(master_of(conn))
        # The JVM starts Python workers from this environment as well as from the setting.
        os.environ["PYSPARK_PYTHON"] = os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
        quiet_value_logs()
        task = context["task"]
        # The task's own settings win over the connection's extras (the provider's order).
        task.config_kwargs = {**spark_settings(), **(task.config_kwargs or {})}
    except Exception as exc:
        _fail(exc, TASK_ID, purpose)


def call(path: str, purpose: str, context: Mapping[str, Any], spark: SparkSession | None) -> str:
    """The task body under Airflow: the run from the context; failures as every task's."""
    from minimizer.orchestration import tasks
    from minimizer.orchestration.environment import from_airflow
    from minimizer.orchestration.runner import _fail, run_info

    try:
        if spark is None:
            raise RuntimeError("the pyspark task got no SparkSession")
        return stage(tasks.Run.from_dict(run_info(path, context)), from_airflow(), spark)
    except Exception as exc:
        _fail(exc, TASK_ID, purpose)


def stage(run: Run, env: Environment, spark: SparkSession) -> str:
    """Start the run and stage every source on Spark; returns the saved state's path.

    What the ``extract`` and ``minimise`` tasks do between them, with the raw rows kept in
    Spark instead of raw Parquet on disk: the same run state, the same staged files in the same
    place, the same ``failed.json`` when a data or policy check fails (nothing staged is kept
    then).
    """
    import shutil

    from minimizer import flow
    from minimizer.engines.spark.engine import SparkEngine
    from minimizer.errors import MinimizerError
    from minimizer.io.staging import held, remove_stale
    from minimizer.io.warehouse import open_warehouse
    from minimizer.orchestration.tasks import MINIMISED, _fresh, _policy, _save, run_dir
    from minimizer.pipeline import Sources, mark_failed, start_run

    policy = _policy(run)
    ring = env.keyring()
    report, _ = start_run(policy, ring, run.as_of)
    state = flow.RunState(report=report)
    where = run_dir(env, policy.purpose, run.run_id)
    remove_stale(where.parent, pattern="*", spare=where)  # dead runs' staging, as extract does
    with held(where):
        out = _fresh(where / MINIMISED)
        try:
            with open_warehouse(env.warehouse, **env.warehouse_options) as wh:
                steps = flow.Run(policy, ring, wh, state, env.artifacts, out)
                shutil.rmtree(steps.quarantine, ignore_errors=True)
                engine = SparkEngine(spark=spark)
                engine(steps, Sources(crm=env.crm, events=env.events), interval=run.interval)
        except BaseException as exc:
            shutil.rmtree(out, ignore_errors=True)
            if isinstance(exc, MinimizerError):
                mark_failed(report, exc)
                _save(state, where / "failed.json")
            raise
        _save(state, where / "extract.json")
        return _save(state, where / "minimise.json")
