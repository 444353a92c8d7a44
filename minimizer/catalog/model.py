"""A purpose's data dictionary as data: tables, columns, meaning, treatment, category,
guarantees and join keys, all derived from the policy (and, given a warehouse, from what the
last load wrote there: its column comments and the guarantees' levels). Names only, no value.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from minimizer.catalog.domains import finite_domain
from minimizer.io.warehouse import Warehouse
from minimizer.outcome import meaning_of, role_of
from minimizer.plan import plan_source
from minimizer.policy import Policy
from minimizer.sortable import SUFFIX, sortable_buckets

__all__ = ["ColumnEntry", "JoinKey", "PurposeEntry", "TableEntry", "describe_purpose"]


@dataclass(frozen=True)
class ColumnEntry:
    name: str
    meaning: str
    treatment: str  # what the policy asks for
    after_load: str | None  # the warehouse comment: what the guarantees made of it, last load
    data_category: str
    role: str  # subject_key, event_time, or the data category
    sources: tuple[str, ...]
    domain: tuple[str, ...] | None  # every value it can hold, when the policy bounds it


@dataclass(frozen=True)
class TableEntry:
    name: str
    kind: str
    columns: tuple[ColumnEntry, ...]
    time_column: str | None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class JoinKey:
    column: str
    tables: tuple[str, ...]
    parent: str | None  # the table every other one refers to (no event time), if any
    note: str


@dataclass(frozen=True)
class PurposeEntry:
    purpose: str
    description: str
    legal_basis: str
    owner: str
    retention_days: float
    policy_file: str
    policy_sha256: str
    tables: tuple[TableEntry, ...]
    guarantees: tuple[str, ...]
    joins: tuple[JoinKey, ...]
    last_run: Mapping[str, Any] | None = field(default=None)


def _guarantees(policy: Policy) -> list[str]:
    g = policy.guarantees
    out = []
    if (k := g.k_anonymity) is not None:
        text = (
            f"k-anonymity on {k.source}: every combination of {', '.join(k.quasi_identifiers)} "
            f"is shared by at least {k.k} subjects; at most {k.max_suppression:.0%} of the rows "
            "suppressed (shown as *)"
        )
        if k.l_diversity:
            text += f"; at least {k.l_diversity} distinct values of {', '.join(k.sensitive)}"
        out.append(text)
    if (loc := g.location) is not None:
        from minimizer.guarantees.location import cell_size

        cell = policy.sources[loc.source].columns.get(loc.cell)
        resolution = getattr(cell, "resolution", None)
        size = None if resolution is None else cell_size(loc.cell, resolution, loc.min_resolution)
        sparse = (
            f"sparse cells are raised to coarser resolutions (not below {loc.min_resolution}) "
            "or withheld"
            if size is None or size.mixed
            else "sparse cells are withheld"
        )
        out.append(
            f"location on {loc.source}: at least {loc.min_distinct_subjects_per_cell} distinct "
            f"subjects in every {loc.cell} and {loc.bucket}; {sparse}"
            + (f"; {size.note}" if size is not None else "")
        )
    if (u := g.max_unicity) is not None:
        fields = ", ".join(f"{k}={v}" for k, v in u.model_dump().items())
        out.append(f"maximum unicity of the published traces ({fields})")
    out.append(
        f"retention: rows older than {policy.retention_days:g} days, by their event time, "
        "are deleted"
    )
    return out


def _last_run(warehouse: Warehouse | None, purpose: str) -> dict[str, Any] | None:
    if warehouse is None:
        return None
    from minimizer.audit.history import load_runs

    loaded = [r for r in load_runs(warehouse, None).get(purpose, []) if r["status"] == "loaded"]
    if not loaded:
        return None
    run = loaded[-1]
    details = run.get("details") or {}
    if isinstance(details, str):
        details = json.loads(details)
    return {
        "run_id": run["run_id"],
        "finished_at": str(run.get("finished_at")),
        "guarantees": details.get("guarantees") or {},
    }


def _comments(warehouse: Warehouse | None, purpose: str, table: str) -> dict[str, str]:
    if warehouse is None or (purpose, table) not in set(warehouse.tables()):
        return {}
    return warehouse.column_comments(purpose, table)


def _joins(policy: Policy, tables: list[TableEntry]) -> list[JoinKey]:
    keyed: dict[str, list[TableEntry]] = {}
    for table in tables:
        for entry in table.columns:
            if entry.role == "subject_key":
                keyed.setdefault(entry.name, []).append(table)
    joins = []
    for column, shared in keyed.items():
        if len(shared) < 2:
            continue
        rotating = any(
            getattr(policy.sources[t.name].columns[column], "rotate", "never") != "never"
            for t in shared
        )
        parents = [t.name for t in shared if t.time_column is None and t.kind == "table"]
        note = (
            "tokens rotate: rows join only within one period"
            if rotating
            else "the same subject has the same token in every table of this purpose"
        )
        joins.append(
            JoinKey(
                column,
                tuple(t.name for t in shared),
                parents[0] if len(parents) == 1 and not rotating else None,
                note,
            )
        )
    return joins


def describe_purpose(policy: Policy, warehouse: Warehouse | None = None) -> PurposeEntry:
    last = _last_run(warehouse, policy.purpose)
    k = policy.guarantees.k_anonymity
    levels = ((last or {}).get("guarantees", {}).get("k_anonymity") or {}).get("levels") or {}
    tables = []
    for name, spec in policy.sources.items():
        plan = plan_source(policy, name)
        comments = _comments(warehouse, policy.purpose, name)
        columns = []
        for c in plan.outputs:
            assert c.output is not None
            if spec.aggregate and c.output not in spec.aggregate.by:
                continue  # counted (the subject) or not published: an aggregate has keys only
            role = role_of(spec, c)
            qi = k is not None and k.source == name and c.output in k.quasi_identifiers
            domain = finite_domain(
                spec.columns[c.output], c.output, quasi_identifier=qi, level=levels.get(c.output, 0)
            )
            category = c.data_categories[0] if c.data_categories else "other"
            columns.append(
                ColumnEntry(
                    name=c.output,
                    meaning=meaning_of(role) or f"{category.replace('_', ' ')} data",
                    treatment=c.comment,
                    after_load=comments.get(c.output),
                    data_category=", ".join(dict.fromkeys(c.data_categories)) or "other",
                    role=role,
                    sources=c.source_columns,
                    domain=None if domain is None else tuple(domain),
                )
            )
        for bucket in sortable_buckets(policy, name):
            base = next(c for c in columns if c.name == bucket)
            columns.append(
                dataclasses.replace(
                    base,
                    name=bucket + SUFFIX,
                    meaning=f"lower bound of the bucket in {bucket}: sort by it",
                    treatment=f"the number a label of {bucket} starts at (-inf below the bottom "
                    "code, NULL for *)",
                    after_load=comments.get(bucket + SUFFIX),
                    domain=None,
                )
            )
        from minimizer.guarantees.location import location_cell_size

        size = location_cell_size(policy, name)
        cell = next((c for c in columns if size is not None and c.name == size.column), None)
        if size is not None and cell is not None and size.resolution_column is not None:
            # Mixed cell sizes: the column the location guarantee adds right after the cell.
            columns.insert(
                columns.index(cell) + 1,
                dataclasses.replace(
                    cell,
                    name=size.resolution_column,
                    meaning=f"the H3 resolution of the row's {cell.name} (larger is finer)",
                    treatment=size.note,
                    after_load=comments.get(size.resolution_column),
                    domain=tuple(str(r) for r in range(size.min_resolution, size.resolution + 1)),
                ),
            )
        if spec.aggregate:
            from minimizer.aggregate.load import measure_comments

            measures = measure_comments(spec.aggregate)
            columns += [
                ColumnEntry(
                    name=m,
                    meaning=measures[m],
                    treatment="aggregate measure",
                    after_load=comments.get(m),
                    data_category="aggregate",
                    role="measure",
                    sources=(),
                    domain=None,
                )
                for m in spec.aggregate.measures
            ]
        time_column = next((c.name for c in columns if c.role == "event_time"), None)
        notes: tuple[str, ...] = (size.note,) if size is not None else ()
        if spec.aggregate:
            from minimizer.aggregate.load import cell_sizes

            notes = (
                "published only as group counts (aggregate): no row, no subject token",
                *(
                    f"one cell size: every {c} is an H3 cell at resolution {r}"
                    for c, r in cell_sizes(spec, spec.aggregate).items()
                ),
            )
        tables.append(TableEntry(name, spec.kind, tuple(columns), time_column, notes))
    return PurposeEntry(
        purpose=policy.purpose,
        description=policy.description,
        legal_basis=policy.legal_basis.value,
        owner=policy.owner,
        retention_days=policy.retention_days,
        policy_file=str(policy.file),
        policy_sha256=policy.sha256,
        tables=tuple(tables),
        guarantees=tuple(_guarantees(policy)),
        joins=tuple(_joins(policy, tables)),
        last_run=last,
    )
