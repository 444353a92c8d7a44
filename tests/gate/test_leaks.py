"""Planted leaks: each one makes ``minimizer run`` exit 3 and leaves the warehouse as it was.

One probe purpose (tests/gate/probe.py) scrubs or drops every planted column and passes; each
leak case switches one column to ``keep`` (or keeps a raw identifier) and must fail closed,
naming table, column and expectation, with counts and without the planted value.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import TEST_MASTER_B64
from tests.gate.probe import (
    IBAN_TEXT,
    PLANTED,
    contents,
    policy_text,
    probe_sources,
    run_cli,
    write_policy,
)


@dataclass(frozen=True)
class Baseline:
    sources: Path
    warehouse: Path
    artifacts: Path
    contents: dict[str, pd.DataFrame]
    output: str


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory, synth_sources: Path) -> Baseline:
    """The planted sources run once under the correct probe policy: this run must pass."""
    root = tmp_path_factory.mktemp("leaks")
    sources = probe_sources(synth_sources, root / "sources")
    policy = write_policy(root / "correct", policy_text({}))
    warehouse, artifacts = root / "base.duckdb", root / "artifacts"
    out = io.StringIO()
    with (
        pytest.MonkeyPatch.context() as mp,
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(out),
    ):
        mp.setenv("MINIMIZER_MASTER_KEY", TEST_MASTER_B64)
        code = run_cli(policy, sources, warehouse, artifacts)
    assert code == 0, out.getvalue()
    return Baseline(sources, warehouse, artifacts, contents(warehouse), out.getvalue())


@dataclass(frozen=True)
class Leak:
    case: str
    customers: dict[str, str] = field(default_factory=dict)
    orders: dict[str, str] = field(default_factory=dict)
    allow: dict[str, str] = field(default_factory=dict)
    table: str = "customers"
    column: str = ""
    expectation: str = ""
    planted: str = ""


def _pii(kind: str) -> str:
    return f"expect_column_values_to_not_contain_{kind}"


LEAKS = [
    Leak("an e-mail in a kept notes column", {"note_email": "keep"}, column="note_email",
         expectation=_pii("email"), planted=PLANTED["note_email"]),
    Leak("a phone number in kept free text", {"note_phone": "keep"}, column="note_phone",
         expectation=_pii("phone"), planted=PLANTED["note_phone"]),
    Leak("an IBAN in a kept payment reference", orders={"payment_reference": "keep"},
         table="orders", column="payment_reference", expectation=_pii("iban"), planted=IBAN_TEXT),
    Leak("a card number in kept text", {"note_card": "keep"}, column="note_card",
         expectation=_pii("card"), planted=PLANTED["note_card"]),
    Leak("an IPv6 address in kept text", {"note_ipv6": "keep"}, column="note_ipv6",
         expectation=_pii("ipv6"), planted=PLANTED["note_ipv6"]),
    Leak("an IPv4 address in kept text", {"note_ipv4": "keep"}, column="note_ipv4",
         expectation=_pii("ipv4"), planted=PLANTED["note_ipv4"]),
    Leak("coordinates with 6 decimals in a kept string column", {"note_coords": "keep"},
         column="note_coords", expectation=_pii("precise_coordinates"),
         planted=PLANTED["note_coords"]),
    Leak("a street address in kept text", {"note_address": "keep"}, column="note_address",
         expectation=_pii("street_address"), planted=PLANTED["note_address"]),
    Leak("an exact date of birth in kept text", {"note_birth": "keep"}, column="note_birth",
         expectation=_pii("birth_date"), planted=PLANTED["note_birth"]),
    Leak("a raw customer_id in a kept column named ref", {"ref": "keep"}, column="ref",
         expectation="expect_column_values_to_not_be_raw_identifiers"),
    Leak("a policy that keeps email, excepted with a reason", {"email": "keep"}, column="email",
         expectation=_pii("email"), allow={"email": "direct_identifier"}),
    Leak("the customer's own name in free text kept unscrubbed", {"note_name": "keep"},
         column="note_name", expectation="expect_column_values_to_not_contain_own_names"),
    Leak("free-text notes kept instead of scrubbed", {"notes": "keep"}, column="notes",
         expectation="expect_column_values_to_not_contain_own_names"),
]  # fmt: skip


def _raw(sources: Path, table: str, column: str) -> list[str]:
    with sqlite3.connect(sources / "crm.sqlite") as con:
        rows = con.execute(f"SELECT DISTINCT {column} FROM {table} WHERE {column} IS NOT NULL")
        return [str(r[0]) for r in rows]


def _last_run(artifacts: Path) -> dict[str, object]:
    return json.loads((artifacts / "runs.jsonl").read_text().splitlines()[-1])


def test_the_correct_policy_passes_over_the_same_planted_data(baseline: Baseline) -> None:
    run = _last_run(baseline.artifacts)
    assert run["status"] == "loaded"
    gate = run["details"]["gate"]
    assert gate["success"] and gate["failed"] == 0 and gate["evaluated"] > 100
    assert set(baseline.contents) >= {"leak_probe.customers", "leak_probe.orders"}
    # the scrubber removed every planted value from the text it published
    customers = baseline.contents["leak_probe.customers"]
    for column, text in PLANTED.items():
        assert not customers[column].str.contains(text, regex=False).any(), column


@pytest.mark.parametrize("leak", LEAKS, ids=[leak.case for leak in LEAKS])
def test_a_planted_leak_exits_3_and_loads_nothing(
    leak: Leak, baseline: Baseline, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    warehouse = tmp_path / "w.duckdb"
    shutil.copy(baseline.warehouse, warehouse)
    policy = write_policy(tmp_path / "leaky", policy_text(leak.customers, leak.orders, leak.allow))
    artifacts = tmp_path / "artifacts"

    assert run_cli(policy, baseline.sources, warehouse, artifacts) == 3

    after = contents(warehouse)
    assert after.keys() == baseline.contents.keys()
    for name, frame in baseline.contents.items():
        pd.testing.assert_frame_equal(frame, after[name])
    run = _last_run(artifacts)
    assert run["status"] == "failed"
    failures = run["details"]["gate"]["failures"]
    assert any(
        f["table"] == leak.table
        and f["column"] == leak.column
        and f["expectation"] == leak.expectation
        and f["unexpected_count"] > 0
        for f in failures
    ), failures
    err = capsys.readouterr().err
    assert "leak gate failed, nothing loaded" in err
    first = failures[0]
    assert f"{first['table']}.{first['column']}: {first['expectation']}" in err
    assert f"unexpected_count={first['unexpected_count']}" in err
    planted = [leak.planted] if leak.planted else _raw(baseline.sources, leak.table, leak.column)
    assert not [value for value in planted if value in err]
    assert not (artifacts / "rejected").exists()


def test_a_drifted_column_of_emails_is_dropped_reported_and_passes(baseline: Baseline) -> None:
    run = _last_run(baseline.artifacts)
    assert run["schema_drift"]["customers"] == ["contact_email"]
    # the printed run table has a "schema drift" column naming it (and the log a warning)
    assert "schema drift" in baseline.output and "contact_email" in baseline.output
    customers = baseline.contents["leak_probe.customers"]
    assert "contact_email" not in customers.columns
    emails = set(_raw(baseline.sources, "customers", "contact_email"))
    cells = {str(v) for frame in baseline.contents.values() for v in frame.to_numpy().ravel()}
    assert emails and not emails & cells
