"""Right to erasure (GDPR Art. 17): delete a subject's rows from every table, in one
transaction per warehouse, record it without the id, and keep them from coming back.

For each subject: their token in every purpose and every live key version, and the key ids of
their sealed values. Which columns hold them comes from the warehouse's own registry of every
table and token scheme it loaded (:mod:`.registry`), so a purpose whose policy file is absent
or retired is reached too, rotating tokens included; the policies given add to it, and tables
neither names are searched in every text column. Then, in one transaction:

1. count and delete the matching rows, table by table;
2. bring every table that lost rows back under its guarantees (:mod:`.reenforce`): a
   k-anonymous class left below k is suppressed whole, a location cell below its minimum of
   distinct subjects is deleted; the report says how many rows;
3. add one row per subject to ``minimizer_audit.erasures`` (keyed digest, counts per table),
   and one audit row per purpose touched (status ``erased``: the rows each table now holds);
4. add their digests, one per live key version, to ``minimizer_audit.suppressed_subjects``,
   which the next loads consult (:mod:`.suppression`);
5. destroy their data keys in the subject key store (crypto-shredding), last, so a failure
   before it rolls the warehouse back and a failure in it does too.

A subject with no rows anywhere is still recorded and suppressed (the CRM may hold them and the
next load would bring them in); ``strict=True`` refuses instead, recording nothing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, get_args

import pandas as pd

from minimizer.io.warehouse import Transaction, Warehouse
from minimizer.keys import KeyRing, TokenScheme
from minimizer.policy import Policy
from minimizer.rights.catalogue import Catalogue, open_catalogue
from minimizer.rights.digest import ERASURE_USE, keyed_hex, subject_digests
from minimizer.rights.errors import ErasureError
from minimizer.rights.keystore import SubjectKeyStore
from minimizer.rights.reenforce import reenforce
from minimizer.rights.registry import table_entries
from minimizer.rights.sealed import KEY_ID_CHARS, key_id_prefix
from minimizer.rights.sql import ERASURES_TABLE, SUPPRESSED_TABLE
from minimizer.rights.targets import SubjectColumn, subject_columns
from minimizer.transforms.pseudonymise import period_label, token_for, tokens

__all__ = ["ErasureReport", "ErasureRequest", "SubjectErasure", "erase_subjects"]


@dataclass(frozen=True, repr=False)
class ErasureRequest:
    """One subject to erase. The id never appears in a repr, a log line or an error."""

    subject_id: str
    requested_at: datetime | None = None

    def __repr__(self) -> str:
        return f"ErasureRequest(subject_id=<hidden>, requested_at={self.requested_at!r})"


@dataclass
class SubjectErasure:
    """What was done for one subject: the audit row, before it is written."""

    erasure_id: str
    digest: str
    requested_at: datetime
    rows: dict[str, int] = field(default_factory=dict)
    keys_destroyed: int = 0

    @property
    def found(self) -> bool:
        return bool(sum(self.rows.values()) or self.keys_destroyed)


@dataclass
class ErasureReport:
    subjects: list[SubjectErasure]
    tables: list[str]  # every table searched, schema.table
    key_version: int
    done_at: datetime
    # Rows the guarantees' re-enforcement suppressed, per table and guarantee.
    suppressed: dict[str, dict[str, int]] = field(default_factory=dict)

    def deleted(self) -> dict[str, int]:
        """Rows deleted per table, every searched table listed (0 included)."""
        totals = dict.fromkeys(self.tables, 0)
        for subject in self.subjects:
            for table, n in subject.rows.items():
                totals[table] = totals.get(table, 0) + n
        return totals

    @property
    def not_found(self) -> int:
        """Subjects with no row and no key anywhere: recorded and suppressed, not erased."""
        return sum(not s.found for s in self.subjects)

    @property
    def erased(self) -> int:
        """Subjects of whom something was deleted (a row or a data key)."""
        return sum(s.found for s in self.subjects)

    @property
    def keys_destroyed(self) -> int:
        return sum(s.keys_destroyed for s in self.subjects)

    def summary(self) -> dict[str, object]:
        """JSON-able figures (for Airflow XCom and logs): counts and keyed ids only."""
        return {
            "subjects": len(self.subjects),
            "erased": self.erased,
            "not_found": self.not_found,
            "rows_deleted": {t: n for t, n in self.deleted().items() if n},
            "keys_destroyed": self.keys_destroyed,
            "suppressed": self.suppressed,
            "erasure_ids": [s.erasure_id for s in self.subjects],
        }


@dataclass(frozen=True)
class _Search:
    """One column to search: exact values (tokens) or a prefix (the key id of sealed values),
    each mapped to the index of its subject."""

    schema: str
    table: str
    column: str
    values: dict[str, int]
    prefix: int | None = None


def _dedupe(requests: Sequence[ErasureRequest]) -> list[ErasureRequest]:
    """One request per subject; the earliest request time wins (when the clock started)."""
    frame = pd.DataFrame(
        {
            "id": [r.subject_id for r in requests],
            "at": pd.to_datetime([r.requested_at for r in requests], utc=True),
        }
    )
    first = frame.sort_values("at", na_position="last").drop_duplicates("id", keep="first")
    first = first.sort_index()
    return [
        ErasureRequest(i, None if pd.isna(t) else t.to_pydatetime())
        for i, t in zip(first["id"], first["at"], strict=True)
    ]


def _token_index(
    keyring: KeyRing, purpose: str, ids: list[str], periods: tuple[str, ...] = ()
) -> dict[str, int]:
    """Every live version's token of each subject in one purpose -> subject index; for a
    rotating pseudonym, one token per period."""
    series = pd.Series(ids, dtype="str")
    index: dict[str, int] = {}
    for version in keyring.live_versions:
        # Under every token scheme, not only the one the ring names: an environment key's
        # scheme comes from MINIMIZER_TOKEN_SCHEME, which an operator can change without a new
        # version, and erasure must find the rows whichever scheme wrote them. (Another
        # scheme's tokens of the same version are unrelated 128-bit values: nothing else hits.)
        for scheme in get_args(TokenScheme):
            key = replace(keyring.purpose_key(purpose, version), scheme=scheme)
            if not periods:
                index.update(zip(tokens(series, key), range(len(ids)), strict=True))
                continue
            for i, subject in enumerate(ids):
                index.update((token_for(subject, key, p), i) for p in periods)
    return index


def _moment(value: object) -> pd.Timestamp | None:
    if value is None:
        return None
    stamp = pd.to_datetime(str(value), utc=True, errors="coerce")
    return None if pd.isna(stamp) else stamp


_LONGEST_RETENTION = pd.Timedelta(days=3650)  # when neither registry nor policy says


def _periods(tx: Transaction, col: SubjectColumn, policy: Policy | None) -> tuple[str, ...]:
    """The periods a rotating token column can hold: the span of the published time column
    (widened by the coarsest truncation, a quarter), else the retention window until now."""
    low = high = None
    if col.time_output:
        low, high = (_moment(v) for v in tx.min_max(col.schema, col.table, col.time_output))
    if low is None or high is None:
        high = pd.Timestamp.now(tz="UTC")
        if col.retention_days is not None:
            retention = pd.Timedelta(days=col.retention_days)
        elif policy is not None:
            retention = pd.Timedelta(policy.retention)
        else:
            retention = _LONGEST_RETENTION
        low = high - retention - pd.Timedelta(days=7)
    days = pd.date_range(low.floor("D") - pd.Timedelta(days=1), high + pd.Timedelta(days=93))
    if col.rotate == "12h":  # two periods a day: 00:00 and 12:00 UTC
        days = days.union(days + pd.Timedelta(hours=12))
    return tuple(sorted({period_label(day, col.rotate) for day in days}))


def _subject_columns(policies: list[Policy], catalogue: Catalogue) -> list[SubjectColumn]:
    """The registry's subject columns and the policies', each (column, scheme) once: the
    registry knows what was loaded, a policy what will be."""
    merged: dict[tuple[str, str, str, str, str], SubjectColumn] = {}
    for col in [*catalogue.registry.subject_columns(), *subject_columns(policies)]:
        merged.setdefault((col.schema, col.table, col.column, col.kind, col.rotate), col)
    return list(merged.values())


def _guarantees(
    policies: list[Policy], catalogue: Catalogue, schema: str, table: str
) -> dict[str, dict[str, Any]]:
    """A table's guarantees: as registered by its last load, else as its policy states them."""
    if (schema, table) in catalogue.registry.tables:
        return dict(catalogue.registry.guarantees(schema, table))
    for policy in policies:
        if policy.purpose == schema and table in policy.sources:
            entries = table_entries(policy, table)
            return {k: v for k, v in entries.items() if k.startswith("guarantee:")}
    return {}


def _reenforce(
    tx: Transaction,
    catalogue: Catalogue,
    policies: list[Policy],
    rows: list[dict[str, int]],
) -> dict[str, dict[str, int]]:
    """Re-enforce the guarantees of every table that lost rows; what each suppressed."""
    touched = sorted({name for slot in rows for name, n in slot.items() if n})
    done: dict[str, dict[str, int]] = {}
    for name in touched:
        schema, table = name.split(".", 1)
        specs = _guarantees(policies, catalogue, schema, table)
        if specs:
            figures = reenforce(tx, catalogue, schema, table, specs)
            if figures:
                done[name] = figures
    return done


def _searches(
    tx: Transaction,
    catalogue: Catalogue,
    policies: list[Policy],
    keyring: KeyRing,
    ids: list[str],
    sealed: dict[str, dict[str, int]],
) -> list[_Search]:
    """Policy columns first, then every text column of tables no policy names."""
    by_purpose = {p.purpose: p for p in policies}
    cache: dict[tuple[str, tuple[str, ...]], dict[str, int]] = {}

    def token_map(purpose: str, periods: tuple[str, ...] = ()) -> dict[str, int]:
        if (purpose, periods) not in cache:
            cache[(purpose, periods)] = _token_index(keyring, purpose, ids, periods)
        return cache[(purpose, periods)]

    found = []
    for col in _subject_columns(policies, catalogue):
        if not catalogue.has(col.schema, col.table, col.column):
            continue  # a purpose not loaded into this warehouse yet
        if col.kind == "token":
            periods: tuple[str, ...] = ()
            if col.rotate != "never":
                periods = _periods(tx, col, by_purpose.get(col.schema))
            values = token_map(col.schema, periods)
            found.append(_Search(col.schema, col.table, col.column, values))
        elif sealed.get(col.schema):
            found.append(
                _Search(col.schema, col.table, col.column, sealed[col.schema], KEY_ID_CHARS)
            )
    for schema, table in catalogue.orphans():
        for column in catalogue.text_columns(schema, table):
            found.append(_Search(schema, table, column, token_map(schema)))
            if sealed.get(schema):
                found.append(_Search(schema, table, column, sealed[schema], KEY_ID_CHARS))
    return found


def _delete(tx: Transaction, search: _Search, rows: list[dict[str, int]]) -> None:
    """Count the matches per subject, then delete them. Counting first keeps the audit exact:
    the transaction holds the purpose lock, so no load interleaves."""
    args = (search.schema, search.table, search.column, list(search.values), search.prefix)
    matches = tx.count_matches(*args)
    if not matches:
        return
    name = f"{search.schema}.{search.table}"
    for value, n in matches:
        slot = rows[search.values[value]]
        slot[name] = slot.get(name, 0) + n
    tx.delete_matches(*args)


def _erasure_ids(keyring: KeyRing, requests: list[ErasureRequest]) -> list[str]:
    """Keyed on (id, request time) when the time is known, so a rerun of the same request
    (an Airflow retry) finds its first record instead of writing a second one."""
    secret = keyring.secret_for(ERASURE_USE)
    return [
        keyed_hex(secret, [f"{r.subject_id}\x1f{r.requested_at.isoformat()}"])[0]
        if r.requested_at is not None
        else uuid.uuid4().hex
        for r in requests
    ]


def erase_subjects(
    warehouse: Warehouse,
    policies: list[Policy],
    keyring: KeyRing,
    requests: Sequence[ErasureRequest],
    *,
    keystore: SubjectKeyStore | None = None,
    strict: bool = False,
    origin: str = "cli",
) -> ErasureReport:
    """Erase the subjects everywhere in ``warehouse``, all or nothing. See the module doc."""
    if not requests:
        raise ErasureError("no subject to erase", reason="empty_request", count=0)
    if any(not r.subject_id or not r.subject_id.strip() for r in requests):
        raise ErasureError("an empty subject id cannot be erased", reason="empty_id")
    todo = _dedupe(requests)
    ids = [r.subject_id for r in todo]
    done = datetime.now(UTC)
    subjects = [
        SubjectErasure(eid, digest, r.requested_at or done)
        for eid, digest, r in zip(
            _erasure_ids(keyring, todo),
            subject_digests(keyring, ids, keyring.current),
            todo,
            strict=True,
        )
    ]
    # Key ids of the subjects in every purpose of the key store (purpose -> kid -> index).
    kids = keystore.subject_key_ids(keyring, ids) if keystore is not None else {}
    sealed = {p: {key_id_prefix(k): i for i, k in enumerate(ks)} for p, ks in kids.items()}
    rows: list[dict[str, int]] = [{} for _ in ids]
    with warehouse.atomic() as tx:
        catalogue = open_catalogue(tx, policies)
        for search in _searches(tx, catalogue, policies, keyring, ids, sealed):
            _delete(tx, search, rows)
        suppressed = _reenforce(tx, catalogue, policies, rows)
        present = keystore.existing([k for ks in kids.values() for k in ks]) if keystore else set()
        for i, subject in enumerate(subjects):
            subject.rows = rows[i]
            subject.keys_destroyed = sum(ks[i] in present for ks in kids.values())
        missing = sum(not s.found for s in subjects)
        if strict and missing:
            raise ErasureError(
                "no row and no key found for some subject(s); nothing was erased or recorded"
                " (without --strict they would be recorded and suppressed)",
                reason="subject_not_found",
                count=missing,
            )
        _record(tx, keyring, ids, subjects, done, origin)
        _record_purposes(tx, catalogue, policies, keyring, subjects, suppressed)
        if keystore is not None and kids:
            keystore.destroy(kids)  # last: its failure rolls the warehouse back
    tables = sorted({f"{s}.{t}" for s, t in catalogue.tables})
    return ErasureReport(subjects, tables, keyring.current, done, suppressed)


def _record_purposes(
    tx: Transaction,
    catalogue: Catalogue,
    policies: list[Policy],
    keyring: KeyRing,
    subjects: list[SubjectErasure],
    suppressed: dict[str, dict[str, int]],
) -> None:
    """One audit row per purpose that lost rows: what each of its tables now holds, so the
    processing record keeps equal to the tables, and what the guarantees suppressed."""
    deleted: dict[str, int] = {}
    for subject in subjects:
        for name, n in subject.rows.items():
            deleted[name] = deleted.get(name, 0) + n
    purposes = sorted({name.split(".", 1)[0] for name, n in deleted.items() if n})
    if not purposes:
        return
    sha = {p.purpose: p.sha256 for p in policies}
    now = datetime.now(UTC)
    for purpose in purposes:
        tables = sorted(t for s, t in catalogue.tables if s == purpose)
        counts = {t: tx.count(purpose, t) for t in tables}

        def mine(figures: dict[str, Any], purpose: str = purpose) -> dict[str, Any]:
            return {
                k.split(".", 1)[1]: v for k, v in figures.items() if k.startswith(f"{purpose}.")
            }

        row = {
            "run_id": f"{now:%Y%m%dT%H%M%SZ}-erasure-{uuid.uuid4().hex[:8]}",
            "purpose": purpose,
            "policy_sha256": sha.get(purpose, ""),
            "status": "erased",
            "started_at": now,
            "finished_at": now,
            "key_version": keyring.current,
            "rows_in": {},
            "rows_out": counts,
            "dropped_columns": {},
            "schema_drift": {},
            "details": {
                "erasure": {
                    "subjects": len(subjects),
                    "rows_deleted": mine(deleted),
                    "suppressed": mine(suppressed),
                    "erasure_ids": [s.erasure_id for s in subjects if s.found],
                }
            },
        }
        tx.record_audit(row)


def _record(
    tx: Transaction,
    keyring: KeyRing,
    ids: list[str],
    subjects: list[SubjectErasure],
    done: datetime,
    origin: str,
) -> None:
    n = len(subjects)
    tx.insert(
        ERASURES_TABLE,
        [
            [s.erasure_id for s in subjects],
            [s.digest for s in subjects],
            [str(keyring.current)] * n,
            [s.requested_at.isoformat() for s in subjects],
            [done.isoformat()] * n,
            [json.dumps(s.rows, sort_keys=True) for s in subjects],
            [str(s.keys_destroyed) for s in subjects],
            [origin] * n,
        ],
    )
    # One digest per live version: the list still matches after a rotation, until re-keying
    # adds the new version's digests and the old version is retired.
    for version in keyring.live_versions:
        tx.insert(
            SUPPRESSED_TABLE,
            [
                subject_digests(keyring, ids, version),
                [str(version)] * n,
                [done.isoformat()] * n,
                [s.erasure_id for s in subjects],
            ],
        )
