"""Keyed digests of normalised text, so raw and published values can be compared unseen.

Both sides go through the same steps: text form, surrounding whitespace trimmed, lower case
(Arrow's ``utf8_lower``), then keyed BLAKE2b (key: ``keyring.secret_for("canary")``, 16 bytes).
Only distinct values are hashed. A digest set reveals nothing without the key, and with the key
only a value one already guesses.

>>> import pandas as pd
>>> a = digest_set(normalised(pd.Series(["Anna@X.de ", "B7"])), b"k" * 32)
>>> b = digest_set(normalised(pd.Series(["anna@x.de"])), b"k" * 32)
>>> len(a), len(a & b)
(2, 1)
>>> sorted(words(pd.Series(["Write to (anna@x.de), said C7.", None])).tolist())
['anna@x.de', 'c7', 'said', 'to', 'write']
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "DIGEST_BYTES",
    "PUNCTUATION",
    "digest_list",
    "digest_set",
    "normalised",
    "pack",
    "unpack",
    "words",
]

DIGEST_BYTES = 16
# Stripped from both ends of a word: "(anna@x.de)," is the word "anna@x.de".
PUNCTUATION = "\"'()[]{}<>.,;:!?«»“”‘’"


def _arrow_text(values: pd.Series) -> pa.Array:
    """The distinct non-null values as an Arrow string array (their text form)."""
    uniques = pd.unique(values.dropna())
    try:
        return pa.array(np.asarray(uniques, dtype=object), type=pa.large_string())
    except (pa.ArrowException, TypeError):
        # ints, dates, lone surrogates...: one str() per distinct value, never per row
        text = [str(v).encode("utf-8", "replace").decode("utf-8") for v in uniques]
        return pa.array(text, type=pa.large_string())


def normalised(values: pd.Series) -> pa.Array:
    """Distinct values, trimmed and lower-cased; empty strings dropped."""
    text = pc.utf8_lower(pc.utf8_trim_whitespace(_arrow_text(values)))
    text = pc.unique(text)
    return text.filter(pc.greater(pc.utf8_length(text), 0))


def words(values: pd.Series, min_length: int = 2) -> pa.Array:
    """Distinct words of free text: split on whitespace, punctuation trimmed, lower-cased."""
    split = pc.utf8_split_whitespace(_arrow_text(values))
    flat = pc.utf8_lower(pc.utf8_trim(pc.list_flatten(split), characters=PUNCTUATION))
    flat = pc.unique(flat)
    return flat.filter(pc.greater_equal(pc.utf8_length(flat), min_length))


def digest_list(texts: pa.Array | Iterable[str], secret: bytes) -> list[bytes]:
    """Keyed BLAKE2b digests of the texts (already normalised), in order."""
    base = hashlib.blake2b(key=secret, digest_size=DIGEST_BYTES)

    def one(text: str) -> bytes:
        h = base.copy()  # copying a keyed state is cheaper than keying anew
        h.update(text.encode("utf-8", "surrogatepass"))
        return h.digest()

    items = texts.to_pylist() if isinstance(texts, pa.Array) else texts
    return list(map(one, items))


def digest_set(texts: pa.Array | Iterable[str], secret: bytes) -> set[bytes]:
    return set(digest_list(texts, secret))


def pack(digests: set[bytes]) -> bytes:
    """Sorted and concatenated: the on-disk form of a digest set."""
    return b"".join(sorted(digests))


def unpack(data: bytes) -> set[bytes]:
    if len(data) % DIGEST_BYTES:
        raise ValueError("a digest file holds whole 16-byte digests")
    return {data[i : i + DIGEST_BYTES] for i in range(0, len(data), DIGEST_BYTES)}
