"""Golden cases per kind and locale, the gate's two questions, and the registry."""

from __future__ import annotations

import doctest
import importlib
import time
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from minimizer.pii import (
    DETECTORS,
    detect,
    precise_coordinates,
    registry,
    unexpected_positions,
    validators,
)
from minimizer.pii.registry import UnknownDetectorError

KINDS = (
    "email",
    "phone",
    "iban",
    "card",
    "ipv4",
    "ipv6",
    "street_address",
    "birth_date",
    "precise_coordinates",
    "bic",
    "national_id",
    "vat_id",
    "mac_address",
    "device_id",
)

# kind -> locale -> values that hold the kind (alone and inside sentences)
POSITIVES: dict[str, dict[str, list[str]]] = {
    "email": {
        "de_DE": ["cathleenwieloch@example.org", "Bitte an max.mustermann@web.de schicken"],
        "en_US": ["gkramer@example.com", "Contact: John.O'Neil+news@mail.example.co.uk"],
        "fr_FR": ["hélène.salmon@exemple.fr", "Merci d'écrire à georges77@example.com."],
    },
    "phone": {
        "de_DE": [
            "+49 30 12345678",
            "030 12345678",
            "(03740) 68124",
            "Mobil 0171-1234567",
            "+49(0)5868 344978",
            "Tel.: 030/1234567",
            "0049 30 1234567",
        ],
        "en_US": [
            "(212) 555-0199",
            "212-555-0199",
            "call +1-303-228-9218x401",
            "001-477-683-5337",
            "881.428.6570",
            "2025550143",
            "(783)703-8836",
        ],
        "fr_FR": [
            "01 23 45 67 89",
            "+33 1 23 45 67 89",
            "+33 (0)3 44 41 58 68",
            "0123456789",
            "Rappeler le 06.12.34.56.78 svp",
        ],
    },
    "iban": {
        "de_DE": ["DE89370400440532013000", "IBAN: DE89 3704 0044 0532 0130 00, danke"],
        "en_US": ["GB29NWBK60161331926819", "pay to gb29 nwbk 6016 1331 9268 19 today"],
        "fr_FR": ["FR1420041010050500013M02606", "RIB FR14 2004 1010 0505 0001 3M02 606"],
    },
    "card": {
        "de_DE": ["4111111111111111", "Karte 4111 1111 1111 1111 belastet"],
        "en_US": ["5500-0055-5555-5559", "amex 3782 822463 10005", "378282246310005"],
        "fr_FR": ["carte 6011 1111 1111 1117 refusée", "501849576563", "3056 9309 0259 04"],
    },
    "ipv4": {
        "de_DE": ["192.168.0.1", "Login von 85.176.69.154 um 14:00"],
        "en_US": ["8.8.8.8", "255.255.255.255"],
        "fr_FR": ["connexion depuis 10.0.0.1.", "0.0.0.0"],
    },
    "ipv6": {
        "de_DE": ["2001:db8::1", "Login von fe80::1ff:fe23:4567:890a heute"],
        "en_US": ["2001:0db8:85a3:0000:0000:8a2e:0370:7334", "::1"],
        "fr_FR": ["::ffff:192.0.2.128", "adresse 1:2:3:4:5:6:7:: bloquée"],
    },
    "street_address": {
        "de_DE": [
            "Hauptstraße 12",
            "Am Markt 3a",
            "Karl-Marx-Allee 90",
            "Losekannstr. 9/8",
            "Unter den Linden 77",
            "Lieferung an Berliner Straße 5, 10115 Berlin",
            "Hans Jürgen-Wulf-Platz 254",
            "Kruschwitzring 3-2",
        ],
        "en_US": [
            "221B Baker Street",
            "1600 Pennsylvania Avenue NW",
            "9832 Reynolds Estate",
            "ship to 787 Randall Junction Apt. 470 asap",
            "350 5th Ave",
        ],
        "fr_FR": [
            "12 rue de la Paix",
            "9, chemin de Marchand",
            "18, boulevard Suzanne Maillet",
            "livraison au 3 bis avenue Foch",
            "rue de Rivoli",
        ],
    },
    "birth_date": {
        "de_DE": ["14.03.1987", "geboren am 14. März 1987", "1.3.1987"],
        "en_US": ["03/14/1987", "born March 14, 1987", "1987-03-14"],
        "fr_FR": ["14/03/1987", "née le 1er mars 1987", "29/02/2000"],
    },
    "precise_coordinates": {
        "de_DE": ["52.520008, 13.404954", "lat=52.5200"],
        "en_US": ["40.712776,-74.005974", "-33.8688"],
        "fr_FR": ["48.8566 2.3522", "lon -0.127758"],
    },
}

# kind -> locale -> values close to the kind that are not it
NEGATIVES: dict[str, dict[str, list[str]]] = {
    "email": {
        "de_DE": ["@kundenservice", "max.mustermann at web.de"],
        "en_US": ["user@localhost", "a@b"],
        "fr_FR": ["contact@", "arobase @ exemple"],
    },
    "phone": {
        "de_DE": ["2024-03-01", "14.03.1987", "0000012345", "10115", "Auftrag 1234567"],
        "en_US": ["1709301234", "12.50", "ORD-2024-000123", "192.168.100.200", "978-3-16-148410-0"],
        "fr_FR": ["03.04.1987", "75008", "12,50 €", "2024-03-01 14:00"],
    },
    "iban": {
        "de_DE": ["DE88370400440532013000", "DE89 3704 0044 0532 0130 01"],  # wrong check digits
        "en_US": ["GB29NWBK6016133192681", "XX29NWBK60161331926819"],  # short, no such country
        "fr_FR": ["FR1420041010050500013M02607", "pz1:v1:FR14200410100505"],
    },
    "card": {
        "de_DE": ["4111111111111112", "4111 1111 1111 1112"],  # fail Luhn
        "en_US": ["1234-5678-1234-5678", "12345678901"],
        "fr_FR": ["0123456789", "4111-1111 1111-1111"],  # mixed separators
    },
    "ipv4": {
        "de_DE": ["256.1.1.1", "Version 1.2.3"],
        "en_US": ["01.2.3.4", "1.2.3.4.5"],
        "fr_FR": ["12.50", "v2.14.1"],
    },
    "ipv6": {
        "de_DE": ["14:00:00", "00:1a:2b:3c:4d:5e"],
        "en_US": ["std::vector", "::"],
        "fr_FR": ["pz1:v1:abc", "12:30"],
    },
    "street_address": {
        "de_DE": ["Hauptstraße", "Weihnachtsmarkt 2024", "Monitor 24 Zoll", "Engineering 101"],
        "en_US": ["Spring 2024 Collection", "Route 66", "Room 12", "Checkout – Payment"],
        "fr_FR": ["Paiement", "Lait entier bio 1L", "la rue", "2 place settings"],
    },
    "birth_date": {
        "de_DE": ["2024-03", "März 2024", "31.04.1987", "14.03."],
        "en_US": ["03/2024", "2024-03-01 14:00", "1987-13-01", "Q1 2024"],
        "fr_FR": ["29/02/2001", "mars 2024", "2024-03-01T14:00", "12/50"],
    },
    "precise_coordinates": {
        "de_DE": ["12.50", "52.520, 13.405"],
        "en_US": ["181.12345", "1234.5678"],
        "fr_FR": ["192.168.0.1", "881f1d4a97fffff"],
    },
}

# analytic values no detector may flag
NEVER_PII = [
    "881f1d4a97fffff",  # H3 cell
    "8928308280fffff",
    "pz1:v1:Zm9vYmFyYmF6cXV4MTIzNDU2",  # token
    "mzp1_3f2a9c1b7d4e5f60718293a4b5c6d7e8",
    "2024-03",  # month
    "03/2024",
    "2024-03-01 14:00",  # hour bucket
    "12.50",
    "1.234,56 EUR",
    "ORD-2024-004211",
    "10",  # postcode prefix
    "/checkout/payment?page=2",
    "Warenkorb",
    "30-39",
    "00:03:15",
    "Bio Vollmilch 1L",
]


def _cases(table: dict[str, dict[str, list[str]]]) -> list[tuple[str, str, str]]:
    return [(k, loc, v) for k, by in table.items() for loc, vs in by.items() for v in vs]


@pytest.mark.parametrize(("kind", "locale", "value"), _cases(POSITIVES))
def test_detector_flags_golden_positive(kind: str, locale: str, value: str) -> None:
    assert DETECTORS[kind](pd.Series([value])).tolist() == [True]


@pytest.mark.parametrize(("kind", "locale", "value"), _cases(NEGATIVES))
def test_detector_ignores_golden_negative(kind: str, locale: str, value: str) -> None:
    assert DETECTORS[kind](pd.Series([value])).tolist() == [False]


def test_tokens_h3_cells_months_and_hour_buckets_are_not_pii() -> None:
    assert detect(pd.Series(NEVER_PII)) == dict.fromkeys(KINDS, 0)


def test_registry_holds_exactly_the_documented_kinds() -> None:
    assert set(DETECTORS) == set(KINDS)
    for name, found in DETECTORS.items():
        assert found.name == name
        assert isinstance(found, registry.Detector)


def test_detector_mask_keeps_index_and_sets_nulls_false() -> None:
    values = pd.Series(["a@b.de", None, np.nan, "x"], index=[10, 20, 30, 40], dtype=object)
    mask = DETECTORS["email"](values)
    assert mask.index.tolist() == [10, 20, 30, 40]
    assert mask.tolist() == [True, False, False, False]
    assert mask.dtype == bool


def test_detectors_read_non_string_columns_by_their_text() -> None:
    assert DETECTORS["card"](pd.Series([4111111111111111, 42])).tolist() == [True, False]
    assert precise_coordinates(pd.Series([52.520008, 12.5])).tolist() == [True, False]


def test_detect_counts_rows_not_distinct_values() -> None:
    values = pd.Series(["a@b.de"] * 5 + ["030 12345678", None, "nothing"])
    counts = detect(values, ["email", "phone", "iban"])
    assert counts == {"email": 5, "phone": 1, "iban": 0}


def test_detect_returns_kinds_in_registry_order_and_accepts_a_single_name() -> None:
    assert list(detect(pd.Series(["x"]), ["phone", "email"])) == ["email", "phone"]
    assert detect(pd.Series(["a@b.de"]), "email") == {"email": 1}


def test_unexpected_positions_are_row_positions_capped_by_limit() -> None:
    values = pd.Series(["x", "a@b.de", "y", "c@d.fr", "e@f.com"], index=list("abcde"))
    assert unexpected_positions(values, "email") == [1, 3, 4]
    assert unexpected_positions(values, "email", limit=2) == [1, 3]
    assert unexpected_positions(values, "email", limit=0) == []


def test_precise_coordinates_respects_max_decimals() -> None:
    values = pd.Series(["52.520008, 13.404954", "48.8566", "52.52"])
    assert precise_coordinates(values, max_decimals=5).tolist() == [True, False, False]
    assert precise_coordinates(values, max_decimals=1).tolist() == [True, True, True]


def test_an_iban_is_not_also_counted_as_phone_or_card() -> None:
    values = pd.Series(["DE89 3704 0044 0532 0130 00", "GB29 NWBK 6016 1331 9268 19"])
    assert detect(values) == {**dict.fromkeys(KINDS, 0), "iban": 2}


def test_unknown_kind_names_the_valid_ones() -> None:
    with pytest.raises(UnknownDetectorError) as caught:
        detect(pd.Series(["x"]), ["email", "passport"])
    message = str(caught.value)
    assert "passport" in message
    assert all(kind in message for kind in KINDS)
    with pytest.raises(UnknownDetectorError):
        unexpected_positions(pd.Series(["x"]), "passport")


def test_errors_never_quote_the_data() -> None:
    secret = "max.mustermann@web.de"
    frame = pd.DataFrame({"email": [secret]})
    with pytest.raises(TypeError) as caught:
        DETECTORS["email"](frame)  # type: ignore[arg-type]
    assert secret not in str(caught.value)
    with pytest.raises(ValueError) as limit_error:
        unexpected_positions(pd.Series([secret]), "email", limit=-1)
    assert secret not in str(limit_error.value)


def test_validators_see_each_distinct_candidate_once() -> None:
    seen: list[int] = []

    def counting(spans: pd.Series) -> np.ndarray:
        seen.append(len(spans))
        return validators.luhn(spans)

    spy = replace(DETECTORS["card"], validate=counting)
    column = pd.Series(["card 4111111111111111"] * 10_000 + ["no digits here"] * 10_000)
    assert spy(column).sum() == 10_000
    assert seen == [1]


def test_docstring_examples_run() -> None:
    for name in ("minimizer.pii.detect", "minimizer.pii.scrub", "minimizer.pii.validators"):
        module = importlib.import_module(name)
        result = doctest.testmod(module)
        assert result.failed == 0, module.__name__


def test_public_surface_is_explicit() -> None:
    package = importlib.import_module("minimizer.pii")
    assert sorted(package.__all__) == sorted(
        [
            "DEFAULT_MAX_DECIMALS",
            "DETECTORS",
            "NAME_TAG",
            "PII_TAG",
            "Detector",
            "PatternDetector",
            "UnknownDetectorError",
            "AnyOf",
            "contains_name",
            "flag_all",
            "normalise",
            "detect",
            "precise_coordinates",
            "scrub_text",
            "unexpected_positions",
        ]
    )
    assert all(hasattr(package, name) for name in package.__all__)


@pytest.mark.parametrize(
    "unit",
    [
        "a.",
        "a@",
        "1",
        "1 ",
        "+1 ",
        "(0",
        "1:",
        "Aa ",
        "Aa-",
        "1.1",
        "14 March ",
        "DE89 ",
        "+" + "1" * 50 + "a ",
    ],
)
def test_long_adversarial_text_takes_linear_time(unit: str) -> None:
    # patterns written so that no long run can make the regex engine backtrack exponentially
    column = pd.Series([unit * (20_000 // len(unit)) + "!x"], dtype=object)
    started = time.perf_counter()
    detect(column)
    assert time.perf_counter() - started < 5.0
