"""Erasure reaches what the warehouse holds, not only what the policies handed to it say: the
warehouse's registry names every purpose, table and token scheme it loaded. Id files from a
spreadsheet erase what they list; an id that matches nothing is reported as not found. And the
suppression list survives every key operation."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from minimizer.cli import main
from minimizer.errors import KeyMaterialError
from minimizer.flow import Steps, run_purpose
from minimizer.io.warehouse import open_warehouse
from minimizer.keys import KeyRing
from minimizer.pipeline import Sources
from minimizer.policy import load_policy
from minimizer.rights.suppression import suppressed_digests
from minimizer.rights.targets import load_policies
from tests.conftest import AS_OF, TEST_MASTER
from tests.rights.conftest import (
    PURPOSES,
    ROTATING,
    assert_record_equals_tables,
    busiest_customers,
    cells,
    load_all,
)

RETIRED = "mobility_pilot"  # a copy of mobility_research whose policy was later removed


def retired_policies(tmp_path: Path) -> Path:
    """The example purposes and a retired one (half-day rotating tokens too)."""
    folder = tmp_path / "all_purposes"
    shutil.copytree(PURPOSES, folder)
    text = (PURPOSES / "mobility_research.yaml").read_text()
    (folder / f"{RETIRED}.yaml").write_text(
        text.replace("purpose: mobility_research", f"purpose: {RETIRED}")
    )
    return folder


@pytest.fixture(scope="module")
def four(tmp_path_factory: pytest.TempPathFactory, synth_sources: Path) -> Path:
    """A warehouse loaded with the three example purposes and the retired one."""
    root = tmp_path_factory.mktemp("four")
    warehouse = root / "warehouse.duckdb"
    load_all(synth_sources, warehouse, KeyRing({1: TEST_MASTER}, 1), retired_policies(root))
    return warehouse


@pytest.fixture
def wh4(four: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "wh4" / "warehouse.duckdb"
    copy.parent.mkdir()
    shutil.copy(four, copy)
    return copy


def only_churn(tmp_path: Path) -> Path:
    folder = tmp_path / "only_churn"
    folder.mkdir()
    shutil.copy(PURPOSES / "churn_analysis.yaml", folder)
    return folder


def tokens_of(pseudonym, purpose: str, subject: str, purposes: Path) -> set[str]:
    periods = ROTATING["mobility_research"] if purpose == RETIRED else ROTATING.get(purpose)
    if periods is None:
        return {pseudonym(purpose, subject, purposes=purposes)}
    return {pseudonym(purpose, subject, period=p, purposes=purposes) for p in periods}


def holding(warehouse: Path, tokens: set[str]) -> list[str]:
    return sorted(name for name, values in cells(warehouse).items() if tokens & values)


def test_erasure_without_the_policies_reaches_every_purpose_and_the_retired_one(
    wh4, key_env, synth_sources, pseudonym, tmp_path, capsys
):
    everything = retired_policies(tmp_path)
    subject = busiest_customers(synth_sources, 1)[0]
    purposes = [p.purpose for p in load_policies(everything)]  # the examples and the retired
    tokens = {p: tokens_of(pseudonym, p, subject, everything) for p in purposes}
    for purpose in ("churn_analysis", "mobility_research", "marketing_segments", RETIRED):
        assert holding(wh4, tokens[purpose]), purpose
    # The folder handed to erase lacks mobility (half-day rotating tokens) and the retired one.
    args = ["erase", "--warehouse", str(wh4), "--purposes-dir", str(only_churn(tmp_path))]
    assert main([*args, "--subject-id", subject]) == 0
    out = capsys.readouterr().out
    assert "erased 1 subject(s)" in out
    for purpose in purposes:
        assert holding(wh4, tokens[purpose]) == [], purpose
    assert f"{RETIRED}.events" in out and "mobility_research.events" in out
    assert_record_equals_tables(wh4)


def test_the_registry_names_every_table_token_scheme_and_guarantee(wh4, tmp_path):
    with open_warehouse(str(wh4)) as wh:
        reg = wh.read("minimizer_audit", "loaded_tables")
    entries = set(zip(reg.purpose, reg.table_name, reg.entry, strict=True))
    assert ("mobility_research", "events", "subject:traveller:token:12h") in entries
    assert (RETIRED, "events", "subject:traveller:token:12h") in entries
    # The footfall aggregate is registered as a table, with no token scheme: it holds no one.
    assert {e for p, _, e in entries if p == "footfall_heatmap"} == {"table"}
    assert ("churn_analysis", "orders", "subject:customer_id:token:never") in entries
    loaded = load_policies(retired_policies(tmp_path))
    assert {(p, t) for p, t, _ in entries} == {(p.purpose, t) for p in loaded for t in p.sources}
    assert ("marketing_segments", "web_profiles") in {(p, t) for p, t, _ in entries}
    assert not any(reg.spec.astype(str).str.contains("mzp1_"))  # parameters, never values


def test_a_semicolon_id_file_erases_the_subjects_it_lists_and_reports_the_unknown(
    wh4, key_env, synth_sources, pseudonym, tmp_path, capsys
):
    first, second = busiest_customers(synth_sources, 2)
    ids = tmp_path / "loeschantraege.csv"
    ids.write_bytes(
        f"\ufeffsubject_id;requested_at\r\n{first};01.06.2026 10:00\r\n"
        f"{second};\r\nNO-SUCH-ONE;\r\n".encode()
    )
    token = {pseudonym("churn_analysis", s) for s in (first, second)}
    assert len(holding(wh4, token)) == 2
    args = ["erase", "--warehouse", str(wh4), "--purposes-dir", str(PURPOSES)]
    assert main([*args, "--file", str(ids)]) == 0
    out = capsys.readouterr().out
    assert holding(wh4, token) == []
    assert "erased 2 subject(s)" in out and "not found: 1 subject(s)" in out
    assert "NO-SUCH-ONE" not in out


def test_suppression_survives_rotate_rekey_retire_for_a_subject_not_yet_loaded(
    warehouse, key_env, sources, pseudonym, tmp_path, capsys
):
    newcomer = "C-NEW-0001"
    erase = ["erase", "--warehouse", str(warehouse), "--purposes-dir", str(PURPOSES)]
    assert main([*erase, "--subject-id", newcomer]) == 0
    assert "not found: 1 subject(s)" in capsys.readouterr().out
    assert main(["keys", "rotate"]) == 0
    rekey = ["keys", "rekey", "--warehouse", str(warehouse), "--sources", str(sources)]
    assert main([*rekey, "--purposes-dir", str(PURPOSES)]) == 0
    assert main(["keys", "retire", "--version", "1"]) == 0
    # Later the newcomer appears in the CRM.
    with sqlite3.connect(sources / "crm.sqlite") as con:
        donor = con.execute("SELECT customer_id FROM customers LIMIT 1").fetchone()[0]
        for name in ("customers", "web_profiles"):
            cols = [r[1] for r in con.execute(f"PRAGMA table_info({name})")]
            picked = ", ".join("?" if c == "customer_id" else c for c in cols)
            con.execute(
                f"INSERT INTO {name} ({', '.join(cols)}) SELECT {picked} FROM {name}"
                " WHERE customer_id = ?",
                [newcomer, donor],
            )
    run = ["run", str(PURPOSES / "churn_analysis.yaml"), "--sources", str(sources)]
    run += ["--warehouse", str(warehouse), "--as-of", AS_OF.isoformat()]
    assert main([*run, "--artifacts", str(tmp_path / "artifacts")]) == 0
    token = pseudonym("churn_analysis", newcomer)
    assert token.startswith("mzp2_") and holding(warehouse, {token}) == []
    with open_warehouse(str(warehouse)) as wh:
        runs = wh.audit_runs("churn_analysis")
    last = runs[runs.status == "loaded"].sort_values("started_at").iloc[-1]
    assert last.details["excluded_erased"]["customers"] == 1
    assert_record_equals_tables(warehouse)


def test_a_key_ring_that_cannot_check_the_list_fails_the_run_closed(warehouse, key_env, sources):
    subject = busiest_customers(sources, 1)[0]
    erase = ["erase", "--warehouse", str(warehouse), "--purposes-dir", str(PURPOSES)]
    assert main([*erase, "--subject-id", subject]) == 0
    other = KeyRing({2: bytes(range(1, 33))}, 2)  # a master swapped by hand: version 1 is gone
    policy = load_policy(PURPOSES / "churn_analysis.yaml")
    with open_warehouse(str(warehouse)) as wh:
        with pytest.raises(KeyMaterialError, match=r"1 erased subject\(s\).*version\(s\) \[1\]"):
            suppressed_digests(wh, other)
        with pytest.raises(KeyMaterialError):
            steps = Steps(guarantees=False, gate=False)  # the suppression list only
            run_purpose(policy, Sources.from_dir(sources), wh, other, as_of=AS_OF, steps=steps)


def test_erasure_with_no_policy_at_all_erases_by_the_registry(
    wh4, key_env, synth_sources, pseudonym, tmp_path, capsys
):
    subject = busiest_customers(synth_sources, 1)[0]
    tokens = tokens_of(pseudonym, RETIRED, subject, retired_policies(tmp_path))
    empty = tmp_path / "no_policies"
    empty.mkdir()
    args = ["erase", "--warehouse", str(wh4), "--purposes-dir", str(empty)]
    assert main([*args, "--subject-id", subject]) == 0
    assert "registry alone" in capsys.readouterr().err
    assert holding(wh4, tokens) == []
