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

import sys
import types
from collections.abc import Iterable
from dataclasses import replace

import numpy as np
import pandas as pd

from minimizer.pii import addresses, national_ids, patterns, phones, validators
from minimizer.pii.hints import re2_hint
from minimizer.pii.normalisation import normalise
from minimizer.pii.registry import (
    DETECTORS,
    Detector,
    PatternDetector,
    accept_all,
    detector,
    register_any_of,
    resolve,
)
from minimizer.pii.text import Mask, UniqueText, harmless

__all__ = [
    "DEFAULT_MAX_DECIMALS",
    "DETECTORS",
    "Detector",
    "detect",
    "flag_all",
    "precise_coordinates",
    "unexpected_positions",
]

# 3 decimals of a degree is ~110 m: a street, not a doorstep. More is "precise".
DEFAULT_MAX_DECIMALS = 3
# the harmless shapes (minimizer.pii.text.HARMLESS) include amounts with this many decimals
_AMOUNT_DECIMALS = 2


# the hand-written hint: RE2's DFA for the hint derived from the whole pattern (three forms,
# Unicode classes) is many times slower than this superset ("@", a bracketed or spelled "at")
@detector("email", patterns.EMAIL, patterns.EMAIL_HINT, tag="[EMAIL]")
def email(spans: pd.Series) -> Mask:
    """No checksum exists for an address: the pattern is the whole test."""
    return accept_all(spans)


@detector("iban", patterns.IBAN, None, tag="[IBAN]")
def iban(spans: pd.Series) -> Mask:
    return validators.iban(spans)


@detector("bic", patterns.BIC, None, tag="[BIC]", masks=("iban",))
def bic(spans: pd.Series) -> Mask:
    return validators.bic(spans)


@detector("card", patterns.CARD, None, tag="[CARD]", masks=("iban",))
def card(spans: pd.Series) -> Mask:
    return validators.card(spans)


@detector("device_id", patterns.ADVERTISING_ID, None, tag="[DEVICE]")
def device_id(spans: pd.Series) -> Mask:
    """IDFA/GAID and other device UUIDs: the shape is the test (no checksum exists).

    Any UUID, not only version 4 (the red team asked): GAIDs of older Android builds and
    vendor device ids are version 1 (``38400000-8cf0-11bd-…``), and a value cannot show
    whether a random UUID in a "token" column names a device, a session or a person. Each is
    a persistent id that singles one subject out (recital 30 GDPR); a purpose publishes it
    pseudonymised (``mzp1_`` tokens are not UUID-shaped) or states an exception.
    """
    return accept_all(spans)


@detector("mac_address", patterns.MAC, None, tag="[DEVICE]")
def mac_address(spans: pd.Series) -> Mask:
    return accept_all(spans)


@detector("ipv6", patterns.IPV6, None, tag="[IP]")
def ipv6(spans: pd.Series) -> Mask:
    return validators.ipv6(spans)


@detector("ipv4", patterns.IPV4, None, tag="[IP]")
def ipv4(spans: pd.Series) -> Mask:
    """The pattern only accepts octets 0-255 without leading zeros, as `ipaddress` does, or
    zero-padded to three digits ("192.168.001.001", as logs print them)."""
    return accept_all(spans)


@detector("birth_date", patterns.DATE, None, tag="[DATE]")
def birth_date(spans: pd.Series) -> Mask:
    """Any real calendar day: a string cannot tell a birthday from another day."""
    return validators.calendar_date(spans)


@detector(
    "precise_coordinates",
    patterns.coordinates(DEFAULT_MAX_DECIMALS),
    None,
    tag="[GEO]",
)
def _coordinates(spans: pd.Series) -> Mask:
    return validators.within_degrees(spans)


@detector("phone", phones.PHONE, None, tag="[PHONE]", masks=("iban", "card", "birth_date"))
def phone(spans: pd.Series) -> Mask:
    """libphonenumber, with the home regions as hints, once per distinct candidate."""
    return phones.phone(spans)


register_any_of(
    "national_id",
    "[ID]",
    national_ids.NATIONAL_ID_FORMS,
    # not masked by "card": a NIR or BSN that also passes Luhn is still a national id
    masks=("iban",),
    union_prefilter=False,
)
register_any_of("vat_id", "[VAT]", national_ids.VAT_FORMS, masks=("iban",))


# street and number in German, Dutch, English or French forms, postcode lines, and bare
# "place + number" values (minimizer.pii.addresses); not masked by "iban" or "card": the
# forms need a capitalised word or a postcode's letters, which neither has
register_any_of("street_address", "[ADDRESS]", addresses.ADDRESS_FORMS)


def precise_coordinates(values: pd.Series, max_decimals: int = DEFAULT_MAX_DECIMALS) -> pd.Series:
    """Flag lat/lon-looking numbers (alone or in pairs) with more than ``max_decimals``."""
    if max_decimals < 0:
        raise ValueError("max_decimals must be >= 0")
    tuned = _tuned_coordinates(max_decimals)
    if max_decimals >= _AMOUNT_DECIMALS:
        return tuned(values)
    # an "amount" such as 52.52 is a position at this grain: no harmless shapes set aside
    text = UniqueText.of(values)
    return text.broadcast(tuned.flag_normalised(normalise(text.uniques)))


def _tuned_coordinates(max_decimals: int) -> PatternDetector:
    pattern = patterns.coordinates(max_decimals)
    found = DETECTORS["precise_coordinates"]
    assert isinstance(found, PatternDetector)
    return replace(found, pattern=pattern, hint=re2_hint(pattern))


def flag_all(
    texts: pd.Series,
    kinds: Iterable[str] | None = None,
    max_decimals: int = DEFAULT_MAX_DECIMALS,
) -> dict[str, Mask]:
    """Per kind, which texts (distinct strings, object dtype) contain it: the gate's hook.

    Does the shared work once for all kinds: normalisation, the Arrow conversion, setting
    aside the harmless shapes (timestamps, amounts, counts). Then each kind's RE2 hint and
    Python pattern run on what is left. Equal to ``DETECTORS[kind].flag(texts)`` per kind.
    """
    names = resolve(kinds)
    texts = texts.reset_index(drop=True)
    out = {name: np.zeros(len(texts), dtype=bool) for name in names}
    normal = normalise(texts)
    live = np.flatnonzero(~harmless(normal))
    if not live.size:
        return out
    rest = normal.iloc[live].reset_index(drop=True) if live.size < len(texts) else normal
    for name in names:
        found = DETECTORS[name]
        if name == "precise_coordinates" and max_decimals != DEFAULT_MAX_DECIMALS:
            found = _tuned_coordinates(max_decimals)
            if max_decimals < _AMOUNT_DECIMALS:  # amounts are positions at this grain
                out[name] = found.flag_normalised(normal)
                continue
        out[name][live] = found.flag_normalised(rest)
    return out


def detect(values: pd.Series, kinds: Iterable[str] | None = None) -> dict[str, int]:
    """How many rows contain each kind (all kinds for None). Counts only, never values."""
    text = UniqueText.of(values)
    rows_per_unique = text.row_counts()
    flags = flag_all(text.uniques, kinds)
    return {name: int(rows_per_unique[mask].sum()) for name, mask in flags.items()}


def unexpected_positions(values: pd.Series, kind: str, limit: int = 20) -> list[int]:
    """Row positions (0-based, at most ``limit``) whose value contains ``kind``."""
    if limit < 0:
        raise ValueError("limit must be >= 0")
    (name,) = resolve([kind])
    mask = DETECTORS[name](values).to_numpy()
    return [int(i) for i in np.flatnonzero(mask)[:limit]]


class _CallableModule(types.ModuleType):
    """This module, callable as :func:`detect`.

    ``minimizer.pii`` exports the function ``detect`` lazily, but importing this submodule
    binds the *module* to the package attribute of the same name, so ``from minimizer.pii
    import detect`` could return either, depending on import order. Calling either works.
    """

    def __call__(self, values: pd.Series, kinds: Iterable[str] | None = None) -> dict[str, int]:
        return detect(values, kinds)


sys.modules[__name__].__class__ = _CallableModule
