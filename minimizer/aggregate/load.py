"""How an aggregate source's table lands: its own column comments, no subject registry entry.

The pipeline builds every source's ``TableLoad`` from the policy's columns; an aggregate source
publishes other columns (the group keys and the measures), and no token, so its load is
rewritten here: comments for the columns it has, and no ``subject:`` registry entries (there
is no subject column for erasure to reach: a subject's trace is not in the table).

Erasure does not re-release such a table either (it would spend ε again): with dp, what the
stored counts say about any one person is already bounded by ε, and the suppression list keeps
an erased subject out of every later release (docs/location-risk.md, "Erasure does not
re-release").
"""

from __future__ import annotations

import dataclasses

from minimizer.io.warehouse import TableLoad
from minimizer.policy import AggregateSpec, Policy, SourceSpec
from minimizer.transforms.coarsen import Coarsen

__all__ = ["aggregate_comments", "aggregate_table_load", "cell_sizes", "measure_comments"]

_SUBJECT_ENTRY = "subject:"  # the registry's subject entries (minimizer.rights.registry)


def measure_comments(spec: AggregateSpec) -> dict[str, str]:
    """Column comments of the measures: what is counted, and whether it carries noise."""
    noisy = (
        f" With differential privacy (ε {spec.dp.epsilon:g} per subject-day, OpenDP): noisy,"
        " never below 0; the run's audit record gives the 95% error bound."
        if spec.dp
        else ""
    )
    m = spec.min_distinct_subjects
    return {
        "events": f"Events in the group.{noisy}",
        "distinct_subjects": (
            f"Distinct subjects ({spec.subject}) in the group; groups under {m} are withheld"
            f"{' (on the noisy count)' if spec.dp else ''}.{noisy}"
        ),
    }


def cell_sizes(spec: SourceSpec, agg: AggregateSpec) -> dict[str, int]:
    """Group-by column -> its H3 resolution, for the cell keys: one size each (aggregates
    never raise a cell; the gate checks it, :mod:`.checks`)."""
    outputs = spec.outputs()
    return {
        c: int(t.resolution or 0)
        for c in agg.by
        if isinstance(t := outputs.get(c), Coarsen) and t.method == "h3"
    }


def aggregate_comments(policy: Policy, name: str, comments: dict[str, str]) -> dict[str, str]:
    """Column comments of source ``name``'s table: the policy's, unless it is an aggregate,
    whose table holds the group keys and the measures only."""
    spec = policy.sources[name].aggregate
    if spec is None:
        return comments
    pooled = (
        " Null in a remainder row (groups too small to publish, pooled)."
        if spec.small_groups == "remainder" and len(spec.by) > 1
        else ""
    )
    sizes = {
        c: f" One cell size: every {c} is an H3 cell at resolution {r}."
        for c, r in cell_sizes(policy.sources[name], spec).items()
    }
    keys = {
        c: f"Group key: {comments[c]}.{sizes.get(c, '')}{pooled}" for c in spec.by if c in comments
    }
    return {**keys, **{m: t for m, t in measure_comments(spec).items() if m in spec.measures}}


def aggregate_table_load(policy: Policy, name: str, load: TableLoad) -> TableLoad:
    """The load of source ``name``: unchanged unless the source publishes an aggregate."""
    spec = policy.sources[name].aggregate
    if spec is None:
        return load
    registry = {k: v for k, v in load.registry.items() if not k.startswith(_SUBJECT_ENTRY)}
    kind = "differentially private counts" if spec.dp else "counts"
    table_comment = (
        f"{load.table_comment} Aggregate: {kind} by {', '.join(spec.by)}; no row-level data"
        " and no subject token."
    )
    return dataclasses.replace(load, registry=registry, table_comment=table_comment)
