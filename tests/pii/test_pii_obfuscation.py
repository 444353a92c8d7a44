"""Obfuscated and look-alike forms of PII: what normalisation undoes, and what it must leave.

The attacker's side: HTML entities, nested URL escapes, bidi marks, Cyrillic look-alikes,
base64, letters spaced out, zero-padded or lower-case forms of exact formats. The defender's
side: none of it may turn ordinary text (a Russian sentence, a camel-case product name, a
hex token, a list of numbers) into a finding.
"""

from __future__ import annotations

import base64
import hashlib

import pandas as pd
import pytest

from minimizer.pii import flag_all, scrub_text
from minimizer.pii.normalisation import _MAX_BASE64, normalise, normalise_one
from minimizer.pii.own_values import hash_forms, value_variants


def _kinds(text: str) -> list[str]:
    return [kind for kind, mask in flag_all(pd.Series([text], dtype=object)).items() if mask[0]]


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# --- normalisation ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("max&#64;web.de", "max@web.de"),  # numeric entity
        ("max&#x40;web.de", "max@web.de"),  # hex entity
        ("max&commat;web.de", "max@web.de"),  # named entity
        ("f&uuml;r", "für"),
        ("max%2540web.de", "max@web.de"),  # URL-encoded twice
        ("max%252540web.de", "max@web.de"),  # three times
        ("max&#37;40web.de", "max@web.de"),  # an entity that is an escape
        ("m\u0430x@web.de", "max@web.de"),  # Cyrillic а in a Latin word
        ("B\u0435rg", "Berg"),  # Cyrillic е
        ("\u0412\u0435rg", "Berg"),  # Cyrillic capital В and е
        ("+49 3\u041e 123", "+49 3O 123"),  # Cyrillic О between digits: the Latin letter
        (_b64("max@web.de"), "max@web.de"),
        ("ref " + _b64("anna.berg@example.org") + " ok", "ref anna.berg@example.org ok"),
    ],
)
def test_normalise_undoes_the_disguise(raw: str, normal: str) -> None:
    assert normalise(pd.Series([raw], dtype=object)).tolist() == [normal]
    assert normalise_one(raw) == normal


@pytest.mark.parametrize(
    "mark", ["\u200e", "\u200f", "\u061c", *map(chr, range(0x202A, 0x202F)), "\u2066", "\u2069"]
)
def test_every_bidi_control_is_removed(mark: str) -> None:
    assert normalise_one(f"max{mark}@web{mark}.de") == "max@web.de"
    assert _kinds(f"max{mark}@web.de") == ["email"]


@pytest.mark.parametrize(
    "text",
    [
        "Привет, как дела?",  # a Russian sentence: no Latin letter in its words
        "Καλημέρα κόσμε",  # Greek
        "AT&T und Tom&Jerry",  # an ampersand is not an entity
        "100% sicher",
        "mzp1_0123456789abcdef0123456789abcdef",  # a pseudonym token: hex, not base64 text
        "McDonald iPhone orderId PlayStation5",  # camel case: decodes to no printable text
        "Lieferung Kundennummer",
        "QUJDREVGR0g=",  # base64 of "ABCDEFGH": printable, but no "@" and no digit
    ],
)
def test_ordinary_text_is_left_as_it_is(text: str) -> None:
    assert normalise_one(text) == text
    # (the name list would take "Tom" and "McDonald": not what is tested here)
    assert scrub_text(pd.Series([text], dtype=object), names=False).tolist() == [text]


def test_base64_is_decoded_only_up_to_its_bound() -> None:
    long = _b64("x" * 300 + "@web.de")
    assert len(long) > _MAX_BASE64
    assert normalise_one(long) == long
    assert normalise_one(_b64("max@web.de") + "A") == _b64("max@web.de") + "A"  # not padded


def test_base64_of_binary_is_not_text() -> None:
    token = base64.b64encode(bytes(range(200, 224))).decode()
    assert normalise_one(token) == token


# --- the detectors on the disguised forms -----------------------------------------------
@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("DE89 37O4 OO44 O532 O13O OO", "iban"),  # letter O for zero
        ("bic: cobadeffxxx", "bic"),  # lower case after a label
        ("SWIFT cobadeff", "bic"),
        ("m a x @ w e b . d e", "email"),
        ("an m a x @ w e b . d e schreiben", "email"),
        ("Mail: max @ web.de", "email"),
        (_b64("max@web.de"), "email"),
        ("max&commat;web.de", "email"),
        ("max%2540web.de", "email"),
        ("IP 192.168.001.001", "ipv4"),
        ("N 52° 31.2' E 13° 24.3'", "precise_coordinates"),
        ("52° 31,25' N", "precise_coordinates"),
        ("Tel.: 0 30 / 12 34 56 78", "phone"),
    ],
)
def test_a_disguised_value_is_found(text: str, kind: str) -> None:
    assert kind in _kinds(text)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("cobadeffxxx", "bic"),  # lower case without a label: a word
        ("01.2.3.4", "ipv4"),  # a leading zero that is no padding
        ("192.168.01.001", "ipv4"),
        ("52° 31' N", "precise_coordinates"),  # whole minutes: ~1.8 km
        ("0 5 10 15 20", "phone"),  # a list, not a number (no slash after the area code)
        ("a b c @ d", "email"),  # no dot, no top-level domain
        ("Preis @ 5.99 EUR", "email"),
        ("DE89 37O4 OO44 O532 O13O O1", "iban"),  # read as digits, still a wrong checksum
    ],
)
def test_a_look_alike_of_the_disguise_is_not_found(text: str, kind: str) -> None:
    assert kind not in _kinds(text)


@pytest.mark.parametrize(
    "text",
    [
        "DE89 37O4 OO44 O532 O13O OO",
        "bic: cobadeffxxx",
        "m a x @ w e b . d e",
        "Mail: max @ web.de",
        _b64("max@web.de"),
        "max&#64;web.de",
        "max%2540web.de",
        "IP 192.168.001.001",
        "N 52° 31.2' E 13° 24.3'",
        "Tel.: 0 30 / 12 34 56 78",
    ],
)
def test_scrub_leaves_nothing_a_detector_finds(text: str) -> None:
    out = scrub_text(pd.Series([text], dtype=object)).iloc[0]
    assert out != text
    assert _kinds(out) == []


# --- a row's own values written another way ----------------------------------------------
def _own(n: int) -> list[pd.Series]:
    return [
        pd.Series(["Anna"] * n, name="first_name"),
        pd.Series(["Berg"] * n, name="last_name"),
        pd.Series(["Anna.Berg@Example.org"] * n, name="email"),
        pd.Series(["+49 30 1234567"] * n, name="phone"),
    ]


def test_scrub_removes_the_own_name_glued_homoglyphed_and_hashed() -> None:
    mail = "anna.berg@example.org"
    texts = pd.Series(
        [
            "kunde:annaberg",
            "kundeannaberg85",
            "BergAnna",
            "Paket für B\u0435rg",  # Cyrillic е
            "ref " + hashlib.sha256(mail.encode()).hexdigest(),
            "md5 " + hashlib.md5(mail.encode()).hexdigest().upper(),
            "sha1 " + hashlib.sha1(b"+49301234567").hexdigest(),
            "ref " + _b64(mail),
        ],
        dtype=object,
    )
    out = scrub_text(texts, _own(len(texts))).tolist()
    assert out == [
        "kunde:[NAME]",
        "kunde[NAME]85",
        "[NAME]",
        "Paket für [NAME]",
        "ref [PII]",
        "md5 [PII]",
        "sha1 [PII]",
        "ref [EMAIL]",
    ]


def test_a_short_glued_name_is_not_looked_for_inside_words() -> None:
    """ "Li" + "Wu" glued is "liwu": as a substring it would hit ordinary words."""
    own = [pd.Series(["Li"], name="first_name"), pd.Series(["Wu"], name="last_name")]
    text = pd.Series(["Bolliwurst ist aus"], dtype=object)
    assert scrub_text(text, own).tolist() == ["Bolliwurst ist aus"]


def test_an_own_value_pass_that_finds_nothing_keeps_the_spelling() -> None:
    text = pd.Series(["Grüße\u00a0aus Köln, Straße 5%"], dtype=object)
    own = [pd.Series(["Zzyzx"], name="last_name")]
    assert scrub_text(text, own, names=False, kinds=[]).tolist() == text.tolist()


def test_hash_forms_are_the_usual_normal_forms() -> None:
    values = pd.Series(["Anna.Berg@Example.org ", "+49 (30) 123-4567", "030 1234567", "Berg"])
    forms = [f.tolist() for f in hash_forms(values)]
    assert forms[0] == ["anna.berg@example.org", "+49301234567", "+49301234567", ""]
    assert forms[1] == ["", "", "+43301234567", ""]
    assert forms[2] == ["", "", "+41301234567", ""]


def test_value_variants_hold_the_hashes_of_an_email() -> None:
    table = value_variants(pd.Series(["Anna.Berg@Example.org"]))
    row = set(table.iloc[0])
    for algorithm in ("md5", "sha1", "sha256"):
        assert hashlib.new(algorithm, b"anna.berg@example.org").hexdigest() in row
