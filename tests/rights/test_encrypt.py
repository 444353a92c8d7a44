"""Reversible pseudonyms: the encrypt transform, the subject key store, reveal, and
crypto-shredding by erasure (a backup copy becomes unreadable too)."""

from __future__ import annotations

import re
import shutil
import stat
from pathlib import Path

import pandas as pd
import pytest

from minimizer.cli import main
from minimizer.errors import PolicyError
from minimizer.flow import run_purpose
from minimizer.io.warehouse import open_warehouse
from minimizer.keys import KeyRing
from minimizer.pipeline import Sources
from minimizer.plan import plan_policy
from minimizer.policy import load_policy
from minimizer.rights.errors import SubjectKeyError
from minimizer.rights.keystore import SubjectKeyStore
from minimizer.rights.reveal import reveal
from minimizer.rights.sealed import SEALED_PATTERN
from minimizer.transforms import TransformContext
from minimizer.transforms.encrypt import Encrypt
from tests.conftest import AS_OF
from tests.rights.conftest import SEALED, busiest_customers, table

POLICY = SEALED / "support_contact.yaml"


def seal(ring: KeyRing, frame: pd.DataFrame, purpose: str = "support_contact"):
    ctx = TransformContext(purpose, AS_OF, ring.purpose_key(purpose))
    return Encrypt(source="email", subject="customer_id").apply(frame, "email", ctx)


FRAME = pd.DataFrame(
    {
        "customer_id": pd.Series(["C1", "C1", "C2", None, "C3"], dtype="str"),
        "email": pd.Series(["a@x.org", "a@x.org", "a@x.org", "b@x.org", None], dtype="str"),
    }
)


def test_sealing_is_deterministic_per_subject_and_differs_between_subjects(key_env):
    out = seal(key_env, FRAME)
    values = out.values.tolist()
    assert all(re.match(SEALED_PATTERN, v) for v in values[:3])
    assert values[0] == values[1] != values[2]  # same subject and value; another subject
    assert values[0][:38] == values[1][:38] != values[2][:38]  # the key id names the subject
    assert pd.isna(values[3]) and pd.isna(values[4])
    # A value without a subject cannot get a subject key: flagged, not sealed.
    assert out.invalid.tolist() == [False, False, False, True, False]
    assert seal(key_env, FRAME).values.tolist()[:3] == values[:3]
    other = seal(key_env, FRAME, "another_purpose").values.tolist()
    assert not {v[:38] for v in other[:3]} & {v[:38] for v in values[:3]}


def test_reveal_opens_values_and_logs_who_did(key_env):
    sealed = seal(key_env, FRAME).values.tolist()[:3]
    with SubjectKeyStore.open_default() as store:
        assert reveal(sealed, key_env, store) == ["a@x.org"] * 3
        logged = store._rows("SELECT user, purpose, n_values FROM reveals")
    assert logged[0][1:] == ("support_contact", 3)


def test_altered_moved_or_malformed_values_do_not_open(key_env):
    one, _, two = seal(key_env, FRAME).values.tolist()[:3]
    flipped = one[:-2] + ("A" if one[-2] != "A" else "B") + one[-1]
    moved = two[:38] + one[38:]  # C1's ciphertext under C2's key id
    with SubjectKeyStore.open_default() as store:
        for value, reason in (
            (flipped, "tampered"),
            (moved, "tampered"),
            ("mze1_xyz", "malformed"),
        ):
            with pytest.raises(SubjectKeyError) as info:
                reveal([one, value], key_env, store)
            assert info.value.reason == reason and info.value.positions == [1]
            assert value not in str(info.value)


def test_the_key_store_is_owner_only_and_holds_neither_ids_nor_keys_in_clear(key_env):
    seal(key_env, FRAME)
    path = Path(SubjectKeyStore.open_default().path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    blob = path.read_bytes()
    assert b"C1" not in blob and b"a@x.org" not in blob


def test_the_policy_names_the_subject_column_and_the_plan_says_encrypted():
    policy = load_policy(POLICY)
    plans = {p.source: p for p in plan_policy(policy)}
    cols = {c.output: c for c in plans["customers"].outputs}
    assert cols["email"].category == "encrypted" and "AES-SIV" in cols["email"].description
    assert policy.sources["customers"].inputs().count("customer_id") == 1


def test_encrypt_without_a_subject_is_a_policy_error(tmp_path):
    bad = tmp_path / "support_contact.yaml"
    bad.write_text(POLICY.read_text().replace(", subject: customer_id}", "}", 1))
    with pytest.raises(PolicyError, match=r"support_contact.yaml:\d+.*subject"):
        load_policy(bad)


def test_sealing_without_a_key_store_is_a_clear_error(keyring):
    with pytest.raises(Exception, match="MINIMIZER_SUBJECT_KEYSTORE"):
        seal(keyring, FRAME)


# ------------------------------------------------------------------ end to end


@pytest.fixture
def sealed_wh(key_env, synth_sources, tmp_path) -> Path:
    warehouse = tmp_path / "sealed.duckdb"
    with open_warehouse(str(warehouse)) as wh:
        run_purpose(load_policy(POLICY), Sources.from_dir(synth_sources), wh, key_env, as_of=AS_OF)
    return warehouse


def reveal_cli(value: str, capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["reveal", "--value", value])
    captured = capsys.readouterr()
    return code, captured.out.strip(), captured.err


def test_sealed_subject_ids_join_and_reveal_through_the_cli(sealed_wh, synth_sources, capsys):
    customers = table(sealed_wh, "support_contact", "customers")
    orders = table(sealed_wh, "support_contact", "orders")
    assert customers.email.str.match(SEALED_PATTERN).all()
    assert set(orders.customer_ref) <= set(customers.customer_ref)  # deterministic: joins
    crm = pd.read_sql(
        "SELECT customer_id, email FROM customers", f"sqlite:///{synth_sources / 'crm.sqlite'}"
    ).set_index("customer_id")
    row = customers[customers.customer_ref == orders.customer_ref.iloc[0]].iloc[0]
    code, who, _ = reveal_cli(row.customer_ref, capsys)
    assert code == 0 and who in crm.index
    code, email, _ = reveal_cli(row.email, capsys)
    assert code == 0 and email == crm.loc[who, "email"]


def _refs(warehouse: Path, ring: KeyRing, wanted: set[str]) -> dict[str, str]:
    """Sealed customer_ref of some subjects, found by revealing (as a support lead would)."""
    refs = table(warehouse, "support_contact", "customers").customer_ref.tolist()
    with SubjectKeyStore.open_default() as store:
        found = {who: ref for who, ref in zip(reveal(refs, ring, store), refs, strict=True)}
    return {who: found[who] for who in wanted}


def test_erasure_shreds_the_key_so_even_a_backup_cannot_be_revealed(
    sealed_wh, key_env, synth_sources, tmp_path, capsys
):
    backup = tmp_path / "backup.duckdb"
    shutil.copy(sealed_wh, backup)  # a copy the erasure never reaches
    subject, other = busiest_customers(synth_sources)
    refs = _refs(sealed_wh, key_env, {subject, other})
    emails = table(sealed_wh, "support_contact", "customers").set_index("customer_ref").email

    args = ["erase", "--warehouse", str(sealed_wh), "--purposes-dir", str(SEALED)]
    assert main([*args, "--subject-id", subject]) == 0
    assert "1 subject key(s) destroyed" in capsys.readouterr().out
    # The orders table names the subject only by sealed values: found by key id, deleted.
    orders = table(sealed_wh, "support_contact", "orders")
    assert not orders.customer_ref.str.startswith(refs[subject][:38]).any()
    assert orders.customer_ref.str.startswith(refs[other][:38]).any()
    kept = table(backup, "support_contact", "customers").customer_ref
    assert kept.isin([refs[subject]]).any()

    for value in (refs[subject], emails[refs[subject]]):  # still in the backup
        code, _, err = reveal_cli(value, capsys)
        assert code == 2 and "crypto-shredded" in err and "reason=shredded" in err
        assert subject not in err
    assert reveal_cli(refs[other], capsys)[:2] == (0, other)
    code, out, _ = reveal_cli(emails[refs[other]], capsys)
    assert code == 0 and "@" in out


def test_an_erased_subject_gets_no_new_key_and_the_next_load_leaves_them_out(
    sealed_wh, key_env, synth_sources, tmp_path
):
    subject = busiest_customers(synth_sources, 1)[0]
    args = ["erase", "--warehouse", str(sealed_wh), "--purposes-dir", str(SEALED)]
    assert main([*args, "--subject-id", subject]) == 0
    policy = load_policy(POLICY)
    # Without the erasure feature the run fails closed rather than re-key an erased subject.
    with open_warehouse(str(sealed_wh)) as wh, pytest.raises(SubjectKeyError) as info:
        run_purpose(policy, Sources.from_dir(synth_sources), wh, key_env, as_of=AS_OF)
    assert info.value.reason == "erased_subject" and subject not in str(info.value)
    run = ["run", str(POLICY), "--sources", str(synth_sources), "--warehouse", str(sealed_wh)]
    assert main([*run, "--as-of", AS_OF.isoformat(), "--artifacts", str(tmp_path / "a")]) == 0


def test_rotation_needs_a_rekey_before_sealing_and_reveal_survives_it(
    sealed_wh, key_env, synth_sources, capsys
):
    value = table(sealed_wh, "support_contact", "customers").email.iloc[0]
    code, clear, _ = reveal_cli(value, capsys)
    assert code == 0
    assert main(["keys", "rotate"]) == 0
    ring = KeyRing.from_file(key_env.path)
    with open_warehouse(str(sealed_wh)) as wh, pytest.raises(SubjectKeyError) as info:
        run_purpose(load_policy(POLICY), Sources.from_dir(synth_sources), wh, ring, as_of=AS_OF)
    assert info.value.reason == "stale_wrap"
    assert main(["keys", "retire", "--version", "1"]) == 2  # would shred every sealed value
    assert "still wrapped with key version 1" in capsys.readouterr().err
    args = ["keys", "rekey", "--warehouse", str(sealed_wh), "--sources", str(synth_sources)]
    assert main([*args, "--purposes-dir", str(SEALED)]) == 0
    assert main(["keys", "retire", "--version", "1"]) == 0
    assert reveal_cli(value, capsys)[:2] == (0, clear)  # key ids unchanged, keys re-wrapped
