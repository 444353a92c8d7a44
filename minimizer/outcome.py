"""What a published column is after a run's guarantees, in words: for the warehouse column
comments, the data dictionary and the lineage events.

The plan (:mod:`minimizer.plan`) says what the policy asked for ("kept as is", "H3 resolution
8"). The guarantees may then generalise further: k-anonymity lifts a quasi-identifier some levels
up its ladder (a tier to ``*``), the location guarantee raises sparse cells to coarser
resolutions. A comment that keeps the policy's words would then mislead an analyst, so each
column gets a note from the run's figures (``RunReport.guarantees``). Names and counts only: the
one value ever named is ``*``, the top of every hierarchy.

>>> meaning_of("subject_key")
'the data subject, as a pseudonym: joins the tables of this purpose'
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq

if TYPE_CHECKING:
    from minimizer.plan import ColumnPlan
    from minimizer.policy import Policy, SourceSpec
    from minimizer.report import RunReport

__all__ = [
    "column_notes",
    "generalised_by_guarantees",
    "loaded_comments",
    "meaning_of",
    "role_of",
    "time_output",
]

_LEVELS = {1: "one level", 2: "two levels", 3: "three levels", 4: "four levels"}
_MEANINGS = {
    "subject_key": "the data subject, as a pseudonym: joins the tables of this purpose",
    "event_time": "when the row's event happened; retention deletes rows by it",
    "direct_identifier": "identifies a person on its own",
    "quasi_identifier": "identifies a person in combination with other columns",
    "sensitive": "special category data (GDPR Art. 9)",
    "free_text": "free text, scrubbed of identifying values",
    "precise_location": "where the subject was",
    "time": "a point in time",
}


def time_output(spec: SourceSpec) -> str | None:
    """The published column derived from the source's time column, if any: the one retention
    deletes by and an interval load replaces a range of."""
    if not spec.time:
        return None
    for out, t in spec.outputs().items():
        # Its main input, not a helper input (a rotating pseudonym also reads the time).
        if t.inputs(out) and t.source_of(out) == spec.time:
            return out
    return None


def role_of(spec: SourceSpec, column: ColumnPlan) -> str:
    """``subject_key``, ``event_time`` or the strictest data category of the column's inputs."""
    if spec.key and spec.key in column.source_columns and column.category == "pseudonym":
        return "subject_key"
    if spec.time and column.source_columns[:1] == (spec.time,):
        return "event_time"
    return column.data_categories[0] if column.data_categories else "other"


def meaning_of(role: str) -> str | None:
    """What a column of that role means, for an analyst (None when nothing more can be said)."""
    return _MEANINGS.get(role)


def _single_value_is_top(staged: Path | None, column: str) -> bool:
    """Every row of the staged column is ``*`` (the guarantee removed all its information)."""
    if staged is None or not staged.exists():
        return False
    try:
        values = pq.read_table(staged, columns=[column]).column(column).unique().to_pylist()
    except (OSError, KeyError, ValueError):
        return False
    return [str(v) for v in values if v is not None] == ["*"]


def _k_notes(g: Mapping[str, Any], staged: Path | None) -> dict[str, str]:
    notes: dict[str, str] = {}
    for column, level in (g.get("levels") or {}).items():
        if not level:
            continue
        steps = _LEVELS.get(int(level), f"{int(level)} levels")
        top = ", to * in every row" if _single_value_is_top(staged, column) else ""
        notes[column] = f"k-anonymity (k={g.get('k')}) generalised it {steps} in this load{top}"
    suppressed = int(g.get("suppressed") or 0)
    if suppressed:
        for column in g.get("quasi_identifiers") or ():
            extra = f"{suppressed} row(s) suppressed (shown as *)"
            notes[column] = f"{notes[column]}; {extra}" if column in notes else extra
    return notes


def _location_notes(policy: Policy, g: Mapping[str, Any]) -> dict[str, str]:
    spec = policy.guarantees.location
    if spec is None:
        return {}
    raised = {int(r): int(n) for r, n in (g.get("raised") or {}).items() if int(n)}
    # CellSize.note, as the run recorded it (minimizer.guarantees.location): one size, or mixed
    # sizes with the column naming each row's. Figures, not an import: guarantees import us.
    parts = [str(g["cell_size"])] if g.get("cell_size") else []
    if raised:
        low, high = min(raised), max(raised)
        span = f"resolution {low}" if low == high else f"resolutions {low}-{high}"
        parts.append(
            f"cells with fewer than {g.get('m')} distinct subjects per {spec.bucket} were raised "
            f"to H3 {span} ({sum(raised.values())} group(s)) in this load"
        )
    if int(g.get("suppressed_rows") or 0):
        parts.append(f"{int(g['suppressed_rows'])} row(s) in still sparse cells withheld")
    return {spec.cell: "; ".join(parts)} if parts else {}


def column_notes(policy: Policy, report: RunReport, source: str) -> dict[str, str]:
    """Output column -> what the guarantees did to it in this run (only columns they changed)."""
    notes: dict[str, str] = {}
    k = report.guarantees.get("k_anonymity")
    rep = report.sources.get(source)
    if k and k.get("source") == source:
        notes.update(_k_notes(k, rep.staged if rep else None))
    loc = report.guarantees.get("location")
    if loc and loc.get("source") == source:
        for column, note in _location_notes(policy, loc).items():
            notes[column] = f"{notes[column]}; {note}" if column in notes else note
    return notes


def generalised_by_guarantees(policy: Policy, report: RunReport, source: str) -> set[str]:
    """Output columns whose values the guarantees made coarser than the policy asked."""
    return set(column_notes(policy, report, source))


def loaded_comments(
    policy: Policy, report: RunReport, source: str, plans: tuple[ColumnPlan, ...]
) -> dict[str, str]:
    """The warehouse column comments of one table: meaning, the policy's treatment, then what
    the guarantees did in this load."""
    spec = policy.sources[source]
    notes = column_notes(policy, report, source)
    out: dict[str, str] = {}
    for plan in plans:
        if plan.output is None:
            continue
        meaning = meaning_of(role_of(spec, plan))
        text = f"{meaning}. {plan.comment}" if meaning else plan.comment
        if plan.output in notes:
            text = f"{text}; {notes[plan.output]}"
        out[plan.output] = text
    loc = report.guarantees.get("location")
    if loc and loc.get("source") == source and loc.get("resolution_column"):
        cell = policy.guarantees.location.cell if policy.guarantees.location else "cell"
        out[str(loc["resolution_column"])] = (
            f"the H3 resolution of this row's {cell} (0-15, larger is finer), added because "
            f"cell sizes mix; {loc.get('cell_size') or 'compare cells of one resolution only'}"
        )
    return out
