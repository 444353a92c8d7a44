"""The purpose DAGs run end to end with ``dag.test()``: on embedded defaults (SQLite CRM, Parquet
events, DuckDB), on PostgreSQL as CRM and warehouse, and with a gate that fails.

The first ``dag.test()`` of the session costs about ten seconds; the runs after it, a second
or two each. Tasks run in this process, so the connections are environment variables set
per test, and the DAG runs share one Airflow metadata database.
"""

from __future__ import annotations

import logging
import re
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from minimizer.io.warehouse import open_warehouse
from tests.conftest import TEST_MASTER_B64
from tests.dags.conftest import RECENT_END, connect
from tests.dags.test_tasks import repeatable_releases

PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
CANARY = "mz.canary.7f3e@example.org"
DAY = timedelta(days=1)


def at(day) -> datetime:
    """The logical date whose data interval is the day before it."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def run_dag(dagbag, purpose: str, logical: datetime, **conf) -> dict[str, str]:
    run = dagbag.get_dag(f"minimise_{purpose}").test(logical_date=logical, run_conf=conf or None)
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    return {"run": str(run.state), **states}


def staged_files(staging: Path) -> list[Path]:
    return [p for p in staging.rglob("*") if p.is_file()] if staging.exists() else []


def test_every_purpose_dag_loads_its_tables_and_a_backfill_never_duplicates(
    dagbag, airflow_home, recent_sources, tmp_path, monkeypatch
):
    repeatable_releases(monkeypatch)  # a day's dp counts would differ by their noise
    setup = connect(monkeypatch, tmp_path, recent_sources)
    last = at(RECENT_END + DAY)
    for purpose in ("churn_analysis", "marketing_segments"):
        assert run_dag(dagbag, purpose, last)["run"] == "success"
    # Events by day: the last two days, then the last day again (a cleared run, a re-backfill).
    per_day = []
    for logical in (last - DAY, last, last):
        states = run_dag(dagbag, "footfall_heatmap", logical)
        assert set(states.values()) == {"success"}, states
        with open_warehouse(setup.warehouse) as wh:
            per_day.append(wh.read("footfall_heatmap", "events").hour.dt.date.value_counts())
    assert list(per_day[0].index) == [RECENT_END - DAY]
    assert set(per_day[1].index) == {RECENT_END - DAY, RECENT_END} and per_day[1].min() > 0
    assert per_day[2].equals(per_day[1])  # the same day twice: replaced, never appended
    with open_warehouse(setup.warehouse) as wh:
        tables = set(wh.tables())
        audit = wh.audit_runs()
    assert {
        ("churn_analysis", "customers"),
        ("churn_analysis", "orders"),
        ("marketing_segments", "web_profiles"),
        ("footfall_heatmap", "events"),
    } <= tables
    assert (audit.status == "loaded").all() and len(audit) == 5
    assert staged_files(setup.staging) == []
    with sqlite3.connect(airflow_home / "airflow.db") as db:
        emitted = {uri for (uri,) in db.execute(_ASSET_EVENTS)}
    assert "warehouse://footfall_heatmap/events" in emitted
    assert "warehouse://marketing_segments/web_profiles" in emitted


_ASSET_EVENTS = "SELECT a.uri FROM asset_event e JOIN asset a ON a.id = e.asset_id"


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A throw-away database: the warehouse's schemas are named after purposes, so a shared
    database would collide with other tests. PostgreSQL must be up: this fails, never skips."""
    name = f"mz_dags_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(f"{PG_SERVER}/test", autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"CREATE DATABASE {name}")
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL unreachable at 127.0.0.1:5432 ({type(exc).__name__})")
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        with psycopg.connect(f"{PG_SERVER}/test", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.mark.postgres
def test_a_dag_runs_with_postgresql_as_crm_and_warehouse(
    dagbag, pg_database, tmp_path, monkeypatch
):
    from minimizer.synth import generate

    sources = tmp_path / "sources"
    generate(sources, customers=300, days=3, seed=11, end=RECENT_END, crm_url=pg_database)
    assert not (sources / "crm.sqlite").exists()
    setup = connect(monkeypatch, tmp_path, sources, crm=pg_database, wh=pg_database)
    states = run_dag(dagbag, "churn_analysis", at(RECENT_END + DAY))
    assert set(states.values()) == {"success"}, states
    with open_warehouse(pg_database) as wh:
        customers = wh.read("churn_analysis", "customers")
        audit = wh.audit_runs("churn_analysis")
        assert wh.column_comments("churn_analysis", "orders")
    assert len(customers) == 300 and customers.customer_id.str.startswith("mzp1_").all()
    assert list(audit.status) == ["loaded"] and audit.iloc[0].rows_in["customers"] == 300
    assert staged_files(setup.staging) == []


@pytest.fixture
def task_logs(dagbag, capfd, tmp_path) -> Iterator[Callable[[], str]]:
    """Everything the tasks log. Structlog writes to the current stdout (captured here); the
    stdlib root handler keeps the stream Airflow configured it with: send it to a file."""
    handlers = [h for h in logging.getLogger().handlers if type(h) is logging.StreamHandler]
    with (tmp_path / "stdlib.log").open("w") as file:
        before = [h.setStream(file) for h in handlers]
        try:
            yield lambda: "".join(capfd.readouterr()) + (tmp_path / "stdlib.log").read_text()
        finally:
            for handler, stream in zip(handlers, before, strict=True):
                handler.setStream(stream)


def test_a_failing_gate_fails_the_run_loads_nothing_and_leaves_no_trace_of_the_value(
    dagbag, airflow_home, recent_sources, tmp_path, monkeypatch, task_logs
):
    sources = tmp_path / "sources"
    shutil.copytree(recent_sources, sources)
    with sqlite3.connect(sources / "crm.sqlite") as con:  # a kept column, no guarantee on it
        recent = "SELECT rowid FROM orders ORDER BY order_date DESC LIMIT 5"  # within retention
        con.execute(f"UPDATE orders SET channel = ? WHERE rowid IN ({recent})", (CANARY,))
    setup = connect(monkeypatch, tmp_path, sources)

    states = run_dag(dagbag, "churn_analysis", at(RECENT_END + DAY))

    assert states["run"] == "failed"
    assert (states["extract"], states["minimise"], states["gate"]) == ("success",) * 2 + ("failed",)
    assert {states[t] for t in ("load", "publish")} == {"upstream_failed"}
    assert states["cleanup"] == "success"
    files = "".join(p.read_text() for p in (airflow_home / "logs").rglob("*.log"))
    text = task_logs() + files
    assert re.search(
        r"gate of churn_analysis failed closed; nothing was loaded: .*table=orders", text
    )
    assert re.search(r"gate check failed: table=orders column=channel check=\S*email", text)
    db = b"".join(p.read_bytes() for p in airflow_home.glob("airflow.db*"))
    for secret in (CANARY, TEST_MASTER_B64):
        assert secret not in text, "a planted value or the key reached a task log"
        assert secret.encode() not in db, "a planted value or the key reached the metadata DB"
    with sqlite3.connect(airflow_home / "airflow.db") as meta:
        xcoms = " ".join(str(v) for (v,) in meta.execute("SELECT value FROM xcom"))
    assert "churn_analysis" in xcoms and CANARY not in xcoms  # paths only
    with open_warehouse(setup.warehouse) as wh:
        assert "churn_analysis" not in {s for s, _ in wh.tables()}
    assert staged_files(setup.staging) == []
    record = (setup.artifacts / "runs.jsonl").read_text()
    assert '"status": "failed"' in record and CANARY not in record
