"""Erasure on a PostgreSQL warehouse: the same promises as on DuckDB (every table, one
transaction, recorded without the id, suppressed on the next load). Each test loads a copy of
a policy under a unique purpose (= schema) and removes its schema and audit rows afterwards.
The server is required: if it cannot be reached these tests fail, they do not skip."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from minimizer.cli import main
from minimizer.flow import Steps, run_purpose
from minimizer.io.warehouse import Transaction, WarehouseError, open_warehouse
from minimizer.pipeline import Sources
from minimizer.policy import load_policy
from minimizer.rights.erasure import ErasureRequest, erase_subjects
from minimizer.rights.targets import load_policies
from minimizer.transforms.pseudonymise import token_for
from tests.conftest import AS_OF
from tests.rights.conftest import PURPOSES, ROTATING, busiest_customers

pytestmark = pytest.mark.postgres

PG_URL = os.environ.get("MINIMIZER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def purposes(tmp_path: Path) -> Iterator[Path]:
    """A folder with the churn policy under a fresh purpose id; cleaned up afterwards."""
    name = f"mz_rights_{uuid.uuid4().hex[:10]}"
    folder = tmp_path / "purposes"
    folder.mkdir()
    text = (PURPOSES / "churn_analysis.yaml").read_text()
    (folder / f"{name}.yaml").write_text(
        text.replace("purpose: churn_analysis", f"purpose: {name}")
    )
    try:
        admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL unreachable at 127.0.0.1:5432 ({type(exc).__name__})")
    try:
        yield folder
    finally:
        admin.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        admin.execute(
            "DO $$ BEGIN IF to_regclass('minimizer_audit.erasures') IS NOT NULL THEN"
            " DELETE FROM minimizer_audit.suppressed_subjects WHERE erasure_id IN"
            "  (SELECT erasure_id FROM minimizer_audit.erasures"
            f"   WHERE rows_deleted::text LIKE '%{name}.%');"
            f" DELETE FROM minimizer_audit.erasures WHERE rows_deleted::text LIKE '%{name}.%';"
            " END IF;"
            f" DELETE FROM minimizer_audit.runs WHERE purpose = '{name}'; END $$"
        )
        admin.close()


def _load(purposes: Path, sources: Path, keyring, **kw) -> str:
    policy = load_policies(purposes)[0]
    with open_warehouse(PG_URL) as wh:
        steps = Steps(guarantees=False, gate=False)  # the suppression list only
        run_purpose(policy, Sources.from_dir(sources), wh, keyring, as_of=AS_OF, steps=steps)
    return policy.purpose


def _holding(purpose: str, token: str) -> dict[str, int]:
    with open_warehouse(PG_URL) as wh:
        return {
            table: int((wh.read(purpose, table).customer_id == token).sum())
            for table in ("customers", "orders")
        }


def test_erasure_on_postgresql_reaches_every_table_and_survives_the_next_load(
    purposes, key_env, synth_sources, pseudonym, capsys
):
    purpose = _load(purposes, synth_sources, key_env)
    subject = busiest_customers(synth_sources, 1)[0]
    token = pseudonym(purpose, subject, purposes=purposes)
    assert _holding(purpose, token)["customers"] == 1 and _holding(purpose, token)["orders"] > 0

    args = ["erase", "--warehouse", PG_URL, "--purposes-dir", str(purposes)]
    assert main([*args, "--subject-id", subject]) == 0
    assert f"{purpose}.orders" in capsys.readouterr().out
    assert _holding(purpose, token) == {"customers": 0, "orders": 0}
    with open_warehouse(PG_URL) as wh:
        record = wh.query(
            "SELECT subject_digest, rows_deleted::text AS rows FROM minimizer_audit.erasures"
            f" WHERE rows_deleted::text LIKE '%{purpose}.%'"
        )
    assert len(record) == 1 and subject not in record.to_json()

    _load(purposes, synth_sources, key_env)  # the CRM still holds the subject
    assert _holding(purpose, token) == {"customers": 0, "orders": 0}


def test_a_failed_erasure_on_postgresql_leaves_every_table_as_it_was(
    purposes, key_env, synth_sources, monkeypatch
):
    purpose = _load(purposes, synth_sources, key_env)
    subject = busiest_customers(synth_sources, 1)[0]
    with open_warehouse(PG_URL) as wh:
        before = {t: len(wh.read(purpose, t)) for t in ("customers", "orders")}
    monkeypatch.setattr(Transaction, "insert", lambda tx, spec, rows: tx("INSERT INTO nowhere"))
    policies = [load_policy(next(purposes.glob("*.yaml")))]
    with open_warehouse(PG_URL) as wh, pytest.raises(WarehouseError) as info:
        erase_subjects(wh, policies, key_env, [ErasureRequest(subject)])
    assert info.value.reason == "transaction_failed" and subject not in str(info.value)
    assert info.value.statement == "insert into" and info.value.detail is None
    with open_warehouse(PG_URL) as wh:
        assert {t: len(wh.read(purpose, t)) for t in ("customers", "orders")} == before


@pytest.fixture
def four_purposes(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """Three example policies and a retired copy of mobility_research (half-day tokens; the
    demo footfall is an aggregate that holds no one), under fresh purpose ids (original ->
    fresh); schemas, registry, audit and erasure rows go afterwards."""
    tag = uuid.uuid4().hex[:8]
    names = {
        p: f"mz_{p[:5]}_{tag}"
        for p in ("churn_analysis", "mobility_research", "marketing_segments")
    }
    names["retired"] = f"mz_retired_{tag}"
    folder = tmp_path / "four"
    folder.mkdir()
    for original, fresh in names.items():
        source = "mobility_research" if original == "retired" else original
        text = (PURPOSES / f"{source}.yaml").read_text()
        (folder / f"{fresh}.yaml").write_text(
            text.replace(f"purpose: {source}", f"purpose: {fresh}")
        )
    try:
        yield folder, names
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            for fresh in names.values():
                admin.execute(f'DROP SCHEMA IF EXISTS "{fresh}" CASCADE')
                admin.execute(f"DELETE FROM minimizer_audit.runs WHERE purpose = '{fresh}'")
                admin.execute(
                    f"DELETE FROM minimizer_audit.loaded_tables WHERE purpose = '{fresh}'"
                )
            admin.execute(
                "DELETE FROM minimizer_audit.suppressed_subjects WHERE erasure_id IN (SELECT"
                " erasure_id FROM minimizer_audit.erasures WHERE rows_deleted::text LIKE"
                f" '%{tag}.%')"
            )
            admin.execute(
                f"DELETE FROM minimizer_audit.erasures WHERE rows_deleted::text LIKE '%{tag}.%'"
            )


def test_erasure_on_postgresql_reaches_four_purposes_with_only_one_policy_given(
    four_purposes, key_env, synth_sources, tmp_path, capsys
):
    folder, names = four_purposes
    with open_warehouse(PG_URL) as wh:
        for policy in load_policies(folder):
            run_purpose(policy, Sources.from_dir(synth_sources), wh, key_env, as_of=AS_OF)
    subject = busiest_customers(synth_sources, 1)[0]

    def rows_of_subject() -> dict[str, int]:
        found = {}
        with open_warehouse(PG_URL) as wh:
            for fresh in names.values():
                key = key_env.purpose_key(fresh)
                wanted = {token_for(subject, key)} | {
                    token_for(subject, key, half) for half in ROTATING["mobility_research"]
                }
                for schema, table in wh.tables():
                    if schema == fresh:
                        frame = wh.read(schema, table)
                        column = "traveller" if "traveller" in frame else "customer_id"
                        found[f"{schema}.{table}"] = int(frame[column].isin(wanted).sum())
        return found

    before = rows_of_subject()
    assert all(
        before[f"{names[p]}.{t}"] for p, t in [("retired", "events"), ("churn_analysis", "orders")]
    )
    only = tmp_path / "only"
    only.mkdir()
    (only / f"{names['churn_analysis']}.yaml").write_text(
        (folder / f"{names['churn_analysis']}.yaml").read_text()
    )
    args = ["erase", "--warehouse", PG_URL, "--purposes-dir", str(only), "--subject-id", subject]
    assert main(args) == 0
    assert "erased 1 subject(s)" in capsys.readouterr().out
    after = rows_of_subject()
    assert set(after) == set(before) and sum(after.values()) == 0
    for fresh in names.values():
        assert any(k.startswith(f"{fresh}.") for k, n in before.items() if n), fresh
