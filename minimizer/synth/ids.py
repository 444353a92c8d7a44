"""Random-looking identifiers, drawn from a numpy Generator and encoded without row loops.

Identifiers are deliberately not small integers: a canary search for a raw customer id in a
warehouse is only meaningful when the id cannot occur by accident in other columns.
"""

from __future__ import annotations

import numpy as np

__all__ = ["encode_base32", "random_ids", "unique_random_ids"]

_ALPHABET = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"))  # RFC 4648 base32


def encode_base32(values: np.ndarray, prefix: str, length: int) -> np.ndarray:
    """Encode non-negative integers as ``prefix`` + ``length`` base32 characters.

    >>> encode_base32(np.array([0, 1, 32]), "C", 3).tolist()
    ['CAAA', 'CAAB', 'CABA']
    """
    shifts = np.arange(length - 1, -1, -1, dtype=np.uint64) * np.uint64(5)
    digits = (values.astype(np.uint64)[:, None] >> shifts[None, :]) & np.uint64(31)
    chars = np.ascontiguousarray(_ALPHABET[digits.astype(np.intp)])
    # A C-contiguous (n, length) array of 1-char strings is the same memory as n strings.
    joined = chars.view(f"<U{length}")[:, 0] if len(values) else np.array([], dtype=f"<U{length}")
    return np.char.add(prefix, joined)


def unique_random_ids(rng: np.random.Generator, n: int, prefix: str, length: int) -> np.ndarray:
    """``n`` distinct random ids (sampling without replacement, so uniqueness is guaranteed)."""
    values = rng.choice(2 ** (5 * length), size=n, replace=False)
    return encode_base32(values, prefix, length)


def random_ids(rng: np.random.Generator, n: int, prefix: str, length: int) -> np.ndarray:
    """``n`` random ids; with 12+ characters (60 bits) collisions are negligible."""
    values = rng.integers(0, 2 ** (5 * length), size=n, dtype=np.uint64, endpoint=False)
    return encode_base32(values, prefix, length)
