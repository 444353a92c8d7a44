"""The ciphertext format of the ``encrypt`` transform (a reversible pseudonym)::

    mze1_<key id: 32 hex>_<base64url, unpadded: AES-SIV tag (16 bytes) || ciphertext>

* ``mze1`` names the format version, so it can change without ambiguity.
* The key id is a keyed digest of the subject id (per purpose, see :mod:`.keystore`): it names
  the subject's data key in the key store and nothing else. It is a pseudonym in its own
  right, in the purpose's domain only.
* AES-SIV (RFC 5297, AES-256-SIV, 64-byte key) is deterministic: one subject's equal values give
  equal ciphertexts, so an encrypted subject id still joins the tables of a purpose and groups.
  It needs no nonce, so no nonce can be reused, and it authenticates the value together with
  the associated data ``minimizer/sealed/v1``, the purpose and the key id: a value cannot be
  moved to another purpose or key id without failing to open.
"""

from __future__ import annotations

import base64
import re

from cryptography.hazmat.primitives.ciphers.aead import AESSIV

__all__ = ["KEY_ID_CHARS", "SEALED_PATTERN", "key_id_prefix", "open_one", "seal", "split"]

_PREFIX = "mze1_"
_KID_HEX = 32
SEALED_PATTERN = r"^mze1_[0-9a-f]{32}_[A-Za-z0-9_-]{22,}$"
_SEALED = re.compile(SEALED_PATTERN)
# Characters up to and including the separator after the key id: what erasure matches on.
KEY_ID_CHARS = len(_PREFIX) + _KID_HEX + 1


def key_id_prefix(kid: str) -> str:
    return f"{_PREFIX}{kid}_"


def _ad(purpose: str, kid: str) -> list[bytes]:
    return [b"minimizer/sealed/v1", purpose.encode(), kid.encode()]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def seal(cipher: AESSIV, purpose: str, kid: str, text: str) -> str:
    """One subject's value, sealed under their data key."""
    return key_id_prefix(kid) + _b64(cipher.encrypt(text.encode(), _ad(purpose, kid)))


def split(value: str) -> tuple[str, bytes] | None:
    """(key id, sealed bytes) of a well-formed value, else None."""
    if not isinstance(value, str) or not _SEALED.match(value):
        return None
    body = value[KEY_ID_CHARS:]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except ValueError:
        return None
    return value[len(_PREFIX) : len(_PREFIX) + _KID_HEX], raw


def open_one(cipher: AESSIV, purpose: str, kid: str, raw: bytes) -> str:
    """The text; ``cryptography.exceptions.InvalidTag`` if it was altered or moved."""
    return cipher.decrypt(raw, _ad(purpose, kid)).decode()
