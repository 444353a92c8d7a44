"""Re-identification by an authorised role: open sealed values with the subject key store.

Who can reveal is who holds both the key file (or master key) and the key store, neither of
which is in the warehouse. Every reveal is logged in the key store (user, purpose, count).
All or nothing: if one value cannot be opened, none is returned, and the error says why by
reason code and position, never by value.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from minimizer.keys import KeyRing
from minimizer.rights.errors import SubjectKeyError
from minimizer.rights.keystore import SubjectKeyStore
from minimizer.rights.sealed import open_one, split

__all__ = ["reveal"]


def reveal(values: Sequence[str], keyring: KeyRing, store: SubjectKeyStore) -> list[str]:
    parsed = [split(v) for v in values]
    malformed = [i for i, p in enumerate(parsed) if p is None]
    if malformed:
        raise SubjectKeyError(
            "not a sealed value (expected mze1_<key id>_<ciphertext>)",
            reason="malformed",
            count=len(malformed),
            positions=malformed,
        )
    kids = [p[0] for p in parsed if p is not None]
    keys = store.lookup(kids, keyring)
    missing = [i for i, k in enumerate(kids) if k not in keys]
    if missing:
        shredded = store.shredded([kids[i] for i in missing])
        gone = [i for i in missing if kids[i] in shredded]
        if gone:
            raise SubjectKeyError(
                "the subject's data key was destroyed by an erasure (crypto-shredded): the"
                " value can never be revealed again",
                reason="shredded",
                count=len(gone),
                positions=gone,
            )
        raise SubjectKeyError(
            "no data key with this key id in the key store (another key store, or not a"
            " value minimizer sealed)",
            reason="unknown_key",
            count=len(missing),
            positions=missing,
        )
    ciphers = {kid: AESSIV(key) for kid, (_, key) in keys.items()}
    opened: list[str | None] = []
    for kid, raw in (p for p in parsed if p is not None):
        try:
            opened.append(open_one(ciphers[kid], keys[kid][0], kid, raw))
        except InvalidTag:
            opened.append(None)
    tampered = [i for i, text in enumerate(opened) if text is None]
    if tampered:
        raise SubjectKeyError(
            "the value does not open under its key: altered, truncated or moved",
            reason="tampered",
            count=len(tampered),
            positions=tampered,
        )
    store.log_reveal([keys[k][0] for k in kids])
    return [text for text in opened if text is not None]
