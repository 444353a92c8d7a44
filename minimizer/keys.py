"""Key material: where the master key comes from, and how each purpose gets its own key.

The master key never touches the warehouse. Each purpose derives its own pseudonymisation key
with HKDF (RFC 5869), bound to the purpose id and the key version, so tokens of two purposes
cannot be joined (separate pseudonymisation domains, EDPB Guidelines 01/2025), and a new key
version changes every token.

Key sources, first match wins:

* ``MINIMIZER_MASTER_KEY``: base64 of at least 32 random bytes; its version is
  ``MINIMIZER_KEY_VERSION`` (default 1).
* ``MINIMIZER_KEY_FILE``: a JSON key ring written by ``minimizer keys init`` (mode 0600).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from minimizer.errors import KeyMaterialError

__all__ = [
    "MIN_KEY_BYTES",
    "KeyRing",
    "PurposeKey",
    "default_key_file",
    "load_keyring",
]

MIN_KEY_BYTES = 32
ENV_KEY = "MINIMIZER_MASTER_KEY"
ENV_VERSION = "MINIMIZER_KEY_VERSION"
ENV_FILE = "MINIMIZER_KEY_FILE"


@dataclass(frozen=True, repr=False)
class PurposeKey:
    """A derived key for one purpose and one key version. Its repr never shows the bytes."""

    purpose: str
    version: int
    secret: bytes

    def __repr__(self) -> str:
        return f"PurposeKey(purpose={self.purpose!r}, version={self.version}, secret=<hidden>)"


def _decode(text: str, origin: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise KeyMaterialError(
            f"{origin}: the master key must be base64 (as written by 'minimizer keys init')"
        ) from None
    if len(raw) < MIN_KEY_BYTES:
        raise KeyMaterialError(
            f"{origin}: the master key is {len(raw)} bytes; at least {MIN_KEY_BYTES} are required"
        )
    return raw


@dataclass(repr=False)
class KeyRing:
    """Master keys by version. ``current`` signs new tokens; ``retired`` ones can no longer."""

    masters: dict[int, bytes]
    current: int
    retired: set[int] = field(default_factory=set)
    path: Path | None = None

    def __repr__(self) -> str:
        return f"KeyRing(versions={sorted(self.masters)}, current={self.current})"

    @property
    def live_versions(self) -> list[int]:
        return sorted(v for v in self.masters if v not in self.retired)

    def purpose_key(self, purpose: str, version: int | None = None) -> PurposeKey:
        version = self.current if version is None else version
        if version not in self.masters or version in self.retired:
            raise KeyMaterialError(
                f"key version {version} is not available; live versions: {self.live_versions}"
            )
        return derive(self.masters[version], purpose, version, use="pseudonymise")

    def secret_for(self, use: str, version: int | None = None) -> bytes:
        """A derived secret for an internal use (canary digests, erasure list), never a master."""
        version = self.current if version is None else version
        return derive(self.masters[version], "*", version, use=use).secret

    # -- persistence ---------------------------------------------------------------------
    def to_json(self) -> str:
        doc = {
            "format": "minimizer-keyring/1",
            "current": self.current,
            "retired": sorted(self.retired),
            "keys": {
                str(v): base64.urlsafe_b64encode(k).decode()
                for v, k in sorted(self.masters.items())
            },
        }
        return json.dumps(doc, indent=2) + "\n"

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(self.to_json())
        os.replace(tmp, path)
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
        self.path = path

    def rotate(self) -> int:
        """Add a new key version and make it current. Old versions stay live until retired."""
        version = max(self.masters) + 1
        self.masters[version] = secrets.token_bytes(MIN_KEY_BYTES)
        self.current = version
        return version

    def retire(self, version: int) -> None:
        if version == self.current:
            raise KeyMaterialError("the current key version cannot be retired; rotate first")
        if version not in self.masters:
            raise KeyMaterialError(f"unknown key version {version}")
        self.retired.add(version)
        # Retiring destroys the master: tokens of that version become unlinkable for good.
        self.masters[version] = b""

    @classmethod
    def new(cls) -> KeyRing:
        return cls(masters={1: secrets.token_bytes(MIN_KEY_BYTES)}, current=1)

    @classmethod
    def from_file(cls, path: Path) -> KeyRing:
        origin = str(path)
        try:
            doc = json.loads(path.read_text())
        except FileNotFoundError:
            raise KeyMaterialError(f"{origin}: key file not found") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise KeyMaterialError(
                f"{origin}: unreadable key file ({type(exc).__name__})"
            ) from None
        if not isinstance(doc, dict) or doc.get("format") != "minimizer-keyring/1":
            raise KeyMaterialError(f"{origin}: not a minimizer key ring")
        retired = {int(v) for v in doc.get("retired", [])}
        masters = {
            int(v): (b"" if int(v) in retired else _decode(k, f"{origin} version {v}"))
            for v, k in doc["keys"].items()
        }
        return cls(masters=masters, current=int(doc["current"]), retired=retired, path=path)


def derive(master: bytes, purpose: str, version: int, *, use: str) -> PurposeKey:
    info = f"minimizer/{use}/v{version}/{purpose}".encode()
    secret = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)
    return PurposeKey(purpose=purpose, version=version, secret=secret)


def default_key_file() -> Path:
    """Outside any repository by default: the user's config directory."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "minimizer" / "keys.json"


def load_keyring(env: dict[str, str] | None = None) -> KeyRing:
    env = dict(os.environ if env is None else env)
    if env.get(ENV_KEY):
        version = int(env.get(ENV_VERSION, "1"))
        return KeyRing(masters={version: _decode(env[ENV_KEY], ENV_KEY)}, current=version)
    if env.get(ENV_FILE):
        return KeyRing.from_file(Path(env[ENV_FILE]))
    raise KeyMaterialError(
        f"no key: set {ENV_KEY} (base64, >= {MIN_KEY_BYTES} bytes) or {ENV_FILE} "
        "(create one with 'minimizer keys init')"
    )
