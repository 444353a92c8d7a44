"""Keyed pseudonyms: deterministic within a purpose and key version, unlinkable across them.

Token format (documented in docs/policy.md)::

    mzp<version>_<32 lowercase hex>      e.g. mzp1_3f9c0e8a1b2d4c6e8f0a1b2c3d4e5f60

The hex is a 128-bit keyed hash (key = the purpose's HKDF-derived key) of the UTF-8 text of the
value, by the key version's scheme (:data:`minimizer.keys.TokenScheme`): AES-256-CMAC for key
versions made by this release (a whole column per AES call, :mod:`._cmac`), keyed BLAKE2b for
versions made before. 128 bits keep collisions negligible for any realistic number of subjects;
the version prefix lets keys rotate (and schemes change) and lets the gate check the format.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import model_validator

from minimizer.transforms.base import Outcome, Transform, TransformContext, register

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from minimizer.keys import PurposeKey

__all__ = [
    "TOKEN_PATTERN",
    "Pseudonymise",
    "period_label",
    "period_labels",
    "token_for",
    "tokens",
]

TOKEN_PATTERN = r"^mzp[0-9]+_[0-9a-f]{32}$"
TOKEN_RE = re.compile(TOKEN_PATTERN)
_DIGEST_BYTES = 16


def _digests(key: PurposeKey, data: pa.Array) -> bytes:
    """The 16-byte digests of ``data`` (binary, no nulls) by the key's scheme, concatenated."""
    if key.scheme == "aes-cmac":
        from minimizer.transforms._cmac import cmac_digests

        return cmac_digests(key.secret, data)
    return _blake2b_digests(key.secret, data.to_pylist())


def _blake2b_digests(key: bytes, data: list[bytes]) -> bytes:
    """One C hash call per value, the floor of a per-value scheme; copying a keyed state is
    cheaper than keying a new one."""
    base = hashlib.blake2b(key=key, digest_size=_DIGEST_BYTES)

    def one(value: bytes) -> bytes:
        h = base.copy()
        h.update(value)
        return h.digest()

    return b"".join(map(one, data))


def _token_array(version: int, digests: bytes) -> pa.StringArray:
    """``mzp<version>_<hex>`` for each 16-byte digest, built as one Arrow buffer (no loop).

    ``bytes.hex`` writes the hex of every digest in one C call; numpy only lays the prefix
    beside it, row by row of a fixed-width byte matrix."""
    import numpy as np
    import pyarrow as pa

    prefix = np.frombuffer(f"mzp{version}_".encode(), dtype=np.uint8)
    n, width = len(digests) // _DIGEST_BYTES, len(prefix) + 2 * _DIGEST_BYTES
    hex_text = np.frombuffer(digests.hex().encode("ascii"), dtype=np.uint8)
    text = np.empty((n, width), dtype=np.uint8)
    text[:, : len(prefix)] = prefix
    text[:, len(prefix) :] = hex_text.reshape(n, 2 * _DIGEST_BYTES)
    wide = n * width >= 2**31  # past what 32-bit offsets address
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int64 if wide else np.int32)
    kind = pa.large_string() if wide else pa.string()
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(text)]
    return pa.Array.from_buffers(kind, n, buffers)


def _distinct(values: pd.Series) -> tuple[pa.Array, pa.Array]:
    """Row codes into the distinct values (null where the value is null), and each distinct
    value's UTF-8 text as binary. Text columns are encoded in Arrow; other types keep
    ``str(value)``, the text the token scheme has always hashed."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    from minimizer.transforms._parse import arrow_strings

    strings = arrow_strings(values)
    if strings is not None:
        encoded = pc.dictionary_encode(strings)
        return encoded.indices, encoded.dictionary.cast(pa.large_binary())
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    indices = pa.array(codes.astype(np.int32), mask=codes < 0)
    return indices, pa.array([str(u).encode() for u in uniques], pa.large_binary())


# Separates a value from its rotation period inside the hashed text; cannot occur in ids.
_PERIOD_SEP = "\x1f"
_PERIOD_FORMAT = {"12h": "%Y-%m-%dT%H", "day": "%Y-%m-%d", "week": "%G-W%V", "month": "%Y-%m"}
# Periods no date format truncates to: floor the moment first (12h: 00:00 and 12:00 UTC).
_FLOOR = {"12h": "12h"}


def token_for(value: str, key: PurposeKey, period: str | None = None) -> str:
    """The token one value gets (in one rotation period): the single-value form of
    :func:`tokens`."""
    import pyarrow as pa

    text = value if period is None else f"{value}{_PERIOD_SEP}{period}"
    return f"mzp{key.version}_{_digests(key, pa.array([text.encode()], pa.large_binary())).hex()}"


def period_label(moment: pd.Timestamp, rotate: str) -> str:
    """The rotation period a moment falls in: '2026-06-14T12' (12h), '2026-06-14', '2026-W24'
    or '2026-06' (UTC)."""
    import pandas as pd

    stamp = pd.Timestamp(moment).tz_convert("UTC")
    stamp = stamp.floor(_FLOOR[rotate]) if rotate in _FLOOR else stamp
    return str(stamp.strftime(_PERIOD_FORMAT[rotate]))


def period_labels(stamps: pd.Series, rotate: str) -> pd.Series:
    """:func:`period_label` of a column of UTC timestamps, vectorised (nulls stay null)."""
    floored = stamps.dt.floor(_FLOOR[rotate]) if rotate in _FLOOR else stamps
    return floored.dt.strftime(_PERIOD_FORMAT[rotate])


def tokens(values: pd.Series, key: PurposeKey) -> pd.Series:
    """Tokens for a column. Each distinct value is hashed once; nulls stay null.

    The distinct values are found and the tokens broadcast back to the rows in Arrow; Python
    runs once per distinct value, for the hash call alone."""
    import pyarrow.compute as pc

    from minimizer.transforms._parse import as_str_series

    if key.scheme == "aes-cmac":
        from minimizer.transforms._parse import arrow_strings

        strings = arrow_strings(values)
        if strings is not None and _looks_all_distinct(strings):
            table = _token_array(key.version, _digests(key, strings))
            return as_str_series(table, values.index, values.name)
    indices, distinct = _distinct(values)
    table = _token_array(key.version, _digests(key, distinct))
    return as_str_series(pc.take(table, indices), values.index, values.name)


_SAMPLE = 4096


def _looks_all_distinct(strings: pa.Array) -> bool:
    """True when a spread sample of a null-free column holds no value twice (CRM ids, e-mails).
    Column-at-once AES-CMAC costs about what finding the distinct values costs, so a column of
    distinct values is hashed row by row; one with repeats (events) keeps the distinct pass.
    The tokens are the same either way: only the work differs."""
    import numpy as np
    import pyarrow.compute as pc

    if strings.null_count:
        return False
    n = len(strings)
    sample = (
        strings if n <= _SAMPLE else strings.take(np.linspace(0, n - 1, _SAMPLE, dtype=np.int64))
    )
    return bool(pc.count_distinct(sample).as_py() == len(sample))


@register("pseudonymise")
class Pseudonymise(Transform):
    """Replace an identifier by its keyed token.

    ``rotate: day`` (or week, month) with ``time: <column>`` gives a person a new token each
    period, so traces cannot be linked across periods: the strongest cheap defence against
    re-identification from movement (docs/location-risk.md measures the effect on unicity).
    """

    category: ClassVar[str] = "pseudonym"
    # 12h: a new token at 00:00 and 12:00 UTC (half-day traces: docs/location-risk.md).
    rotate: Literal["never", "12h", "day", "week", "month"] = "never"
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
        base = (
            "pseudonymised: keyed token mzp<version>_<32 hex> (AES-256-CMAC, or BLAKE2b for"
            " key versions made before it), per-purpose key"
        )
        if self.rotate == "never":
            return base
        return f"{base}, a new token every {self.rotate} (by {self.time}, UTC)"

    def apply(self, frame: pd.DataFrame, output: str, ctx: TransformContext) -> Outcome:
        if ctx.key is None:
            raise RuntimeError("pseudonymise needs a purpose key in the transform context")
        from minimizer.transforms._parse import to_utc_timestamp

        values = frame[self.source_of(output)]
        if self.rotate == "never":
            return Outcome(tokens(values, ctx.key))
        stamps, invalid = to_utc_timestamp(frame[str(self.time)])
        periods = period_labels(stamps, self.rotate)
        keyed = values.astype("str") + _PERIOD_SEP + periods
        # A row without a time has no period: its token would not rotate, so it is invalid.
        keyed = keyed.where(values.notna() & stamps.notna())
        return Outcome(
            tokens(keyed, ctx.key).rename(values.name), invalid | (values.notna() & stamps.isna())
        )
