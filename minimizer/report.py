"""The records of a run, and their human-readable output (rich tables).

:class:`RunReport` and :class:`SourceReport` are what a run knows about itself: names, counts,
hashes and staging paths, never a value or a key. They are pydantic models, so a run continues
in another process (one Airflow task per step) from :meth:`RunReport.to_json`, validated on the
way back in; ``status`` is a :class:`RunStatus`. The printers below show names and counts only.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator
from rich.console import Console
from rich.table import Table
from rich.text import Text

from minimizer.plan import plan_policy, plan_source
from minimizer.policy import Policy

__all__ = [
    "REPORT_FORMAT",
    "WITHHELD_KEY",
    "RunReport",
    "RunStatus",
    "SourceReport",
    "guarantee_lines",
    "print_guarantees",
    "print_plan",
    "print_run",
]

REPORT_FORMAT = "minimizer-run-report/1"
# guarantees[WITHHELD_KEY]: dotted paths into the audit row whose figures stay in the report
# only (audit_row sets them to None): the exact counts of a dp release, which the warehouse
# must not hold beside its noisy counts (minimizer.aggregate.feature, docs/location-risk.md).
WITHHELD_KEY = "withheld_from_audit"


class RunStatus(StrEnum):
    """Where a run is; a ``StrEnum``, so ``status == "loaded"`` and JSON keep working."""

    RUNNING = "running"
    LOADED = "loaded"
    FAILED = "failed"


def _plain(value: object) -> object:
    # numpy scalars (counts from vectorised code) in the free-form figures are plain numbers.
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON-able")


class _Record(BaseModel):
    # Assignments are validated too: ``report.status = "failed"`` stores RunStatus.FAILED and a
    # numpy count an int. Arbitrary types for the Arrow schema (checked by isinstance).
    model_config = ConfigDict(
        validate_assignment=True, arbitrary_types_allowed=True, extra="ignore"
    )


class SourceReport(_Record):
    source: str
    rows_in: int = 0
    rows_out: int = 0
    # This run's published rows; rows_out becomes the table's count after the load (a --day
    # run replaces one day of a larger table), so the summary needs both.
    rows_staged: int | None = None
    rejected: int = 0
    invalid_by_column: dict[str, int] = Field(default_factory=dict)
    dropped: tuple[str, ...] = ()
    drift: tuple[str, ...] = ()
    excluded: int = 0  # rows left out before minimising (erased subjects)
    staged: Path | None = None
    schema_: pa.Schema | None = Field(default=None, alias="schema")
    # Figures for the audit record (JSON-able, no values).
    measures: dict[str, Any] = Field(default_factory=dict)
    # What the observers of the minimise step leave for later steps (never loaded):
    canary: Path | None = None  # the gate's canary record of the raw identifiers
    subjects: Path | None = None  # row-aligned subject numbers, when the key is not published
    unicity_before: dict[str, float] | None = None  # trace unicity of the raw points

    model_config = ConfigDict(populate_by_name=True)

    # The field is ``schema_`` (alias ``schema``): a field named ``schema`` would shadow
    # BaseModel.schema, pydantic v1's deprecated method; this property takes its name on purpose.
    @property  # type: ignore[override]
    def schema(self) -> pa.Schema | None:
        """The staged table's Arrow schema (``schema`` in JSON, base64 Arrow IPC)."""
        return self.schema_

    @schema.setter
    def schema(self, value: pa.Schema | None) -> None:
        self.schema_ = value

    @field_serializer("schema_")
    def _schema_text(self, schema: pa.Schema | None) -> str | None:
        return (
            None if schema is None else base64.b64encode(schema.serialize().to_pybytes()).decode()
        )

    @field_validator("schema_", mode="before")
    @classmethod
    def _schema_from_text(cls, value: object) -> object:
        if isinstance(value, str):
            return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(value)))
        return value


class RunReport(_Record):
    run_id: str
    purpose: str
    policy_sha256: str
    key_version: int
    started_at: datetime
    as_of: datetime
    retention_cutoff: datetime
    sources: dict[str, SourceReport] = Field(default_factory=dict)
    guarantees: dict[str, Any] = Field(default_factory=dict)
    gate: dict[str, Any] = Field(default_factory=dict)
    status: RunStatus = RunStatus.RUNNING
    finished_at: datetime | None = None
    loaded_rows: dict[str, int] = Field(default_factory=dict)
    error: str | None = None

    @field_serializer("started_at", "as_of", "retention_cutoff", "finished_at")
    def _iso(self, moment: datetime | None) -> str | None:
        # isoformat, as the reports always had (pydantic would write "Z" for UTC).
        return None if moment is None else moment.isoformat()

    def to_json(self) -> str:
        """The report as JSON, so a run can continue in another process (one Airflow task per
        phase). Holds names, counts, hashes and staging paths; never a value or a key."""
        doc = {
            "format": REPORT_FORMAT,
            **self.model_dump(mode="json", by_alias=True, fallback=_plain),
        }
        return json.dumps(doc, indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> RunReport:
        doc = json.loads(text)
        if not isinstance(doc, dict) or doc.get("format") != REPORT_FORMAT:
            raise ValueError("not a minimizer run report")
        return cls.model_validate(doc)

    def audit_row(self) -> dict[str, object]:
        """The run's audit record: names, counts and hashes only, never a value."""
        row: dict[str, Any] = {
            "run_id": self.run_id,
            "purpose": self.purpose,
            "policy_sha256": self.policy_sha256,
            "status": self.status.value,
            "started_at": self.started_at,
            "finished_at": self.finished_at or datetime.now(UTC),
            "key_version": self.key_version,
            "rows_in": {s: r.rows_in for s, r in self.sources.items()},
            "rows_out": {s: r.rows_out for s, r in self.sources.items()},
            "dropped_columns": {s: list(r.dropped) for s, r in self.sources.items()},
            "schema_drift": {s: list(r.drift) for s, r in self.sources.items()},
            "details": {
                "as_of": self.as_of.isoformat(),
                "retention_cutoff": self.retention_cutoff.isoformat(),
                "rejected": {s: r.rejected for s, r in self.sources.items()},
                "excluded_erased": {s: r.excluded for s, r in self.sources.items()},
                "measures": {s: r.measures for s, r in self.sources.items()},
                "invalid_by_column": {s: r.invalid_by_column for s, r in self.sources.items()},
                "guarantees": self.guarantees,
                "gate": self.gate,
                "error": self.error,
            },
        }
        withheld = self.guarantees.get(WITHHELD_KEY)
        return _withhold(row, withheld) if withheld else row


def _withhold(row: dict[str, Any], paths: Sequence[str]) -> dict[str, Any]:
    """A copy of ``row`` with each dotted path that exists set to None; the report's own
    figures are left as they are."""
    tops = {p.split(".", 1)[0] for p in paths} | {"details"}
    out = copy.deepcopy({k: row[k] for k in tops if k in row})
    for path in paths:
        *parents, leaf = path.split(".")
        node: Any = out
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and leaf in node:
            node[leaf] = None
    return {**row, **out}


_STYLE = {"dropped": "red", "kept": "yellow", "pseudonym": "cyan"}


def guarantee_lines(policy: Policy) -> list[str]:
    g = policy.guarantees
    lines = [f"retention: rows older than {policy.retention_days:g} days are deleted"]
    if g.k_anonymity:
        k = g.k_anonymity
        lines.append(
            f"k-anonymity on {k.source}: k={k.k} over {', '.join(k.quasi_identifiers)}; "
            f"at most {k.max_suppression:.0%} suppressed; method {k.method}"
        )
        if k.l_diversity:
            lines.append(f"distinct {k.l_diversity}-diversity of {', '.join(k.sensitive)}")
    if g.location:
        loc = g.location
        lines.append(
            f"location on {loc.source}: at least {loc.min_distinct_subjects_per_cell} distinct "
            f"subjects per ({loc.cell}, {loc.bucket}); sparse cells raised to coarser H3 "
            f"resolutions (not below {loc.min_resolution}) or suppressed; anchors: {loc.anchors}"
        )
    lines.append(
        f"risk measured: uniqueness on quasi-identifiers; unicity with "
        f"{g.risk.unicity_points} points"
    )
    return lines


def print_plan(
    console: Console, policy: Policy, available: dict[str, Sequence[str]] | None = None
) -> None:
    console.print(
        f"[bold]{policy.purpose}[/]: {policy.description}\n"
        f"legal basis {policy.legal_basis.value} · owner {policy.owner} · "
        f"retention {policy.retention_days:g} days",
        highlight=False,
    )
    for sp in plan_policy(policy, available):
        table = Table(title=f"{policy.purpose}.{sp.source} ({sp.kind})", title_justify="left")
        for col in ("source column(s)", "becomes", "output column"):
            table.add_column(col)
        for c in sp.columns:
            style = _STYLE.get(c.category, "green")
            table.add_row(
                ", ".join(c.source_columns),
                f"[{style}]{c.description}[/]",
                c.output or "—",
            )
        console.print(table)
    console.print("[bold]guarantees[/]")
    for line in guarantee_lines(policy):
        console.print(f"  • {line}", highlight=False)


def _published(policy: Policy | None, name: str, s: SourceReport) -> list[str]:
    if policy is not None and name in policy.sources:
        agg = policy.sources[name].aggregate
        if agg is not None:  # counts per group: the subject is counted, never published
            return [*agg.by, *agg.measures]
        return [c.output for c in plan_source(policy, name).outputs if c.output]
    return list(s.schema.names) if s.schema is not None else []


def _dropped(policy: Policy | None, name: str, s: SourceReport) -> list[str]:
    """Source columns the policy drops or only reads (keys, retention): not schema drift, and
    not the inputs of a published column (those are transformed, not dropped)."""
    if policy is None or name not in policy.sources:
        return [c for c in s.dropped if c not in s.drift]
    plan = plan_source(policy, name)
    used = {src for c in plan.outputs for src in c.source_columns}
    return [
        col
        for c in plan.columns
        if c.output is None
        for col in c.source_columns
        if col not in used and col not in s.drift
    ]


def _run_rows(s: SourceReport) -> int:
    """This run's rows: staged before the load, when the load has replaced rows_out."""
    return s.rows_out if s.rows_staged is None else s.rows_staged


def print_run(
    console: Console,
    report: RunReport,
    policy: Policy | None = None,
    collapsed: Mapping[str, Mapping[str, bool]] | None = None,
) -> None:
    """The run's summary: rows and columns per source, then what the guarantees did.

    ``rows loaded`` are this run's rows; where a load replaced only a range (``--day``), the
    table's total after the load is a column of its own. ``collapsed`` (source -> column ->
    generalised to ``*``) comes from :func:`minimizer.audit.explain.collapsed_columns`.
    """
    totals = any(_run_rows(s) != s.rows_out for s in report.sources.values())
    table = Table(title=f"run {report.run_id}: {report.purpose} ({report.status})")
    heads = ["source", "rows read", "rows loaded", "rejected"]
    heads += ["table rows now"] if totals else []
    for i, col in enumerate(heads):
        table.add_column(col, justify="right" if i else "left")
    for name, s in report.sources.items():
        row = [name, f"{s.rows_in:,}", f"{_run_rows(s):,}", f"{s.rejected:,}"]
        if totals:
            row.append(f"{s.rows_out:,}")
        table.add_row(*row)
    console.print(table)
    if totals:
        console.print(
            "  rows loaded: this run's rows; table rows now: the whole table after the load "
            "(other days included, retention applied)",
            highlight=False,
        )
    for name, s in report.sources.items():
        lines = (
            ("published", _published(policy, name, s)),
            ("dropped by the policy", _dropped(policy, name, s)),
            ("schema drift, dropped", list(s.drift)),
        )
        console.print(f"[bold]{name}[/]", highlight=False)
        for label, columns in lines:
            console.print(f"  {label}: {', '.join(columns) or '—'}", highlight=False)
    print_guarantees(console, report, policy, collapsed or {})


def print_guarantees(
    console: Console,
    report: RunReport,
    policy: Policy | None,
    collapsed: Mapping[str, Mapping[str, bool]],
) -> None:
    """What the guarantees did, in words; warnings in yellow (see minimizer.audit.explain)."""
    from minimizer.audit.explain import k_anonymity_findings, location_findings

    g = policy.guarantees if policy is not None else None
    blocks = []
    k = report.guarantees.get("k_anonymity")
    if k:
        allowed = g.k_anonymity.max_suppression if g and g.k_anonymity else None
        title = f"k-anonymity on {k.get('source')} (k={k.get('k')}, {k.get('method', '')})"
        found = k_anonymity_findings(k, collapsed.get(str(k.get("source")), {}), allowed)
        blocks.append((title, found))
    loc = report.guarantees.get("location")
    if loc:
        target = getattr(g.risk, "max_unicity", None) if g is not None else None
        blocks.append((f"location on {loc.get('source')}", location_findings(loc, target)))
    for title, found in blocks:
        console.print(f"[bold]{title}[/]", highlight=False)
        for f in found:
            mark = ("warning: ", "bold yellow") if f.warning else ""
            console.print(Text.assemble("  • ", mark, f.text), highlight=False)
