"""The tricks of issue 9 through ``minimizer run``: exit 3, warehouse unchanged, no trace.

A CRM of 10,000 customers; ``web_profiles`` holds rows of half of them only. The purpose has
no ``identifying:`` and reads no name, phone or e-mail column: what the gate knows of names,
phones and ids comes from the CRM's customers table, read by the canary itself. Each case
plants values into a kept, a scrubbed, a masked and a prefixed column (or into
``web_profiles``), in 1 row of 10,000 or in 49% of rows; the run must exit 3 naming every
planted column, the warehouse file must be byte-identical, and no planted value, in any of
its obvious forms, may appear in any file of the artefacts or the warehouse.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil
import sqlite3
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from minimizer.cli import main
from tests.conftest import AS_OF, TEST_MASTER_B64

N = 10_000
HARMLESS = "Prefers evening delivery."
FIRST = np.array(["Anna-Lena", "Hans-Jörg", "Eva-Maria", "Karl-Heinz", "Jan-Erik"])
LAST = np.array(["Börner", "Dörr", "Müller", "Weiß", "Öztürk", "Jäger", "Schäfer", "Kühn"])
POLICY = """\
purpose: canary_probe
description: Probe of the cross-source canary with planted values.
legal_basis: legitimate_interest
owner: gate-tests
retention: 3650d
sources:
  customers:
    key: customer_id
    columns:
      customer_id: pseudonymise
      channel: keep
      notes: scrub
      comment_head: {mask: first, n: 12, source: comment}
      remark_head: {generalise: prefix, source: remark, keep: 32}
  web_profiles:
    key: customer_id
    columns:
      customer_id: pseudonymise
      comment: keep
      interests: keep
"""
RAW_IDS = "expect_column_values_to_not_be_raw_identifiers"
OWN = "expect_column_values_to_not_contain_own_names"


def _customers() -> pd.DataFrame:
    i = np.arange(N)
    return pd.DataFrame(
        {
            "customer_id": [f"C{k:09d}X" for k in range(N)],
            "first_name": FIRST[i % len(FIRST)],
            "last_name": LAST[(i // len(FIRST)) % len(LAST)],
            "email": [f"kd.{k:05d}.mail@example.org" for k in range(N)],
            "phone": [f"+49 30 {7_000_000 + k}" for k in range(N)],
            "channel": np.array(["web", "app", "store"])[i % 3],
            "notes": HARMLESS,
            "comment": "Leave it at the door.",
            "remark": "Ring twice.",
        }
    )


def _profiles(customers: pd.DataFrame) -> pd.DataFrame:
    even = customers.iloc[::2]  # odd-numbered customers have no web profile
    return pd.DataFrame(
        {"customer_id": even["customer_id"], "comment": "Likes gardening.", "interests": "garden"}
    )


@dataclass(frozen=True)
class World:
    root: Path
    customers: pd.DataFrame
    warehouse: Path
    digest: str


def _write(sources: Path, customers: pd.DataFrame, profiles: pd.DataFrame) -> None:
    sources.mkdir(parents=True, exist_ok=True)
    (sources / "events").mkdir(exist_ok=True)
    with sqlite3.connect(sources / "crm.sqlite") as con:
        customers.to_sql("customers", con, index=False, if_exists="replace")
        profiles.to_sql("web_profiles", con, index=False, if_exists="replace")


def _run(sources: Path, warehouse: Path, artifacts: Path, policy: Path) -> tuple[int, str]:
    out = io.StringIO()
    with (
        pytest.MonkeyPatch.context() as mp,
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(out),
    ):
        mp.setenv("MINIMIZER_MASTER_KEY", TEST_MASTER_B64)
        code = main(
            ["run", str(policy), "--sources", str(sources), "--warehouse", str(warehouse),
             "--artifacts", str(artifacts), "--as-of", AS_OF.isoformat()]
        )  # fmt: skip
    return code, out.getvalue()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("canary_e2e")
    customers = _customers()
    _write(root / "clean", customers, _profiles(customers))
    (root / "canary_probe.yaml").write_text(POLICY)
    warehouse = root / "w.duckdb"
    code, out = _run(root / "clean", warehouse, root / "base_artifacts", root / "canary_probe.yaml")
    assert code == 0, out
    return World(root, customers, warehouse, _sha(warehouse))


def _translit(s: pd.Series) -> pd.Series:
    for a, b in (("ö", "oe"), ("ü", "ue"), ("ä", "ae"), ("ß", "ss"), ("Ö", "Oe")):
        s = s.str.replace(a, b, regex=False)
    return s


def _nfd(s: pd.Series) -> pd.Series:
    return s.map(lambda v: unicodedata.normalize("NFD", v))


def _zero_width(s: pd.Series) -> pd.Series:
    return s.str[:2] + "\u200b" + s.str[2:]


def _hyphen_part(c: pd.DataFrame) -> pd.Series:
    return c["first_name"].str.split("-").str[1]


def _local_part(c: pd.DataFrame) -> pd.Series:
    return c["email"].str.split("@").str[0]


def _glued_id(c: pd.DataFrame) -> pd.Series:
    return "Kd-Nr.:" + c["customer_id"]


Plant = Callable[[pd.DataFrame], pd.Series]


@dataclass(frozen=True)
class Case:
    name: str
    rows: int
    # customers column -> (planted value per customer, sentence template)
    plants: dict[str, tuple[Plant, str]]
    expected: tuple[tuple[str, str, str], ...]  # (table, output column, expectation)


CASES = [
    Case(
        "1 row of 10,000",
        1,
        {
            "channel": (lambda c: _translit(c["last_name"]), "{}"),
            "notes": (_glued_id, "Rückruf erbeten, {} wegen Paket"),
            "comment": (lambda c: _zero_width(c["last_name"]) + "s", "{} Lieferung kam an"),
            "remark": (_hyphen_part, "{}"),
        },
        (
            ("customers", "channel", OWN),
            ("customers", "notes", RAW_IDS),
            ("customers", "comment_head", OWN),
            ("customers", "remark_head", OWN),
        ),
    ),
    Case(
        "49% of rows",
        int(N * 0.49),
        {
            "channel": (_local_part, "{}"),
            "notes": (_local_part, "Mail an {} ging zurück"),
            "comment": (lambda c: _nfd(c["last_name"]), "{}"),
            "remark": (lambda c: _translit(c["last_name"]), "{} hat angerufen"),
        },
        (
            ("customers", "channel", OWN),
            ("customers", "notes", OWN),
            ("customers", "comment_head", OWN),
            ("customers", "remark_head", OWN),
        ),
    ),
]


def _forms(value: str) -> set[str]:
    """A planted value and its obvious forms, as anyone grepping for it would try them."""
    nfc = unicodedata.normalize("NFKC", value).replace("\u200b", "")
    forms = {value, nfc, nfc.lower(), nfc.casefold(), "".join(ch for ch in nfc if ch.isalnum())}
    return {f for f in forms if len(f) >= 4}


_SEARCHED = 400  # planted values searched for byte by byte (all of them, up to this many)


def _assert_no_trace(values: set[str], *places: Path) -> None:
    # 49% of 10,000 rows plant thousands of values; a fixed sample keeps the search in seconds
    ordered = sorted(values)
    sample = ordered if len(ordered) <= _SEARCHED else ordered[:: len(ordered) // _SEARCHED]
    needles = {f.encode() for v in sample for f in _forms(v)}
    for place in places:
        files = [place] if place.is_file() else [p for p in place.rglob("*") if p.is_file()]
        for file in files:
            data = file.read_bytes()
            lowered = data.lower()
            found = [n for n in needles if n in data or n.lower() in lowered]
            assert not found, f"{len(found)} planted value(s) in {file.name}"


def _failures(artifacts: Path) -> list[dict[str, object]]:
    run = json.loads((artifacts / "runs.jsonl").read_text().splitlines()[-1])
    assert run["status"] == "failed"
    return list(run["details"]["gate"]["failures"])


def _check(world: World, case: str, sources: Path, expected: tuple[tuple[str, str, str], ...],
           planted: set[str], tmp: Path) -> None:  # fmt: skip
    warehouse = tmp / "w.duckdb"
    shutil.copy(world.warehouse, warehouse)
    artifacts = tmp / "artifacts"
    code, out = _run(sources, warehouse, artifacts, world.root / "canary_probe.yaml")
    assert code == 3, (case, out[-2000:])
    assert _sha(warehouse) == world.digest  # byte-identical: nothing was loaded
    failures = _failures(artifacts)
    for table, column, expectation in expected:
        assert any(
            f["table"] == table
            and f["column"] == column
            and f["expectation"] == expectation
            and int(f["unexpected_count"]) > 0  # type: ignore[call-overload]
            for f in failures
        ), (table, column, expectation, failures)
    _assert_no_trace(planted, artifacts, warehouse)
    assert not [v for v in planted for f in _forms(v) if f in out]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_own_subject_written_another_way_fails_every_column(
    case: Case, world: World, tmp_path: Path
) -> None:
    customers = world.customers.copy()
    rows = np.random.default_rng(3).choice(N, case.rows, replace=False)
    planted: set[str] = set()
    for column, (make, sentence) in case.plants.items():
        values = make(world.customers).map(sentence.format)
        customers.loc[rows, column] = values.iloc[rows].to_numpy()
        planted |= set(make(world.customers).iloc[rows])
    _write(tmp_path / "sources", customers, _profiles(world.customers))
    _check(world, case.name, tmp_path / "sources", case.expected, planted, tmp_path)


def test_raw_values_from_the_crm_planted_in_another_source_fail(
    world: World, tmp_path: Path
) -> None:
    """A customer's phone in another notation, and the id of a customer who has no row in
    web_profiles, planted there: the purpose reads neither phones nor that customer."""
    profiles = _profiles(world.customers).reset_index(drop=True)
    phone = str(world.customers.loc[8, "phone"])  # "+49 30 7000008"
    national = "030 - " + phone[7:10] + " " + phone[10:12] + " " + phone[12:]
    absent = str(world.customers.loc[7, "customer_id"])  # odd: no web profile
    profiles.loc[10, "comment"] = f"Rückruf unter {national} erbeten"
    profiles.loc[20, "interests"] = absent
    _write(tmp_path / "sources", world.customers, profiles)
    expected = (("web_profiles", "comment", RAW_IDS), ("web_profiles", "interests", RAW_IDS))
    _check(world, "cross-source", tmp_path / "sources", expected, {national, absent, phone},
           tmp_path)  # fmt: skip
