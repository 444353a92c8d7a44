"""Keyed pseudonyms: deterministic within a purpose and key version, unlinkable across them.

Token format (documented in docs/policy.md)::

    mzp<version>_<32 lowercase hex>      e.g. mzp1_3f9c0e8a1b2d4c6e8f0a1b2c3d4e5f60

The hex is the first 128 bits of keyed BLAKE2b (key = the purpose's HKDF-derived key) over the
UTF-8 text of the value. 128 bits keep collisions negligible for any realistic number of
subjects; the version prefix lets keys rotate and lets the gate check the format.
"""

from __future__ import annotations

import hashlib
import re
from typing import ClassVar, Literal

import pandas as pd
from pydantic import model_validator

from minimizer.keys import PurposeKey
from minimizer.transforms._parse import strings_from_codes, to_utc_timestamp
from minimizer.transforms.base import Outcome, Transform, TransformContext, register

__all__ = ["TOKEN_PATTERN", "Pseudonymise", "period_label", "token_for", "tokens"]

TOKEN_PATTERN = r"^mzp[0-9]+_[0-9a-f]{32}$"
TOKEN_RE = re.compile(TOKEN_PATTERN)
_DIGEST_BYTES = 16


def _digests(key: bytes, texts: list[str]) -> bytes:
    # Copying a keyed state is cheaper than keying a new one for every value.
    base = hashlib.blake2b(key=key, digest_size=_DIGEST_BYTES)

    def one(text: str) -> bytes:
        h = base.copy()
        h.update(text.encode())
        return h.digest()

    return b"".join(map(one, texts))


# Separates a value from its rotation period inside the hashed text; cannot occur in ids.
_PERIOD_SEP = "\x1f"
_PERIOD_FORMAT = {"day": "%Y-%m-%d", "week": "%G-W%V", "month": "%Y-%m"}


def token_for(value: str, key: PurposeKey, period: str | None = None) -> str:
    """The token one value gets (in one rotation period): the single-value form of
    :func:`tokens`."""
    text = value if period is None else f"{value}{_PERIOD_SEP}{period}"
    return f"mzp{key.version}_{_digests(key.secret, [text]).hex()}"


def period_label(moment: pd.Timestamp, rotate: str) -> str:
    """The rotation period a moment falls in: '2026-06-14', '2026-W24' or '2026-06' (UTC)."""
    return pd.Timestamp(moment).tz_convert("UTC").strftime(_PERIOD_FORMAT[rotate])


def tokens(values: pd.Series, key: PurposeKey) -> pd.Series:
    """Tokens for a column. Each distinct value is hashed once; nulls stay null."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    # One C call per distinct value is the whole cost; the hex conversion is done in one go.
    hexed = _digests(key.secret, [str(u) for u in uniques]).hex()
    width = 2 * _DIGEST_BYTES
    prefix = f"mzp{key.version}_"
    table = [prefix + hexed[i : i + width] for i in range(0, len(hexed), width)]
    return strings_from_codes(codes, table, values.index).rename(values.name)


@register("pseudonymise")
class Pseudonymise(Transform):
    """Replace an identifier by its keyed token.

    ``rotate: day`` (or week, month) with ``time: <column>`` gives a person a new token each
    period, so traces cannot be linked across periods: the strongest cheap defence against
    re-identification from movement (docs/location-risk.md measures the effect on unicity).
    """

    category: ClassVar[str] = "pseudonym"
    rotate: Literal["never", "day", "week", "month"] = "never"
    time: str | None = None

    @model_validator(mode="after")
    def _rotation_needs_time(self) -> Pseudonymise:
        if self.rotate != "never" and not self.time:
            raise ValueError(f"rotate: {self.rotate} needs 'time': the column whose period counts")
        return self

    def inputs(self, output: str) -> tuple[str, ...]:
        own = self.source or output
        return (own, self.time) if self.rotate != "never" and self.time else (own,)

    def describe(self) -> str:
        base = "pseudonymised: keyed BLAKE2b token mzp<version>_<32 hex>, per-purpose key"
        if self.rotate == "never":
            return base
        return f"{base}, a new token every {self.rotate} (by {self.time}, UTC)"

    def apply(self, frame: pd.DataFrame, output: str, ctx: TransformContext) -> Outcome:
        if ctx.key is None:
            raise RuntimeError("pseudonymise needs a purpose key in the transform context")
        values = frame[self.source_of(output)]
        if self.rotate == "never":
            return Outcome(tokens(values, ctx.key))
        stamps, invalid = to_utc_timestamp(frame[str(self.time)])
        periods = stamps.dt.strftime(_PERIOD_FORMAT[self.rotate])
        keyed = values.astype("str") + _PERIOD_SEP + periods
        # A row without a time has no period: its token would not rotate, so it is invalid.
        keyed = keyed.where(values.notna() & stamps.notna())
        return Outcome(
            tokens(keyed, ctx.key).rename(values.name), invalid | (values.notna() & stamps.isna())
        )
