"""Shared fixtures: a fixed test key ring and a clean environment for key lookups."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from minimizer.keys import KeyRing, PurposeKey
from minimizer.transforms import TransformContext

# A fixed key so golden tokens stay stable. Test-only, never used outside tests.
TEST_MASTER = bytes(range(32))
TEST_MASTER_B64 = base64.b64encode(TEST_MASTER).decode()
AS_OF = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def keyring() -> KeyRing:
    """A ring as `keys init` makes it (aes-cmac tokens). Rings built as KeyRing(masters=...,
    current=...) elsewhere in the suite are legacy ones (blake2b), so both schemes run."""
    return KeyRing(masters={1: TEST_MASTER}, current=1, schemes={1: "aes-cmac"})


@pytest.fixture
def purpose_key(keyring: KeyRing) -> PurposeKey:
    return keyring.purpose_key("churn_analysis")


@pytest.fixture
def ctx(purpose_key: PurposeKey) -> TransformContext:
    return TransformContext("churn_analysis", AS_OF, purpose_key)


@pytest.fixture(autouse=True)
def _no_ambient_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (
        "MINIMIZER_MASTER_KEY",
        "MINIMIZER_KEY_FILE",
        "MINIMIZER_KEY_VERSION",
        "MINIMIZER_TOKEN_SCHEME",
    ):
        monkeypatch.delenv(var, raising=False)


# -- synthetic sources, generated once per test session ------------------------------------
SYNTH_END = datetime(2026, 6, 14, tzinfo=UTC).date()


@pytest.fixture(scope="session")
def synth_sources(tmp_path_factory: pytest.TempPathFactory):
    """A small CRM (SQLite) and three days of events, deterministic."""
    from minimizer.synth import generate

    out = tmp_path_factory.mktemp("sources")
    generate(out, customers=300, days=3, seed=11, end=SYNTH_END)
    return out


# -- the processing record states what the tables hold, after every run -------------------
def assert_record_equals_tables(warehouse: Any) -> None:
    """The processing record's row counts equal the tables: for every purpose, the latest
    audit row that states them (a load or an erasure) holds each table's count(*).
    ``warehouse``: an open Warehouse, or a DuckDB path / PostgreSQL URL to open."""
    from minimizer.io.warehouse import open_warehouse

    if isinstance(warehouse, str | Path):
        with open_warehouse(str(warehouse)) as wh:
            assert_record_equals_tables(wh)
        return
    runs = warehouse.audit_runs()
    stated = runs[runs.status.isin(["loaded", "erased"])].sort_values(["finished_at", "run_id"])
    tables = set(warehouse.tables())
    for purpose, group in stated.groupby("purpose"):
        latest = group.iloc[-1]
        for name, rows in latest.rows_out.items():
            if (purpose, name) in tables:
                found = warehouse.query(f'SELECT count(*) AS n FROM "{purpose}"."{name}"')
                actual = int(found.n.iloc[0])
                assert rows == actual, f"{purpose}.{name}: record {rows}, table {actual}"


@pytest.fixture(autouse=True)
def _record_equals_tables_after_every_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every load of the suite (CLI, Airflow tasks, run_purpose: all go through flow.load)
    is followed by the check that the record it wrote states the tables' counts."""
    from minimizer import flow

    load = flow.load

    def checked(run: flow.Run, interval: flow.Interval) -> None:
        load(run, interval)
        assert_record_equals_tables(run.wh)

    monkeypatch.setattr(flow, "load", checked)
