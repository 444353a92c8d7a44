"""Data-subject rights on an aggregate-only purpose: its table names no subject, so erasure has
nothing to delete there, says so, never crashes and never re-releases (it spends no ε); the
suppression list keeps the erased subject out of every later release. Re-keying leaves it
alone."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from minimizer.aggregate.ledger import LEDGER_KEY
from minimizer.cli import main
from minimizer.flow import Steps, run_purpose
from minimizer.io.warehouse import open_warehouse
from minimizer.keys import KeyRing
from minimizer.pipeline import Sources
from minimizer.policy import load_policy
from minimizer.rights.targets import (
    NO_SUBJECT,
    aggregate_tables,
    pseudonym_columns,
    subject_columns,
)
from tests.conftest import AS_OF, TEST_MASTER

ROOT = Path(__file__).resolve().parents[2]
FOOTFALL = ROOT / "configs" / "purposes" / "footfall_heatmap.yaml"


def test_an_aggregate_source_has_no_subject_column_to_reach():
    policy = load_policy(FOOTFALL)
    assert subject_columns([policy]) == []
    assert pseudonym_columns([policy]) == []
    assert aggregate_tables([policy]) == {"footfall_heatmap.events": NO_SUBJECT}


@pytest.fixture
def loaded(tmp_path: Path, synth_sources: Path, monkeypatch: pytest.MonkeyPatch):
    ring = KeyRing(masters={1: TEST_MASTER}, current=1)
    ring.save(tmp_path / "keys" / "keys.json")
    monkeypatch.setenv("MINIMIZER_KEY_FILE", str(ring.path))
    monkeypatch.setenv("MINIMIZER_SUBJECT_KEYSTORE", str(tmp_path / "keys" / "subjects.sqlite"))
    purposes = tmp_path / "purposes"
    purposes.mkdir()
    shutil.copy(FOOTFALL, purposes / FOOTFALL.name)
    warehouse = tmp_path / "w.duckdb"
    with open_warehouse(str(warehouse)) as wh:
        report = run_purpose(
            load_policy(purposes / FOOTFALL.name),
            Sources.from_dir(synth_sources),
            wh,
            ring,
            as_of=AS_OF,
        )
    assert report.status == "loaded"
    return warehouse, purposes


def test_erasure_deletes_nothing_from_an_aggregate_says_so_and_records_the_subject(
    loaded, synth_sources, capsys
):
    warehouse, purposes = loaded
    with sqlite3.connect(synth_sources / "crm.sqlite") as con:
        subject = con.execute("SELECT customer_id FROM customers ORDER BY 1 LIMIT 1").fetchone()[0]
    with open_warehouse(str(warehouse)) as wh:
        before = wh.read("footfall_heatmap", "events")
    assert set(before.columns) == {"cell", "hour", "events", "distinct_subjects"}
    capsys.readouterr()
    args = [
        "erase",
        "--warehouse",
        str(warehouse),
        "--purposes-dir",
        str(purposes),
        "--subject-id",
        subject,
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"footfall_heatmap.events: {NO_SUBJECT}" in " ".join(out.split())
    assert subject not in out
    with open_warehouse(str(warehouse)) as wh:
        after = wh.read("footfall_heatmap", "events")
        erasures = wh.read("minimizer_audit", "erasures")
    pd.testing.assert_frame_equal(before, after)  # counts: nothing of anyone to delete
    assert len(erasures) == 1  # still recorded and suppressed: the next load leaves them out


def test_erasure_spends_nothing_and_the_suppression_list_keeps_the_subject_out_after(
    loaded, synth_sources, capsys
):
    """Erasure re-releases nothing (dp already bounds what the stored counts say about any one
    visitor-day): no run, no spend. The next run leaves the erased subject out; a day whose true
    counts that changes is a fresh release (ε spent again), the others are re-published."""
    warehouse, purposes = loaded
    events = pd.concat(
        pd.read_parquet(f).assign(day=f.parent.name.removeprefix("date="))
        for f in sorted((synth_sources / "events").glob("date=*/*.parquet"))
    )
    placed = events.dropna(subset=["lat", "lon"])
    days_of = placed.groupby("customer_id").day.nunique()
    subject = sorted(days_of[days_of == 1].index)[0]  # someone seen on one day only
    their_day = placed[placed.customer_id == subject].day.iloc[0]
    with open_warehouse(str(warehouse)) as wh:
        runs_before = wh.audit_runs("footfall_heatmap")
    first = runs_before.run_id.iloc[0]
    args = ["erase", "--warehouse", str(warehouse), "--purposes-dir", str(purposes)]
    assert main([*args, "--subject-id", subject]) == 0
    capsys.readouterr()
    with open_warehouse(str(warehouse)) as wh:
        runs_after = wh.audit_runs("footfall_heatmap")
    pd.testing.assert_frame_equal(runs_before, runs_after)  # the erasure spent nothing

    ring = KeyRing(masters={1: TEST_MASTER}, current=1)
    with open_warehouse(str(warehouse)) as wh:
        report = run_purpose(
            load_policy(purposes / FOOTFALL.name),
            Sources.from_dir(synth_sources),
            wh,
            ring,
            as_of=AS_OF,
            steps=Steps(suppression=True, guarantees=False, gate=False),
        )
    assert report.sources["events"].excluded == int((events.customer_id == subject).sum()) > 0
    ledger = report.guarantees[LEDGER_KEY]
    assert ledger["days"] == {their_day: 0.5}  # only the day the erasure changed
    assert set(ledger["republished"]) == {d for d in events.day.unique() if d != their_day}
    assert set(ledger["republished"].values()) == {first}
