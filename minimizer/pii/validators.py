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

from minimizer.pii.tables import IBAN_LENGTHS, MONTHS

__all__ = [
    "calendar_date",
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
    return spans.str.fullmatch(f"[{allowed}]+", case=True).to_numpy(dtype=bool)


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


def iban(spans: pd.Series) -> Mask:
    """ISO 13616 check: the country's length and mod 97 == 1 of the rearranged number."""
    compact = spans.str.replace(" ", "", regex=False).str.upper()
    ok = _ascii(compact, "A-Z0-9") & (compact.str.len() >= 5).to_numpy(dtype=bool)
    ok &= (compact.str.slice(0, 2).map(IBAN_LENGTHS) == compact.str.len()).to_numpy(dtype=bool)
    result = np.zeros(len(spans), dtype=bool)
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
        return (main.str.count(r"[0-9]") >= minimum).to_numpy(dtype=bool)

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
    return spans.map(verdict).to_numpy(dtype=bool) & has_hex


def _ymd_valid(year: pd.Series, month: pd.Series, day: pd.Series) -> Mask:
    y = pd.to_numeric(year, errors="coerce").fillna(0).to_numpy(dtype=np.int64)
    m = pd.to_numeric(month, errors="coerce").fillna(0).to_numpy(dtype=np.int64)
    d = pd.to_numeric(day, errors="coerce").fillna(0).to_numpy(dtype=np.int64)
    month_ok = (m >= 1) & (m <= 12)
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    days = _DAYS_IN_MONTH[np.clip(m, 1, 12) - 1] + ((m == 2) & leap)
    return month_ok & (d >= 1) & (d <= days)


# (regex over the whole span, year group, month group, day group, month is a name)
_DATE_READINGS = (
    (r"^([0-9]{4})([-/.])([0-9]{1,2})\2([0-9]{1,2})$", 1, 3, 4, False),  # ISO 1987-03-14
    (r"^([0-9]{1,2})([-/.])([0-9]{1,2})\2([0-9]{4})$", 4, 3, 1, False),  # 14.03.1987
    (r"^([0-9]{1,2})([-/.])([0-9]{1,2})\2([0-9]{4})$", 4, 1, 3, False),  # 03/14/1987
    (r"^([0-9]{1,2})(?:er|\.)? ([^\W\d_]+)\.?,? ([0-9]{4})$", 3, 2, 1, True),  # 14 mars 1987
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
    """A decimal number that can be a latitude or longitude (|x| <= 180)."""
    return (pd.to_numeric(spans, errors="coerce").abs() <= 180).to_numpy(dtype=bool)
