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
from typing import ClassVar

import pandas as pd

from minimizer.keys import PurposeKey
from minimizer.transforms._parse import strings_from_codes
from minimizer.transforms.base import Outcome, Transform, TransformContext, register

__all__ = ["TOKEN_PATTERN", "Pseudonymise", "token_for", "tokens"]

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


def token_for(value: str, key: PurposeKey) -> str:
    """The token one value gets: the single-value form of :func:`tokens`."""
    return f"mzp{key.version}_{_digests(key.secret, [value]).hex()}"


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
    """Replace an identifier by its keyed token."""

    category: ClassVar[str] = "pseudonym"

    def describe(self) -> str:
        return "pseudonymised: keyed BLAKE2b token mzp<version>_<32 hex>, per-purpose key"

    def apply(self, frame: pd.DataFrame, output: str, ctx: TransformContext) -> Outcome:
        if ctx.key is None:
            raise RuntimeError("pseudonymise needs a purpose key in the transform context")
        return Outcome(tokens(frame[self.source_of(output)], ctx.key))
