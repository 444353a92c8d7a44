"""The real deployment shape: CRM in PostgreSQL, warehouse in PostgreSQL, through the CLI."""

import os
import uuid

import psycopg
import pytest

from minimizer.cli import main
from minimizer.io.warehouse import open_warehouse
from tests.conftest import SYNTH_END, TEST_MASTER_B64

PG = os.environ.get("MINIMIZER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_schema():
    """A throw-away schema for the CRM; the purpose schemas are dropped afterwards too."""
    name = f"crm_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG, autocommit=True) as con:
        con.execute(f'CREATE SCHEMA "{name}"')
    yield name
    with psycopg.connect(PG, autocommit=True) as con:
        con.execute(f'DROP SCHEMA "{name}" CASCADE')
        con.execute('DROP SCHEMA IF EXISTS "churn_analysis" CASCADE')


def test_churn_analysis_from_postgres_into_postgres(tmp_path, pg_schema, monkeypatch):
    from minimizer.synth import generate

    crm_url = f"{PG}?options=-csearch_path%3D{pg_schema}"
    generate(tmp_path / "src", customers=120, days=2, seed=5, end=SYNTH_END, crm_url=crm_url)
    monkeypatch.setenv("MINIMIZER_MASTER_KEY", TEST_MASTER_B64)
    with psycopg.connect(crm_url) as con:
        emails = {r[0] for r in con.execute("SELECT email FROM customers")}
        ids = {r[0] for r in con.execute("SELECT customer_id FROM customers")}
    args = [
        "run",
        "configs/purposes/churn_analysis.yaml",
        "--sources",
        str(tmp_path / "src"),
        "--crm-url",
        crm_url,
        "--warehouse",
        PG,
        "--artifacts",
        str(tmp_path / "art"),
    ]
    assert main(args) == 0
    with open_warehouse(PG) as wh:
        customers = wh.read("churn_analysis", "customers")
        orders = wh.read("churn_analysis", "orders")
        comments = wh.column_comments("churn_analysis", "customers")
    assert len(customers) == 120
    assert set(orders.customer_id) <= set(customers.customer_id)
    assert "pseudonymised" in comments["customer_id"]
    published = {str(v) for frame in (customers, orders) for col in frame for v in frame[col]}
    assert not published & (emails | ids)
