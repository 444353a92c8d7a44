"""Keyed digests of subject ids: what the audit schema and the key store hold instead of ids.

``keyed_hex(secret, texts)`` is the first 128 bits of keyed BLAKE2b, as lowercase hex. The
secret comes from the key ring (``KeyRing.secret_for(use, version)``), never from the data, so
a digest cannot be recomputed from a guessed id without the key, and a retired key version
makes its digests unlinkable for good.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from minimizer.keys import KeyRing

__all__ = ["DIGEST_HEX", "ERASURE_USE", "keyed_hex", "subject_digests"]

ERASURE_USE = "erasure"
_BYTES = 16
DIGEST_HEX = 2 * _BYTES


def keyed_hex(secret: bytes, texts: Sequence[str]) -> list[str]:
    """One digest per text, in order. Copying a keyed state beats keying a new one per value."""
    base = hashlib.blake2b(key=secret, digest_size=_BYTES)

    def one(text: str) -> bytes:
        h = base.copy()
        h.update(text.encode())
        return h.digest()

    hexed = b"".join(map(one, texts)).hex()
    return [hexed[i : i + DIGEST_HEX] for i in range(0, len(hexed), DIGEST_HEX)]


def subject_digests(keyring: KeyRing, ids: Sequence[str], version: int) -> list[str]:
    """The erasure-list digest of each subject id under one live key version."""
    return keyed_hex(keyring.secret_for(ERASURE_USE, version), ids)
