"""German numbers beyond the Steuer-ID (issue 9 held-out probes), and the SV-Nummer's epochs.

Steuernummer, KVNR, Führerschein and Kfz-Kennzeichen are found where people write them; the
check digits refuse one wrong digit; epoch seconds are not Austrian SV-Nummern.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from minimizer.pii import DETECTORS, scrub_text
from minimizer.pii.detect import flag_all
from minimizer.pii.national_ids import fuehrerschein_valid, kvnr_valid, svnr_valid
from minimizer.pii.registry import AnyOf

FOUND = [
    "St.-Nr. 21/815/08150", "21/815/08150", "181/815/08155", "133/8150/8159",
    "Steuernummer: 013 815 08153", "StNr 2181508150",
    "KVNR A123456780", "Versichertennummer: A 123456780", "KV-Nr. A123456780",
    "Führerschein B072RRE2I55", "Fuehrerscheinnummer: B072RRE2I55", "FS-Nr. B072RRE2I55",
    "B-MW 1234", "Fahrzeug M-AB 12E", "HH-XY 99H", "Kennzeichen B MW 1234",
    "1237 010180", "1237010180",
]  # fmt: skip

NOT_FOUND = [
    "KVNR A123456781",  # wrong check digit
    "A123456780",  # no label: the shape of an order number
    "Führerschein B072RRE2I45",  # wrong check character
    "B072RRE2I55",  # no label
    "USB-C 3", "DVB-T 2", "CD-ROM 2", "XY-AB 12",  # no such district
    "12/03/2024", "INV/2024/0042", "1/2/3",
    "1237 310280",  # check digit right, 31 February is no birthday
]  # fmt: skip


def _national(texts: list[str]) -> list[bool]:
    found = flag_all(pd.Series(texts, dtype=object), ["national_id"])["national_id"]
    return [bool(f) for f in found]


@pytest.mark.parametrize("text", FOUND)
def test_number_is_found(text: str) -> None:
    assert _national([text]) == [True]


@pytest.mark.parametrize("text", NOT_FOUND)
def test_lookalike_is_not_found(text: str) -> None:
    assert _national([text]) == [False]


def test_check_digits() -> None:
    assert kvnr_valid("A123456780") and not kvnr_valid("B123456780")
    assert fuehrerschein_valid("B072RRE2I55") and not fuehrerschein_valid("B072RRE2J55")
    assert svnr_valid("1237 010180") and not svnr_valid("1237 011380")  # month 13


def test_epoch_seconds_are_rarely_svnr() -> None:
    # ten-digit epoch seconds pass the SV-Nummer check digit one time in 11; with the
    # birth-date test about one in 300 (issue 9: <= 0.1 % of a bench's mixed values)
    rng = np.random.default_rng(11)
    start = int(datetime(2022, 1, 1, tzinfo=UTC).timestamp())
    seconds = pd.Series((start + rng.integers(0, 4 * 365 * 86400, 20_000)).astype(str))
    rate = np.mean(_national(seconds.tolist()))
    assert rate < 0.006


def test_numbers_are_scrubbed_whole() -> None:
    texts = pd.Series(["St.-Nr. 21/815/08150 ok", "KVNR A123456780", "Auto B-MW 1234 weg"])
    out = scrub_text(texts, names=False).tolist()
    assert out == ["St.-Nr. [ID] ok", "[ID]", "Auto [ID] weg"]


def test_union_prefilter_off_flags_the_same() -> None:
    # national_id skips the union pass of its forms' hints (speed); the answers must not change
    kind = DETECTORS["national_id"]
    assert isinstance(kind, AnyOf)
    texts = pd.Series(FOUND + NOT_FOUND + [f"Auftrag {i:010d}" for i in range(400)], dtype=object)
    with_union = replace(kind, union_prefilter=True)
    assert kind.flag(texts).tolist() == with_union.flag(texts).tolist()
