"""Held-out probes of the red team (issue 9): formats and tricks beyond the issue's examples.

Three layers, each a parametrised case per probe:

- **kept** free text: the gate's detectors must flag the planted text (a flagged column fails
  its ``expect_column_values_to_not_contain_<kind>`` expectation, so the run exits 3);
- **scrubbed** free text: after ``scrub`` the value is gone, or the detectors still flag it;
- **end to end**, for what only the gate's canary sees (the row's own subject written another
  way, raw ids, hashes): one ``minimizer run`` through the CLI with one kept column per probe;
  it must exit 3, leave the warehouse byte-identical and write no planted value anywhere, and
  each probe's column must be among the gate's failures;
- **policy tricks**: ``minimizer policy check`` must refuse each with exit 2.

A probe that leaks today is ``xfail(strict=True)`` with the reason: the suite stays green and
the list shows what remains; a fix turns it into an XPASS, which fails, so the mark is removed.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from minimizer.pii import flag_all, scrub_text
from tests.attack import harness as h
from tests.attack.policy_tricks import TRICKS, Trick, identity_hierarchy
from tests.attack.probes import PROBES, ROW_PROBES, Probe, RowProbe

# -- what leaks today (probe id -> why), from running these probes on the tree ---------------
KEPT_LEAKS: dict[str, str] = {}
E2E_LEAKS: dict[str, str] = {}
# what the detectors miss, scrub cannot replace (normalisation strips U+200F before both now)
SCRUB_LEAKS: dict[str, str] = dict(KEPT_LEAKS)
POLICY_ACCEPTED: dict[str, str] = {}
# accepted on purpose (controls): within the documented limits
POLICY_CONTROLS = {"mask_email_width", "postcode_prefix_5", "coarsen_grid_lat_swapped"}
# the probes of the end-to-end run: the canary's, and three detector leaks seen end to end
E2E_DETECTOR = ("iban_letter_o", "bic_lower", "addr_plz_city")


def _mark(id_: str, leaks: dict[str, str]) -> list[pytest.MarkDecorator]:
    return [pytest.mark.xfail(strict=True, reason=f"leaks: {leaks[id_]}")] if id_ in leaks else []


def _cases(probes: list[Probe], leaks: dict[str, str]) -> list[object]:
    return [pytest.param(p, id=p.id, marks=_mark(p.id, leaks)) for p in probes]


def _flags(texts: list[str]) -> list[list[str]]:
    """Per text, the kinds the gate's detectors find (one batched call, as the gate does)."""
    found = flag_all(pd.Series(texts, dtype=object))
    return [[kind for kind, mask in found.items() if mask[i]] for i in range(len(texts))]


@pytest.fixture(scope="module")
def kept() -> dict[str, list[str]]:
    return dict(zip([p.id for p in PROBES], _flags([p.text for p in PROBES]), strict=True))


@pytest.fixture(scope="module")
def scrubbed() -> dict[str, tuple[str, list[str]]]:
    texts = pd.Series([p.text for p in PROBES], dtype=object)
    # as the scrub transform calls it: with the rows' own values (here names nobody wrote)
    own = [pd.Series(["Zzyzxqwv"] * len(texts), name="last_name")]
    out = scrub_text(texts, own).astype(str).tolist()
    return {p.id: (o, f) for p, o, f in zip(PROBES, out, _flags(out), strict=True)}


# -- kept and scrubbed free text -----------------------------------------------------------
@pytest.mark.parametrize("probe", _cases(PROBES, KEPT_LEAKS))
def test_a_kept_value_is_flagged_by_the_gate_detectors(
    probe: Probe, kept: dict[str, list[str]]
) -> None:
    assert kept[probe.id], "no detector flags it"


@pytest.mark.parametrize("probe", _cases(PROBES, SCRUB_LEAKS))
def test_a_scrubbed_value_is_gone_or_still_flagged(
    probe: Probe, scrubbed: dict[str, tuple[str, list[str]]]
) -> None:
    out, flags = scrubbed[probe.id]
    assert not h.reveals(out, probe.core) or flags


# -- end to end: one run, one kept column per probe ----------------------------------------
def _e2e_probes() -> list[tuple[str, RowProbe | Probe]]:
    probes: list[tuple[str, RowProbe | Probe]] = [
        (f"note_r{i:02d}", p) for i, p in enumerate(ROW_PROBES)
    ]
    by_id = {p.id: p for p in PROBES}
    probes += [(f"note_d{i:02d}", by_id[name]) for i, name in enumerate(E2E_DETECTOR)]
    return probes


@pytest.fixture(scope="module")
def e2e(tmp_path_factory: pytest.TempPathFactory) -> tuple[h.Outcome, dict[str, str], list[str]]:
    root = tmp_path_factory.mktemp("attack")
    sources = h.synth(root / "sources")
    frame = h.customers(sources)
    columns, cores, column_of = {}, [], {}
    for column, probe in _e2e_probes():
        make = probe.make if isinstance(probe, RowProbe) else probe.text
        columns[column] = h.planted(frame, make)
        core = h.planted(frame, probe.core)
        cores += [v for v in core if v and v != h.HARMLESS]
        column_of[probe.id] = column
    h.add_columns(sources, "customers", "customer_id", columns)
    actions = dict.fromkeys(columns, "keep")
    # tricks a detector must see in the content, as the names say nothing: exact GPS floats
    # and E.164 phones without "+" in numeric columns, and a raw id with its prefix swapped
    ids = frame["customer_id"]
    typed = {
        "REAL": {"pos_a": 52.520008 + frame.index / 1e6, "pos_b": 13.404954 + frame.index / 1e6},
        "INTEGER": {"kontakt": 4917612345678 + frame.index * 7919},
        "TEXT": {"kd_num": "KD" + ids.str[1:]},
    }
    for sql_type, extra in typed.items():
        h.add_columns(sources, "customers", "customer_id",
                      {c: pd.Series(list(v), index=ids.to_numpy()) for c, v in extra.items()},
                      sql_type)  # fmt: skip
        for c, v in extra.items():
            actions[c] = "keep"
            column_of[c] = c
            cores += [str(x) for x in v]
    # a hierarchy whose level 1 is the surname itself (single-word surnames, as most German
    # ones are: multi-word ones happen to be in the canary's whole-name digests)
    h.execute(
        sources, "UPDATE customers SET last_name = replace(replace(last_name, ' ', ''), '-', '')"
    )
    surnames = sorted(set(h.customers(sources)["last_name"]))
    (root / "policy").mkdir()
    (root / "policy" / "ln.csv").write_text("".join(f"{v};{v};*\n" for v in surnames))
    actions["grp"] = "{generalise: hierarchy, file: ln.csv, level: 1, source: last_name}"
    column_of["identity_hierarchy_surname"] = "grp"
    cores += surnames
    # policy check now refuses that level (it measures the file): an exception stated for it
    # lets it through, and the gate must still catch the surnames
    allow = (
        "    allow:\n      grp: {publishes: direct_identifier, "
        "reason: probe of the gate behind a stated exception}"
    )
    policy = h.write_policy(root / "policy", h.policy_text(actions, extra_source=allow))
    return h.run(policy, sources, root / "run"), column_of, cores


def test_the_probe_run_fails_closed_and_writes_no_planted_value(
    e2e: tuple[h.Outcome, dict[str, str], list[str]],
) -> None:
    outcome, _, cores = e2e
    assert outcome.code == 3, outcome.output[-2000:]
    assert outcome.warehouse_unchanged
    assert "leak gate failed, nothing loaded" in outcome.output
    assert not h.artefact_hits(outcome, cores)


_E2E_ALL = {**E2E_LEAKS, **{k: v for k, v in KEPT_LEAKS.items() if k in E2E_DETECTOR}}


@pytest.mark.parametrize(
    "probe_id",
    [
        pytest.param(i, id=i, marks=_mark(i, _E2E_ALL))
        for i in [p.id for _, p in _e2e_probes()]
        + ["pos_a", "pos_b", "kontakt", "kd_num", "identity_hierarchy_surname"]
    ],
)
def test_each_kept_probe_column_fails_the_gate(
    probe_id: str, e2e: tuple[h.Outcome, dict[str, str], list[str]]
) -> None:
    outcome, column_of, _ = e2e
    assert column_of[probe_id] in outcome.flagged()


# -- policy tricks -------------------------------------------------------------------------
def _hierarchy_tricks(root: Path) -> list[Trick]:
    h.synth(root / "hsrc", customers=20)
    with sqlite3.connect(root / "hsrc" / "crm.sqlite") as con:
        out = []
        for column in ("last_name", "customer_id"):
            values = [r[0] for r in con.execute(f"SELECT {column} FROM customers")]
            out.append(identity_hierarchy(root / f"identity_hierarchy_{column}", values, column))
    return out


_TRICK_IDS = [t.id for t in TRICKS] + ["identity_hierarchy_last_name",
                                       "identity_hierarchy_customer_id"]  # fmt: skip


@pytest.fixture(scope="module")
def tricks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tricks")
    out = {}
    for trick in [*TRICKS, *_hierarchy_tricks(root)]:
        directory = root / trick.id
        directory.mkdir(exist_ok=True)
        out[trick.id] = h.write_policy(directory, trick.text)
    return out


@pytest.mark.parametrize(
    "trick_id",
    [
        pytest.param(t, id=t, marks=_mark(t, POLICY_ACCEPTED))
        for t in _TRICK_IDS
        if t not in POLICY_CONTROLS
    ],
)
def test_policy_check_refuses_the_trick_with_file_and_line(
    trick_id: str, tricks: dict[str, Path]
) -> None:
    code, output = h.cli(["policy", "check", str(tricks[trick_id])])
    assert code == 2, output
    assert f"{tricks[trick_id]}:" in output
    assert "Traceback" not in output and "CRASH" not in output


@pytest.mark.parametrize("trick_id", sorted(POLICY_CONTROLS))
def test_policy_check_accepts_what_is_within_the_limits(
    trick_id: str, tricks: dict[str, Path]
) -> None:
    code, output = h.cli(["policy", "check", str(tricks[trick_id])])
    assert code == 0, output
