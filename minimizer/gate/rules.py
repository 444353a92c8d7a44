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

Identifiers whose column is **name-like** (``first_name``, ``last_name``, ...) are not compared
globally: names are words ("Paris" is a surname and a city in the demo data). They are checked
per row instead: no text output of a row may contain that row's own name as a word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from minimizer.pii import DEFAULT_MAX_DECIMALS
from minimizer.pipeline import time_output
from minimizer.policy import Policy, SourceSpec
from minimizer.transforms.coarsen import Coarsen
from minimizer.transforms.pseudonymise import TOKEN_PATTERN
from minimizer.transforms.truncate_time import TruncateTime

__all__ = [
    "CLOSED_FORMATS",
    "IdentifierPlan",
    "OutputCheck",
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
# (action, method) -> the closed format its output must have.
_FORMAT_OF: dict[tuple[str, str | None], str] = {
    ("pseudonymise", None): "token",
    ("coarsen", "h3"): "h3",
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


def _parts(column: str) -> set[str]:
    return {p for p in re.split(r"[^a-z0-9]+", column.lower()) if p}


def is_name_like(column: str) -> bool:
    """``first_name``, ``LastName``... : the column holds (parts of) a person's name."""
    parts = _parts(re.sub(r"(?<=[a-z])(?=[A-Z])", "_", column))
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
        text_outputs=tuple(o for o, t in spec.outputs().items() if t.action in _TEXT_ACTIONS),
    )


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
                text=transform.action in _TEXT_ACTIONS,
                retention_unit=unit,
            )
        )
    return checks, _max_decimals(spec)
