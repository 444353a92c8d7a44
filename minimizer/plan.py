"""What becomes of each column: derived from the policy, never written by hand.

The same plan feeds ``minimizer plan``, the warehouse column comments, the data dictionary and
the processing record, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from minimizer.policy import Policy, SourceSpec

__all__ = ["ColumnPlan", "SourcePlan", "plan_policy", "plan_source"]


@dataclass(frozen=True)
class ColumnPlan:
    """One output column, or one source column that is dropped (then ``output`` is None)."""

    source_columns: tuple[str, ...]
    output: str | None
    action: str
    category: str
    description: str

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
    columns: list[ColumnPlan] = []
    for out, t in spec.columns.items():
        if t.action == "drop":
            columns.append(ColumnPlan((out,), None, "drop", "dropped", "dropped (named in policy)"))
            continue
        columns.append(ColumnPlan(t.inputs(out), out, t.action, t.category, t.describe()))
    consumed = {s for c in columns for s in c.source_columns}
    for col in spec.inputs():
        if col not in consumed:
            why = (
                "read to scrub free text, not published"
                if col in spec.identifying
                else ("read for keys and retention, not published")
            )
            columns.append(ColumnPlan((col,), None, "drop", "dropped", why))
    named = {s for c in columns for s in c.source_columns}
    drift = tuple(c for c in (available or ()) if c not in named)
    columns += [ColumnPlan((c,), None, "drop", "dropped", "dropped by default") for c in drift]
    return SourcePlan(name, spec.kind, tuple(columns), drift)


def plan_policy(
    policy: Policy, available: dict[str, Sequence[str]] | None = None
) -> list[SourcePlan]:
    available = available or {}
    return [plan_source(policy, name, available.get(name)) for name in policy.sources]
