"""Every SQL query in the docs runs on a warehouse like the demo's.

The warehouse is built through the library, as ``minimizer run`` builds it: the three example
policies over the synthetic sources. Queries come from README.md and docs/*.md:

* ```` ```sql ```` blocks (DuckDB), split into statements;
* the SQL strings in ```` ```python ```` blocks (``con.sql("…")``), on DuckDB;
* ```` ```psql ```` blocks, on PostgreSQL (a throw-away database); ``\\`` meta-commands are
  psql's own, not SQL, and are left out.

Templates are filled in: ``{batch}`` is the table, ``AND ...`` an elided repetition.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from minimizer.keys import load_keyring
from minimizer.service import run_policy_file
from tests.conftest import SYNTH_END, TEST_MASTER_B64

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PURPOSES = sorted((ROOT / "configs" / "purposes").glob("*.yaml"))
PG = os.environ.get("MINIMIZER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
AS_OF = datetime(SYNTH_END.year, SYNTH_END.month, SYNTH_END.day, tzinfo=UTC) + timedelta(days=1)


def _blocks(language: str) -> Iterator[tuple[str, str]]:
    for doc in DOCS:
        for match in re.finditer(rf"```{language}\n(.*?)```", doc.read_text(), re.S):
            yield doc.name, match[1]


# Documented templates (the gate's SQL checks) name their table ``{batch}`` and elide repeated
# conditions with ``AND ...``: filled in and cut here, so they run as the gate runs them.
PLACEHOLDERS = {"{batch}": "churn_analysis.customers"}
ELISION = re.compile(r"\s+(AND|OR|,)\s+\.\.\.(?=\s*\))")


def _statements(text: str) -> list[str]:
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("\\")]
    code = ELISION.sub("", re.sub(r"--[^\n]*", "", "\n".join(lines)))
    for placeholder, table in PLACEHOLDERS.items():
        code = code.replace(placeholder, table)
    return [s.strip() for s in code.split(";") if s.strip()]


def duckdb_queries() -> list[tuple[str, str]]:
    found = [(name, s) for name, block in _blocks("sql") for s in _statements(block)]
    for name, block in _blocks("python"):
        found += [(name, m[2]) for m in re.finditer(r"\.sql\(\s*(['\"])(.+?)\1", block)]
    return found


def psql_queries() -> list[tuple[str, str]]:
    return [(name, s) for name, block in _blocks("psql") for s in _statements(block)]


def _load(warehouse: str, sources: Path, artifacts: Path) -> None:
    ring = load_keyring({"MINIMIZER_MASTER_KEY": TEST_MASTER_B64})
    for policy in PURPOSES:
        run_policy_file(
            policy,
            sources=sources,
            warehouse=warehouse,
            as_of=AS_OF,
            artifacts=artifacts,
            keyring=ring,
        )


@pytest.fixture(scope="module")
def duckdb_file(tmp_path_factory: pytest.TempPathFactory, synth_sources: Path) -> Path:
    root = tmp_path_factory.mktemp("docs_wh")
    path = root / "minimizer.duckdb"
    _load(str(path), synth_sources, root / "artifacts")
    return path


def test_the_docs_hold_queries_to_check() -> None:
    statements = [sql for _, sql in duckdb_queries()]
    assert len(statements) >= 5
    assert any("loyalty_tier" in sql for sql in statements)
    assert not any(re.search(r"\bSELECT tier\b", sql) for sql in statements)  # issue 13
    assert psql_queries()


@pytest.mark.parametrize(("doc", "sql"), duckdb_queries(), ids=lambda v: v[:50])
def test_each_duckdb_query_of_the_docs_runs(duckdb_file: Path, doc: str, sql: str) -> None:
    with duckdb.connect(str(duckdb_file), read_only=True) as con:
        con.sql(sql).fetchall()


@pytest.fixture(scope="module")
def pg_database(synth_sources: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of its own on the test server, loaded like the DuckDB file, then dropped."""
    psycopg = pytest.importorskip("psycopg")
    name = f"docs_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = PG.rsplit("/", 1)[0] + f"/{name}"
    try:
        _load(url, synth_sources, tmp_path_factory.mktemp("docs_pg") / "artifacts")
        yield url
    finally:
        with psycopg.connect(PG, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
@pytest.mark.parametrize(("doc", "sql"), psql_queries(), ids=lambda v: v[:50])
def test_each_postgres_query_of_the_docs_runs(pg_database: str, doc: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(pg_database) as con:
        con.execute(sql).fetchall()
