"""Phone numbers: a loose candidate pattern, then Google's libphonenumber decides.

The pattern accepts what people type: ``Tel.030 12345678``, ``030 - 12 34 56 78``,
``0171.2345678``, ``+43 1 5880``, ``+41 44 668 18 00``, ``06 12 34 56 78``, ``020 7946 0958``,
``(212) 555-0100``, ``+49 (0)30 1234567``, ``0049 30 123456``, ``0 30 / 12 34 56 78``. One separator (space, dash,
dot, slash, or a spaced dash) may stand between any two digits.

The validator runs ``phonenumbers`` once per *distinct* candidate span (never per row):

- ``+…`` and ``00…`` numbers are parsed as international and must be *possible* (a length
  the country's plan allows);
- national numbers (``0…``, North American) must be *possible* in one of the home regions
  DE, AT, CH, FR, NL, GB, US, and *valid* (a number range in use) in one of them when written
  without any separator, since a bare run of digits could be anything.

Possible rather than valid for written-out numbers: generated and freshly allocated numbers
often fall outside libphonenumber's ranges, and a leak gate prefers recall.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pandas as pd
import phonenumbers

from minimizer.pii.text import Mask

__all__ = ["PHONE", "PHONE_HINT", "REGIONS", "is_phone", "phone"]

REGIONS = ("DE", "AT", "CH", "FR", "NL", "GB", "US")

_SEP = r"(?:[ ]{0,2}[-./][ ]{0,2}|[ ]{1,2})"
_UNIT = r"(?:[0-9]|\([0-9]{1,5}\))"
# a date, a version or an IPv4 address is not a phone number: 01.12.2024, 01.12.24
# (06.12.34.56.78 goes on after the "year": a French number, not a date)
_NOT_DATE = r"(?![0-3]?[0-9][./-][01]?[0-9][./-](?:[0-9]{4}|[0-9]{2})(?![0-9]|[./-][0-9]))"
_FORMS = (
    # international: +49 30 1234567, +49(0)5868 344978, 0049 30 123456, +43 1 5880
    rf"(?:\+|00)[ ]?[1-9](?:{_SEP}?{_UNIT}){{3,16}}",
    # national, trunk prefix 0: 030 12345678, (030) 1234567, 0171.2345678, 06 12 34 56 78
    rf"{_NOT_DATE}(?:\(0[1-9][0-9]{{0,4}}\)|0[1-9])(?:{_SEP}?{_UNIT}){{4,13}}",
    # the old DIN 5008 grouping, trunk 0 set apart and a slash after the area code:
    # 0 30 / 12 34 56 78 (the slash is required: "0 5 10 15 20" is a list, not a number)
    rf"0[ ][1-9][0-9]{{1,4}}[ ]?/[ ]?[0-9](?:{_SEP}?{_UNIT}){{3,12}}",
    # North American, separated: (212) 555-0100, 212-555-0100, 212.555.0100, 1-212-555-0100
    r"(?:1[ .-])?(?:\([2-9][0-9]{2}\)[ ]?|[2-9][0-9]{2}[ .-])[2-9][0-9]{2}[ .-][0-9]{4}",
    # North American, bare: 9588683449 (must be a valid US/CA number, see is_phone)
    r"[2-9][0-9]{2}[2-9][0-9]{6}",
)
# "Tel.030…", "Fon:+49…": a label glued to the number still lets the number start there
_START = r"(?:(?<=[Tt]el\.)|(?<=[Tt]el)|(?<=[Ff]on)|(?<=[Ff]ax)|(?<=[Nn]r\.)|(?<![\w+.,/-]))"
PHONE = re.compile(
    rf"({_START}(?:"
    + "|".join(_FORMS)
    + r")(?:[ ]?(?:x|ext\.?|Durchwahl|DW|poste)[ ]?[0-9]{1,6})?)"
    r"(?![0-9A-Za-z]|[.,/-][0-9])"
)
# two digits at most two separators apart: every candidate has that
PHONE_HINT = r"[0-9][ ./()-]{0,3}[0-9]"

_EXTENSION = re.compile(r"(?:x|ext\.?|Durchwahl|DW|poste)[ ]?[0-9]{1,6}$")
_NOT_DIALLED = re.compile(r"[^0-9+]")


@lru_cache(maxsize=65536)
def is_phone(span: str) -> bool:
    """Does libphonenumber accept this span as a phone number of a home region?"""
    number = _EXTENSION.sub("", span).strip()
    bare = number.isdigit()
    if bare and _article_number(number):  # an EAN-13 or UPC-A shop code, not a number to dial
        return False
    dialled = _NOT_DIALLED.sub("", number)
    if dialled.startswith("00"):
        dialled = "+" + dialled[2:]
    digits = len(dialled.lstrip("+"))
    if digits < 5 or digits > 17:
        return False
    if dialled.startswith("+"):
        parsed = _parse(dialled, None)
        return parsed is not None and phonenumbers.is_possible_number(parsed)
    # a national number shorter than 7 digits is a month ("03/2024"), a postcode, a count;
    # a bare run of digits needs 9 to be more than an id
    if digits < (9 if bare else 7):
        return False
    for region in REGIONS:
        parsed = _parse(dialled, region)
        if parsed is None:
            continue
        if phonenumbers.is_valid_number(parsed):
            return True
        if not bare and phonenumbers.is_possible_number(parsed):
            return True
    return False


_EAN_WEIGHTS = (1, 3) * 6 + (1,)


def _article_number(digits: str) -> bool:
    """A 12-digit UPC-A or 13-digit EAN-13 with a valid check digit."""
    if len(digits) not in (12, 13):
        return False
    padded = digits.rjust(13, "0")
    return sum(int(d) * w for d, w in zip(padded, _EAN_WEIGHTS, strict=True)) % 10 == 0


def _parse(number: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None


def phone(spans: pd.Series) -> Mask:
    """Validator over candidate spans: libphonenumber, once per distinct span."""
    if spans.empty:
        return np.zeros(0, dtype=bool)
    codes, uniques = pd.factorize(spans)
    verdict = np.fromiter((is_phone(s) for s in uniques), dtype=bool, count=len(uniques))
    return np.asarray(verdict[codes], dtype=bool)
