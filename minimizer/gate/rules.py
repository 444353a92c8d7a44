"""What the gate checks, derived from the policy: identifier columns and the checks per output.

**Identifier columns** of a source (what the canary compares the output against):

1. its ``key``, its ``identifying`` columns, and the source columns of every ``pseudonymise``,
   ``mask`` and ``encrypt`` action (the scrub action's identifiers are the ``identifying``
   columns: the free text itself is not an identifier, a harmless note is published unchanged);
2. every column the run reads but does not publish as is (it is generalised, coarsened or only
   read) that is *named like* an identifier (a name part such as ``email``, ``phone``, ``iban``,
   ``name``, ``address``, ``ip``, ``device``, ``handle``) or whose raw text a PII detector flags
   (decided per chunk, on the distinct values; the time column is exempt).

Columns the policy never names are never read (deny by default), so their values cannot reach
the output through the run; the canary does not read them either. Columns published as is
(``keep``) are not identifiers, unless rule 1 names them: then the gate fails, rightly.

Identifiers whose column is **name-like** (``first_name``, ``last_name``, ...) are compared
globally only as whole names ("anna berg", "berg anna"): a lone name is a word ("Paris" is a
surname and a city in the demo data). They are checked per row instead: no text output of a
row (kept, scrubbed, masked or cut to a prefix) may hold that row's own name in any spelling.

**The CRM's identifying columns** (:func:`crm_columns`) are read by the canary itself, for all
customers, whether or not the purpose reads them: a raw phone or customer id planted in
another source is then caught, and a source that reads no name column still has its rows'
names checked through its key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from minimizer.categories import Category
from minimizer.outcome import time_output
from minimizer.pii import DEFAULT_MAX_DECIMALS
from minimizer.policy import Policy, SourceSpec
from minimizer.rights.sealed import SEALED_PATTERN
from minimizer.transforms.coarsen import Coarsen
from minimizer.transforms.hierarchy import HierarchyLevel
from minimizer.transforms.pseudonymise import TOKEN_PATTERN
from minimizer.transforms.truncate_time import TruncateTime

__all__ = [
    "CLOSED_FORMATS",
    "CRM_CUSTOMERS",
    "OUTPUT_FORMATS",
    "CrmColumns",
    "IdentifierPlan",
    "OutputCheck",
    "crm_columns",
    "identifier_plan",
    "is_name_like",
    "named_like_identifier",
    "output_checks",
]

# Output formats that cannot hold PII: fixed alphabets behind a fixed shape. Detectors skip
# values in these formats (the format expectation checks them), and the canary skips them
# unless a raw identifier value had the same shape.
CLOSED_FORMATS: dict[str, str] = {
    "token": TOKEN_PATTERN,
    "h3": r"^[0-9a-f]{15}$",
}
# Formats an output column must have. Sealed values (``encrypt``) are AES-SIV ciphertext in
# base64url: random letters that detectors misread (a BIC in 1 of ~300 values), so their column
# is held to the format instead. Not a CLOSED_FORMAT: base64 can carry any payload, so the same
# shape in a kept column is still checked by the detectors.
OUTPUT_FORMATS: dict[str, str] = {**CLOSED_FORMATS, "sealed": SEALED_PATTERN}
# (action, method) -> the format its output must have.
_FORMAT_OF: dict[tuple[str, str | None], str] = {
    ("pseudonymise", None): "token",
    ("coarsen", "h3"): "h3",
    ("encrypt", None): "sealed",
}
_NAME_PARTS = frozenset(
    {"name", "firstname", "lastname", "surname", "forename", "givenname", "fullname"}
)
_IDENTIFIER_PARTS = _NAME_PARTS | {
    "email", "mail", "phone", "mobile", "tel", "telephone", "fax", "iban", "bic", "card",
    "pan", "address", "street", "ip", "ipv4", "ipv6", "mac", "device", "imei", "handle",
    "ssn", "passport", "username", "login",
}  # fmt: skip
# Actions whose source columns identify the subject by the policy's own word.
_IDENTIFYING_ACTIONS = frozenset({"pseudonymise", "mask", "encrypt"})
# Actions that publish a source's text as it is (or scrubbed): free text can hide a name there.
_TEXT_ACTIONS = frozenset({"keep", "scrub"})
# Outputs that still hold (part of) the source's characters: a row's own name can sit there.
_OWN_NAME_ACTIONS = _TEXT_ACTIONS | {"mask", "prefix"}
# The CRM table of customers and the names its key goes by.
# TODO(issue 9): take the categories from minimizer.categories (helper B) once it exists.
CRM_CUSTOMERS = "customers"
_KEY_NAMES = ("customer_id", "customerid", "customer_number", "customer_no", "kundennummer")
# Free text about a customer ("note_email", "comment"): checked as published text, never
# taken for an identifier or a name however it is named.
_FREE_TEXT_PARTS = frozenset(
    {"note", "notes", "comment", "comments", "remark", "remarks", "memo", "description",
     "text", "message", "bemerkung", "notiz", "kommentar"}
)  # fmt: skip


def _parts(column: str) -> set[str]:
    return {p for p in re.split(r"[^a-z0-9]+", column.lower()) if p}


def _split_camel(column: str) -> str:
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", column)


def is_name_like(column: str) -> bool:
    """``first_name``, ``LastName``... : the column holds (parts of) a person's name."""
    parts = _parts(_split_camel(column))
    return bool(parts & _NAME_PARTS)


def named_like_identifier(column: str) -> bool:
    parts = _parts(re.sub(r"(?<=[a-z])(?=[A-Z])", "_", column))
    return bool(parts & _IDENTIFIER_PARTS)


@dataclass(frozen=True)
class IdentifierPlan:
    """The identifier columns of one source, as far as the policy fixes them."""

    source: str
    identifiers: tuple[str, ...]  # compared by keyed digest of whole values
    names: tuple[str, ...]  # compared per row, as words of the same row's text outputs
    candidates: tuple[str, ...]  # read, not published as is: identifiers if a detector flags them
    text_outputs: tuple[str, ...]  # outputs checked for the row's own names
    key: str | None = None  # joins the CRM's customers, whose names are then checked too

    @property
    def checks_own_names(self) -> bool:
        """Own names are checked where text is published and names are known: read by the
        source, or found in the CRM through the key."""
        return bool(self.text_outputs) and (bool(self.names) or self.key is not None)


def _own_name_action(transform: object) -> bool:
    action = getattr(transform, "action", None)
    return action in _OWN_NAME_ACTIONS or getattr(transform, "method", None) == "prefix"


def _hierarchy_of_identifier(spec: SourceSpec, out: str, transform: object) -> bool:
    """A hierarchy level over a direct identifier: its labels come from a file the policy
    check measured, but a label can still be the value itself (a surname's level 1 that is
    the surname), so it is checked like kept text."""
    if not isinstance(transform, HierarchyLevel):
        return False
    return spec.category_of(transform.source_of(out)).category is Category.direct_identifier


def identifier_plan(policy: Policy, source: str) -> IdentifierPlan:
    spec = policy.sources[source]
    stated = [c for c in (spec.key, *spec.identifying) if c]
    for out, transform in spec.outputs().items():
        if transform.action in _IDENTIFYING_ACTIONS:  # the value it hides, not its helpers
            stated.append(transform.source_of(out))
    # Text published as is or scrubbed is expected in the output: never an identifier itself.
    as_is = {t.source_of(o) for o, t in spec.outputs().items() if t.action in _TEXT_ACTIONS}
    unpublished = [c for c in spec.inputs() if c not in as_is and c != spec.time]
    stated += [c for c in unpublished if named_like_identifier(c)]
    stated = list(dict.fromkeys(stated))
    return IdentifierPlan(
        source=source,
        identifiers=tuple(c for c in stated if not is_name_like(c)),
        names=tuple(c for c in stated if is_name_like(c)),
        candidates=tuple(c for c in unpublished if c not in stated),
        text_outputs=tuple(
            o
            for o, t in spec.outputs().items()
            if _own_name_action(t) or _hierarchy_of_identifier(spec, o, t)
        ),
        key=spec.key,
    )


@dataclass(frozen=True)
class CrmColumns:
    """The identifying columns of the CRM's customers table, by their names' category."""

    key: str | None
    identifiers: tuple[str, ...]  # compared globally, whole and contained
    names: tuple[str, ...]  # first/last names: whole names globally, parts per customer


def crm_columns(columns: list[str]) -> CrmColumns:
    """Which of the CRM customers table's ``columns`` identify a customer, by name."""
    lowered = {c.lower(): c for c in columns}
    key = next((lowered[k] for k in _KEY_NAMES if k in lowered), None)
    columns = [c for c in columns if not _parts(_split_camel(c)) & _FREE_TEXT_PARTS]
    names = tuple(c for c in columns if is_name_like(c))
    identifiers = tuple(
        c for c in columns if c != key and c not in names and named_like_identifier(c)
    )
    return CrmColumns(key, ((key,) if key else ()) + identifiers, names)


@dataclass(frozen=True)
class OutputCheck:
    """What the suite checks on one output column."""

    column: str
    action: str
    format: str | None  # a closed format the values must have
    temporal: bool  # a truncated date/time: no text to scan
    text: bool  # published from source text: canary on words too, and own names
    retention_unit: str | None  # for the time column: the unit it is truncated to ("" = exact)


def _max_decimals(spec: SourceSpec) -> int:
    """The policy's own grid, where it has one: finer coordinates than that are a leak."""
    grids = [
        t.decimals
        for t in spec.outputs().values()
        if isinstance(t, Coarsen) and t.method == "grid" and t.decimals is not None
    ]
    return min(grids) if grids else DEFAULT_MAX_DECIMALS


def output_checks(policy: Policy, source: str) -> tuple[list[OutputCheck], int]:
    """The checks of every output column, and the coordinate precision the policy allows."""
    spec = policy.sources[source]
    time_col = time_output(spec)
    checks = []
    for out, transform in spec.outputs().items():
        method = getattr(transform, "method", None)
        unit = None
        if out == time_col:
            unit = transform.method if isinstance(transform, TruncateTime) else ""
        checks.append(
            OutputCheck(
                column=out,
                action=transform.action,
                format=_FORMAT_OF.get((transform.action, method)),
                temporal=isinstance(transform, TruncateTime),
                text=transform.action in _TEXT_ACTIONS
                or _hierarchy_of_identifier(spec, out, transform),
                retention_unit=unit,
            )
        )
    return checks, _max_decimals(spec)
