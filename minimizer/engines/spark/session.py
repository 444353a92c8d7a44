"""The SparkSession the Spark engine runs on: ``local[*]`` unless a master URL is given.

Checked before the JVM starts (``preflight``): Java 17+, a reachable master. Then the settings
the engine's results depend on, not left to a cluster's defaults:

- Python workers run this interpreter (``spark.pyspark.python``), so ``mapInArrow`` finds the
  same pyarrow, pandas and minimizer as the driver.
- Times are UTC (``spark.sql.session.timeZone``): ``date_trunc`` truncates as pandas does.
- Partition folders stay text (``date=2026-06-14`` is the string the single-process engine
  reads, never a date Spark guessed).
- Quiet, and no values in logs: no UI or progress bar, the JVM's log at ERROR with the loggers
  that print a failed task's rows off (``preflight.LOG4J_NO_VALUES``, ``quiet_value_logs``),
  pyspark's warning that pandas 3 is not fully supported silenced (the
  engine hands pandas only to minimizer's own kernels, inside ``mapInArrow``).
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from minimizer.engines.spark.preflight import (
    LOG4J_NO_VALUES,
    check_master,
    quiet_value_logs,
    require_java,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["DEFAULT_MASTER", "RESULT_SETTINGS", "SETTINGS", "result_settings", "spark_session"]

DEFAULT_MASTER = "local[*]"
SETTINGS: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.pyspark.python": sys.executable,
    "spark.pyspark.driver.python": sys.executable,
    # The engine caches its sorted read; without this, adaptive execution may not coalesce
    # that cached plan's 200 shuffle partitions (mostly empty on a small run).
    "spark.sql.optimizer.canChangeCachedPlanOutputPartitioning": "true",
    # Workers fork from a daemon that has the kernel's modules loaded already.
    "spark.python.daemon.module": "minimizer.engines.spark.daemon",
}
_WARNS_PANDAS = ("pyspark.testing.utils", "pyspark.sql.connect.utils", "pyspark.sql.pandas.utils")


# What the engine's results depend on: set on a session the caller hands in, for the staging.
RESULT_SETTINGS = (
    "spark.sql.session.timeZone",
    "spark.sql.sources.partitionColumnTypeInference.enabled",
)


@cache
def _log_config() -> Path:
    """The log4j2 file, in a folder of this process's own (owner-only, not a shared name)."""
    path = Path(tempfile.mkdtemp(prefix="minimizer-spark-")) / "log4j2.properties"
    path.write_text(LOG4J_NO_VALUES)
    return path


@contextmanager
def result_settings(session: SparkSession) -> Iterator[None]:
    """The settings the engine's results depend on, for the duration; the caller's back after."""
    before = {key: session.conf.get(key, None) for key in RESULT_SETTINGS}
    for key in RESULT_SETTINGS:
        session.conf.set(key, SETTINGS[key])
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                session.conf.unset(key)
            else:
                session.conf.set(key, value)


def spark_session(master: str | None = None, conf: dict[str, str] | None = None) -> SparkSession:
    """A session on ``master`` (default ``local[*]``) with the engine's settings; an existing
    session of this process is reused (its static settings then stay as they were)."""
    require_java()
    check_master(master)
    # Workers are started by the JVM from this environment as well as from the setting.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    # pyspark warns that pandas 3 is not fully supported, here and in every Python worker.
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"pyspark(\.|$)")
    own = [w for w in os.environ.get("PYTHONWARNINGS", "").split(",") if w]
    quiet = [f"ignore::FutureWarning:{m}" for m in _WARNS_PANDAS]
    os.environ["PYTHONWARNINGS"] = ",".join(dict.fromkeys([*own, *quiet]))
    from pyspark.sql import SparkSession

    log = f"-Dlog4j2.configurationFile=file:{_log_config()}"
    builder = SparkSession.builder.master(master or DEFAULT_MASTER).appName("minimizer")
    for key, value in {
        **SETTINGS,
        "spark.driver.extraJavaOptions": log,
        "spark.executor.extraJavaOptions": log,
        **(conf or {}),
    }.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    quiet_value_logs()
    return session
