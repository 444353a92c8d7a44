"""Spark tests need Java 17+ and pyspark: in CI (``CI=true``) their absence FAILS every Spark
test, it never skips one; on a laptop without Java the Spark tests are skipped.

The conftest of a folder of Spark tests takes it with one line::

    from tests.engines.spark._java import _java_17  # noqa: F401

(an autouse fixture, so every test in that folder gets it). A test file elsewhere that starts
Spark uses ``pytestmark = pytest.mark.usefixtures("_java_17")`` after the same import.
"""

from __future__ import annotations

import importlib.util
import os

import pytest

from minimizer.engines.spark.preflight import require_java
from minimizer.errors import MinimizerError


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def missing_for_spark() -> str | None:
    """Why Spark cannot run here, in one line, or None when it can."""
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed: pip install -e '.[dev,spark]'"
    try:
        require_java()
    except MinimizerError as exc:
        return str(exc)
    return None


def require_spark_runtime() -> None:
    """Fail (in CI) or skip (elsewhere) the calling test when Spark cannot run here."""
    why = missing_for_spark()
    if why is None:
        return
    if in_ci():
        pytest.fail(f"Spark tests cannot run in CI: {why}", pytrace=False)
    pytest.skip(why)


@pytest.fixture(scope="session", autouse=True)
def _java_17() -> None:
    require_spark_runtime()
