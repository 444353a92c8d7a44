"""What becomes of each column: derived from the policy, never written by hand.

The same plan feeds ``minimizer plan``, the warehouse column comments, the data dictionary and
the processing record, so they cannot disagree. Each source column also carries its data
category (:mod:`minimizer.categories`), from the policy and the column's name.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from minimizer.categories import ColumnCategory
from minimizer.errors import PolicyError, PolicyProblem
from minimizer.policy import Policy, SourceSpec

__all__ = ["ColumnPlan", "SourcePlan", "check_columns", "plan_policy", "plan_source"]


@dataclass(frozen=True)
class ColumnPlan:
    """One output column, or one source column that is dropped (then ``output`` is None)."""

    source_columns: tuple[str, ...]
    output: str | None
    action: str
    category: str  # the treatment: kept, pseudonym, generalised, ... (see transforms)
    description: str
    # The data category of each source column, in the order of ``source_columns``.
    data_categories: tuple[str, ...] = ()

    @property
    def comment(self) -> str:
        src = ", ".join(self.source_columns)
        return f"{self.description} (from {src})" if src else self.description


@dataclass(frozen=True)
class SourcePlan:
    source: str
    kind: str
    columns: tuple[ColumnPlan, ...]
    drift: tuple[str, ...] = ()
    # Every source column the plan mentions -> its data category.
    categories: Mapping[str, ColumnCategory] = field(default_factory=dict)

    @property
    def outputs(self) -> tuple[ColumnPlan, ...]:
        return tuple(c for c in self.columns if c.output is not None)

    @property
    def dropped(self) -> tuple[str, ...]:
        """Source columns that never reach the warehouse as such."""
        published_as_is = {
            c.source_columns[0] for c in self.outputs if c.action == "keep" and c.source_columns
        }
        # Drift columns are in `columns` too, as "dropped by default".
        seen = [s for c in self.columns for s in c.source_columns]
        return tuple(dict.fromkeys(s for s in seen if s not in published_as_is))


def plan_source(policy: Policy, name: str, available: Sequence[str] | None = None) -> SourcePlan:
    """Plan one source. ``available`` (the source's real columns) adds the schema drift."""
    spec: SourceSpec = policy.sources[name]
    columns: list[tuple[tuple[str, ...], str | None, str, str, str]] = []
    for out, t in spec.columns.items():
        if t.action == "drop":
            columns.append(((out,), None, "drop", "dropped", "dropped (named in policy)"))
            continue
        columns.append((t.inputs(out), out, t.action, t.category, t.describe()))
    consumed = {s for c in columns for s in c[0]}
    for col in spec.inputs():
        if col not in consumed:
            why = (
                "read to scrub free text, not published"
                if col in spec.identifying
                else ("read for keys and retention, not published")
            )
            columns.append(((col,), None, "drop", "dropped", why))
    named = {s for c in columns for s in c[0]}
    drift = tuple(c for c in (available or ()) if c not in named)
    columns += [((c,), None, "drop", "dropped", "dropped by default") for c in drift]
    cats = spec.column_categories(s for c in columns for s in c[0])
    planned = tuple(
        ColumnPlan(*c, data_categories=tuple(cats[s].category.value for s in c[0])) for c in columns
    )
    return SourcePlan(name, spec.kind, planned, drift, cats)


def plan_policy(
    policy: Policy, available: dict[str, Sequence[str]] | None = None
) -> list[SourcePlan]:
    available = available or {}
    return [plan_source(policy, name, available.get(name)) for name in policy.sources]


def _named_at(spec: SourceSpec, name: str) -> dict[str, tuple[Any, ...]]:
    """Source column -> the YAML path of the first place the policy names it."""
    at: dict[str, tuple[Any, ...]] = {}
    for out, t in spec.columns.items():
        for col in t.inputs(out):
            at.setdefault(col, ("sources", name, "columns", out))
    for role in ("key", "time"):
        if (col := getattr(spec, role)) is not None:
            at.setdefault(col, ("sources", name, role))
    for i, col in enumerate(spec.identifying):
        at.setdefault(col, ("sources", name, "identifying", i))
    return at


def check_columns(policy: Policy, available: Mapping[str, Sequence[str]]) -> None:
    """Every source column the policy names exists: a PolicyError at the naming line, with a
    did-you-mean from the source's real columns, for all missing columns at once."""
    problems: list[PolicyProblem] = []
    for name, columns in available.items():
        spec = policy.sources[name]
        real = list(columns)
        for col, path in _named_at(spec, name).items():
            if col in real:
                continue
            close = difflib.get_close_matches(col, real, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            shown = ", ".join(real[:20]) + (", ..." if len(real) > 20 else "")
            message = (
                f"source column {col!r} does not exist in {spec.kind} source {name!r}{hint}; "
                f"its columns: {shown}"
            )
            problems.append(
                PolicyProblem(policy.file, policy.line_of(path), ".".join(map(str, path)), message)
            )
    if problems:
        raise PolicyError(problems)
