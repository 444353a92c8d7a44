"""The CRM in PostgreSQL: same rows as the SQLite CRM, native types, tables replaced on rerun."""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from minimizer.synth import generate

pytestmark = pytest.mark.postgres

SERVER = os.environ.get("MINIMIZER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
ARGS = {"customers": 60, "days": 1, "seed": 4, "end": date(2024, 3, 13)}


@pytest.fixture
def crm_url() -> Iterator[str]:
    """A throw-away schema first on the search_path, so parallel test runs cannot collide."""
    schema = f"synth_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{SERVER}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(SERVER, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def pg_rows(url: str, table: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()


def test_postgres_gets_the_same_rows_as_sqlite_with_native_types(
    crm_url: str, tmp_path: Path
) -> None:
    summary = generate(tmp_path / "pg", **ARGS, crm_url=crm_url)
    generate(tmp_path / "lite", **ARGS)
    assert summary.crm_path is None and not (tmp_path / "pg" / "crm.sqlite").exists()
    with sqlite3.connect(tmp_path / "lite" / "crm.sqlite") as conn:
        for table in ("customers", "orders", "web_profiles"):
            lite = conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
            pg = [tuple(_as_sqlite(v) for v in row) for row in pg_rows(crm_url, table)]
            assert pg == lite, table
    orders = pg_rows(crm_url, "orders")
    assert isinstance(orders[0][3], Decimal) and orders[0][3].as_tuple().exponent == -2
    assert isinstance(pg_rows(crm_url, "customers")[0][8], date)
    assert summary.orders == len(orders)


def test_a_rerun_replaces_the_tables(crm_url: str, tmp_path: Path) -> None:
    generate(tmp_path, **{**ARGS, "customers": 80}, crm_url=crm_url)
    summary = generate(tmp_path, **ARGS, crm_url=crm_url)
    assert len(pg_rows(crm_url, "customers")) == summary.customers == 60
    with psycopg.connect(crm_url) as conn:
        types = dict(
            conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND table_name = 'orders'"
            ).fetchall()
        )
    assert types["order_date"] == "timestamp without time zone"
    assert types["amount"] == "numeric"


def test_the_summary_never_shows_a_password(crm_url: str, tmp_path: Path) -> None:
    url = crm_url.replace("postgres@", "postgres:not-the-password@")
    summary = generate(tmp_path, **{**ARGS, "customers": 5}, crm_url=url)
    assert "not-the-password" not in summary.crm and "***" in summary.crm


def _as_sqlite(value: object) -> object:
    """How the SQLite writer stores a PostgreSQL value (ISO text dates, REAL amounts)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date):
        return value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()
    return value
