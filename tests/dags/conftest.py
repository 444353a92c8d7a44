"""An Airflow home for the session (SQLite metadata, this project's DAGs) and the connections
of one embedded run. Airflow reads its configuration when first imported, so nothing here
imports it at module level: the session fixture sets the environment first."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import TEST_MASTER_B64

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "dags"
PURPOSES = ROOT / "configs" / "purposes"
AIRFLOW = Path(sys.executable).parent / "airflow"


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """AIRFLOW_HOME in tmp with a migrated SQLite metadata database, for the whole session."""
    if "airflow" in sys.modules:
        pytest.fail("airflow was imported before the test Airflow home was set up")
    home = tmp_path_factory.mktemp("airflow_home")
    settings = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        # A test fails instead of waiting out retry delays.
        "MINIMIZER_TASK_RETRIES": "0",
    }
    with pytest.MonkeyPatch.context() as mp:
        for name, value in settings.items():
            mp.setenv(name, value)
        subprocess.run(
            [str(AIRFLOW), "db", "migrate"], check=True, capture_output=True, env=os.environ
        )
        yield home


@pytest.fixture(scope="session")
def dagbag(airflow_home: Path) -> object:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


# DAG runs take their as-of from the clock (as the CLI does), so their sources must be recent:
# three days of events ending yesterday.
RECENT_END = (datetime.now(UTC) - timedelta(days=1)).date()


@pytest.fixture(scope="session")
def recent_sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from minimizer.synth import generate

    out = tmp_path_factory.mktemp("recent_sources")
    generate(out, customers=300, days=3, seed=11, end=RECENT_END)
    return out


@dataclass(frozen=True)
class Embedded:
    """Where one test's DAG runs read, stage and load."""

    sources: Path
    warehouse: str
    staging: Path
    artifacts: Path


def connect(
    mp: pytest.MonkeyPatch,
    tmp: Path,
    sources: Path,
    *,
    crm: str | None = None,
    wh: str | None = None,
) -> Embedded:
    """Airflow connections and the key variable for a run, as environment variables."""
    warehouse = wh or str(tmp / "warehouse.duckdb")
    crm_conn = (
        {"conn_type": "sqlite", "host": str(sources / "crm.sqlite")} if crm is None else crm_pg(crm)
    )
    wh_conn = {"conn_type": "duckdb", "host": warehouse} if wh is None else crm_pg(wh)
    wh_conn["extra"] = {**wh_conn.get("extra", {}), "artifacts": str(tmp / "artifacts")}
    env = {
        "AIRFLOW_CONN_MINIMIZER_CRM": json.dumps(crm_conn),
        "AIRFLOW_CONN_MINIMIZER_EVENTS": json.dumps(
            {"conn_type": "fs", "extra": {"path": str(sources / "events")}}
        ),
        "AIRFLOW_CONN_MINIMIZER_WAREHOUSE": json.dumps(wh_conn),
        "AIRFLOW_VAR_MINIMIZER_MASTER_KEY": TEST_MASTER_B64,
        "MINIMIZER_STAGING": str(tmp / "staging"),
    }
    for name, value in env.items():
        mp.setenv(name, value)
    return Embedded(sources, warehouse, tmp / "staging", tmp / "artifacts")


def crm_pg(url: str) -> dict[str, object]:
    """An Airflow postgres connection from a URL (trust auth: no password)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return {
        "conn_type": "postgres",
        "host": parts.hostname,
        "port": parts.port,
        "login": parts.username,
        "schema": parts.path.lstrip("/"),
    }
