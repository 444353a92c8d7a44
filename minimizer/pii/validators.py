"""Vectorised validators: given candidate spans, which are real?

Each validator takes a Series of candidate spans (Python strings, as extracted by a pattern
of :mod:`minimizer.pii.patterns`) and returns a boolean array of the same length. Checksums
run column by column over a right-aligned matrix of digits, so the Python-level loop is over
character positions (at most 34), never over values.

>>> import pandas as pd
>>> luhn(pd.Series(["4111111111111111", "4111111111111112"])).tolist()
[True, False]
>>> iban(pd.Series(["DE89 3704 0044 0532 0130 00", "DE88370400440532013000"])).tolist()
[True, False]
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pandas as pd

from minimizer.pii.tables import COUNTRIES, IBAN_LENGTHS, MONTHS

_COUNTRIES = sorted(COUNTRIES)

__all__ = [
    "bic",
    "calendar_date",
    "card",
    "digit_count_at_least",
    "iban",
    "ipv6",
    "luhn",
    "within_degrees",
]

Mask = npt.NDArray[np.bool_]
Validator = Callable[[pd.Series], Mask]

_DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def _char_matrix(values: pd.Series, fill: str) -> npt.NDArray[np.uint8]:
    """Right-align strings into an (n, width) byte matrix, left-padded with ``fill``.

    Callers pass ASCII only (see ``_ascii``); anything else would not be one byte per char.
    """
    width = int(values.str.len().max())
    padded = values.str.rjust(width, fill)
    flat = np.frombuffer("".join(padded).encode("ascii"), dtype=np.uint8)
    return flat.reshape(len(values), width)


def _ascii(spans: pd.Series, allowed: str) -> Mask:
    """Spans made only of ``allowed`` ASCII characters (a regex character class body)."""
    return np.asarray(spans.str.fullmatch(f"[{allowed}]+", case=True), dtype=bool)


def luhn(digits: pd.Series) -> Mask:
    """Luhn (mod 10) checksum over strings of ASCII digits; leading zero padding is neutral."""
    ok = _ascii(digits, "0-9")
    result = np.zeros(len(digits), dtype=bool)
    if not ok.any():
        return result
    values = (_char_matrix(digits[ok], "0") - ord("0")).astype(np.int64)[:, ::-1]
    doubled = values[:, 1::2] * 2
    doubled -= 9 * (doubled > 9)
    result[ok] = (values[:, 0::2].sum(axis=1) + doubled.sum(axis=1)) % 10 == 0
    return result


# Issuer ranges (IIN prefixes) of the schemes in use: Visa 4, Mastercard 51-55 and 2221-2720,
# Amex 34/37, Diners 30/36/38/39, Discover/UnionPay 6, JCB 35 and 1800/2131, Maestro 50/56-69,
# Mir 2200-2204, Laser/Maestro 0604. A number starting 0, 7, 8 or 9 is no card (7 is petroleum, 8 telecom/health,
# 9 national use), nor is one starting 1 but 1800 (UATP airline cards are left out: epoch
# milliseconds start with 1 and pass Luhn one time in ten).
_IIN = r"^(?:4|5[0-9]|2[2-7]|2131|1800|3[0-9]|6|0604)"


def card(spans: pd.Series) -> Mask:
    """Luhn over the digits, 12-19 of them, an issuer's IIN, and not an EAN-13 shop code.

    German and most European EAN-13 numbers start with 4 (GS1 400-440) like a Visa; an
    unseparated 13-digit number with a valid EAN check digit is read as an article number.
    """
    digits = spans.str.replace(r"[ .-]", "", regex=True)
    lengths = digits.str.len().to_numpy()
    ok = (lengths >= 12) & (lengths <= 19) & digits.str.contains(_IIN).to_numpy(dtype=bool)
    ok &= ~(_ean13(digits) & (spans.str.len() == 13).to_numpy())
    result = np.zeros(len(spans), dtype=bool)
    if ok.any():
        result[ok] = luhn(digits[ok])
    return result


def _ean13(digits: pd.Series) -> Mask:
    result = np.zeros(len(digits), dtype=bool)
    ok = _ascii(digits, "0-9") & (digits.str.len() == 13).to_numpy()
    if not ok.any():
        return result
    values = (_char_matrix(digits[ok], "0") - ord("0")).astype(np.int64)
    weights = np.array([1, 3] * 6 + [1])
    result[ok] = (values * weights).sum(axis=1) % 10 == 0
    return result


# Bank codes that are also the first letters of words would make "BUSINESS" a BIC: a BIC of
# letters only therefore needs a label before it ("BIC", "SWIFT"), or the head-office branch
# "XXX"; a digit anywhere is evidence enough.
_BIC_LABEL = r"^(?i:BIC|SWIFT)"


def bic(spans: pd.Series) -> Mask:
    """ISO 9362 shape with a real ISO 3166 country, and evidence it is not a word."""
    # the pattern takes a lower-case code after a label ("bic: cobadeffxxx")
    code = spans.str.upper().str.extract(r"([A-Z0-9]{8}(?:[A-Z0-9]{3})?)$", expand=False)
    code = code.fillna("")
    country_ok = code.str.slice(4, 6).isin(_COUNTRIES).to_numpy(dtype=bool)
    labelled = spans.str.contains(_BIC_LABEL).to_numpy(dtype=bool)
    # an 11-letter capitalised word ("GLAUBENDORF") has the shape too: a branch counts only
    # as "XXX" (head office) or with a digit in it
    evidence = code.str.contains("[0-9]").to_numpy(dtype=bool) | code.str.endswith("XXX").to_numpy(
        dtype=bool
    )
    return np.asarray(country_ok & (labelled | evidence), dtype=bool)


def iban(spans: pd.Series) -> Mask:
    """ISO 13616 check: the country's length and mod 97 == 1 of the rearranged number.

    A span that fails is tried once more with the letters O, I and L after the check digits
    read as 0, 1 and 1 ("DE89 37O4 OO44 …": typed or OCR'd look-alikes of the digits). A
    wrong reading passes mod 97 about one time in 97, and only spans of the IBAN shape get
    here, so the retry costs no precision worth having over the leak it closes.
    """
    compact = spans.str.replace(r"[ .-]", "", regex=True).str.upper()
    found = _iban_checksum(compact)
    retry = ~found & compact.str.slice(4).str.contains("[OIL]").to_numpy(dtype=bool)
    if retry.any():
        digits = compact[retry].str.slice(0, 4) + compact[retry].str.slice(4).str.translate(
            _DIGIT_LOOKALIKES
        )
        found[retry] = _iban_checksum(digits)
    return found


_DIGIT_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})


def _iban_checksum(compact: pd.Series) -> Mask:
    """mod 97 == 1 over compact upper-case IBANs of their country's length."""
    ok = _ascii(compact, "A-Z0-9") & (compact.str.len() >= 5).to_numpy(dtype=bool)
    ok &= (compact.str.slice(0, 2).map(IBAN_LENGTHS) == compact.str.len()).to_numpy(dtype=bool)
    result = np.zeros(len(compact), dtype=bool)
    if not ok.any():
        return result
    compact = compact[ok]
    rearranged = compact.str.slice(4) + compact.str.slice(0, 4)
    codes = _char_matrix(rearranged, "0").astype(np.int64)
    # digits keep their value, letters become 10..35 and so take two decimal places
    values = np.where(codes >= ord("A"), codes - ord("A") + 10, codes - ord("0"))
    remainder = np.zeros(len(compact), dtype=np.int64)
    for column in values.T:
        remainder = (remainder * np.where(column >= 10, 100, 10) + column) % 97
    result[ok] = remainder == 1
    return result


def digit_count_at_least(minimum: int) -> Validator:
    """A validator accepting spans with at least ``minimum`` digits before any extension."""

    def validate(spans: pd.Series) -> Mask:
        main = spans.str.replace(r"(?:x|ext|Durchwahl|poste).*$", "", regex=True)
        return np.asarray((main.str.count(r"[0-9]") >= minimum), dtype=bool)

    return validate


def ipv6(spans: pd.Series) -> Mask:
    """`ipaddress` semantics. The parser is per value, so this loops over candidates only."""

    def parses(span: str) -> bool:
        try:
            ipaddress.IPv6Address(span)
        except ValueError:
            return False
        return True

    unique = spans.drop_duplicates()
    verdict = {span: parses(span) for span in unique} if len(unique) else {}
    # "::" alone is the unspecified address: a separator in prose, not anyone's address
    has_hex = spans.str.contains(r"[0-9A-Fa-f]", regex=True).to_numpy()
    return np.asarray(spans.map(verdict).to_numpy(dtype=bool) & has_hex, dtype=bool)


def _ymd_valid(year: pd.Series, month: pd.Series, day: pd.Series) -> Mask:
    y = pd.to_numeric(year, errors="coerce").fillna(0).to_numpy(dtype=np.int64)
    y = np.where(y < 100, 2000 + y, y)  # a two-digit year: only 29 February asks for the century
    m = pd.to_numeric(month, errors="coerce").fillna(0).to_numpy(dtype=np.int64)
    d = pd.to_numeric(day, errors="coerce").fillna(0).to_numpy(dtype=np.int64)
    month_ok = (m >= 1) & (m <= 12)
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    days = _DAYS_IN_MONTH[np.clip(m, 1, 12) - 1] + ((m == 2) & leap)
    return np.asarray(month_ok & (d >= 1) & (d <= days), dtype=bool)


# (regex over the whole span, year group, month group, day group, month is a name)
_DATE_READINGS = (
    (r"^([0-9]{4})([-/.])([0-9]{1,2})\2([0-9]{1,2})$", 1, 3, 4, False),  # ISO 1987-03-14
    (r"^([0-9]{1,2})([-/.])([0-9]{1,2})\2([0-9]{4})$", 4, 3, 1, False),  # 14.03.1987
    (r"^([0-9]{1,2})([-/.])([0-9]{1,2})\2([0-9]{4})$", 4, 1, 3, False),  # 03/14/1987
    (r"^([0-9]{2})([/.])([0-9]{2})\2([0-9]{2})$", 4, 3, 1, False),  # 14.03.87
    (r"^([0-9]{2})([/.])([0-9]{2})\2([0-9]{2})$", 4, 1, 3, False),  # 03/14/87
    (r"^([0-9]{2})()([0-9]{2})([0-9]{4})$", 4, 3, 1, False),  # 14031987
    (r"^([0-9]{1,2})(?:er|st|nd|rd|th|\.)? ([^\W\d_]+)\.?,? ([0-9]{4})$", 3, 2, 1, True),  # 14 mars
    (r"^([^\W\d_]+)\.? ([0-9]{1,2})(?:st|nd|rd|th)?,? ([0-9]{4})$", 3, 1, 2, True),  # March 14
)


def calendar_date(spans: pd.Series) -> Mask:
    """True where some reading of the span (ISO, day first, month first, named) is a real day."""
    valid = np.zeros(len(spans), dtype=bool)
    for pattern, y, m, d, named in _DATE_READINGS:
        parts = spans.str.extract(pattern)
        if parts.empty:
            continue
        month = parts[m - 1].str.lower().map(MONTHS) if named else parts[m - 1]
        valid |= _ymd_valid(parts[y - 1], month, parts[d - 1])
    return valid


def within_degrees(spans: pd.Series) -> Mask:
    """Every number of the span can be a latitude or longitude (|x| <= 180).

    Decimal commas count as points. A DMS span (``52°31'12"N``) is one position: its
    minutes and seconds must be below 60.
    """
    texts = spans.reset_index(drop=True)
    dms = texts.str.contains("°", regex=False).to_numpy(dtype=bool)
    numbers = texts.str.replace(",", ".", regex=False).str.extractall(r"(-?[0-9]+(?:\.[0-9]+)?)")
    if numbers.empty:
        return np.zeros(len(texts), dtype=bool)
    row = numbers.index.get_level_values(0).to_numpy()
    nth = numbers.index.get_level_values(1).to_numpy()
    values = pd.to_numeric(numbers[0], errors="coerce").abs().to_numpy()
    limit = np.where(dms[row] & (nth > 0), 60, 180)
    bad = np.zeros(len(texts), dtype=bool)
    np.logical_or.at(bad, row, ~(values <= limit))
    found = np.zeros(len(texts), dtype=bool)
    found[row] = True
    return found & ~bad
