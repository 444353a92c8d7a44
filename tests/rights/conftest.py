"""Fixtures of the data-subject-rights tests: a key file and a key store in the environment
(so the CLI finds them), and a warehouse loaded once per module and copied per test."""

from __future__ import annotations

import re
import shutil
import sqlite3
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from minimizer.cli import main
from minimizer.flow import run_purpose
from minimizer.io.warehouse import open_warehouse
from minimizer.keys import KeyRing
from minimizer.pipeline import Sources
from minimizer.rights.targets import load_policies
from tests.conftest import AS_OF, SYNTH_END, TEST_MASTER
from tests.conftest import assert_record_equals_tables as assert_record_equals_tables

ROOT = Path(__file__).resolve().parents[2]
PURPOSES = ROOT / "configs" / "purposes"
SEALED = Path(__file__).parent / "fixtures" / "sealed"


def load_all(sources: Path, warehouse: Path, keyring: KeyRing, purposes: Path = PURPOSES) -> None:
    with open_warehouse(str(warehouse)) as wh:
        for policy in load_policies(purposes):
            run_purpose(policy, Sources.from_dir(sources), wh, keyring, as_of=AS_OF)


@pytest.fixture
def key_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> KeyRing:
    """A key file holding the fixed test master (version 1), and a key store beside it."""
    ring = KeyRing(masters={1: TEST_MASTER}, current=1)
    ring.save(tmp_path / "keys" / "keys.json")
    monkeypatch.setenv("MINIMIZER_KEY_FILE", str(ring.path))
    monkeypatch.setenv("MINIMIZER_SUBJECT_KEYSTORE", str(tmp_path / "keys" / "subjects.sqlite"))
    return ring


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory, synth_sources: Path) -> Path:
    warehouse = tmp_path_factory.mktemp("loaded") / "warehouse.duckdb"
    load_all(synth_sources, warehouse, KeyRing(masters={1: TEST_MASTER}, current=1))
    return warehouse


@pytest.fixture
def warehouse(loaded: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "wh" / "warehouse.duckdb"
    copy.parent.mkdir()
    shutil.copy(loaded, copy)
    return copy


@pytest.fixture
def sources(synth_sources: Path, tmp_path: Path) -> Path:
    """A private copy of the sources, to change the CRM in a test."""
    return Path(shutil.copytree(synth_sources, tmp_path / "src"))


def busiest_customers(sources: Path, n: int = 2) -> list[str]:
    """Customers with orders, a web profile and events: present in every table."""
    with sqlite3.connect(sources / "crm.sqlite") as con:
        rows = con.execute(
            "SELECT o.customer_id FROM orders o JOIN web_profiles w USING (customer_id)"
            " GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT ?",
            [n],
        ).fetchall()
    return [r[0] for r in rows]


@pytest.fixture
def pseudonym(capsys: pytest.CaptureFixture[str]) -> Callable[..., str]:
    """The token of a value, asked of the CLI as an investigator would."""

    def ask(
        purpose: str,
        value: str,
        version: int | None = None,
        period: str | None = None,
        purposes: Path | None = None,
    ) -> str:
        capsys.readouterr()
        args = ["pseudonym", "--purpose", purpose, "--value", value]
        args += ["--purposes", str(purposes)] if purposes is not None else []
        args += ["--key-version", str(version)] if version else []
        assert main(args + (["--period", period] if period else [])) == 0
        token = capsys.readouterr().out.strip()
        assert re.fullmatch(r"mzp[0-9]+_[0-9a-f]{32}", token)
        return token

    return ask


# Daily rotating tokens: one per day of the synthetic events. footfall_heatmap counts its daily
# visitor tokens but publishes none (an aggregate): its tokens are found in no table.
_DAYS = [str(SYNTH_END - timedelta(days=d)) for d in range(3)]
# mobility_research rotates every half day: two periods a day, 00:00 and 12:00 UTC.
_HALF_DAYS = [f"{day}T{hour}" for day in _DAYS for hour in ("00", "12")]
ROTATING = {"footfall_heatmap": _DAYS, "mobility_research": _HALF_DAYS}


def subject_tokens(
    pseudonym: Callable[..., str], purpose: str, subject: str, version: int | None = None
) -> set[str]:
    """Every token the subject has in a purpose, as `minimizer pseudonym` gives them."""
    periods = ROTATING.get(purpose)
    if not periods:
        return {pseudonym(purpose, subject, version)}
    return {pseudonym(purpose, subject, version, day) for day in periods}


def cells(warehouse: Path) -> dict[str, set[str]]:
    """Every non-null cell of every table, as text, per schema.table (audit schema included)."""
    with open_warehouse(str(warehouse)) as wh:
        found = {}
        for schema, table in wh.tables():
            frame = wh.read(schema, table)
            found[f"{schema}.{table}"] = {
                str(v) for col in frame.columns for v in frame[col].dropna().tolist()
            }
        return found


def row_counts(warehouse: Path) -> dict[str, int]:
    with open_warehouse(str(warehouse)) as wh:
        return {f"{s}.{t}": len(wh.read(s, t)) for s, t in wh.tables() if s != "minimizer_audit"}


def table(warehouse: Path, schema: str, name: str) -> pd.DataFrame:
    with open_warehouse(str(warehouse)) as wh:
        return wh.read(schema, name)
