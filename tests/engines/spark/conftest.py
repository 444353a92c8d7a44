"""One SparkSession for every Spark test (one JVM: the folder is one xdist group), on
``local[2]``; and the demo sources with their CRM as Parquet exports, generated once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import SYNTH_END
from tests.engines.spark._java import _java_17  # noqa: F401

CRM_TABLES = ("customers", "orders", "web_profiles")


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    from minimizer.engines.spark.session import spark_session

    # Two shuffle partitions: the test data is small, and 200 would cost seconds per job.
    session = spark_session("local[2]", {"spark.sql.shuffle.partitions": "2"})
    yield session
    session.stop()


def export_crm(crm: Path, out: Path) -> Path:
    """The CRM's tables as Parquet exports, rows and types as the single-process reader gives."""
    from minimizer.io.sources import TableSource

    out.mkdir(parents=True, exist_ok=True)
    for table in CRM_TABLES:
        source = TableSource(crm, table)
        frame = pd.concat(list(source.chunks(source.columns())), ignore_index=True)
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), out / f"{table}.parquet")
    return out


def demo_sources(out: Path, *, customers: int, days: int) -> Path:
    from minimizer.synth import generate

    generate(out, customers=customers, days=days, seed=11, end=SYNTH_END)
    export_crm(out / "crm.sqlite", out / "exports")
    return out


@pytest.fixture(scope="session")
def demo_small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 customers, 3 days: every CRM purpose loads (the gate passes)."""
    return demo_sources(tmp_path_factory.mktemp("spark-demo-small"), customers=300, days=3)


@pytest.fixture(scope="session")
def demo_dense(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2000 customers on one day: dense enough that mobility_research publishes traces."""
    return demo_sources(tmp_path_factory.mktemp("spark-demo-dense"), customers=2000, days=1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """pyspark warns, whenever pandas is handed to it, that pandas 3 is not fully supported:
    the engine gives pandas only to minimizer's own kernels, so the warning is noise here."""
    here = str(Path(__file__).parent)
    quiet = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas")
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(quiet)
