"""The vectorised checksums agree with plain scalar definitions, and never raise on junk."""

from __future__ import annotations

import ipaddress

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minimizer.pii import validators
from minimizer.pii.tables import IBAN_LENGTHS


def luhn_reference(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def iban_reference(value: str) -> bool:
    compact = value.replace(" ", "").upper()
    if IBAN_LENGTHS.get(compact[:2]) != len(compact):
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


VALID_CARDS = [
    "4111111111111111",  # Visa
    "5500005555555559",  # Mastercard
    "378282246310005",  # Amex, 15 digits
    "6011111111111117",  # Discover
    "3530111333300000",  # JCB
    "30569309025904",  # Diners, 14 digits
    "501849576563",  # Maestro, 12 digits
]
VALID_IBANS = [
    "DE89370400440532013000",
    "GB29NWBK60161331926819",
    "FR1420041010050500013M02606",
    "NL91ABNA0417164300",
    "BE68539007547034",
    "CH9300762011623852957",
    "AT611904300234573201",
]


def test_luhn_accepts_known_card_numbers() -> None:
    assert validators.luhn(pd.Series(VALID_CARDS)).all()


def test_luhn_rejects_a_sixteen_digit_number_with_a_wrong_check_digit() -> None:
    assert not validators.luhn(pd.Series(["4111111111111112", "1234567812345678"])).any()


def test_iban_accepts_registry_examples_compact_spaced_and_lower_case() -> None:
    spaced = [" ".join(i[k : k + 4] for k in range(0, len(i), 4)) for i in VALID_IBANS]
    values = pd.Series(VALID_IBANS + spaced + [i.lower() for i in VALID_IBANS])
    assert validators.iban(values).all()


def test_iban_rejects_wrong_check_digits_wrong_length_and_unknown_country() -> None:
    values = pd.Series(
        ["DE88370400440532013000", "DE8937040044053201300", "ZZ89370400440532013000", "DE"]
    )
    assert not validators.iban(values).any()


def test_validators_return_false_for_non_ascii_instead_of_raising() -> None:
    assert not validators.iban(pd.Series(["DE89ſ70400440532013000"])).any()
    assert not validators.luhn(pd.Series(["４１１１１１１１１１１１１１１１"])).any()


def test_validators_accept_empty_input() -> None:
    empty = pd.Series([], dtype=object)
    for check in (validators.luhn, validators.iban, validators.calendar_date, validators.ipv6):
        assert len(check(empty)) == 0


@pytest.mark.parametrize(
    ("span", "valid"),
    [
        ("2000-02-29", True),  # leap year
        ("29.02.2001", False),
        ("31.04.1987", False),
        ("03/14/1987", True),  # month first
        ("14/03/1987", True),  # day first
        ("13/13/1987", False),
        ("1987-13-01", False),
        ("14. März 1987", True),
        ("1er mars 1987", True),
        ("March 14, 1987", True),
        ("31 février 1987", False),
    ],
)
def test_calendar_date_accepts_only_real_days(span: str, valid: bool) -> None:
    assert validators.calendar_date(pd.Series([span])).tolist() == [valid]


def test_ipv6_follows_ipaddress_and_ignores_a_bare_double_colon() -> None:
    spans = pd.Series(["2001:db8::1", "::ffff:192.0.2.1", "1:2:3:4:5:6:7:8:9", "::", "14:00:00"])
    assert validators.ipv6(spans).tolist() == [True, True, False, False, False]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="0123456789", min_size=1, max_size=19), min_size=1, max_size=20))
def test_luhn_matches_the_scalar_definition(numbers: list[str]) -> None:
    assert validators.luhn(pd.Series(numbers)).tolist() == [luhn_reference(n) for n in numbers]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(sorted(IBAN_LENGTHS)),
            st.integers(0, 99),
            st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=30, max_size=30),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_iban_matches_the_scalar_definition(parts: list[tuple[str, int, str]]) -> None:
    values = [f"{cc}{check:02d}{body[: IBAN_LENGTHS[cc] - 4]}" for cc, check, body in parts]
    # a failing IBAN is read once more with O, I, L after the check digits as 0, 1, 1
    lookalikes = str.maketrans("OIL", "011")
    expected = [iban_reference(v) or iban_reference(v[:4] + v[4:].translate(lookalikes))
                for v in values]  # fmt: skip
    assert validators.iban(pd.Series(values)).tolist() == expected


def test_iban_with_the_letter_o_for_zero_is_read_as_the_digits() -> None:
    spans = pd.Series(["DE89 37O4 OO44 O532 O13O OO", "DE89 37O4 OO44 O532 O13O O1"])
    assert validators.iban(spans).tolist() == [True, False]


@settings(max_examples=100, deadline=None)
@given(st.ip_addresses(v=6))
def test_ipv6_accepts_every_address_in_compressed_and_exploded_form(
    address: ipaddress.IPv6Address,
) -> None:
    spans = pd.Series([address.compressed, address.exploded])
    assert validators.ipv6(spans).tolist() == [address.compressed != "::", True]
