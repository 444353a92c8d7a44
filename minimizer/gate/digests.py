"""Keyed digests of normalised text, so raw and published values can be compared unseen.

Both sides go through the same steps: text form, surrounding whitespace trimmed, lower case
(Arrow's ``utf8_lower``), then keyed BLAKE2b (key: ``keyring.secret_for("canary")``) cut to 64
bits and held as ``uint64``: a sorted array is compact (8 bytes a value) and membership is one
vectorised search. 64 bits make a chance match between a million raw and a million published
values about 1 in 10^7; a chance match fails the gate (the safe side). Only distinct values are
hashed. A digest reveals nothing without the key, and with the key only a value one guesses.

>>> import pandas as pd
>>> raw = digests(normalised(pd.Series(["Anna@X.de ", "B7", "b7"])), b"k" * 32)
>>> out = digests(normalised(pd.Series(["anna@x.de", "C9"])), b"k" * 32)
>>> len(raw), contains(out, unique(raw)).tolist()
(2, [True, False])
>>> sorted(words(pd.Series(["Write to (anna@x.de), said C7.", None])).to_pylist())
['anna@x.de', 'c7', 'said', 'to', 'write']
"""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "DIGEST_BYTES",
    "PUNCTUATION",
    "Digests",
    "contains",
    "digests",
    "normalised",
    "pack",
    "unique",
    "unpack",
    "words",
]

DIGEST_BYTES = 8
Digests = npt.NDArray[np.uint64]
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
    text = pc.unique(pc.utf8_lower(pc.utf8_trim_whitespace(_arrow_text(values))))
    return text.filter(pc.greater(pc.utf8_length(text), 0))


def words(values: pd.Series, min_length: int = 2) -> pa.Array:
    """Distinct words of free text: split on whitespace, punctuation trimmed, lower-cased."""
    split = pc.utf8_split_whitespace(_arrow_text(values))
    flat = pc.unique(pc.utf8_lower(pc.utf8_trim(pc.list_flatten(split), characters=PUNCTUATION)))
    return flat.filter(pc.greater_equal(pc.utf8_length(flat), min_length))


def digests(texts: pa.Array, secret: bytes) -> Digests:
    """Keyed digests of normalised texts, in order."""
    base = hashlib.blake2b(key=secret, digest_size=DIGEST_BYTES)

    def one(data: bytes) -> bytes:
        h = base.copy()  # copying a keyed state is cheaper than keying anew
        h.update(data)
        return h.digest()

    # Arrow hands out UTF-8 bytes directly: no encode per value.
    data = pc.cast(texts, pa.large_binary()).to_pylist()
    return np.frombuffer(b"".join(map(one, data)), dtype="<u8")


def unique(found: Digests) -> Digests:
    """Sorted and without repeats: the form ``contains`` searches. (A sort: numpy's hash-based
    ``unique`` is several times slower on millions of uint64.)"""
    ordered = np.sort(found)
    keep = np.ones(len(ordered), dtype=bool)
    keep[1:] = ordered[1:] != ordered[:-1]
    return ordered[keep]


def contains(candidates: Digests, known: Digests) -> npt.NDArray[np.bool_]:
    """Per candidate: is it in ``known`` (sorted, unique)?"""
    if not len(known):
        return np.zeros(len(candidates), dtype=bool)
    at = np.minimum(np.searchsorted(known, candidates), len(known) - 1)
    return known[at] == candidates


def pack(found: Digests) -> bytes:
    """The on-disk form: sorted unique little-endian uint64."""
    return unique(found).astype("<u8").tobytes()


def unpack(data: bytes) -> Digests:
    if len(data) % DIGEST_BYTES:
        raise ValueError("a digest file holds whole 8-byte digests")
    return np.frombuffer(data, dtype="<u8").astype(np.uint64)
