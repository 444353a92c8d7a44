"""What the warehouse holds, read inside the erasure or re-key transaction.

Purpose schemas are those of the policies, every purpose the audit table has seen and every
purpose of the warehouse's registry (:mod:`.registry`), so a table left behind by a removed or
retired policy is still searched. Other schemas (a shared PostgreSQL database) are not
minimizer's and are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from minimizer.io.warehouse import AUDIT_SCHEMA, Transaction
from minimizer.policy import Policy
from minimizer.rights.registry import Registry, read_registry
from minimizer.rights.sql import RIGHTS_TABLES

__all__ = ["Catalogue", "open_catalogue"]


@dataclass(frozen=True)
class Catalogue:
    """Columns of every table in the purpose schemas: (schema, table) -> [(column, is_text)]."""

    tables: dict[tuple[str, str], list[tuple[str, bool]]] = field(default_factory=dict)
    named: frozenset[tuple[str, str]] = frozenset()  # tables some policy or the registry names
    registry: Registry = field(default_factory=Registry)

    def has(self, schema: str, table: str, column: str) -> bool:
        return any(c == column for c, _ in self.tables.get((schema, table), []))

    def text_columns(self, schema: str, table: str) -> list[str]:
        return [c for c, text in self.tables.get((schema, table), []) if text]

    def is_text(self, schema: str, table: str, column: str) -> bool:
        return column in self.text_columns(schema, table)

    def orphans(self) -> list[tuple[str, str]]:
        """Tables of purpose schemas that neither a policy nor the registry names."""
        return [t for t in self.tables if t not in self.named]


def open_catalogue(tx: Transaction, policies: list[Policy]) -> Catalogue:
    """Take the purpose locks, make sure the audit tables exist, and read the catalogue."""
    # The audit lock first: erasures and re-keys run one at a time, and the audit DDL cannot
    # race a load's. Then the purposes' locks, which loads take.
    tx.lock(AUDIT_SCHEMA)
    tx.ensure_tables(*RIGHTS_TABLES)
    purposes = {p.purpose for p in policies} | tx.audit_purposes()
    registry = read_registry(tx)
    purposes |= registry.purposes
    for name in sorted(purposes):
        tx.lock(name)
    tables: dict[tuple[str, str], list[tuple[str, bool]]] = {}
    for schema, table, column, text in tx.columns(outside=AUDIT_SCHEMA):
        if schema in purposes:
            tables.setdefault((schema, table), []).append((column, text))
    named = frozenset((p.purpose, s) for p in policies for s in p.sources) | registry.tables
    return Catalogue(tables, named, registry)
