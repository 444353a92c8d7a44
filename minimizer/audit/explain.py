"""The guarantees' figures in words, for the run summary and the auditors' record.

A run records figures under raw keys (``levels.loyalty_tier = 1``, ``discernibility``,
``unicity_after``). Here each becomes a sentence that says what it means, and a *warning* where
the figure shows a risk above the target or a column that lost all its information. Names and
counts only: the one value ever named is ``*``, the top of every hierarchy.

>>> [f.text for f in k_anonymity_findings({"k": 5, "levels": {"tier": 1}}, {"tier": True})][:1]
['tier: generalised one level (to *)']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from minimizer.io.warehouse import Warehouse
    from minimizer.policy import Policy

__all__ = [
    "DEFAULT_MAX_UNICITY",
    "Finding",
    "collapsed_columns",
    "gate_findings",
    "k_anonymity_findings",
    "location_findings",
    "summary_collapsed",
]

# Used when a policy names no target of its own: above it, a tenth of the subjects can be
# singled out by a handful of points of their trace.
DEFAULT_MAX_UNICITY = 0.10
_WORDS = {1: "one level", 2: "two levels", 3: "three levels", 4: "four levels"}


@dataclass(frozen=True)
class Finding:
    text: str
    warning: bool = False


def _pct(share: float) -> str:
    return f"{share:.1%}"


def collapsed_columns(
    warehouse: Warehouse, schema: str, table: str, columns: Sequence[str]
) -> dict[str, bool]:
    """Published columns holding a single value in every row that is not suppressed:
    column -> True when that value is ``*`` (generalised to the top). Counts only."""
    if not columns:
        return {}
    q = {c: '"' + c.replace('"', '""') + '"' for c in columns}
    text = {c: f"CAST({q[c]} AS VARCHAR)" for c in columns}
    suppressed = " AND ".join(f"{text[c]} = '*'" for c in columns)
    parts = []
    for i, c in enumerate(columns):
        parts.append(f"count(DISTINCT {text[c]}) FILTER (WHERE NOT ({suppressed})) AS d{i}")
        parts.append(f"sum(CASE WHEN {text[c]} = '*' THEN 0 ELSE 1 END) AS n{i}")
    sql = f'SELECT count(*) AS rows, {", ".join(parts)} FROM "{schema}"."{table}"'
    row = warehouse.query(sql).iloc[0]
    if not int(row["rows"]):
        return {}
    out: dict[str, bool] = {}
    for i, c in enumerate(columns):
        if int(row[f"d{i}"]) <= 1:
            out[c] = int(row[f"n{i}"] or 0) == 0
    return out


def _level(column: str, level: int, collapsed: Mapping[str, bool]) -> str:
    if column in collapsed:
        where = "to *" if collapsed[column] else "to a single value"
        steps = _WORDS.get(level, f"{level} levels") if level else "not generalised further"
        return f"{column}: generalised {steps} ({where})" if level else f"{column}: {steps}"
    if level == 0:
        return f"{column}: published as the policy says (not generalised further)"
    return f"{column}: generalised {_WORDS.get(level, f'{level} levels')}"


def k_anonymity_findings(
    k: Mapping[str, Any],
    collapsed: Mapping[str, bool],
    max_suppression: float | None = None,
) -> list[Finding]:
    """Sentences for the figures of ``guarantees.k_anonymity`` (see guarantees/enforce.py)."""
    found: list[Finding] = []
    levels = k.get("levels")
    if isinstance(levels, Mapping):
        found += [Finding(_level(c, int(v), collapsed)) for c, v in levels.items()]
    elif k.get("method") == "mondrian":
        found.append(Finding("generalised per group of rows (Mondrian), not per column"))
    rows, suppressed = int(k.get("rows", 0)), int(k.get("suppressed", 0))
    if "suppressed" in k:
        allowed = f"; the policy allows up to {max_suppression:.0%}" if max_suppression else ""
        share = _pct(suppressed / rows) if rows else "0%"
        found.append(
            Finding(
                f"{suppressed:,} of {rows:,} rows suppressed ({share}{allowed}): "
                "all their quasi-identifiers are published as *"
            )
        )
    if "min_class" in k:
        before = k.get("min_class_before")
        was = f" (before the guarantee: {before})" if before is not None else ""
        found.append(
            Finding(
                f"every combination of quasi-identifiers is shared by at least "
                f"{k['min_class']} rows{was}; k = {k.get('k')}"
            )
        )
    if "classes" in k:
        median = k.get("median_class")
        med = f", median size {median:g}" if isinstance(median, int | float) else ""
        found.append(
            Finding(
                f"{int(k['classes']):,} equivalence classes (groups of rows that share all "
                f"quasi-identifiers){med}"
            )
        )
    if "discernibility" in k and rows:
        d = int(k["discernibility"])
        found.append(
            Finding(
                f"discernibility {d:,}: information loss, the sum of each class size squared "
                f"plus suppressed rows × all rows; lower is better, between {rows:,} (every row "
                f"distinct) and {rows * rows:,} (all rows alike); here {d / (rows * rows):.1%} "
                "of the maximum"
            )
        )
    if "unique_share_after" in k:
        before = k.get("unique_share_published_before")
        was = f"{_pct(before)} before the guarantee, " if isinstance(before, float) else ""
        found.append(
            Finding(
                f"rows unique on the quasi-identifiers: {was}{_pct(k['unique_share_after'])} after"
            )
        )
    for column, top in collapsed.items():
        value = "* in every row" if top else "one value in every row"
        found.append(
            Finding(
                f"{column} collapsed to {value}: the column carries no information. To keep "
                "it: lower k, take fewer quasi-identifiers, allow more suppression "
                "(max_suppression), or use method: mondrian",
                warning=True,
            )
        )
    return found


def location_findings(loc: Mapping[str, Any], max_unicity: float | None = None) -> list[Finding]:
    """Sentences for the figures of ``guarantees.location``, unicity with its basis."""
    found: list[Finding] = []
    if "min_subjects" in loc:
        found.append(
            Finding(
                f"every published (cell, time bucket) holds at least {loc['min_subjects']} "
                f"distinct subjects; the policy asks for {loc.get('m')}"
            )
        )
    raised = loc.get("raised") or {}
    if raised:
        parts = ", ".join(f"{n:,} to H3 resolution {r}" for r, n in sorted(raised.items()))
        found.append(Finding(f"sparse (cell, time bucket) groups raised to coarser cells: {parts}"))
    if loc.get("cell_size"):  # one size, or which column names each row's (issue 12)
        per = sorted((int(r), int(n)) for r, n in (loc.get("rows_per_resolution") or {}).items())
        rows = ", ".join(f"{n:,} at resolution {r}" for r, n in per)
        found.append(Finding(f"{loc['cell_size']}" + (f" (rows: {rows})" if rows else "")))
    if "suppressed_rows" in loc:
        found.append(
            Finding(
                f"{int(loc['suppressed_rows']):,} rows suppressed: their cell stayed below the "
                "threshold even at the coarsest allowed resolution"
            )
        )
    for mode in ("drop", "coarsen"):
        if f"anchor_rows_{mode}" in loc:
            verb = "dropped" if mode == "drop" else "coarsened"
            n = int(loc[f"anchor_rows_{mode}"])
            found.append(Finding(f"{n:,} rows at home or work anchors {verb}"))
    if "unicity_after" in loc:
        p = loc.get("unicity_points", 4)
        target = DEFAULT_MAX_UNICITY if max_unicity is None else max_unicity
        whose = "the policy's target" if max_unicity is not None else "minimizer's default target"
        before = loc.get("unicity_before")
        basis = loc.get("unicity_before_place", "raw points")
        was = f"{_pct(before)} before ({basis}), " if isinstance(before, float) else ""
        after = float(loc["unicity_after"])
        above = after > target
        mark = f" — {'above' if above else 'below'} {whose} of {_pct(target)}"
        found.append(
            Finding(
                f"unicity with {p} points: the share of subjects (basis: distinct values of "
                f"the subject column, i.e. tokens where the pseudonym rotates) singled out by "
                f"{p} random (place, time) points of their trace: {was}{_pct(after)} after, on "
                f"the published (cell, time bucket), before any max_unicity cap{mark}",
                warning=above,
            )
        )
        if above:
            found.append(
                Finding(
                    "to lower unicity: coarser time buckets or cells, a higher minimum of "
                    "subjects per cell, anchors: drop, or a rotating pseudonym",
                    warning=True,
                )
            )
    return found


def gate_findings(measured: Mapping[str, Any]) -> list[Finding]:
    """The gate's independent re-check (``details.gate.measured``), per table."""
    found: list[Finding] = []
    for table, checks in sorted(measured.items()):
        if not isinstance(checks, Mapping):
            continue
        k = checks.get("k_anonymity")
        if isinstance(k, Mapping):
            below = int(k.get("classes_below_k", 0))
            found.append(
                Finding(
                    f"{table}: smallest class re-counted from the published rows: "
                    f"{k.get('min_class_size')}; {below} class(es) below k; "
                    f"{int(k.get('suppressed_rows', 0)):,} suppressed rows",
                    warning=below > 0,
                )
            )
        for name, figures in checks.items():
            if name == "k_anonymity" or not isinstance(figures, Mapping):
                continue
            bad = int(figures.get("unexpected_count", 0) or 0)
            observed = figures.get("observed_value")
            seen = f"observed {observed}; " if observed is not None else ""
            found.append(
                Finding(
                    f"{table}: {name.replace('_', ' ')}: {seen}{bad} row(s) out of bounds", bad > 0
                )
            )
    return found


def summary_collapsed(warehouse: str, policy: Policy) -> dict[str, dict[str, bool]]:
    """Source -> collapsed quasi-identifiers of a purpose's k-anonymous table, as loaded."""
    from minimizer.io.warehouse import open_warehouse

    g = policy.guarantees.k_anonymity
    if g is None:
        return {}
    with open_warehouse(warehouse) as wh:
        return {g.source: collapsed_columns(wh, policy.purpose, g.source, g.quasi_identifiers)}
