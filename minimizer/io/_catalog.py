"""Minimizer's own tables in the audit schema of every warehouse, and how rows travel into
and out of them.

``minimizer_audit.runs``: one row per run (a load, an erasure, a re-key). The ``audit``
mapping of a run has exactly its columns; JSON columns take dicts/lists.
``minimizer_audit.loaded_tables``: the warehouse's own registry of every purpose, table, token
scheme and guarantee it loaded, written in each load's transaction, so erasure reaches them
without the policy files. The rights package adds its two tables (:mod:`minimizer.rights.sql`)
with the same :class:`TableSpec` and so the same type table.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import pandas as pd

from minimizer.errors import WarehouseError
from minimizer.io.drivers.sql import TableSpec

__all__ = [
    "AUDIT_COLUMNS",
    "AUDIT_SCHEMA",
    "AUDIT_TABLE",
    "REGISTRY",
    "REGISTRY_COLUMNS",
    "REGISTRY_TABLE",
    "RUNS",
    "TABLE_ENTRY",
    "audit_after_load",
    "audit_params",
    "parse_audit_json",
    "registry_params",
]

AUDIT_SCHEMA = "minimizer_audit"
AUDIT_TABLE = "runs"
REGISTRY_TABLE = "loaded_tables"
TABLE_ENTRY = "table"  # the entry every loaded table has

# The audit table: (column, logical type, comment).
AUDIT_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("run_id", "text", "Unique id of the minimizer run (primary key)."),
    ("purpose", "text", "Purpose id of the policy; also the schema the run loaded."),
    ("policy_sha256", "text", "SHA-256 of the policy file the run applied."),
    ("status", "text", "loaded (a load) or rekeyed (keys rekey); failed runs load nothing."),
    ("started_at", "timestamptz", "When the run started (UTC)."),
    ("finished_at", "timestamptz", "When the run finished (UTC)."),
    ("key_version", "integer", "Version of the pseudonymisation key; the key is never stored."),
    ("rows_in", "json", "Rows read, per source."),
    ("rows_out", "json", "Rows the run loaded, per source (rekeyed: tokens moved)."),
    ("dropped_columns", "json", "Source columns not published as they are, per source."),
    (
        "schema_drift",
        "json",
        "Every source column the policy does not name (not read), per source.",
    ),
    ("details", "json", "Guarantee and gate figures of the run: counts, never values."),
)
RUNS = TableSpec(
    AUDIT_SCHEMA,
    AUDIT_TABLE,
    AUDIT_COLUMNS,
    ("run_id",),
    "One row per minimizer run: what was read, dropped and loaded, and why.",
)

# The registry; (purpose, table_name, entry) is the key.
REGISTRY_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("purpose", "text", "Purpose id: the schema the table lives in."),
    ("table_name", "text", "A table minimizer loaded into that schema."),
    ("entry", "text", "What is registered: the table, a subject column, a guarantee."),
    ("spec", "json", "Its description: token scheme, guarantee parameters; never a value."),
    ("first_loaded", "timestamptz", "First load that registered the entry (UTC)."),
    ("last_loaded", "timestamptz", "Latest load that registered the entry (UTC)."),
    ("run_id", "text", "The run of the latest load."),
)
REGISTRY = TableSpec(
    AUDIT_SCHEMA,
    REGISTRY_TABLE,
    REGISTRY_COLUMNS,
    ("purpose", "table_name", "entry"),
    "Every purpose, table, token scheme and guarantee minimizer ever loaded here: erasure and"
    " re-keying reach them without the policy files.",
)
# A later load of an entry keeps its first_loaded.
REGISTRY_UPDATES = ("spec", "last_loaded", "run_id")

_JSON_COLUMNS = tuple(name for name, kind, _ in AUDIT_COLUMNS if kind == "json")


def audit_params(audit: Mapping[str, object]) -> list[object]:
    """The audit row as bound parameters, in ``AUDIT_COLUMNS`` order; JSON is serialised."""
    expected = RUNS.names
    missing = sorted(set(expected) - set(audit))
    extra = sorted(set(audit) - set(expected))
    if missing or extra:
        raise WarehouseError(
            "audit record must have exactly the audit columns",
            table=f"{AUDIT_SCHEMA}.{AUDIT_TABLE}",
            column=", ".join(missing + extra),
            reason="invalid_audit",
        )
    return [
        json.dumps(audit[col], sort_keys=True, default=str) if col in _JSON_COLUMNS else audit[col]
        for col in expected
    ]


def audit_after_load(audit: Mapping[str, object], counts: Mapping[str, int]) -> dict[str, object]:
    """The audit row of a load with the rows each table holds once loaded and retention ran,
    so the processing record always equals the tables."""
    rows_out = audit.get("rows_out")
    before = dict(rows_out) if isinstance(rows_out, Mapping) else {}
    return {**audit, "rows_out": {**before, **counts}}


def parse_audit_json(frame: pd.DataFrame) -> pd.DataFrame:
    """Audit rows with their JSON columns as Python objects (both targets hand back text)."""
    parsed = {col: frame[col].map(json.loads, na_action="ignore") for col in _JSON_COLUMNS}
    return frame.assign(**parsed)


def registry_params(
    schema: str, table: str, entries: Mapping[str, Mapping[str, object]], run_id: str, at: object
) -> list[list[object]]:
    """The registry rows of one loaded table (its ``table`` entry first among equals), as bound
    parameters in ``REGISTRY_COLUMNS`` order, sorted by entry."""
    every = {TABLE_ENTRY: {}, **{k: dict(v) for k, v in entries.items()}}
    return [
        [schema, table, entry, json.dumps(spec, sort_keys=True, default=str), at, at, run_id]
        for entry, spec in sorted(every.items())
    ]
