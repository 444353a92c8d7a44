"""The two audit tables of this package, declared once; the warehouse creates them (through
the one type table of :mod:`minimizer.io.drivers.sql`) and writes them.

``minimizer_audit.erasures``: one row per erased subject (a keyed digest, never the id).
``minimizer_audit.suppressed_subjects``: the digests the next loads leave out.
"""

from __future__ import annotations

from minimizer.io.warehouse import AUDIT_SCHEMA, TableSpec

__all__ = ["ERASURES", "ERASURES_TABLE", "RIGHTS_TABLES", "SUPPRESSED", "SUPPRESSED_TABLE"]

ERASURES = "erasures"
SUPPRESSED = "suppressed_subjects"

ERASURES_TABLE = TableSpec(
    AUDIT_SCHEMA,
    ERASURES,
    (
        (
            "erasure_id",
            "text",
            "Id of the erasure of one subject (keyed; repeats of a request share it).",
        ),
        ("subject_digest", "text", "Keyed BLAKE2b digest of the subject id (never the id itself)."),
        (
            "key_version",
            "integer",
            "Key version of the digest; retiring it makes the row unlinkable.",
        ),
        ("requested_at", "timestamptz", "When the data subject asked (UTC)."),
        ("done_at", "timestamptz", "When the rows were deleted (UTC)."),
        ("rows_deleted", "json", "Rows deleted per table (schema.table): counts only."),
        ("keys_destroyed", "integer", "Subject data keys destroyed (crypto-shredding)."),
        ("origin", "text", "Who asked minimizer to erase: cli, airflow, ..."),
    ),
    ("erasure_id",),
    "One row per erased data subject (GDPR Art. 17): what was deleted, without the id.",
)
SUPPRESSED_TABLE = TableSpec(
    AUDIT_SCHEMA,
    SUPPRESSED,
    (
        ("digest", "text", "Keyed digest of an erased subject id: loads leave such rows out."),
        ("key_version", "integer", "Key version of the digest."),
        ("since", "timestamptz", "When the subject was erased (UTC)."),
        ("erasure_id", "text", "The erasure that put the subject on the list."),
    ),
    ("digest", "key_version"),
    "Erased subjects, as keyed digests: the next loads leave their rows out.",
)
RIGHTS_TABLES = (ERASURES_TABLE, SUPPRESSED_TABLE)
