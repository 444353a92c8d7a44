"""k-anonymity on a published Arrow table, as the run and erasure both need it.

A published table is what a policy's source becomes: its quasi-identifiers are already
generalised by their transforms, each transform knows the next rungs of its ladder
(``Transform.ladder``), and the source's key is published as a pseudonym. So:

* the hierarchies are built from the ladders of the values present (``ladder_hierarchy``);
* k and l are counted over distinct subjects: the published column read from ``SourceSpec.key``
  (``subject_column``); one person's five rows are one person;
* '' is no value: it joins the missing class instead of being a label (a hierarchy has no empty
  labels), and an empty table or an all-NULL column is handled like any other;
* columns keep their Arrow types (``typed_labels``): a date stays a date, so the retention
  DELETE still compares time with time.

``enforce_k_anonymity(table, guarantee, spec)`` is the one-call form for a table held in memory
(erasure re-enforces k on what is left in the warehouse); ``TableRecoder`` applies a decided
plan chunk by chunk for the run's streaming pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from minimizer.guarantees.kanon import plan_k_anonymity, qi_histogram, verify_classes
from minimizer.guarantees.kanon.plan import KAnonPlan
from minimizer.guarantees.typed_labels import coarsest, text_of, typed_labels
from minimizer.hierarchy import TOP, Hierarchy
from minimizer.outcome import time_output
from minimizer.policy import KAnonymity, SourceSpec
from minimizer.transforms.truncate_time import TruncateTime

__all__ = [
    "TableRecoder",
    "class_figures",
    "enforce_k_anonymity",
    "grain_of",
    "ladder_hierarchy",
    "plan_figures",
    "retention_caps",
    "subject_column",
    "text_frame",
]


def subject_column(spec: SourceSpec) -> str | None:
    """The published column that identifies the data subject: the output read from the key,
    one value per person. A rotating pseudonym gives one person many tokens, so it would count
    one person as many: then there is none, and the run numbers the raw keys instead."""
    if not spec.key:
        return None
    for out, transform in spec.outputs().items():
        if not transform.inputs(out) or transform.source_of(out) != spec.key:
            continue
        if getattr(transform, "rotate", "never") == "never":
            return out
    return None


def grain_of(spec: SourceSpec, column: str) -> str:
    """The unit a published time column is truncated to ("" when exact or not a time)."""
    transform = spec.columns.get(column)
    return transform.method if isinstance(transform, TruncateTime) else ""


def ladder_hierarchy(spec: SourceSpec, column: str, values: pd.Series) -> Hierarchy:
    """The generalisation hierarchy of a published column, built from its transform's ladder
    over the distinct values present (so it needs no file and follows the policy).

    No value at all (an empty table, an all-NULL column) gives a one-leaf hierarchy: every row
    is then in the missing class. A value already masked as ``*`` stays ``*`` at every level."""
    transform = spec.columns[column]
    distinct = text_of(pd.Series(values)).dropna().unique().tolist()
    ladders = [[TOP, TOP] if v == TOP else transform.ladder(v) for v in distinct] or [[TOP, TOP]]
    ladders = [rungs if len(rungs) > 1 else [*rungs, TOP] for rungs in ladders]
    depth = max(len(rungs) for rungs in ladders)
    # Equal depth for every leaf: repeat the last label below '*'; the tree stays a tree.
    rows = [rungs[:-1] + [rungs[-2]] * (depth - len(rungs)) + [TOP] for rungs in ladders]
    return Hierarchy.from_rows(rows, source=f"<ladder {column}>")


def retention_caps(spec: SourceSpec, hierarchies: Mapping[str, Hierarchy]) -> dict[str, int]:
    """Never generalise the source's retention time column to '*': a row with no time is
    deleted by retention, so that would publish nothing. One level below the top at most."""
    column = time_output(spec)
    if column is None or column not in hierarchies:
        return {}
    return {column: max(hierarchies[column].depth - 2, 0)}


def text_frame(
    table: pa.Table | pa.RecordBatch,
    quasi_identifiers: Sequence[str],
    others: Sequence[str] = (),
) -> pd.DataFrame:
    """The columns the engine reads: quasi-identifiers as text ('' as missing), ``others``
    (sensitive attributes, the subject) as they are."""
    frame = table.select([*quasi_identifiers, *others]).to_pandas()
    for column in quasi_identifiers:
        frame[column] = text_of(frame[column])
    return frame


@dataclass
class TableRecoder:
    """Applies a plan to Arrow chunks of the published table, keeping every column's type.

    ``grains`` collects, per time column, the coarsest unit its released values carry (the
    warehouse must not delete a released quarter by the end of its first month)."""

    plan: KAnonPlan
    schema: pa.Schema
    spec: SourceSpec
    subject: str | None = None
    sensitive: tuple[str, ...] = ()
    grains: dict[str, str] = field(default_factory=dict)

    def __call__(self, chunk: pa.Table | pa.RecordBatch) -> tuple[pa.Table, pd.DataFrame]:
        """The recoded chunk (schema unchanged) and its released rows' classes as text."""
        table = pa.Table.from_batches([chunk]) if isinstance(chunk, pa.RecordBatch) else chunk
        qis = list(self.plan.columns)
        extra = [c for c in (*self.sensitive, self.subject) if c]
        text = text_frame(table, qis, list(dict.fromkeys(extra)))
        recoded, suppressed = self.plan.recode(text)
        for column in qis:
            labels = pa.array(recoded[column].where(~suppressed, TOP), type=pa.large_string())
            index = table.schema.get_field_index(column)
            table = table.set_column(index, column, self._typed(column, labels, table[column]))
        released = recoded.loc[~suppressed, [*qis, *extra]]
        # Columns that only rode along (the subject numbers of an unpublished key) go.
        return table.select(self.schema.names).cast(self.schema), released

    def _typed(self, column: str, labels: pa.Array, original: pa.ChunkedArray) -> pa.Array:
        target = self.schema.field(column).type
        if pa.types.is_string(target) or pa.types.is_large_string(target):
            return labels.cast(target)
        unit = grain_of(self.spec, column)
        values, grain = typed_labels(labels, original.combine_chunks(), unit)
        if grain != unit:
            self.grains[column] = coarsest(self.grains.get(column, unit), grain)
        return values


def enforce_k_anonymity(
    table: pa.Table | pd.DataFrame,
    guarantee: KAnonymity,
    spec: SourceSpec,
    *,
    max_suppression: float | None = None,
) -> tuple[pa.Table, dict[str, Any]]:
    """Make ``guarantee`` hold on a published table: k (and l) over distinct subjects.

    ``table``: the source's published rows (a run's staged output, or what a warehouse table
    holds after an erasure); ``spec``: the policy's source (ladders, key, time grain);
    ``max_suppression``: overrides the policy's budget (erasure may pass 1.0 so that removing a
    person never fails for lack of budget). Returns the table with the same schema, rows in the
    same order (suppressed rows masked: ``*`` in text columns, NULL in typed ones) and the
    figures for the audit record. Raises GuaranteeError when k cannot be met."""
    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(table, preserve_index=False)
    qis = list(guarantee.quasi_identifiers)
    subject = subject_column(spec)
    subject = subject if subject in table.column_names else None
    sensitive = tuple(guarantee.sensitive)
    frame = text_frame(table, qis, [c for c in (*sensitive, subject) if c])
    hierarchies = {c: ladder_hierarchy(spec, c, frame[c]) for c in qis}
    hist = qi_histogram([frame], hierarchies, sensitive=sensitive, subject=subject)
    figures: dict[str, Any] = {
        "rows": hist.rows,
        "subjects": hist.subjects,
        "counted_over": "subjects" if subject else "rows",
    }
    if hist.rows == 0:
        return table, {**figures, "suppressed": 0, "classes": 0, "min_class": 0}
    budget = guarantee.max_suppression if max_suppression is None else max_suppression
    diversity = guarantee.l_diversity or 1
    plan = plan_k_anonymity(
        hist,
        guarantee.k,
        budget,
        method=guarantee.method,
        diversity=diversity,
        max_levels=retention_caps(spec, hierarchies),
    )
    recoder = TableRecoder(plan, table.schema, spec, subject, sensitive)
    out, released = recoder(table)
    verify_classes(released, qis, plan.k, plan.diversity, sensitive, subject)
    return out, {**figures, **plan_figures(plan), "grains": recoder.grains}


def plan_figures(plan: KAnonPlan) -> dict[str, Any]:
    """What a plan decided, for the audit record: counts and levels, never values."""
    return {
        "method": plan.method,
        "levels": plan.levels,
        "suppressed": int(plan.suppressed),
        "classes": int(plan.classes),
        "min_class": int(plan.min_class),
        "discernibility": int(plan.discernibility),
    }


def class_figures(
    released: pd.DataFrame, columns: Sequence[str], subject: str | None
) -> dict[str, float]:
    """Smallest and median released class (in subjects when known) and the share of released
    rows that are alone in their class, by a plain group-by."""
    if released.empty:
        return {"min": 0, "median": 0.0, "classes": 0, "unique_share": 0.0}
    groups = released.groupby(list(columns), dropna=False, sort=False, observed=True)
    sizes = groups.size() if subject is None else groups[subject].nunique(dropna=False)
    alone = groups.size()[sizes == 1].sum()
    return {
        "min": int(sizes.min()),
        "median": float(np.median(sizes.to_numpy())),
        "classes": len(sizes),
        "unique_share": float(alone / len(released)),
    }
