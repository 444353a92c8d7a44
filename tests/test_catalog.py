"""`minimizer catalog`: the data dictionary and the dbt sources.yml, parsed and run by dbt."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from minimizer import service
from minimizer.catalog import describe_purpose, render_html, render_markdown, write_catalog
from minimizer.catalog.dbt import dbt_sources
from minimizer.catalog.domains import finite_domain
from minimizer.cli import main
from minimizer.flow import Steps
from minimizer.io.warehouse import open_warehouse
from minimizer.keys import KeyRing
from minimizer.policy import load_policy
from tests.conftest import AS_OF, TEST_MASTER

ROOT = Path(__file__).resolve().parents[1]
PURPOSES = ROOT / "configs" / "purposes"
CHURN = PURPOSES / "churn_analysis.yaml"
# dbt-duckdb pins versions that conflict with ours (protobuf, python-dateutil, pathspec, ...),
# so dbt lives in a venv of its own, installed from PyPI once and kept in the user's cache.
DBT_VENV = Path(os.environ.get("MINIMIZER_DBT_VENV", Path.home() / ".cache/minimizer/dbt-venv"))
# dbt-core 1.12+ needs a parser wheel downloaded from outside PyPI at install time.
DBT_PACKAGES = ("dbt-duckdb", "dbt-core<1.12")


@pytest.fixture(scope="session")
def dbt() -> Path:
    """The dbt executable; installed when missing. Missing dbt fails the test, never skips."""
    exe = DBT_VENV / "bin" / "dbt"
    if not exe.exists():
        base = getattr(sys, "_base_executable", sys.executable)
        steps = [
            [base, "-m", "venv", str(DBT_VENV)],
            [str(DBT_VENV / "bin" / "pip"), "install", "-q", *DBT_PACKAGES],
        ]
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, timeout=1200)
            if done.returncode != 0:
                pytest.fail(f"cannot install dbt-duckdb into {DBT_VENV}: {done.stderr[-2000:]}")
    assert exe.exists(), f"no dbt at {exe}"
    return exe


@pytest.fixture(scope="module")
def loaded(synth_sources, tmp_path_factory) -> Path:
    """churn_analysis loaded into DuckDB by a real run (guarantees on, the gate left out)."""
    folder = tmp_path_factory.mktemp("catalog-wh")
    ring = KeyRing(masters={1: TEST_MASTER}, current=1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(service, "STEPS", Steps(suppression=False, gate=False))
        service.run_policy_file(
            CHURN,
            sources=synth_sources,
            warehouse=str(folder / "w.duckdb"),
            as_of=AS_OF,
            keyring=ring,
        )
    return folder / "w.duckdb"


def test_the_command_writes_a_dictionary_per_purpose_and_one_sources_yml(tmp_path):
    assert main(["catalog", "--policy-dir", str(PURPOSES), "--out", str(tmp_path)]) == 0
    purposes = sorted(p.stem for p in PURPOSES.glob("*.yaml"))
    for purpose in purposes:
        assert (tmp_path / f"{purpose}.md").read_text().startswith(f"# {purpose}")
        assert "<table>" in (tmp_path / f"{purpose}.html").read_text()
    doc = yaml.safe_load((tmp_path / "dbt" / "sources.yml").read_text())
    assert sorted(s["name"] for s in doc["sources"]) == purposes


def test_no_policy_in_the_folder_is_an_error(tmp_path):
    assert main(["catalog", "--policy-dir", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert not (tmp_path / "o").exists()


def test_the_dictionary_names_tables_columns_meaning_treatment_category_and_joins():
    entry = describe_purpose(load_policy(CHURN))
    text = render_markdown(entry)
    customers = next(t for t in entry.tables if t.name == "customers")
    age = next(c for c in customers.columns if c.name == "age_band")
    assert age.data_category == "quasi_identifier" and age.sources == ("birth_date",)
    assert age.treatment.startswith("age band of 10 years")
    key = next(c for c in customers.columns if c.name == "customer_id")
    assert key.role == "subject_key" and "pseudonym" in key.meaning
    (join,) = entry.joins
    assert join.column == "customer_id" and set(join.tables) == {"customers", "orders"}
    assert join.parent == "customers"
    for word in ("k-anonymity on customers", "Join keys", "churn\\_analysis.orders", "retention"):
        assert word in text or word.replace("\\", "") in text


def test_html_is_escaped(monkeypatch):
    policy = load_policy(CHURN)
    hostile = policy.model_copy(update={"description": "<script>alert(1)</script> & co"})
    html = str(render_html(describe_purpose(hostile)))
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in html


def test_finite_domains_come_from_the_transform_itself():
    policy = load_policy(CHURN)
    age = policy.sources["customers"].columns["age_band"]
    plain = finite_domain(age, "age_band")
    assert plain == ["0-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70-79", "80+"]
    climbed = finite_domain(age, "age_band", quasi_identifier=True)
    assert {"*", "0-19", "40-79"} <= set(climbed) and set(plain) <= set(climbed)
    # No bottom code: negative amounts make the bucket domain unbounded, so no test.
    assert finite_domain(policy.sources["orders"].columns["amount_band"], "amount_band") is None
    tier = policy.sources["customers"].columns["loyalty_tier"]
    assert finite_domain(tier, "loyalty_tier") is None
    assert finite_domain(tier, "loyalty_tier", quasi_identifier=True, level=1) == ["*"]


def test_with_a_warehouse_the_dictionary_says_what_the_last_load_did(loaded, tmp_path):
    with open_warehouse(str(loaded)) as wh:
        entry = describe_purpose(load_policy(CHURN), wh)
    assert entry.last_run is not None
    levels = entry.last_run["guarantees"]["k_anonymity"]["levels"]
    customers = next(t for t in entry.tables if t.name == "customers")
    tier = next(c for c in customers.columns if c.name == "loyalty_tier")
    assert levels["loyalty_tier"] >= 1
    assert tier.after_load and "k-anonymity (k=5) generalised it" in tier.after_load
    assert tier.domain == ("*",)


def test_the_sortable_bound_is_in_the_dictionary_and_the_dbt_sources(loaded):
    """churn_analysis publishes amount_band_from beside amount_band (sortable: true)."""
    with open_warehouse(str(loaded)) as wh:
        entry = describe_purpose(load_policy(CHURN), wh)
        loaded_columns = list(wh.read("churn_analysis", "orders").columns)
    orders = next(t for t in entry.tables if t.name == "orders")
    names = [c.name for c in orders.columns]
    assert names == loaded_columns  # the dictionary lists what the table holds, in order
    bound = next(c for c in orders.columns if c.name == "amount_band_from")
    assert "lower bound of the bucket in amount_band" in bound.meaning
    assert bound.sources == ("amount",) and bound.domain is None
    assert bound.after_load and "ORDER BY amount_band_from" in bound.after_load
    assert "amount\\_band\\_from" in render_markdown(entry)
    assert "amount_band_from" in str(render_html(entry))
    (source,) = dbt_sources([entry])["sources"]
    (dbt_orders,) = [t for t in source["tables"] if t["name"] == "orders"]
    (column,) = [c for c in dbt_orders["columns"] if c["name"] == "amount_band_from"]
    assert "ORDER BY amount_band_from" in column["description"]


def _dbt_project(tmp_path: Path, sources_yml: Path, database: Path) -> Path:
    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    (project / "models" / "sources.yml").write_text(sources_yml.read_text())
    (project / "dbt_project.yml").write_text(
        "name: minimizer_catalog\nversion: '1.0'\nconfig-version: 2\nprofile: minimizer\n"
    )
    (project / "profiles.yml").write_text(
        "minimizer:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: {database}\n      threads: 1\n"
    )
    return project


def _dbt(exe: Path, command: str, project: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1"}
    return subprocess.run(
        [str(exe), command, "--project-dir", str(project), "--profiles-dir", str(project)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=project,
    )


def test_dbt_parses_the_sources_and_finds_the_policy_tests(dbt, tmp_path):
    write_catalog([load_policy(f) for f in sorted(PURPOSES.glob("*.yaml"))], tmp_path / "cat")
    project = _dbt_project(tmp_path, tmp_path / "cat" / "dbt" / "sources.yml", tmp_path / "x.db")
    done = _dbt(dbt, "parse", project)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    manifest = json.loads((project / "target" / "manifest.json").read_text())
    sources = {s["source_name"] + "." + s["name"] for s in manifest["sources"].values()}
    assert {"churn_analysis.customers", "churn_analysis.orders"} <= sources
    tests = [n for n in manifest["nodes"].values() if n["resource_type"] == "test"]
    kinds = {(t["test_metadata"]["name"], t.get("column_name")) for t in tests}
    assert ("not_null", "customer_id") in kinds
    assert ("relationships", "customer_id") in kinds
    assert ("accepted_values", "age_band") in kinds


def test_dbt_runs_the_policy_tests_green_on_a_real_load(dbt, loaded, tmp_path):
    with open_warehouse(str(loaded)) as wh:
        write_catalog([load_policy(CHURN)], tmp_path / "cat", wh)
    project = _dbt_project(tmp_path, tmp_path / "cat" / "dbt" / "sources.yml", loaded)
    done = _dbt(dbt, "test", project)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((project / "target" / "run_results.json").read_text())["results"]
    assert results and all(r["status"] == "pass" for r in results)
    names = " ".join(r["unique_id"] for r in results)
    assert "relationships" in names and "accepted_values" in names and "not_null" in names


def test_doctests_pass() -> None:
    import doctest

    import minimizer.catalog

    assert doctest.testmod(minimizer.catalog).failed == 0
