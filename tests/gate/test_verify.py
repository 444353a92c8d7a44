"""``minimizer audit verify``: the published suites re-run with GX against the loaded tables,
through GX's SQL datasource, on DuckDB and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import psycopg
import pytest

from minimizer.cli import main

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "configs" / "purposes" / "churn_analysis.yaml"
PG = os.environ.get("MINIMIZER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
PLANTED = "erika.musterfrau@example.de"


def _policy_as(tmp_path: Path, purpose: str) -> Path:
    """churn_analysis under another purpose name (a schema of its own on a shared server)."""
    text = POLICY.read_text().replace("purpose: churn_analysis", f"purpose: {purpose}")
    path = tmp_path / f"{purpose}.yaml"
    path.write_text(text)
    return path


def _run(policy: Path, sources: Path, warehouse: str, artifacts: Path, *flags: str) -> int:
    return main(
        [*flags, "run", str(policy), "--sources", str(sources), "--warehouse", warehouse,
         "--artifacts", str(artifacts)]
    )  # fmt: skip


def _verify(warehouse: str, artifacts: Path, *purposes: str) -> int:
    extra = [a for p in purposes for a in ("--purpose", p)]
    return main(
        ["audit", "verify", "--warehouse", warehouse, "--artifacts", str(artifacts), *extra]
    )


_TAMPER = (
    'INSERT INTO "{schema}".customers (customer_id, age_band, postcode_area, signup_month, '
    "loyalty_tier) SELECT customer_id, age_band, postcode_area, signup_month, "
    "'{planted}' FROM \"{schema}\".customers LIMIT 1"
)


def test_verify_passes_on_a_fresh_duckdb_warehouse_and_fails_after_tampering(
    tmp_path: Path,
    synth_sources: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    warehouse, artifacts = str(tmp_path / "w.duckdb"), tmp_path / "artifacts"
    assert _run(POLICY, synth_sources, warehouse, artifacts, "-v") == 0  # INFO on
    ran = capsys.readouterr()
    assert "great_expectations" not in ran.out + ran.err  # but none of GX's INFO lines
    assert any(r.name.startswith("minimizer") and r.levelno == 20 for r in caplog.records)
    assert not [r for r in caplog.records if r.name.startswith("great_expectations")]
    assert _verify(warehouse, artifacts) == 0
    out = capsys.readouterr().out
    assert "churn_analysis.customers:" in out and "every expectation passed" in out
    with duckdb.connect(warehouse) as con:
        con.execute(_TAMPER.format(schema="churn_analysis", planted=PLANTED))
    assert _verify(warehouse, artifacts) == 3
    seen = capsys.readouterr()
    assert "expect_column_values_to_not_contain_email" in seen.err
    assert "erika" not in seen.out + seen.err  # counts only


def test_verify_fails_when_a_loaded_run_has_no_published_suite(
    tmp_path: Path, synth_sources: Path
) -> None:
    warehouse, artifacts = str(tmp_path / "w.duckdb"), tmp_path / "artifacts"
    assert _run(POLICY, synth_sources, warehouse, artifacts) == 0
    for index in (artifacts / "gate").glob("*/suites/index.json"):
        index.unlink()
    assert _verify(warehouse, artifacts) == 3
    assert _verify(str(tmp_path / "empty.duckdb"), artifacts) == 3  # nothing to verify


@pytest.fixture
def pg_purpose() -> Iterator[str]:
    name = f"verify_{uuid.uuid4().hex[:8]}"
    yield name
    with psycopg.connect(PG, autocommit=True) as con:
        con.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.mark.postgres
def test_verify_on_postgresql_passes_then_fails_after_tampering(
    tmp_path: Path, synth_sources: Path, pg_purpose: str, capsys: pytest.CaptureFixture[str]
) -> None:
    artifacts = tmp_path / "artifacts"
    assert _run(_policy_as(tmp_path, pg_purpose), synth_sources, PG, artifacts) == 0
    assert _verify(PG, artifacts, pg_purpose) == 0
    with psycopg.connect(PG, autocommit=True) as con:
        con.execute(_TAMPER.format(schema=pg_purpose, planted=PLANTED))  # type: ignore[arg-type]
    capsys.readouterr()
    assert _verify(PG, artifacts, pg_purpose) == 3
    seen = capsys.readouterr()
    assert "expect_column_values_to_not_contain_email" in seen.err
    assert "erika" not in seen.out + seen.err


def _auditor_script(run: Path, url: str) -> str:
    """The script docs/gate.md shows auditors, pointed at this run and server."""
    doc = (ROOT / "docs" / "gate.md").read_text()
    block = doc.split("<!-- auditor-script -->", 1)[1].split("```python\n", 1)[1].split("```")[0]
    lines = [
        f"RUN = Path({str(run)!r})" if line.startswith("RUN = ")
        else f"URL = {url!r}" if line.startswith("URL = ")
        else line
        for line in block.splitlines()
    ]  # fmt: skip
    return "\n".join(lines)


@pytest.mark.postgres
def test_the_documented_gx_alone_script_checks_the_stock_part(
    tmp_path: Path, synth_sources: Path, pg_purpose: str
) -> None:
    import subprocess
    import sys

    artifacts = tmp_path / "artifacts"
    assert _run(_policy_as(tmp_path, pg_purpose), synth_sources, PG, artifacts) == 0
    run = next((artifacts / "gate").glob("*/suites/index.json")).parent.parent
    script = tmp_path / "auditor.py"
    script.write_text(_auditor_script(run, PG.replace("postgresql://", "postgresql+psycopg://")))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "'unsuccessful_expectations': 0" in done.stdout
    with psycopg.connect(PG, autocommit=True) as con:  # k of 5 over people: one of one
        con.execute(_TAMPER.format(schema=pg_purpose, planted="a-tier-nobody-else-has"))  # type: ignore[arg-type]
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert done.returncode == 3, done.stdout + done.stderr
