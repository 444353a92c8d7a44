"""Erasure keeps the guarantees: after a subject's rows are deleted, every table it touched is
brought back under its guarantees in the same transaction.

Deleting one member of a k-anonymous class of exactly k subjects leaves k-1: the class would be
published below k, and comparing the table before and after would show the erased person's
quasi-identifiers. So every class now below k distinct subjects (or below l distinct sensitive
values) is suppressed whole: its quasi-identifiers become ``*`` (NULL in a non-text column),
as the load's enforcement masks a suppressed row. Location cells left with fewer distinct
subjects than the minimum are deleted (suppressed), as the load's enforcement drops them.

The guarantee parameters come from the warehouse registry (:mod:`.registry`), else from the
policy; the work is a few set-based statements in the engine, never a row loop. The classes
are then re-checked independently with the guarantees' own check (``verify_classes``) on the
rows read back; a failure rolls the whole erasure back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from minimizer.guarantees.kanon import verify_classes
from minimizer.hierarchy import TOP
from minimizer.io.warehouse import Transaction
from minimizer.rights.catalogue import Catalogue
from minimizer.rights.registry import K_ANONYMITY, LOCATION

__all__ = ["reenforce"]


def _class_key(columns: Sequence[str], tx: Transaction) -> str:
    """One text per class: the columns as text, NULL kept apart from every value."""
    parts = [f"coalesce(CAST({tx.quote(c)} AS TEXT), chr(30))" for c in columns]
    return f"concat_ws(chr(31), {', '.join(parts)})"


def _people(subject: str | None, tx: Transaction) -> str:
    """Distinct subjects of a group (a missing subject is one person), else its rows."""
    if subject is None:
        return "count(*)"
    s = tx.quote(subject)
    return f"(count(DISTINCT {s}) + max(CASE WHEN {s} IS NULL THEN 1 ELSE 0 END))"


def _count(rows: list[tuple[Any, ...]]) -> int:
    return int(rows[0][0]) if rows and rows[0] and rows[0][0] is not None else 0


def _k_anonymity(
    tx: Transaction,
    catalogue: Catalogue,
    schema: str,
    table: str,
    spec: Mapping[str, Any],
) -> int:
    qis = [str(q) for q in spec.get("quasi_identifiers") or []]
    if not qis or not all(catalogue.has(schema, table, q) for q in qis):
        return 0  # the table no longer has these columns: nothing is published under them
    k = int(spec["k"])
    diversity = int(spec.get("l_diversity") or 1)
    subject = spec.get("subject")
    subject = str(subject) if subject and catalogue.has(schema, table, str(subject)) else None
    sensitive = [str(c) for c in spec.get("sensitive") or [] if catalogue.has(schema, table, c)]
    text = {q: catalogue.is_text(schema, table, q) for q in qis}
    name = tx.name(schema, table)
    # A suppressed row: every quasi-identifier masked. A NULL in a text column is a value
    # (its own class), never "suppressed": coalesce keeps the predicate two-valued.
    hidden = " AND ".join(
        f"coalesce({tx.quote(q)} = {tx.literal(TOP)}, FALSE)"
        if text[q]
        else f"{tx.quote(q)} IS NULL"
        for q in qis
    )
    key = _class_key(qis, tx)
    # As the guarantees' own check counts: with a subject and l > 1, a class needs max(k, l).
    need = max(k, diversity) if subject is not None and diversity > 1 else k
    small = f"{_people(subject, tx)} < {need}"
    if diversity > 1:
        small += "".join(f" OR count(DISTINCT {tx.quote(c)}) < {diversity}" for c in sensitive)
    classes = f"SELECT {key} FROM {name} WHERE NOT ({hidden}) GROUP BY 1 HAVING {small}"
    masks = ", ".join(f"{tx.quote(q)} = {tx.literal(TOP) if text[q] else 'NULL'}" for q in qis)
    suppressed = _count(
        tx(f"UPDATE {name} SET {masks} WHERE NOT ({hidden}) AND {key} IN ({classes})", ())
    )
    # The independent check, on the rows as they now are.
    columns = list(dict.fromkeys([*qis, *sensitive, *([subject] if subject else [])]))
    selected = ", ".join(tx.quote(c) for c in columns)
    rows = tx(f"SELECT {selected} FROM {name} WHERE NOT ({hidden})", ())
    kept = pd.DataFrame(rows, columns=columns)
    verify_classes(kept, qis, k, diversity, sensitive, subject)
    return suppressed


def _location(
    tx: Transaction,
    catalogue: Catalogue,
    schema: str,
    table: str,
    spec: Mapping[str, Any],
) -> int:
    cell, bucket, subject = (str(spec.get(n)) for n in ("cell", "bucket", "subject"))
    if not all(catalogue.has(schema, table, c) for c in (cell, bucket, subject)):
        return 0
    m = int(spec["min_distinct_subjects_per_cell"])
    name = tx.name(schema, table)
    key = _class_key([cell, bucket], tx)
    cells = f"SELECT {key} FROM {name} GROUP BY 1 HAVING {_people(subject, tx)} < {m}"
    return _count(tx(f"DELETE FROM {name} WHERE {key} IN ({cells})", ()))


def reenforce(
    tx: Transaction,
    catalogue: Catalogue,
    schema: str,
    table: str,
    guarantees: Mapping[str, Mapping[str, Any]],
) -> dict[str, int]:
    """Bring one table back under its guarantees; rows suppressed (k) or deleted (cells)."""
    done: dict[str, int] = {}
    if K_ANONYMITY in guarantees:
        n = _k_anonymity(tx, catalogue, schema, table, guarantees[K_ANONYMITY])
        if n:
            done["k_anonymity"] = n
    if LOCATION in guarantees:
        n = _location(tx, catalogue, schema, table, guarantees[LOCATION])
        if n:
            done["location"] = n
    return done
