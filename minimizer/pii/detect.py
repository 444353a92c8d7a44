"""The PII detectors, registered by name, and the two questions the leak gate asks.

>>> import pandas as pd
>>> values = pd.Series(["DE89 3704 0044 0532 0130 00", "order 4711", None, "a@b.de"])
>>> detect(values, ["iban", "email", "card"])
{'email': 1, 'iban': 1, 'card': 0}
>>> unexpected_positions(values, "email")
[3]

Registration order below is the priority order used by :func:`minimizer.pii.scrub.scrub_text`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

import numpy as np
import pandas as pd

from minimizer.pii import patterns, validators
from minimizer.pii.registry import DETECTORS, Detector, accept_all, detector, resolve
from minimizer.pii.text import Mask, UniqueText

__all__ = [
    "DEFAULT_MAX_DECIMALS",
    "DETECTORS",
    "Detector",
    "detect",
    "precise_coordinates",
    "unexpected_positions",
]

# 3 decimals of a degree is ~110 m: a street, not a doorstep. More is "precise".
DEFAULT_MAX_DECIMALS = 3


@detector("email", patterns.EMAIL, patterns.EMAIL_HINT, tag="[EMAIL]")
def email(spans: pd.Series) -> Mask:
    """No checksum exists for an address: the pattern is the whole test."""
    return accept_all(spans)


@detector("iban", patterns.IBAN, patterns.IBAN_HINT, tag="[IBAN]")
def iban(spans: pd.Series) -> Mask:
    return validators.iban(spans)


@detector("card", patterns.CARD, patterns.CARD_HINT, tag="[CARD]", masks=("iban",))
def card(spans: pd.Series) -> Mask:
    return validators.luhn(spans.str.replace(r"[ -]", "", regex=True))


@detector("ipv6", patterns.IPV6, patterns.IPV6_HINT, tag="[IP]")
def ipv6(spans: pd.Series) -> Mask:
    return validators.ipv6(spans)


@detector("ipv4", patterns.IPV4, patterns.IPV4_HINT, tag="[IP]")
def ipv4(spans: pd.Series) -> Mask:
    """The pattern only accepts octets 0-255 without leading zeros, as `ipaddress` does."""
    return accept_all(spans)


@detector("birth_date", patterns.DATE, patterns.DATE_HINT, tag="[DATE]")
def birth_date(spans: pd.Series) -> Mask:
    """Any real calendar day: a string cannot tell a birthday from another day."""
    return validators.calendar_date(spans)


@detector(
    "precise_coordinates",
    patterns.coordinates(DEFAULT_MAX_DECIMALS),
    patterns.coordinates_hint(DEFAULT_MAX_DECIMALS),
    tag="[GEO]",
)
def _coordinates(spans: pd.Series) -> Mask:
    return validators.within_degrees(spans)


@detector("phone", patterns.PHONE, patterns.PHONE_HINT, tag="[PHONE]", masks=("iban", "card"))
def phone(spans: pd.Series) -> Mask:
    return validators.digit_count_at_least(8)(spans)


@detector("street_address", patterns.ADDRESS, patterns.ADDRESS_HINT, tag="[ADDRESS]")
def street_address(spans: pd.Series) -> Mask:
    """Street and number in German, English or French forms; no register to check against."""
    return accept_all(spans)


def precise_coordinates(values: pd.Series, max_decimals: int = DEFAULT_MAX_DECIMALS) -> pd.Series:
    """Flag lat/lon-looking numbers (alone or in pairs) with more than ``max_decimals``."""
    if max_decimals < 0:
        raise ValueError("max_decimals must be >= 0")
    tuned = replace(
        DETECTORS["precise_coordinates"],
        pattern=patterns.coordinates(max_decimals),
        hint=patterns.coordinates_hint(max_decimals),
    )
    return tuned(values)


def detect(values: pd.Series, kinds: Iterable[str] | None = None) -> dict[str, int]:
    """How many rows contain each kind (all kinds for None). Counts only, never values."""
    names = resolve(kinds)
    text = UniqueText.of(values)
    rows_per_unique = text.row_counts()
    return {name: int(rows_per_unique[DETECTORS[name].flag(text.uniques)].sum()) for name in names}


def unexpected_positions(values: pd.Series, kind: str, limit: int = 20) -> list[int]:
    """Row positions (0-based, at most ``limit``) whose value contains ``kind``."""
    if limit < 0:
        raise ValueError("limit must be >= 0")
    (name,) = resolve([kind])
    mask = DETECTORS[name](values).to_numpy()
    return np.flatnonzero(mask)[:limit].tolist()
