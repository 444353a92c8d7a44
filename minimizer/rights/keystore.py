"""Subject data keys, kept in a file of their own, apart from the warehouse.

Layout of the key store (SQLite, created with mode 0600)::

    purposes   (purpose, wrap_version, wrapped)     a random 32-byte index secret per purpose
    data_keys  (kid, purpose, wrap_version, wrapped, created_at)   one AES-256-SIV key (64 bytes)
                                                    per subject and purpose
    shredded   (kid, purpose, at)                   tombstones of destroyed keys
    reveals    (at, user, purpose, values)          who re-identified how many values, when

* ``kid`` = keyed BLAKE2b of the subject id under the purpose's index secret: stable across key
  rotations (the index secret is re-wrapped, never changed), different in every purpose, and
  useless without the key store.
* Every secret is wrapped with AES-256-GCM under a key derived (HKDF) from the purpose's
  pseudonymisation key of version ``wrap_version``, itself derived from the master key. The
  key id and purpose are the associated data, so a wrapped key cannot be moved to another row.
* Destroying a subject's keys (erasure) makes every copy of their sealed values unreadable,
  backups of the warehouse included: crypto-shredding.

Where it lives: ``MINIMIZER_SUBJECT_KEYSTORE``, else ``subject-keys.sqlite`` beside the key file
(``MINIMIZER_KEY_FILE``). Never in the warehouse.
"""

from __future__ import annotations

import getpass
import json
import os
import secrets
import sqlite3
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from minimizer.errors import KeyMaterialError
from minimizer.keys import KeyRing, PurposeKey
from minimizer.rights.digest import keyed_hex
from minimizer.rights.errors import SubjectKeyError

__all__ = ["ENV_STORE", "SubjectKeyStore", "default_keystore_path"]

ENV_STORE = "MINIMIZER_SUBJECT_KEYSTORE"
STORE_FILE = "subject-keys.sqlite"
DATA_KEY_BYTES = 64  # AES-256-SIV
_NONCE = 12

_DDL = (
    "CREATE TABLE IF NOT EXISTS purposes (purpose TEXT PRIMARY KEY,"
    " wrap_version INTEGER NOT NULL, wrapped BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS data_keys (kid TEXT PRIMARY KEY, purpose TEXT NOT NULL,"
    " wrap_version INTEGER NOT NULL, wrapped BLOB NOT NULL, created_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS shredded (kid TEXT PRIMARY KEY, purpose TEXT NOT NULL,"
    " at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS reveals (at TEXT NOT NULL, user TEXT, purpose TEXT,"
    " n_values INTEGER NOT NULL)",
)
# A list of keys travels as one JSON array parameter: no limit on the number of values.
_IN = "IN (SELECT value FROM json_each(?))"


def default_keystore_path(env: dict[str, str] | None = None) -> Path | None:
    env = dict(os.environ if env is None else env)
    if env.get(ENV_STORE):
        return Path(env[ENV_STORE])
    if env.get("MINIMIZER_KEY_FILE"):
        return Path(env["MINIMIZER_KEY_FILE"]).parent / STORE_FILE
    return None


class _Wrapper:
    """AES-256-GCM under a key derived from one purpose key; the label is associated data."""

    def __init__(self, key: PurposeKey) -> None:
        info = f"minimizer/subject-keystore/wrap/v{key.version}/{key.purpose}".encode()
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
            key.secret
        )
        self._aead = AESGCM(derived)
        self._purpose = key.purpose

    def wrap(self, label: str, secret: bytes) -> bytes:
        nonce = secrets.token_bytes(_NONCE)
        return nonce + self._aead.encrypt(nonce, secret, f"{self._purpose}/{label}".encode())

    def unwrap(self, label: str, wrapped: bytes) -> bytes:
        try:
            return self._aead.decrypt(
                wrapped[:_NONCE], wrapped[_NONCE:], f"{self._purpose}/{label}".encode()
            )
        except InvalidTag:
            raise SubjectKeyError(
                "a wrapped key does not open with the key ring: wrong key file for this store",
                reason="unwrap_failed",
            ) from None


def _now() -> str:
    return datetime.now(UTC).isoformat()


class SubjectKeyStore:
    """One key store file. Opened per use; writes take SQLite's write lock (BEGIN IMMEDIATE)."""

    def __init__(self, path: Path | str, *, create: bool = True) -> None:
        self.path = Path(path)
        if not self.path.exists():
            if not create:
                raise KeyMaterialError(f"{self.path}: subject key store not found")
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        self._con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        for sql in _DDL:
            self._con.execute(sql)

    @classmethod
    def open_default(cls, *, create: bool = True) -> SubjectKeyStore:
        path = default_keystore_path()
        if path is None:
            raise KeyMaterialError(
                f"no subject key store: set {ENV_STORE} (or MINIMIZER_KEY_FILE, beside which "
                f"{STORE_FILE} is kept)"
            )
        return cls(path, create=create)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._con.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        self._con.execute("BEGIN IMMEDIATE")
        try:
            yield self._con
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        self._con.execute("COMMIT")

    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        return self._con.execute(sql, params).fetchall()

    # ------------------------------------------------------------ key ids

    def _index_secret(self, key: PurposeKey, *, create: bool) -> bytes | None:
        sql = "SELECT wrap_version, wrapped FROM purposes WHERE purpose = ?"
        row = self._rows(sql, [key.purpose])
        if not row and create:
            with self._write() as con:
                wrapped = _Wrapper(key).wrap("index", secrets.token_bytes(32))
                con.execute(
                    "INSERT OR IGNORE INTO purposes VALUES (?, ?, ?)",
                    [key.purpose, key.version, wrapped],
                )
            row = self._rows(sql, [key.purpose])
        if not row:
            return None
        version, wrapped = int(row[0][0]), bytes(row[0][1])
        if version != key.version:
            raise SubjectKeyError(
                f"subject keys of purpose {key.purpose!r} are wrapped with key version {version},"
                f" not {key.version}; run 'minimizer keys rekey' after rotating",
                reason="stale_wrap",
            )
        return _Wrapper(key).unwrap("index", wrapped)

    def key_ids(self, key: PurposeKey, subjects: Sequence[str], *, create: bool) -> list[str]:
        """The key id of each subject in the key's purpose ([] when the purpose has none)."""
        secret = self._index_secret(key, create=create)
        return [] if secret is None else keyed_hex(secret, subjects)

    # ------------------------------------------------------------ sealing

    def data_keys(self, key: PurposeKey, subjects: Sequence[str]) -> tuple[list[str], list[bytes]]:
        """Key id and data key of each subject, creating missing ones (one query per batch).

        A subject whose keys were destroyed by an erasure gets no new key: sealing fails
        closed, because new ciphertext for an erased subject means the exclusion did not run.
        """
        kids = self.key_ids(key, subjects, create=True)
        listed = json.dumps(kids)
        shredded = self._rows(f"SELECT count(*) FROM shredded WHERE kid {_IN}", [listed])
        if int(shredded[0][0]):
            raise SubjectKeyError(
                "erased subject(s) in the data: their data keys were destroyed and are not"
                " re-created; load through minimizer's erasure feature, which leaves them out",
                reason="erased_subject",
                count=int(shredded[0][0]),
            )
        found = self._fetch(kids, key)
        missing = sorted(set(kids) - set(found))
        if missing:
            wrapper, at = _Wrapper(key), _now()
            fresh = [(k, secrets.token_bytes(DATA_KEY_BYTES)) for k in missing]
            rows = [(k, key.purpose, key.version, wrapper.wrap(k, dk), at) for k, dk in fresh]
            with self._write() as con:
                con.executemany("INSERT OR IGNORE INTO data_keys VALUES (?, ?, ?, ?, ?)", rows)
            found |= self._fetch(missing, key)  # a concurrent writer's key wins, if any
        return kids, [found[k] for k in kids]

    def _fetch(self, kids: Sequence[str], key: PurposeKey) -> dict[str, bytes]:
        rows = self._rows(
            f"SELECT kid, wrap_version, wrapped FROM data_keys WHERE kid {_IN} AND purpose = ?",
            [json.dumps(list(kids)), key.purpose],
        )
        if any(int(v) != key.version for _, v, _ in rows):
            raise SubjectKeyError(
                f"subject keys of purpose {key.purpose!r} are wrapped with an older key version;"
                " run 'minimizer keys rekey' after rotating",
                reason="stale_wrap",
            )
        wrapper = _Wrapper(key)
        return {str(k): wrapper.unwrap(str(k), bytes(w)) for k, _, w in rows}

    # ------------------------------------------------------------ revealing

    def lookup(self, kids: Sequence[str], keyring: KeyRing) -> dict[str, tuple[str, bytes]]:
        """Key id -> (purpose, data key) for the ids the store still holds."""
        rows = self._rows(
            f"SELECT kid, purpose, wrap_version, wrapped FROM data_keys WHERE kid {_IN}",
            [json.dumps(sorted(set(kids)))],
        )
        wrappers: dict[tuple[str, int], _Wrapper] = {}
        out: dict[str, tuple[str, bytes]] = {}
        for kid, purpose, version, wrapped in rows:
            slot = (str(purpose), int(version))
            if slot not in wrappers:
                wrappers[slot] = _Wrapper(keyring.purpose_key(*slot))
            out[str(kid)] = (slot[0], wrappers[slot].unwrap(str(kid), bytes(wrapped)))
        return out

    def shredded(self, kids: Sequence[str]) -> set[str]:
        rows = self._rows(f"SELECT kid FROM shredded WHERE kid {_IN}", [json.dumps(list(kids))])
        return {str(r[0]) for r in rows}

    def log_reveal(self, purposes: Sequence[str]) -> None:
        """Re-identification is itself processing: record who revealed how many values."""
        at, user = _now(), getpass.getuser()
        rows = [(at, user, p, n) for p, n in Counter(purposes).items()]
        with self._write() as con:
            con.executemany("INSERT INTO reveals VALUES (?, ?, ?, ?)", rows)

    # ------------------------------------------------------------ erasure and rotation

    def subject_key_ids(self, keyring: KeyRing, subjects: Sequence[str]) -> dict[str, list[str]]:
        """Purpose -> key id of each subject, for every purpose the store holds keys for."""
        out: dict[str, list[str]] = {}
        for purpose, version in self._rows("SELECT purpose, wrap_version FROM purposes"):
            if int(version) not in keyring.live_versions:
                continue  # wrapped with a retired version: unreadable already
            key = keyring.purpose_key(str(purpose), int(version))
            out[str(purpose)] = self.key_ids(key, subjects, create=False)
        return out

    def existing(self, kids: Sequence[str]) -> set[str]:
        """The key ids among ``kids`` that still have a data key."""
        rows = self._rows(f"SELECT kid FROM data_keys WHERE kid {_IN}", [json.dumps(list(kids))])
        return {str(r[0]) for r in rows}

    def destroy(self, by_purpose: dict[str, list[str]]) -> int:
        """Delete these key ids' data keys and leave tombstones; returns keys destroyed."""
        at, destroyed = _now(), 0
        with self._write() as con:
            for purpose, kids in by_purpose.items():
                listed = json.dumps(kids)
                destroyed += con.execute(
                    f"DELETE FROM data_keys WHERE kid {_IN}", [listed]
                ).rowcount
                con.executemany(
                    "INSERT OR IGNORE INTO shredded VALUES (?, ?, ?)",
                    [(k, purpose, at) for k in kids],
                )
        return destroyed

    def wrap_versions(self) -> dict[int, int]:
        """Key version -> number of secrets wrapped with it."""
        rows = self._rows(
            "SELECT wrap_version, count(*) FROM (SELECT wrap_version FROM purposes"
            " UNION ALL SELECT wrap_version FROM data_keys) GROUP BY 1"
        )
        return {int(v): int(n) for v, n in rows}

    def rewrap(self, keyring: KeyRing) -> int:
        """Re-wrap every secret under the current key version (after a rotation); key ids and
        data keys stay the same, so sealed values in the warehouse need no change."""
        current = keyring.current
        wrappers: dict[tuple[str, int], _Wrapper] = {}

        def wrapper(purpose: str, version: int) -> _Wrapper:
            if (purpose, version) not in wrappers:
                wrappers[(purpose, version)] = _Wrapper(keyring.purpose_key(purpose, version))
            return wrappers[(purpose, version)]

        def moved(purpose: str, version: int, label: str, wrapped: bytes) -> bytes:
            secret = wrapper(purpose, version).unwrap(label, wrapped)
            return wrapper(purpose, current).wrap(label, secret)

        with self._write() as con:
            stale = "WHERE wrap_version <> ?"
            indexes = con.execute(
                f"SELECT purpose, wrap_version, wrapped FROM purposes {stale}", [current]
            ).fetchall()
            con.executemany(
                "UPDATE purposes SET wrap_version = ?, wrapped = ? WHERE purpose = ?",
                [(current, moved(p, v, "index", w), p) for p, v, w in indexes],
            )
            keys = con.execute(
                f"SELECT kid, purpose, wrap_version, wrapped FROM data_keys {stale}", [current]
            ).fetchall()
            con.executemany(
                "UPDATE data_keys SET wrap_version = ?, wrapped = ? WHERE kid = ?",
                [(current, moved(p, v, k, w), k) for k, p, v, w in keys],
            )
        return len(indexes) + len(keys)
