"""The warehouse's own registry of what it holds: every purpose, table, token scheme and
guarantee it ever loaded (``minimizer_audit.loaded_tables``, written by the load transaction).

The policy files say what a purpose *should* hold; the registry says what the warehouse *does*
hold, including purposes whose policy was removed, retired or never handed to the erasure
command. :func:`table_entries` derives a table's entries from its policy at load time;
:func:`read_registry` reads them back inside an erasure or re-key transaction.

Entries (``entry`` -> ``spec``), JSON with names and parameters only, never a value:

* ``table``: every loaded table (written by the loader itself);
* ``subject:<column>:<kind>:<rotate>``: a column holding the subject's token (``kind`` token)
  or sealed values (``kind`` sealed), with its rotation period, the published time column
  that bounds the periods present, and the purpose's retention;
* ``guarantee:k_anonymity``: k, the quasi-identifiers, the subject column (k counts distinct
  subjects), the sensitive attributes and l;
* ``guarantee:location``: cell, bucket, subject and the minimum of distinct subjects per cell.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from minimizer.io.warehouse import Transaction
from minimizer.policy import Policy
from minimizer.rights.targets import SubjectColumn, subject_columns
from minimizer.transforms.pseudonymise import Pseudonymise

__all__ = ["Registry", "read_registry", "table_entries"]

SUBJECT = "subject:"
K_ANONYMITY = "guarantee:k_anonymity"
LOCATION = "guarantee:location"


def _subject_output(policy: Policy, source: str) -> str | None:
    """The published column naming the row's subject: the non-rotating token of the key."""
    spec = policy.sources[source]
    if spec.key is None:
        return None
    for out, t in spec.outputs().items():
        if (
            isinstance(t, Pseudonymise)
            and t.source_of(out) == spec.key
            and getattr(t, "rotate", "never") == "never"
        ):
            return out
    return None


def table_entries(
    policy: Policy, source: str, enforced: Collection[str] | None = None
) -> dict[str, dict[str, Any]]:
    """The registry entries of one loaded table, from its policy. With ``enforced`` (the
    guarantees the run enforced, by name), only those guarantees are registered: the registry
    states what holds in the table, not what a policy asked of a run that skipped it."""
    entries: dict[str, dict[str, Any]] = {}
    for col in subject_columns([policy]):
        if col.table != source:
            continue
        entries[f"{SUBJECT}{col.column}:{col.kind}:{col.rotate}"] = {
            "column": col.column,
            "kind": col.kind,
            "source_column": col.source_column,
            "rotate": col.rotate,
            "time_output": col.time_output,
            "retention_days": policy.retention_days,
            "token": "mzp<version>_<keyed BLAKE2b-128 hex>, per-purpose HKDF key",
        }
    g = policy.guarantees

    def held(name: str) -> bool:
        return enforced is None or name in enforced

    if g.k_anonymity is not None and g.k_anonymity.source == source and held("k_anonymity"):
        k = g.k_anonymity
        entries[K_ANONYMITY] = {
            "k": k.k,
            "quasi_identifiers": list(k.quasi_identifiers),
            "subject": _subject_output(policy, source),
            "sensitive": list(k.sensitive),
            "l_diversity": k.l_diversity,
            "method": k.method,
            "max_suppression": k.max_suppression,
        }
    if g.location is not None and g.location.source == source and held("location"):
        loc = g.location
        entries[LOCATION] = {
            "cell": loc.cell,
            "bucket": loc.bucket,
            "subject": loc.subject,
            "min_distinct_subjects_per_cell": loc.min_distinct_subjects_per_cell,
        }
    return entries


@dataclass(frozen=True)
class Registry:
    """What the registry holds, by (schema, table)."""

    entries: dict[tuple[str, str], dict[str, dict[str, Any]]] = field(default_factory=dict)

    @property
    def purposes(self) -> set[str]:
        return {schema for schema, _ in self.entries}

    @property
    def tables(self) -> set[tuple[str, str]]:
        return set(self.entries)

    def subject_columns(self) -> list[SubjectColumn]:
        found = []
        for (schema, table), entries in sorted(self.entries.items()):
            for name, spec in sorted(entries.items()):
                if not name.startswith(SUBJECT):
                    continue
                found.append(
                    SubjectColumn(
                        schema,
                        table,
                        str(spec["column"]),
                        "sealed" if spec.get("kind") == "sealed" else "token",
                        str(spec.get("source_column") or ""),
                        str(spec.get("rotate") or "never"),
                        spec.get("time_output"),
                        spec.get("retention_days"),
                    )
                )
        return found

    def guarantees(self, schema: str, table: str) -> Mapping[str, dict[str, Any]]:
        """Guarantee entries of one table: ``guarantee:...`` -> spec."""
        entries = self.entries.get((schema, table), {})
        return {k: v for k, v in entries.items() if k.startswith("guarantee:")}


def read_registry(tx: Transaction) -> Registry:
    """The registry, read in the caller's transaction (the table exists: see ensure_tables)."""
    entries: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for purpose, table, entry, spec in tx.registry_entries():
        entries.setdefault((purpose, table), {})[entry] = json.loads(spec) if spec else {}
    return Registry(entries)
