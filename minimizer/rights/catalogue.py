"""What the warehouse holds, read inside the erasure or re-key transaction.

Purpose schemas are those of the policies, every purpose the audit table has seen and every
purpose of the warehouse's registry (:mod:`.registry`), so a table left behind by a removed or
retired policy is still searched. Other schemas (a shared PostgreSQL database) are not
minimizer's and are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from minimizer.io.warehouse import AUDIT_SCHEMA, AUDIT_TABLE, Dialect, Execute, audit_ddl, qualified
from minimizer.policy import Policy
from minimizer.rights.registry import Registry, read_registry
from minimizer.rights.sql import TEXT_TYPES, lock_sql, rights_ddl, text_columns_sql

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


def open_catalogue(execute: Execute, dialect: Dialect, policies: list[Policy]) -> Catalogue:
    """Take the purpose locks, make sure the audit tables exist, and read the catalogue."""
    lock = lock_sql(dialect)
    if lock is not None:
        # The audit lock first: erasures and re-keys run one at a time, and the audit DDL
        # cannot race a load's. Then the purposes' locks, which loads take.
        execute(lock, [AUDIT_SCHEMA])
    for sql in [*audit_ddl(dialect), *rights_ddl(dialect)]:
        execute(sql, ())
    runs = qualified(AUDIT_SCHEMA, AUDIT_TABLE, dialect)
    purposes = {p.purpose for p in policies}
    purposes |= {str(r[0]) for r in execute(f"SELECT DISTINCT purpose FROM {runs}", ())}
    registry = read_registry(execute, dialect)
    purposes |= registry.purposes
    if lock is not None:
        for name in sorted(purposes):
            execute(lock, [name])
    texts = TEXT_TYPES[dialect.name]
    tables: dict[tuple[str, str], list[tuple[str, bool]]] = {}
    for schema, table, column, kind in execute(text_columns_sql(dialect), [AUDIT_SCHEMA]):
        if str(schema) in purposes:
            slot = tables.setdefault((str(schema), str(table)), [])
            slot.append((str(column), str(kind).lower() in texts))
    named = frozenset((p.purpose, s) for p in policies for s in p.sources) | registry.tables
    return Catalogue(tables, named, registry)
