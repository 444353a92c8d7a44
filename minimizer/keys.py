"""Key material: where the master key comes from, and how each purpose gets its own key.

The master key never touches the warehouse. Each purpose derives its own pseudonymisation key
with HKDF (RFC 5869), bound to the purpose id and the key version, so tokens of two purposes
cannot be joined (separate pseudonymisation domains, EDPB Guidelines 01/2025), and a new key
version changes every token.

Key sources, first match wins:

* ``MINIMIZER_MASTER_KEY``: base64 of at least 32 random bytes; its version is
  ``MINIMIZER_KEY_VERSION`` (default 1) and its token scheme ``MINIMIZER_TOKEN_SCHEME``
  (default ``blake2b``, what such a key has always made; ``aes-cmac`` for a new one).
* ``MINIMIZER_KEY_FILE``: a JSON key ring written by ``minimizer keys init`` (mode 0600).
* the default key file, ``$XDG_CONFIG_HOME/minimizer/keys.json`` (else
  ``~/.config/minimizer/keys.json``), where ``minimizer keys init`` writes by default.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from minimizer.errors import KeyMaterialError

__all__ = [
    "MIN_KEY_BYTES",
    "NEW_SCHEME",
    "KeyRing",
    "PurposeKey",
    "TokenScheme",
    "default_key_file",
    "load_keyring",
]

MIN_KEY_BYTES = 32
# Derived secrets a retired version keeps: the erasure list's digests must stay checkable after
# the master is destroyed (else an erased subject who was never loaded comes back with the
# next load), and so must the privacy ledger's digests of released days (else a re-run after a
# retirement could not see that a day is unchanged, and would spend its ε again). A derived
# secret cannot give back the master, so the tokens stay unlinkable.
RETAINED_USES = ("erasure", "privacy_ledger")
ENV_KEY = "MINIMIZER_MASTER_KEY"
ENV_VERSION = "MINIMIZER_KEY_VERSION"
ENV_FILE = "MINIMIZER_KEY_FILE"
ENV_SCHEME = "MINIMIZER_TOKEN_SCHEME"

# How a key version turns a value into its token (docs/policy.md "Tokens"). The scheme belongs
# to the key version, so changing it is a new version: a warehouse keeps its tokens until
# `keys rekey` moves them, and erasure computes each version's tokens with that version's scheme.
# - blake2b: keyed BLAKE2b-128, one hash call per value; every version made before aes-cmac.
# - aes-cmac: AES-256-CMAC (RFC 4493), computed for a whole column at once (transforms/_cmac).
TokenScheme = Literal["blake2b", "aes-cmac"]
LEGACY_SCHEME: TokenScheme = "blake2b"  # a version without a recorded scheme
NEW_SCHEME: TokenScheme = "aes-cmac"  # what `keys init` and `keys rotate` make


@dataclass(frozen=True, repr=False)
class PurposeKey:
    """A derived key for one purpose and one key version. Its repr never shows the bytes."""

    purpose: str
    version: int
    secret: bytes
    scheme: TokenScheme = LEGACY_SCHEME

    def __repr__(self) -> str:
        return (
            f"PurposeKey(purpose={self.purpose!r}, version={self.version}, "
            f"scheme={self.scheme}, secret=<hidden>)"
        )


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
    # use -> retired version -> the derived secret kept for it (see RETAINED_USES)
    retained: dict[str, dict[int, bytes]] = field(default_factory=dict)
    # version -> token scheme; a version not listed is LEGACY_SCHEME (rings from before)
    schemes: dict[int, TokenScheme] = field(default_factory=dict)

    def scheme(self, version: int | None = None) -> TokenScheme:
        return self.schemes.get(self.current if version is None else version, LEGACY_SCHEME)

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
        key = derive(self.masters[version], purpose, version, use="pseudonymise")
        return PurposeKey(key.purpose, key.version, key.secret, self.scheme(version))

    def secret_for(self, use: str, version: int | None = None) -> bytes:
        """A derived secret for an internal use (canary digests, erasure list), never a master.
        A retired version answers only for the uses whose secret it kept."""
        version = self.current if version is None else version
        kept = self.retained.get(use, {})
        if version in kept:
            return kept[version]
        if version not in self.masters or version in self.retired:
            raise KeyMaterialError(
                f"key version {version} is not available for {use}; live versions:"
                f" {self.live_versions}"
            )
        return derive(self.masters[version], "*", version, use=use).secret

    def versions_for(self, use: str) -> list[int]:
        """Versions that can still derive the secret of ``use``: live ones and retained ones."""
        return sorted(set(self.live_versions) | set(self.retained.get(use, {})))

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
        if self.schemes:
            doc["schemes"] = {str(v): s for v, s in sorted(self.schemes.items())}
        if any(self.retained.values()):
            doc["retained"] = {
                use: {str(v): base64.urlsafe_b64encode(k).decode() for v, k in sorted(kept.items())}
                for use, kept in sorted(self.retained.items())
                if kept
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
        self.schemes[version] = NEW_SCHEME
        self.current = version
        return version

    def retire(self, version: int) -> None:
        if version == self.current:
            raise KeyMaterialError("the current key version cannot be retired; rotate first")
        if version not in self.masters:
            raise KeyMaterialError(f"unknown key version {version}")
        if version not in self.retired:
            for use in RETAINED_USES:
                secret = derive(self.masters[version], "*", version, use=use).secret
                self.retained.setdefault(use, {})[version] = secret
        self.retired.add(version)
        # Retiring destroys the master: tokens of that version become unlinkable for good.
        self.masters[version] = b""

    @classmethod
    def new(cls) -> KeyRing:
        return cls(
            masters={1: secrets.token_bytes(MIN_KEY_BYTES)}, current=1, schemes={1: NEW_SCHEME}
        )

    @classmethod
    def from_file(cls, path: Path) -> KeyRing:
        origin = str(path)
        _require_private(path)
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
        retained = {
            str(use): {
                int(v): _decode(k, f"{origin} retained {use} version {v}") for v, k in kept.items()
            }
            for use, kept in (doc.get("retained") or {}).items()
        }
        listed = doc.get("schemes") or {}
        if not isinstance(listed, dict):
            raise KeyMaterialError(
                f"{origin}: 'schemes' must map key versions to token schemes"
                f' (e.g. {{"1": "aes-cmac"}}); known: {", ".join(get_args(TokenScheme))}'
            )
        schemes = {
            int(v): _scheme(name, f"{origin} schemes version {v}") for v, name in listed.items()
        }
        return cls(
            masters=masters,
            current=int(doc["current"]),
            retired=retired,
            path=path,
            retained=retained,
            schemes=schemes,
        )


def _scheme(name: object, origin: str) -> TokenScheme:
    for known in get_args(TokenScheme):
        if name == known:
            return known  # type: ignore[no-any-return]  # get_args loses the Literal's members
    # Never the value itself: a master key pasted into the wrong field must not be printed.
    kind = f"a text of {len(name)} characters" if isinstance(name, str) else type(name).__name__
    raise KeyMaterialError(
        f"{origin}: unknown token scheme ({kind}); known: {', '.join(get_args(TokenScheme))}"
    )


def _require_private(path: Path) -> None:
    """Refuse a key ring other users can read or write, as ssh refuses such a private key:
    anyone who can read it can recompute every pseudonym."""
    if os.name == "nt":
        return  # POSIX modes do not describe Windows ACLs
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return  # missing or unreadable: reading it says so
    if mode & 0o077:
        raise KeyMaterialError(
            f"{path}: the key ring is accessible by other users (mode {mode:04o}); it must be"
            f" readable by its owner only. Fix it with: chmod 600 {path}"
        )


def derive(master: bytes, purpose: str, version: int, *, use: str) -> PurposeKey:
    info = f"minimizer/{use}/v{version}/{purpose}".encode()
    secret = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)
    return PurposeKey(purpose=purpose, version=version, secret=secret)


def default_key_file(env: Mapping[str, str] | None = None) -> Path:
    """Outside any repository by default: the user's config directory (``keys init`` writes
    it, every command reads it when no environment variable names a key)."""
    env = os.environ if env is None else env
    home = env.get("HOME") or str(Path.home())
    base = env.get("XDG_CONFIG_HOME") or str(Path(home) / ".config")
    return Path(base) / "minimizer" / "keys.json"


def load_keyring(env: dict[str, str] | None = None) -> KeyRing:
    env = dict(os.environ if env is None else env)
    if env.get(ENV_KEY):
        version = int(env.get(ENV_VERSION, "1"))
        scheme = _scheme(env.get(ENV_SCHEME, LEGACY_SCHEME), ENV_SCHEME)
        return KeyRing(
            masters={version: _decode(env[ENV_KEY], ENV_KEY)},
            current=version,
            schemes={version: scheme},
        )
    if env.get(ENV_FILE):
        return KeyRing.from_file(Path(env[ENV_FILE]))
    # The file 'keys init' wrote. Only a HOME the caller named counts, so that an explicit,
    # empty environment (tests, Airflow) never picks up the user's own key ring by accident.
    default = default_key_file(env) if env.get("HOME") or env.get("XDG_CONFIG_HOME") else None
    if default is not None and default.is_file():
        return KeyRing.from_file(default)
    raise KeyMaterialError(
        f"no key: set {ENV_KEY} (base64, >= {MIN_KEY_BYTES} bytes) or {ENV_FILE}, "
        f"or create the default key file with 'minimizer keys init' "
        f"({default or default_key_file()})"
    )
