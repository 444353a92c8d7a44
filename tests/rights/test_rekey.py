"""Key rotation: re-keying moves every token to the new version (joins intact, no mapping left
behind), retiring destroys the old master, and erased subjects stay out throughout."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd

from minimizer.cli import main
from minimizer.io.warehouse import open_warehouse
from minimizer.keys import KeyRing
from minimizer.pipeline import Sources
from minimizer.rights.rekey import rekey_warehouse, token_mapping
from minimizer.rights.targets import load_policies
from tests.conftest import AS_OF
from tests.rights.conftest import (
    PURPOSES,
    busiest_customers,
    cells,
    row_counts,
    subject_tokens,
    table,
)

# mobility_research publishes half-day traveller tokens; footfall_heatmap (an aggregate) none.
SCHEMAS = ("churn_analysis", "mobility_research", "marketing_segments")


def rekey(warehouse: Path, sources: Path, *extra: str) -> int:
    args = ["keys", "rekey", "--warehouse", str(warehouse), "--sources", str(sources)]
    return main([*args, "--purposes-dir", str(PURPOSES), *extra])


def tokens_of_version(warehouse: Path, version: int) -> int:
    prefix = f"mzp{version}_"
    return sum(v.startswith(prefix) for values in cells(warehouse).values() for v in values)


def where(warehouse: Path, tokens: str | set[str]) -> list[str]:
    wanted = {tokens} if isinstance(tokens, str) else tokens
    return sorted(name for name, values in cells(warehouse).items() if wanted & values)


def test_rekey_moves_every_token_and_joins_still_hold(
    warehouse, key_env, synth_sources, pseudonym, capsys
):
    subject = busiest_customers(synth_sources, 1)[0]
    old = {p: subject_tokens(pseudonym, p, subject) for p in SCHEMAS}
    places = {p: where(warehouse, old[p]) for p in SCHEMAS}
    before = row_counts(warehouse)
    distinct = table(warehouse, "churn_analysis", "customers").customer_id.nunique()
    assert tokens_of_version(warehouse, 1) > 0

    assert main(["keys", "rotate"]) == 0
    # The warehouse was loaded under a ring from before token schemes (blake2b); the new
    # version is an aes-cmac one, so this re-key also moves every token to the new scheme.
    ring = KeyRing.from_file(key_env.path)
    assert (ring.scheme(1), ring.scheme(2)) == ("blake2b", "aes-cmac")
    assert rekey(warehouse, synth_sources) == 0
    assert "re-keyed to version 2" in capsys.readouterr().out

    assert tokens_of_version(warehouse, 1) == 0
    assert row_counts(warehouse) == before
    for purpose in SCHEMAS:
        new = subject_tokens(pseudonym, purpose, subject)
        assert all(t.startswith("mzp2_") for t in new) and not new & old[purpose]
        assert where(warehouse, new) == places[purpose]
    churn_c = table(warehouse, "churn_analysis", "customers").customer_id
    churn_o = table(warehouse, "churn_analysis", "orders").customer_id
    mkt_c = table(warehouse, "marketing_segments", "customers").customer_id
    mkt_w = table(warehouse, "marketing_segments", "web_profiles").customer_id
    assert set(churn_o) <= set(churn_c) and set(mkt_w) <= set(mkt_c)
    assert churn_c.nunique() == distinct
    assert not set(churn_c) & set(mkt_c)  # still two pseudonymisation domains
    with open_warehouse(str(warehouse)) as wh:
        names = {t for _, t in wh.tables()}
        runs = wh.audit_runs()
    assert not any("rekey" in n for n in names)  # the mapping was never committed
    rekeyed = runs[runs.status == "rekeyed"]
    assert sorted(rekeyed.purpose) == sorted(p.purpose for p in load_policies(PURPOSES))
    assert (rekeyed.key_version == 2).all()


def test_retire_destroys_the_old_version_but_never_the_current_one(
    warehouse, key_env, synth_sources, capsys
):
    assert main(["keys", "rotate"]) == 0
    assert rekey(warehouse, synth_sources) == 0
    assert main(["keys", "retire", "--version", "2"]) == 2
    assert "cannot be retired" in capsys.readouterr().err
    assert main(["keys", "retire", "--version", "1"]) == 0
    ring = KeyRing.from_file(key_env.path)
    assert ring.retired == {1} and ring.masters[1] == b""
    assert (
        main(["pseudonym", "--purpose", "churn_analysis", "--value", "C1", "--key-version", "1"])
        == 2
    )


def test_an_erased_subject_stays_out_across_rotation_rekey_and_retire(
    warehouse, key_env, synth_sources, pseudonym, tmp_path
):
    subject = busiest_customers(synth_sources, 1)[0]
    erase = ["erase", "--warehouse", str(warehouse), "--purposes-dir", str(PURPOSES)]
    assert main([*erase, "--subject-id", subject]) == 0
    assert main(["keys", "rotate"]) == 0
    assert rekey(warehouse, synth_sources) == 0
    assert main(["keys", "retire", "--version", "1"]) == 0
    run = ["run", str(PURPOSES / "churn_analysis.yaml"), "--sources", str(synth_sources)]
    run += ["--warehouse", str(warehouse), "--as-of", AS_OF.isoformat()]
    assert main([*run, "--artifacts", str(tmp_path / "artifacts")]) == 0
    token = pseudonym("churn_analysis", subject)
    assert token.startswith("mzp2_") and where(warehouse, token) == []
    with open_warehouse(str(warehouse)) as wh:
        listed = wh.read("minimizer_audit", "suppressed_subjects")
    assert sorted(listed.key_version) == [1, 2]


def test_erasure_between_rotation_and_rekey_finds_the_old_schemes_tokens(
    warehouse, key_env, synth_sources, pseudonym
):
    # Version 1 (blake2b) tokens are in the warehouse, version 2 (aes-cmac) is current and
    # has made none yet: erasure must compute each live version's tokens with its own scheme.
    subject = busiest_customers(synth_sources, 1)[0]
    old = {p: subject_tokens(pseudonym, p, subject, 1) for p in SCHEMAS}
    assert all(where(warehouse, old[p]) for p in SCHEMAS)
    assert main(["keys", "rotate"]) == 0
    erase = ["erase", "--warehouse", str(warehouse), "--purposes-dir", str(PURPOSES)]
    assert main([*erase, "--subject-id", subject]) == 0
    assert all(where(warehouse, old[p]) == [] for p in SCHEMAS)
    new = {p: subject_tokens(pseudonym, p, subject, 2) for p in SCHEMAS}
    assert not any(new[p] & old[p] for p in SCHEMAS)
    with open_warehouse(str(warehouse)) as wh:
        listed = wh.read("minimizer_audit", "suppressed_subjects")
    assert sorted(set(listed.key_version)) == [1, 2]


def _forget(sources: Path, subject: str) -> None:
    with sqlite3.connect(sources / "crm.sqlite") as con:
        for name in ("orders", "web_profiles", "customers"):
            con.execute(f"DELETE FROM {name} WHERE customer_id = ?", [subject])


def test_tokens_the_sources_cannot_map_fail_the_rekey_and_change_nothing(
    warehouse, key_env, sources, pseudonym, capsys
):
    subject = busiest_customers(sources, 1)[0]
    _forget(sources, subject)  # gone from the CRM; the warehouse still holds their rows
    old = pseudonym("churn_analysis", subject)
    before = cells(warehouse)
    assert main(["keys", "rotate"]) == 0
    assert rekey(warehouse, sources) == 2
    err = capsys.readouterr().err
    assert "reason=unmapped_tokens" in err and "churn_analysis.customers" in err
    assert subject not in err
    assert cells(warehouse) == before

    assert rekey(warehouse, sources, "--delete-unmapped") == 0
    assert "unmapped, deleted" in capsys.readouterr().out
    assert tokens_of_version(warehouse, 1) == 0 and where(warehouse, old) == []
    # Their events are still in the event files: the mobility rows were mapped, not deleted.
    assert where(warehouse, subject_tokens(pseudonym, "mobility_research", subject)) == [
        "mobility_research.events"
    ]


def test_rekey_without_an_old_version_changes_nothing(warehouse, key_env, synth_sources):
    before = cells(warehouse)
    with open_warehouse(str(warehouse)) as wh:
        report = rekey_warehouse(
            wh, load_policies(PURPOSES), Sources.from_dir(synth_sources), key_env
        )
    assert report.from_versions == [] and report.updated == {}
    after = cells(warehouse)
    assert {k: v for k, v in after.items() if "audit" not in k} == {
        k: v for k, v in before.items() if "audit" not in k
    }


def test_the_mapping_is_made_by_the_policies_own_transforms(synth_sources, key_env, pseudonym):
    ring = KeyRing(masters=dict(key_env.masters), current=1)
    ring.rotate()
    mapping, keys = token_mapping(load_policies(PURPOSES), Sources.from_dir(synth_sources), ring)
    with sqlite3.connect(synth_sources / "crm.sqlite") as con:
        crm = set(pd.read_sql("SELECT customer_id FROM customers", con).customer_id)
    assert set(keys) >= crm
    churn = mapping["churn_analysis"].set_index("old").new
    assert len(churn) == len(crm)
    subject = sorted(crm)[0]
    assert churn[pseudonym("churn_analysis", subject, 1)].startswith("mzp2_")
    # One pair per subject and half day for the half-day-rotating traveller token.
    visits = mapping["mobility_research"]
    assert len(visits) > len(set(keys) - crm) and visits.old.is_unique
