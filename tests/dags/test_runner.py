"""Airflow's side of a task: failures that must not be retried fail at once with a clear,
value-free log line; connections and the master key come from Airflow, masked."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from minimizer.errors import GateError, GuaranteeError
from minimizer.io.warehouse import WarehouseLockedError
from tests.conftest import TEST_MASTER, TEST_MASTER_B64

CANARY = "canary.person@example.org"


@pytest.fixture
def logged(airflow_home: Path) -> Iterator[list[str]]:
    """The task log lines of minimizer. Attached after Airflow (re)configured logging."""
    import airflow.sdk.exceptions  # noqa: F401

    lines: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("minimizer.airflow")
    logger.addHandler(handler)
    yield lines
    logger.removeHandler(handler)


def fail(exc: Exception, step: str = "gate") -> BaseException:
    from minimizer.orchestration.runner import _fail

    with pytest.raises(Exception) as info:
        _fail(exc, step, "churn_analysis")
    return info.value


def test_a_failed_gate_fails_at_once_naming_table_column_and_check(logged):
    from airflow.sdk.exceptions import AirflowFailException

    gate = GateError(
        "leak gate failed",
        table="orders",
        column="channel",
        check="no_email",
        count=3,
        failures=[{"table": "orders", "column": "channel", "check": "no_email", "count": 3}],
    )
    raised = fail(gate)
    assert isinstance(raised, AirflowFailException)  # no retry: it would fail again
    assert "nothing was loaded" in str(raised)
    (line,) = logged
    assert "gate of churn_analysis failed closed; nothing was loaded" in line
    assert "table=orders column=channel check=no_email count=3" in line


def test_a_guarantee_failure_is_final_and_a_locked_warehouse_is_retried(airflow_home):
    from airflow.sdk.exceptions import AirflowException, AirflowFailException

    guarantee = GuaranteeError("k not met", table="customers", check="k_anonymity", count=4)
    assert isinstance(fail(guarantee), AirflowFailException)
    locked = fail(WarehouseLockedError("DuckDB file is locked"), "load")
    assert isinstance(locked, AirflowException) and not isinstance(locked, AirflowFailException)


def test_only_system_errors_are_retried(airflow_home):
    from airflow.sdk.exceptions import AirflowFailException

    assert not isinstance(fail(OSError("disk full"), "load"), AirflowFailException)
    assert isinstance(fail(ImportError("half-edited module")), AirflowFailException)


def test_a_foreign_error_is_logged_by_type_without_its_message(logged):
    try:
        float(CANARY)
    except ValueError as exc:  # the message quotes the value
        raised = fail(exc, "minimise")
    (line,) = logged
    assert "message withheld" in line and "test_runner.py" in line  # the stack, no message
    assert CANARY not in str(raised) and CANARY not in line
    assert raised.__cause__ is None and raised.__suppress_context__
    assert "minimise of churn_analysis failed; nothing was loaded: ValueError" in line


def test_the_run_comes_from_the_context_as_json_without_secrets(airflow_home):
    from minimizer.orchestration.runner import run_info

    start, end = datetime(2026, 6, 13, tzinfo=UTC), datetime(2026, 6, 14, tzinfo=UTC)
    context = {
        "run_id": "scheduled__2026-06-13T00:00:00+00:00",
        "data_interval_start": start,
        "data_interval_end": end,
        "logical_date": start,
        "params": {"full_refresh": False},
        "dag": SimpleNamespace(dag_id="minimise_churn_analysis"),
    }
    info = run_info("/p/churn_analysis.yaml", context)
    assert json.loads(json.dumps(info)) == info
    assert (info["start"], info["end"]) == (start.isoformat(), end.isoformat())
    assert "as_of" not in info  # the extract takes the clock: expired rows never come back


def test_connections_give_the_sources_and_the_warehouse(airflow_home, monkeypatch, tmp_path):
    from minimizer.orchestration.environment import from_airflow

    pg = {
        "conn_type": "postgres",
        "host": "db.example",
        "port": 5433,
        "login": "etl",
        "password": "pw-not-logged",
        "schema": "crm",
    }
    monkeypatch.setenv("AIRFLOW_CONN_MINIMIZER_CRM", json.dumps(pg))
    monkeypatch.setenv(
        "AIRFLOW_CONN_MINIMIZER_EVENTS", json.dumps({"conn_type": "fs", "extra": {"path": "/ev"}})
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_MINIMIZER_WAREHOUSE",
        json.dumps({"conn_type": "duckdb", "host": str(tmp_path / "w.duckdb")}),
    )
    monkeypatch.setenv("MINIMIZER_STAGING", str(tmp_path / "staging"))
    env = from_airflow()
    assert env.crm == "postgresql://etl:pw-not-logged@db.example:5433/crm"
    assert str(env.events) == "/ev" and env.warehouse == str(tmp_path / "w.duckdb")
    assert env.artifacts == tmp_path / "artifacts" and env.staging == tmp_path / "staging"
    assert "pw-not-logged" not in repr(env) and "db.example" not in repr(env)


def test_a_missing_connection_names_itself_and_how_to_set_it(airflow_home, monkeypatch):
    from minimizer.orchestration.environment import SetupError, from_airflow

    monkeypatch.delenv("AIRFLOW_CONN_MINIMIZER_WAREHOUSE", raising=False)
    with pytest.raises(SetupError, match=r"minimizer_warehouse.*AIRFLOW_CONN_MINIMIZER_WAREHOUSE"):
        from_airflow()


def test_the_master_key_comes_from_the_variable_and_is_masked(airflow_home, monkeypatch):
    from airflow.sdk._shared.secrets_masker import redact

    from minimizer.orchestration.environment import _keyring_from_airflow

    monkeypatch.setenv("AIRFLOW_VAR_MINIMIZER_MASTER_KEY", TEST_MASTER_B64)
    ring = _keyring_from_airflow()
    assert ring.masters == {1: TEST_MASTER}
    assert TEST_MASTER_B64 not in str(redact(f"key is {TEST_MASTER_B64}"))
