"""The formats people really write (issue 9): each is found by its kind and scrubbed whole.

Every probe is tried alone and inside a German and an English sentence. "Scrubbed whole"
means: the scrubbed text passes every detector, and no run of three or more of the probe's
digits or letters survives (no half-scrubbed IBAN).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from minimizer.pii import DETECTORS, scrub_text
from minimizer.pii.detect import detect, flag_all
from minimizer.pii.names import is_name
from minimizer.pii.normalisation import normalise

PROBES: dict[str, list[str]] = {
    "phone": [
        "Tel.030 12345678", "030 - 12 34 56 78", "0171.2345678", "+43 1 5880",
        "+41 44 668 18 00", "06 12 34 56 78", "020 7946 0958", "(212) 555-0100",
        "+49 (0)30 1234567", "0049 30 123456", "Tel: 089 60 25 65", "+31 20 123 4567",
        "06-12345678", "2025550143",
    ],
    "iban": [
        "DE 89 3704 0044 0532 0130 00", "DE89\u00a03704\u00a00044\u00a00532\u00a00130\u00a000",
        "DE89-3704-0044-0532-0130-00", "DE89  3704  0044  0532  0130  00",
        "de89370400440532013000", "GB29 NWBK 6016 1331 9268 19", "AT61 1904 3002 3457 3201",
        "CH93 0076 2011 6238 5295 7", "FR14 2004 1010 0505 0001 3M02 606",
        "NL91 ABNA 0417 1643 00",
    ],
    "bic": ["BIC: DEUTDEFF", "COBADEFFXXX", "BIC DEUTDEFF500", "GENODEF1M04", "SWIFT INGBNL2A"],
    "national_id": [
        "36 574 261 809", "36574261809", "12 120385 M 121", "1237 010180", "756.9217.0769.85",
        "2 95 10 99 126 111 93", "111222333", "AB 12 34 56 C", "AB123456C", "536-90-4399",
        "T220001293", "L01X00T471",
    ],
    "vat_id": [
        "DE136695976", "ATU13585627", "CHE-107.787.577 MWST", "FR40303265045",
        "NL123456789B01", "GB 980 7806 84",
    ],
    "email": [
        "max.mustermann(at)web.de", "max [at] gmx [dot] de", "max\uff20web.de", "max%40web.de",
        "mailto:max@web.de", "max at gmx dot de", "max\u200b@web.de", "anna{at}posteo(punkt)de",
    ],
    "street_address": [
        "Bahnhofstr.5", "hauptstraße 5", "Hauptstr. 5a", "Packstation 123", "Postfach 1234",
        "12 rue de la Paix", "221B Baker Street", "Am Markt 3", "Kerkstraat 12", "P.O. Box 255",
        "Zeppelinstr 14", "Via Franscini 54", "Weblinger Gürtel 92", "48 Withers Close",
    ],
    "birth_date": [
        "12.03.85", "12031985", "12.03.1985", "1985-03-12", "12/03/1985", "12. März 1985",
        "12 mars 1985", "March 12, 1985", "3/29/1982", "12 maart 1985", "12th March 1985",
    ],
    "ipv4": ["192.168.10.1", "67.135.217.105"],
    "ipv6": ["2001:db8::1", "fe80::1ff:fe23:4567:890a"],
    "mac_address": ["00:1A:2B:3C:4D:5E", "00-1a-2b-3c-4d-5e", "001a.2b3c.4d5e"],
    "device_id": ["6D92078A-8246-4BA4-AE5B-76104861E7DC", "38400000-8cf0-11bd-b23e-10b96e40000d"],
    "card": [
        "4111.1111.1111.1111", "4111 1111 1111 1111", "4111-1111-1111-1111", "3782 822463 10005",
        "4111111111111111", "5500 0000 0000 0004",
    ],
    "precise_coordinates": ["52,5200 13,4050", "52°31'12\"N 13°24'18\"E", "52.520008, 13.404954"],
}  # fmt: skip

SENTENCES = ("{}", "Bitte notieren: {} danke", "Customer said {}, ok")
CASES = [
    (kind, sentence.format(value), value)
    for kind, values in PROBES.items()
    for value in values
    for sentence in SENTENCES
]


def _flags(text: str) -> list[str]:
    found = flag_all(pd.Series([text], dtype=object))
    return [kind for kind, mask in found.items() if mask[0]]


@pytest.mark.parametrize(("kind", "text", "value"), CASES)
def test_probe_is_found_by_its_kind(kind: str, text: str, value: str) -> None:
    assert DETECTORS[kind](pd.Series([text], dtype=object)).tolist() == [True]


@pytest.mark.parametrize(("kind", "text", "value"), CASES)
def test_probe_is_scrubbed_whole(kind: str, text: str, value: str) -> None:
    out = scrub_text(pd.Series([text], dtype=object)).iloc[0]
    assert _flags(out) == []
    # no three characters in a row of the value's digits/letters survive
    unlabelled = re.sub(r"^(?:Tel\.|Tel: |mailto:|BIC:? |SWIFT )", "", value)
    core = re.sub(r"[\W_]", "", normalise(pd.Series([unlabelled], dtype=object)).iloc[0])
    leftover = re.sub(r"[\W_]", "", out)
    for start in range(len(core) - 5):
        assert core[start : start + 6] not in leftover, (value, out)


def test_flag_all_equals_each_detector() -> None:
    texts = pd.Series([t for _, t, _ in CASES] + ["nothing here", "2024-03-01T10:00:00Z"])
    together = flag_all(texts)
    for kind, found in DETECTORS.items():
        assert together[kind].tolist() == found.flag(texts).tolist(), kind


# --- normalisation ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("max\uff20web.de", "max@web.de"),  # full-width @
        ("max\ufe6bweb.de", "max@web.de"),  # small @
        ("max%40web.de", "max@web.de"),  # URL-encoded
        ("0\u200b171\u00a0234", "0171 234"),  # zero-width space, NBSP
        ("\uff10\uff11\uff17\uff11", "0171"),  # full-width digits
        ("\u0660\u0661\u0967", "011"),  # Arabic-Indic and Devanagari digits
        ("Bo\u0308rner", "Börner"),  # decomposed umlaut
        ("DE89\u20133704", "DE89-3704"),  # en dash
        ("100%", "100%"),  # no escape
        ("%E4", "%E4"),  # not UTF-8: left as it is
        ("plain ascii", "plain ascii"),
    ],
)
def test_normalise(raw: str, normal: str) -> None:
    assert normalise(pd.Series([raw], dtype=object)).tolist() == [normal]


def test_text_without_findings_keeps_its_spelling() -> None:
    texts = pd.Series(["Grüße aus Köln\u00a0!", "ｆｕｌｌ ｗｉｄｔｈ"], dtype=object)
    assert scrub_text(texts).tolist() == texts.tolist()


def test_scrubbed_text_is_returned_normalised() -> None:
    out = scrub_text(pd.Series(["Mail\u00a0an max\uff20web.de"], dtype=object)).tolist()
    assert out == ["Mail an [EMAIL]"]


# --- false positives ----------------------------------------------------------------------
def _stamps(n: int) -> list[str]:
    rng = np.random.default_rng(3)
    start = pd.Timestamp("2022-01-01")
    moments = start + pd.to_timedelta(rng.integers(0, 4 * 365 * 86400, n), unit="s")
    return [
        *moments.strftime("%Y-%m-%dT%H:%M:%SZ"),
        *moments.strftime("%Y-%m-%d %H:%M:%S"),
        *moments.strftime("%d.%m.%Y %H:%M"),
        *moments.strftime("%Y-%m-%dT%H:%M:%S.%f+01:00"),
        *moments.strftime("%a, %d %b %Y %H:%M:%S GMT"),
        *moments.strftime("%Y-%m-%d %H:00"),
    ]


NEVER = [
    "881f1d4887fffff", "8928308280fffff", "871f1d48bffffff",  # H3 cells
    "mzp1_3f2a9c1b7d4e5f60718293a4b5c6d7e8", "mzp1_00000000000000000000000000000000",
    "12.50", "1.234,56 EUR", "999,99 €", "$1,299.00", "0.99", "4 711",  # amounts
    "ORD-2024-004211", "#123456", "C0012345", "INV/2024/0042", "KD-12345",  # ids
    "Bio Vollmilch 1L", "Laufschuh Modell 12", "iPhone 15 Pro", "Galaxy S23 Ultra",
    "Samsung QLED 55 Zoll", "Offering 2", "Engineering 101", "Monitoring 3", "Spring 2024",
    "Firewall 2", "Hotel Kempinski 3 Nächte", "Ranger 3",  # products
    "Neustadt an der Weinstraße", "Frankfurt am Main", "Saint-Étienne", "Heidelberg",
    "BÜSCHENDORF", "GLAUBENDORF", "DUNSINNAN", "'s-Hertogenbosch",  # cities
    "Gold", "PREMIUM", "BUSINESS", "STANDARD", "PLATINUM", "ENTERPRISE",  # tiers
    "2024-03", "03/2024", "März 2024", "v1.12.20", "00:03:15", "30-39", "12.5%",
    "4006381333931", "0012345678905",  # EAN-13
    "00000000-0000-0000-0000-000000000000",  # IDFA with tracking limited
]  # fmt: skip


def test_non_pii_values_are_not_flagged() -> None:
    assert detect(pd.Series(NEVER, dtype=object)) == dict.fromkeys(DETECTORS, 0)


def test_timestamps_are_not_flagged() -> None:
    stamps = pd.Series(_stamps(500), dtype=object)
    assert detect(stamps) == dict.fromkeys(DETECTORS, 0)


def test_tokens_and_h3_cells_at_volume_are_not_flagged() -> None:
    rng = np.random.default_rng(5)
    tokens = [f"mzp1_{x:032x}" for x in rng.integers(0, 2**63, 3000).tolist()]
    cells = [f"88{x:013x}"[:10] + "fffff" for x in rng.integers(0, 2**52, 3000).tolist()]
    assert detect(pd.Series(tokens + cells, dtype=object)) == dict.fromkeys(DETECTORS, 0)


# --- names ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Herr Wagner rief an", "Herr [NAME] rief an"),
        ("Dörrs Lieferung kam", "[NAME] Lieferung kam"),  # genitive
        ("Herr Boerner rief an", "Herr [NAME] rief an"),  # transliterated Börner
        ("Bo\u0308rner kommt", "[NAME] kommt"),  # decomposed umlaut
        ("Wag\u200bner ist da", "[NAME] ist da"),  # zero-width space inside
        ("Anna-Lena kommt", "[NAME]-[NAME] kommt"),  # half of a hyphenated first name
        ("KUNDE MÜLLER", "KUNDE [NAME]"),  # in capitals
        ("Call Mr. O'Neill's office", "Call Mr. [NAME] office"),
        ("Sophie Martin, Lyon", "[NAME] [NAME], Lyon"),
    ],
)
def test_listed_names_are_scrubbed(text: str, expected: str) -> None:
    assert scrub_text(pd.Series([text], dtype=object)).tolist() == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "Will you call back in May?",  # Will, May
        "Lieferung im Mai, die Rose welkt",  # Mai, Rose
        "a long way to the Post",  # Long, Post
        "wagner schmidt müller",  # lower case: ordinary words, not names
        "Lieferung nach Paris",  # a city
    ],
)
def test_everyday_words_that_are_names_stay(text: str) -> None:
    assert scrub_text(pd.Series([text], dtype=object)).tolist() == [text]


def test_name_list_can_be_switched_off() -> None:
    assert scrub_text(pd.Series(["Herr Wagner"]), names=False).tolist() == ["Herr Wagner"]


def test_name_list_comes_from_the_installed_faker() -> None:
    from faker.providers.person.de_DE import Provider

    assert all(is_name(n) for n in ("Wagner", "Schmidt", "Jürgen", "Séverine", "Oliver"))
    assert is_name(Provider.last_names[0])
    assert not is_name("Stop") and not is_name("wagner") and not is_name("Al")
