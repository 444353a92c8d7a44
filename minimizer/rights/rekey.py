"""Key rotation, second half: move the warehouse to the current key version, then retire.

``minimizer keys rotate`` adds a key version. :func:`rekey_warehouse` then rewrites every token
of the older live versions to the current one. Tokens are one-way, so the old -> new mapping is
rebuilt from the sources: each policy's own pseudonymise transforms run over the source rows
under the old and the current version (rotating tokens thus map period by period). It is held
in memory and in a TEMPORARY table of the warehouse session that is dropped inside the same
transaction: the mapping is never committed anywhere. In that one transaction:

1. fill the temporary mapping and UPDATE every token column through it;
2. sweep every text column of every purpose schema for tokens of any non-current version
   (ids no longer in the sources, tables no policy names): fail with the counts, nothing
   changed (default), or delete those rows (``delete_unmapped``);
3. add current-version digests of suppressed subjects still in the sources to the list;
4. drop the mapping and write one audit row per purpose (status ``rekeyed``).

Then the subject key store is re-wrapped under the current version. Afterwards no token of an
old version remains, joins hold (the same id maps to the same new token in every table), and
:func:`retire_version` can destroy the old master for good.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pandas as pd

from minimizer.errors import KeyMaterialError
from minimizer.io.warehouse import AUDIT_SCHEMA, Transaction, Warehouse
from minimizer.keys import KeyRing
from minimizer.pipeline import Sources
from minimizer.policy import Policy, SourceSpec
from minimizer.rights.catalogue import Catalogue, open_catalogue
from minimizer.rights.digest import subject_digests
from minimizer.rights.errors import RekeyError
from minimizer.rights.keystore import SubjectKeyStore
from minimizer.rights.sql import SUPPRESSED, SUPPRESSED_TABLE
from minimizer.rights.targets import pseudonym_columns
from minimizer.transforms import TransformContext
from minimizer.transforms.pseudonymise import Pseudonymise

__all__ = ["RekeyReport", "rekey_warehouse", "retire_version", "token_mapping"]


@dataclass
class RekeyReport:
    from_versions: list[int]
    to_version: int
    tokens_mapped: dict[str, int] = field(default_factory=dict)  # purpose -> old tokens
    updated: dict[str, int] = field(default_factory=dict)  # schema.table.column -> rows
    deleted_unmapped: dict[str, int] = field(default_factory=dict)  # schema.table -> rows
    suppressed_migrated: int = 0
    keys_rewrapped: int = 0


def _slot(name: str, spec: SourceSpec) -> str:
    """Which physical source a policy source reads (two policies may read one table)."""
    return "events" if spec.kind == "events" else f"table:{spec.table or name}"


@dataclass
class _Reader:
    """One physical source: the columns to read and what to make of them."""

    name: str
    spec: SourceSpec
    columns: set[str] = field(default_factory=set)
    keys: set[str] = field(default_factory=set)
    makers: list[tuple[str, str, Pseudonymise]] = field(default_factory=list)


def token_mapping(
    policies: list[Policy], sources: Sources, keyring: KeyRing
) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Old -> new token pairs per purpose, and the distinct ids of every source key column.

    The pairs are made by the policies' own pseudonymise transforms, applied to the source
    rows under each old live version and under the current one, so every variant (rotating
    tokens, one per period) maps exactly as a load would make it. Each physical source is read
    once, in chunks, only the columns needed; only distinct pairs are kept."""
    olds = [v for v in keyring.live_versions if v != keyring.current]
    readers: dict[str, _Reader] = {}
    for policy in policies:
        for name, spec in policy.sources.items():
            reader = readers.setdefault(_slot(name, spec), _Reader(name, spec))
            for out, t in spec.outputs().items():
                if isinstance(t, Pseudonymise):
                    reader.columns.update(t.inputs(out))
                    reader.makers.append((policy.purpose, out, t))
            if spec.key:
                reader.columns.add(spec.key)
                reader.keys.add(spec.key)
    now = datetime.now(UTC)
    pairs: dict[str, list[pd.DataFrame]] = {}
    keys: set[str] = set()
    for reader in readers.values():
        for chunk in sources.open(reader.name, reader.spec).chunks(sorted(reader.columns)):
            for col in reader.keys:
                keys.update(map(str, pd.unique(chunk[col].dropna())))
            for purpose, out, t in reader.makers:
                ctx = TransformContext(purpose, now, keyring.purpose_key(purpose))
                new = t.apply(chunk, out, ctx).values.to_numpy()
                for version in olds:
                    ctx = TransformContext(purpose, now, keyring.purpose_key(purpose, version))
                    old = t.apply(chunk, out, ctx).values.to_numpy()
                    made = pd.DataFrame({"old": old, "new": new}).dropna().drop_duplicates()
                    pairs.setdefault(purpose, []).append(made)
    mapping = {p: pd.concat(f).drop_duplicates("old") for p, f in pairs.items()}
    return mapping, sorted(keys)


def _old_prefixes(keyring: KeyRing) -> list[str]:
    """LIKE patterns of every version but the current one (retired ones included)."""
    return [f"mzp{v}\\_%" for v in sorted(keyring.masters) if v != keyring.current]


def _sweep(
    tx: Transaction, catalogue: Catalogue, patterns: list[str], delete: bool
) -> dict[str, int]:
    """Rows still holding an old token, per table; deleted when asked to."""
    left: dict[str, int] = {}
    for schema, table in sorted(catalogue.tables):
        columns = catalogue.text_columns(schema, table)
        if not columns or not patterns:
            continue
        n = tx.count_like(schema, table, columns, patterns)
        if n:
            left[f"{schema}.{table}"] = n
            if delete:
                tx.delete_like(schema, table, columns, patterns)
    return left


def _migrate_suppressed(tx: Transaction, keyring: KeyRing, keys: list[str]) -> int:
    """Current-version digests for suppressed subjects the sources still hold."""
    if not keys:
        return 0
    frame = tx.read(AUDIT_SCHEMA, SUPPRESSED)
    listed = pd.DataFrame(
        {
            "digest": frame["digest"].astype("str"),
            "version": frame["key_version"].astype("int64"),
            "since": frame["since"].astype("str"),  # back in as text, cast by the insert
            "erasure_id": frame["erasure_id"],
        }
    )
    listed = listed[listed["version"] != keyring.current]
    if listed.empty:
        return 0
    found = []
    for version in sorted(set(listed["version"].astype(int)) & set(keyring.live_versions)):
        group = listed[listed["version"].astype(int) == version]
        digests = pd.Series(subject_digests(keyring, keys, version), index=keys)
        hits = digests[digests.isin(group["digest"])]
        meta = group.set_index("digest").loc[hits.to_numpy()]
        found.append(
            pd.DataFrame(
                {
                    "id": hits.index,
                    "since": meta["since"].to_numpy(),
                    "erasure_id": meta["erasure_id"].to_numpy(),
                }
            )
        )
    if not found:
        return 0
    moved = pd.concat(found).drop_duplicates("id")
    ids = moved["id"].tolist()
    tx.insert(
        SUPPRESSED_TABLE,
        [
            subject_digests(keyring, ids, keyring.current),
            [str(keyring.current)] * len(ids),
            moved["since"].astype("str").tolist(),
            moved["erasure_id"].astype("str").tolist(),
        ],
    )
    return len(ids)


def rekey_warehouse(
    warehouse: Warehouse,
    policies: list[Policy],
    sources: Sources,
    keyring: KeyRing,
    *,
    delete_unmapped: bool = False,
    keystore: SubjectKeyStore | None = None,
) -> RekeyReport:
    """Move every token to the current key version, all or nothing. See the module doc."""
    started = datetime.now(UTC)
    olds = [v for v in keyring.live_versions if v != keyring.current]
    report = RekeyReport(from_versions=olds, to_version=keyring.current)
    mapping, keys = token_mapping(policies, sources, keyring) if olds else ({}, [])
    report.tokens_mapped = {p: len(v) for p, v in mapping.items()}
    with warehouse.atomic() as tx:
        catalogue = open_catalogue(tx, policies)
        if olds:
            pairs = {
                purpose: (frame["old"].astype("str").tolist(), frame["new"].astype("str").tolist())
                for purpose, frame in mapping.items()
            }
            targets = [
                col
                for col in pseudonym_columns(policies)
                if catalogue.has(col.schema, col.table, col.column)
            ]
            changed = tx.remap(pairs, [(c.schema, c.table, c.column, c.schema) for c in targets])
            for col, n in zip(targets, changed, strict=True):
                report.updated[f"{col.name}.{col.column}"] = n
        left = _sweep(tx, catalogue, _old_prefixes(keyring), delete_unmapped)
        if left and not delete_unmapped:
            raise RekeyError(
                "rows hold tokens of an old key version that the sources cannot map (their ids"
                " are gone from the sources, or a table no policy names holds them); nothing"
                " was changed. Use --delete-unmapped to delete those rows",
                table=", ".join(sorted(left)),
                check="rekey",
                reason="unmapped_tokens",
                count=sum(left.values()),
                details=left,
            )
        report.deleted_unmapped = left
        report.suppressed_migrated = _migrate_suppressed(tx, keyring, keys)
        if olds or left:  # nothing to record when nothing changed
            for policy in policies:
                tx.record_audit(_audit(policy, report, started))
    if keystore is not None:
        report.keys_rewrapped = keystore.rewrap(keyring)
    return report


def _audit(policy: Policy, report: RekeyReport, started: datetime) -> dict[str, object]:
    def mine(figures: dict[str, int]) -> dict[str, int]:
        return {k: v for k, v in figures.items() if k.startswith(f"{policy.purpose}.")}

    return {
        "run_id": f"{started:%Y%m%dT%H%M%SZ}-rekey-{uuid.uuid4().hex[:8]}",
        "purpose": policy.purpose,
        "policy_sha256": policy.sha256,
        "status": "rekeyed",
        "started_at": started,
        "finished_at": datetime.now(UTC),
        "key_version": report.to_version,
        "rows_in": mine(report.updated),
        "rows_out": mine(report.updated),
        "dropped_columns": {},
        "schema_drift": {},
        "details": {
            "rekey": {
                "from_versions": report.from_versions,
                "tokens_mapped": report.tokens_mapped.get(policy.purpose, 0),
                "deleted_unmapped": mine(report.deleted_unmapped),
                "suppressed_migrated": report.suppressed_migrated,
            }
        },
    }


def retire_version(
    keyring: KeyRing, version: int, *, keystore: SubjectKeyStore | None = None
) -> None:
    """Destroy an old master key: its tokens and digests become unlinkable for good. Refused
    while subject keys are still wrapped with it (that would shred every sealed value)."""
    if keystore is not None:
        wrapped = keystore.wrap_versions().get(version, 0)
        if wrapped:
            raise KeyMaterialError(
                f"{wrapped} subject key store secret(s) are still wrapped with key version"
                f" {version}; run 'minimizer keys rekey' first"
            )
    keyring.retire(version)
