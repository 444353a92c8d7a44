"""Street addresses without a street word, postcode lines, UK postcodes (issue 9).

The presidio-evaluator people table holds Austrian, Swiss and Dutch addresses that are a place
name and a number ("Gralla 30"); these are found as whole values or behind an address cue,
while "<everyday word> <number>" (a model, a room, a level) is not an address.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from minimizer.pii import DETECTORS, scrub_text
from minimizer.pii.addresses import is_vocabulary_word
from minimizer.pii.detect import flag_all

ADDRESSES = [
    # bare place + number, as an address column holds them
    "Gralla 30", "Quadra 106", "Spinatsch 94", "Carneool 88", "Vlimmeren 84", "Gunzing 9",
    "Kimpling 41", "Grüne Lagune 79", "Krummnussbaum Dub 37", "Tjalling Harkeswei 125",
    "Hedemannstasse 55", "Gewerbepark 45", "Bachloh 60a", "Mariatal 2/3", "de Carneool 88",
    # behind a cue, or with the postcode line after it
    "Anschrift: Kimpling 41", "Lieferadresse Quadra 106", "Bachloh 60, 4421 Aschach",
    # German type first
    "Platz der Republik 1", "Straße des 17. Juni 135", "Allee der Kosmonauten 28",
    # postcode lines
    "10117 Berlin", "Hauptstraße 5, 10117 Berlin", "D-10117 Berlin", "A-1010 Wien",
    "Marktgasse 3, 3011 Bern", "1012 AB Amsterdam", "75008 Paris", "60311 Frankfurt am Main",
    "PLZ 10117 Berlin", "Anschrift: 10117 Berlin", "CH-1950 Sion",
    # UK postcodes
    "London SW1A 1AA", "EC1A 1BB", "Flat 4, Smith Road, M1 1AE", "B33 8TH", "GIR 0AA",
]  # fmt: skip

NOT_ADDRESSES = [
    "Room 12", "Route 66", "Laufschuh Modell 12", "Running Shoe Model 12",
    "Gartenschere Profi 12", "Engineering 101", "Offering 2", "Monitoring 3", "Firewall 2",
    "Ranger 3", "Windows 11", "Level 5", "Gold 3", "Team Anna 3", "Hotel Adlon 1",
    "Kapitel 12", "Agent 007", "Spring 2024", "Bio Vollmilch 12L", "Câble USB-C 2m",
    "iPhone 15 Pro", "Galaxy S23 Ultra", "Seite 2 von 5", "Zimmer 101",
    # numbers and unit words: not postcode lines
    "12000 Besucher", "25000 Euro", "Umsatz, 15000 Euro", "2024-03-01", "KD-12345",
    "Lieferung: 2024 Sommer", "Besucher: 12000 Menschen",
    # a sentence is not a bare line
    "Wir liefern Paket 12", "Kunde kam um Quadra 106 vorbei",
    # UK-looking codes without an inward part, IBANs, VAT ids
    "GB29 NWBK 6016 1331 9268 19", "Wireless Mouse M12", "GB123 4567 89",
]  # fmt: skip


def _street(texts: list[str]) -> list[bool]:
    found = flag_all(pd.Series(texts, dtype=object), ["street_address"])["street_address"]
    return [bool(f) for f in found]


@pytest.mark.parametrize("text", ADDRESSES)
def test_address_is_found(text: str) -> None:
    assert _street([text]) == [True]


@pytest.mark.parametrize("text", NOT_ADDRESSES)
def test_everyday_value_is_not_an_address(text: str) -> None:
    assert _street([text]) == [False]


def test_batched_equals_one_by_one() -> None:
    # the RE2 hints only run on batches above SMALL_BATCH: pad the batch past it
    texts = ADDRESSES + NOT_ADDRESSES + [f"filler {i}x" for i in range(400)]
    batched = _street(texts)
    assert batched[: len(ADDRESSES)] == [True] * len(ADDRESSES)
    assert not any(batched[len(ADDRESSES) :])
    assert DETECTORS["street_address"].flag(pd.Series(texts, dtype=object)).tolist() == batched


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Gralla 30", "[ADDRESS]"),
        ("Hauptstraße 5, 10117 Berlin", "[ADDRESS], [ADDRESS]"),
        ("Paket an London SW1A 1AA", "Paket an London [ADDRESS]"),
        ("Anschrift: Kimpling 41, danke", "[ADDRESS], danke"),
    ],
)
def test_address_is_scrubbed(text: str, expected: str) -> None:
    assert scrub_text(pd.Series([text], dtype=object), names=False).tolist() == [expected]


@pytest.mark.parametrize(
    ("word", "vocabulary"),
    [("Room", True), ("Offering", True), ("Rooms", True), ("Ranger", True),
     ("Gunzing", False), ("Gralla", False), ("Carneool", False), ("Quadra", False)],
)  # fmt: skip
def test_vocabulary_words(word: str, vocabulary: bool) -> None:
    assert is_vocabulary_word(word) is vocabulary


def test_every_span_of_every_form_contains_its_hint() -> None:
    # the hints of the address forms are written by hand (cheaper RE2 than the forms' own)
    texts = ADDRESSES + NOT_ADDRESSES + [f"Paket {t} bitte" for t in ADDRESSES]
    for form in DETECTORS["street_address"].forms:  # type: ignore[union-attr]
        spans = [m.group(0) for t in texts for m in form.pattern.finditer(t)]
        if spans:
            hits = pc.match_substring_regex(pa.array(spans, type=pa.large_string()), form.hint)
            assert all(hits.to_pylist()), (form.name, spans)
