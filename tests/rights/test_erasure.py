"""Right to erasure: the subject leaves every table, stays out of later loads, and the audit
schema records it without the id. Bad input changes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from minimizer import flow, service
from minimizer.cli import main
from minimizer.errors import GuaranteeError, MinimizerError
from minimizer.flow import Steps, run_purpose
from minimizer.io.warehouse import Transaction, WarehouseError, open_warehouse
from minimizer.pipeline import Sources
from minimizer.policy import load_policy
from minimizer.rights.digest import subject_digests
from minimizer.rights.erasure import ErasureRequest, erase_subjects
from minimizer.rights.errors import ErasureError
from minimizer.rights.suppression import erased_rows
from minimizer.rights.targets import load_policies
from tests.conftest import AS_OF
from tests.rights.conftest import (
    PURPOSES,
    assert_record_equals_tables,
    busiest_customers,
    cells,
    row_counts,
    subject_tokens,
)

# mobility_research publishes half-day traveller tokens; footfall_heatmap (an aggregate) none.
SCHEMAS = ("churn_analysis", "mobility_research", "marketing_segments")


def erase(warehouse: Path, *args: str) -> int:
    return main(["erase", "--warehouse", str(warehouse), "--purposes-dir", str(PURPOSES), *args])


def holding(warehouse: Path, tokens: str | set[str]) -> list[str]:
    """Tables holding any of the tokens."""
    wanted = {tokens} if isinstance(tokens, str) else tokens
    return sorted(name for name, values in cells(warehouse).items() if wanted & values)


def erasures(warehouse: Path) -> pd.DataFrame:
    with open_warehouse(str(warehouse)) as wh:
        if ("minimizer_audit", "erasures") not in wh.tables():
            return pd.DataFrame()
        return wh.read("minimizer_audit", "erasures")


def test_erasure_removes_every_row_of_the_subject_and_nothing_else(
    warehouse, key_env, synth_sources, pseudonym, capsys
):
    subject, other = busiest_customers(synth_sources)
    tokens = {p: subject_tokens(pseudonym, p, subject) for p in SCHEMAS}
    kept = {p: subject_tokens(pseudonym, p, other) for p in SCHEMAS}
    assert holding(warehouse, tokens["churn_analysis"]) == [
        "churn_analysis.customers",
        "churn_analysis.orders",
    ]
    assert holding(warehouse, tokens["mobility_research"]) == ["mobility_research.events"]
    assert len(holding(warehouse, tokens["marketing_segments"])) == 3
    before = row_counts(warehouse)

    assert erase(warehouse, "--subject-id", subject) == 0
    out = capsys.readouterr().out
    assert "rows deleted" in out and "mobility_research.events" in out

    for purpose in SCHEMAS:
        # Asked again after the erasure: the same key gives the same token, found nowhere.
        assert subject_tokens(pseudonym, purpose, subject) == tokens[purpose]
        assert holding(warehouse, tokens[purpose]) == []
        if purpose != "mobility_research":  # cells left below 20 travellers go (see below)
            assert holding(warehouse, kept[purpose])  # the other subject is untouched
    after = row_counts(warehouse)
    record = erasures(warehouse)
    assert len(record) == 1
    deleted = record.rows_deleted.map(json.loads).iloc[0]
    # Rows gone = the subject's rows + the location cells re-enforcement suppressed.
    with open_warehouse(str(warehouse)) as wh:
        runs = wh.audit_runs("mobility_research")
    erased = runs[runs.status == "erased"].iloc[-1]
    cells_gone = erased.details["erasure"]["suppressed"].get("events", {}).get("location", 0)
    assert erased.rows_out == {"events": after["mobility_research.events"]}
    gone = {t: before[t] - after[t] for t in before if before[t] != after[t]}
    assert gone == {
        **deleted,
        "mobility_research.events": deleted["mobility_research.events"] + cells_gone,
    }
    assert_record_equals_tables(warehouse)
    assert set(deleted) == {
        "churn_analysis.customers",
        "churn_analysis.orders",
        "marketing_segments.customers",
        "marketing_segments.orders",
        "marketing_segments.web_profiles",
        "mobility_research.events",  # half-day traveller tokens; footfall's counts hold no one
    }


def test_the_audit_schema_holds_a_keyed_digest_and_never_the_id(warehouse, key_env, synth_sources):
    subject = busiest_customers(synth_sources, 1)[0]
    assert erase(warehouse, "--subject-id", subject) == 0
    record = erasures(warehouse).iloc[0]
    assert record.subject_digest == subject_digests(key_env, [subject], 1)[0]
    assert record.key_version == 1 and record.origin == "cli"
    audit_cells = {
        v
        for name, values in cells(warehouse).items()
        if name.startswith("minimizer_audit.")
        for v in values
    }
    assert not any(subject in v for v in audit_cells)


def test_the_next_load_does_not_bring_the_subject_back(
    warehouse, key_env, synth_sources, pseudonym, tmp_path
):
    subject = busiest_customers(synth_sources, 1)[0]
    assert erase(warehouse, "--subject-id", subject) == 0
    for purpose in SCHEMAS:  # the CRM and the event files still hold the subject
        args = ["run", str(PURPOSES / f"{purpose}.yaml"), "--sources", str(synth_sources)]
        args += ["--warehouse", str(warehouse), "--as-of", AS_OF.isoformat()]
        assert main([*args, "--artifacts", str(tmp_path / "artifacts")]) == 0
        assert holding(warehouse, subject_tokens(pseudonym, purpose, subject)) == []
    with open_warehouse(str(warehouse)) as wh:
        runs = wh.audit_runs("churn_analysis").sort_values("started_at")
    # Left out before minimising (the source window is wider than what retention keeps).
    excluded = runs.iloc[-1].details["excluded_erased"]
    assert excluded["customers"] == 1 and excluded["orders"] >= 2
    assert_record_equals_tables(warehouse)


def test_the_suppression_feature_is_registered_and_drops_only_listed_ids(key_env):
    assert service.STEPS.suppression  # every CLI and Airflow run leaves them out
    listed = {1: pd.Index(subject_digests(key_env, ["C1", "C3"], 1))}
    ids = pd.Series(["C1", None, "C2", "C3", "C1"], dtype="str")
    assert erased_rows(key_env, ids, listed).tolist() == [True, False, False, True, True]
    assert erased_rows(key_env, ids, {}).tolist() == [False] * 5


def test_an_unknown_subject_is_reported_recorded_and_suppressed(warehouse, key_env, capsys):
    before = row_counts(warehouse)
    assert erase(warehouse, "--subject-id", "NO-SUCH-CUSTOMER") == 0
    out = capsys.readouterr().out
    assert "erased 0 subject(s)" in out and "not found: 1 subject(s)" in out
    assert row_counts(warehouse) == before
    record = erasures(warehouse)
    assert len(record) == 1 and json.loads(record.rows_deleted.iloc[0]) == {}


def test_strict_refuses_an_unknown_subject_and_records_nothing(
    warehouse, key_env, synth_sources, capsys
):
    real = busiest_customers(synth_sources, 1)[0]
    before = row_counts(warehouse)
    args = ["--subject-id", real, "--subject-id", "NO-SUCH-CUSTOMER", "--strict"]
    assert erase(warehouse, *args) == 2
    err = capsys.readouterr().err
    assert "reason=subject_not_found" in err and "count=1" in err
    assert "NO-SUCH-CUSTOMER" not in err and real not in err
    assert row_counts(warehouse) == before  # the real subject's deletes were rolled back
    assert erasures(warehouse).empty


def test_a_malformed_id_file_names_file_and_lines_and_erases_nothing(
    warehouse, key_env, synth_sources, tmp_path, capsys
):
    good = busiest_customers(synth_sources, 1)[0]
    ids = tmp_path / "ids.csv"
    ids.write_text(
        f"subject_id,requested_at\n{good},2026-06-01T10:00:00Z\n"
        "C-SECRET-1,x,y\n\n,2026-06-01\nC-SECRET-2,yesterday\n"
    )
    before = row_counts(warehouse)
    assert erase(warehouse, "--file", str(ids)) == 2
    err = capsys.readouterr().err
    assert f"{ids}:3: 3 fields" in err
    assert f"{ids}:5: empty subject id" in err
    assert f"{ids}:6: requested_at is not an ISO 8601 time" in err
    assert "nothing was erased" in err
    assert not any(secret in err for secret in ("C-SECRET", good))
    assert row_counts(warehouse) == before and erasures(warehouse).empty


def test_neither_id_nor_file_is_a_usage_error(warehouse, key_env):
    assert erase(warehouse) == 2


def test_a_locked_warehouse_is_a_clear_error_and_nothing_is_erased(
    warehouse, key_env, synth_sources, capsys
):
    subject = busiest_customers(synth_sources, 1)[0]
    before = row_counts(warehouse)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]);"
            " print('ready', flush=True); time.sleep(60)",
            str(warehouse),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"ready"
        assert erase(warehouse, "--subject-id", subject) == 2
        err = capsys.readouterr().err
        assert "locked by another writer" in err and "reason=locked" in err
    finally:
        holder.kill()
        holder.wait()
    assert row_counts(warehouse) == before and erasures(warehouse).empty


def test_a_failure_after_some_deletes_rolls_every_table_back(
    warehouse, key_env, synth_sources, monkeypatch
):
    subject = busiest_customers(synth_sources, 1)[0]
    before = row_counts(warehouse)
    # The audit insert runs after every delete; make the database reject it.
    monkeypatch.setattr(Transaction, "insert", lambda tx, spec, rows: tx("INSERT INTO nowhere"))
    with open_warehouse(str(warehouse)) as wh, pytest.raises(WarehouseError) as info:
        erase_subjects(wh, load_policies(PURPOSES), key_env, [ErasureRequest(subject)])
    assert info.value.reason == "transaction_failed" and subject not in str(info.value)
    # A syntax error may echo the statement's text: summarised, with the statement named.
    assert info.value.statement == "insert into" and info.value.detail is None
    assert row_counts(warehouse) == before and erasures(warehouse).empty


def test_a_repeated_request_is_recorded_once(warehouse, key_env, synth_sources):
    subject = busiest_customers(synth_sources, 1)[0]
    request = ErasureRequest(subject, AS_OF)
    policies = load_policies(PURPOSES)
    with open_warehouse(str(warehouse)) as wh:
        first = erase_subjects(wh, policies, key_env, [request, request], origin="airflow")
        again = erase_subjects(wh, policies, key_env, [request], origin="airflow")
    assert len(first.subjects) == 1 and sum(first.deleted().values()) > 0
    assert again.subjects[0].erasure_id == first.subjects[0].erasure_id
    assert sum(again.deleted().values()) == 0
    assert len(erasures(warehouse)) == 1
    assert "<hidden>" in repr(request) and subject not in repr(request)


def test_a_table_no_policy_names_is_searched_in_every_text_column(
    warehouse, key_env, synth_sources, pseudonym
):
    subject = busiest_customers(synth_sources, 1)[0]
    token = pseudonym("churn_analysis", subject)
    with open_warehouse(str(warehouse)) as wh:
        wh.query(
            "CREATE TABLE churn_analysis.old_export AS SELECT loyalty_tier,"
            " customer_id AS who FROM churn_analysis.customers"
        )
    assert "churn_analysis.old_export" in holding(warehouse, token)
    assert erase(warehouse, "--subject-id", subject) == 0
    assert holding(warehouse, token) == []


def test_empty_requests_are_refused(warehouse, key_env):
    with open_warehouse(str(warehouse)) as wh:
        with pytest.raises(ErasureError, match="no subject"):
            erase_subjects(wh, load_policies(PURPOSES), key_env, [])
        with pytest.raises(ErasureError, match="empty subject id") as info:
            erase_subjects(wh, load_policies(PURPOSES), key_env, [ErasureRequest(" ")])
    assert isinstance(info.value, MinimizerError) and info.value.exit_code == 2


def test_erased_rows_handles_integer_ids_like_the_cli_types_them(key_env):
    listed = {1: pd.Index(subject_digests(key_env, ["42"], 1))}
    ids = pd.Series([42, 7, None], dtype="Int64")
    assert np.array_equal(erased_rows(key_env, ids, listed), [True, False, False])


def test_an_erasure_committed_while_a_run_extracts_fails_that_run(
    warehouse, key_env, synth_sources, pseudonym, tmp_path, monkeypatch
):
    subject = busiest_customers(synth_sources, 1)[0]
    policy = load_policy(PURPOSES / "churn_analysis.yaml")

    def erase_midway(run: flow.Run) -> None:
        """Stands for an erasure committed by another process after extraction began."""
        erase_subjects(wh, [policy], key_env, [ErasureRequest(subject)])

    monkeypatch.setattr(flow, "run_gate", erase_midway)  # the step before the re-check
    with open_warehouse(str(warehouse)) as wh:
        steps = Steps(guarantees=False, gate=False)
        with pytest.raises(GuaranteeError) as info:
            run_purpose(
                policy, Sources.from_dir(synth_sources), wh, key_env, as_of=AS_OF, steps=steps
            )
    assert info.value.reason == "erased_during_run" and info.value.exit_code == 3
    assert holding(warehouse, pseudonym("churn_analysis", subject)) == []
