"""The processing record of a purpose (GDPR Art. 30 style), from its policy and its runs.

Everything comes from two places that hold no raw value: the policy (purpose, legal basis,
owner, retention, and through :mod:`minimizer.plan` what becomes of each column) and the audit
rows of its runs (counts, guarantee figures, gate outcomes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from minimizer.audit.categories import category
from minimizer.audit.history import Run
from minimizer.plan import plan_source
from minimizer.policy import Policy
from minimizer.report import guarantee_lines

__all__ = ["ProcessingRecord", "build_record", "flatten"]

_ROLES = {"key": "identifies the subject", "time": "event time", "identifying": "identifying"}


@dataclass
class ProcessingRecord:
    purpose: str
    description: str = ""
    legal_basis: str = ""
    owner: str = ""
    retention_days: float | None = None
    schedule: str | None = None
    policy_file: str | None = None
    policy_sha256: str | None = None
    sources: list[dict[str, Any]] = field(default_factory=list)
    categories_in: dict[str, list[str]] = field(default_factory=dict)
    categories_out: dict[str, list[str]] = field(default_factory=dict)
    guarantees: list[str] = field(default_factory=list)
    measured: dict[str, Any] = field(default_factory=dict)
    # The measured figures in words, by section ({"text", "warning"}; minimizer.audit.explain).
    findings: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)
    # Counts and dates only, never an erasure id or a subject digest (minimizer.audit.report).
    erasures: dict[str, Any] = field(default_factory=dict)
    rotations: list[dict[str, Any]] = field(default_factory=list)
    # Data category (minimizer.categories) -> "source.column" read, and every reasoned
    # exception to the disclosure check ({source, column, publishes, reason}).
    data_categories: dict[str, list[str]] = field(default_factory=dict)
    exceptions: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def flatten(doc: Any, prefix: str = "") -> dict[str, Any]:
    """Nested figures as ``a.b.c -> value``: numbers, text, flags and lists of names only."""
    out: dict[str, Any] = {}
    if isinstance(doc, Mapping):
        for key, value in doc.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(doc, bool | int | float | str) or doc is None:
        out[prefix] = doc
    elif isinstance(doc, Sequence) and all(isinstance(v, str | int | float) for v in doc):
        out[prefix] = ", ".join(map(str, doc))
    return out


def _source_entry(policy: Policy, name: str, drift: Sequence[str]) -> dict[str, Any]:
    spec = policy.sources[name]
    plan = plan_source(policy, name, [*spec.inputs(), *drift])
    roles: dict[str, list[str]] = {}
    for column in spec.inputs():
        if column == spec.key:
            roles.setdefault(column, []).append(_ROLES["key"])
        if column == spec.time:
            roles.setdefault(column, []).append(_ROLES["time"])
        if column in spec.identifying:
            roles.setdefault(column, []).append(_ROLES["identifying"])

    def cat(column: str) -> str:
        return category(column, key=spec.key, time=spec.time)

    return {
        "source": name,
        "kind": spec.kind,
        "read": [
            {
                "column": c,
                "category": cat(c),
                "data_category": plan.categories[c].category.value,
                "role": ", ".join(roles.get(c, [])),
            }
            for c in spec.inputs()
        ],
        "transformations": [
            {
                "from": list(c.source_columns),
                "output": c.output,
                "action": c.action,
                "treatment": c.category,
                "description": c.description,
                "category": cat(c.source_columns[0]) if c.source_columns else "other",
                "data_categories": list(c.data_categories),
            }
            for c in plan.columns
        ],
        "drift": list(drift),
    }


def _gate(details: Mapping[str, Any], artifacts: Path | None, run_id: str) -> dict[str, Any]:
    gate = details.get("gate") or {}
    docs = artifacts / "gate" / run_id / "index.html" if artifacts else None
    return {
        "ran": bool(gate),
        "success": gate.get("success"),
        "evaluated": gate.get("evaluated", 0),
        "failed": gate.get("failed", 0),
        "failures": [
            {k: f.get(k) for k in ("table", "column", "expectation", "unexpected_count")}
            for f in gate.get("failures", [])
        ],
        "data_docs": str(docs) if docs is not None and docs.exists() else None,
    }


def _run_entry(run: Run, artifacts: Path | None, current_sha: str | None) -> dict[str, Any]:
    details = run["details"]
    started: datetime | None = run["started_at"]
    finished: datetime | None = run["finished_at"]
    return {
        "run_id": run["run_id"],
        "status": run.get("status"),
        "started_at": started.isoformat() if started else None,
        "seconds": round((finished - started).total_seconds(), 1) if started and finished else None,
        "policy_current": run.get("policy_sha256") == current_sha if current_sha else None,
        # A dp source's rows read are withheld (null): the sum is of what the record holds.
        "rows_in": sum(int(v or 0) for v in run["rows_in"].values()),
        "rows_in_withheld": sorted(k for k, v in run["rows_in"].items() if v is None),
        "rows_out": sum(int(v or 0) for v in run["rows_out"].values()),
        "rows_in_by_source": run["rows_in"],
        "rows_out_by_source": run["rows_out"],
        "schema_drift": {s: c for s, c in run["schema_drift"].items() if c},
        "gate": _gate(details, artifacts, str(run["run_id"])),
        "error": details.get("error"),
        "origin": run.get("origin"),
    }


def _measured(runs: Sequence[Run]) -> dict[str, Any]:
    """The figures of the last loaded run: what holds in the warehouse now."""
    loaded = [r for r in runs if r.get("status") == "loaded"]
    if not loaded:
        return {}
    details = loaded[-1]["details"]
    return {
        "run_id": loaded[-1]["run_id"],
        "guarantees": flatten(details.get("guarantees") or {}),
        "gate": flatten((details.get("gate") or {}).get("measured") or {}),
        "measures": flatten(details.get("measures") or {}),
    }


def build_record(
    purpose: str, policy: Policy | None, runs: Sequence[Run], artifacts: Path | None
) -> ProcessingRecord:
    """The record of one purpose; without its policy file, the run history alone."""
    record = ProcessingRecord(purpose=purpose)
    sha = policy.sha256 if policy else None
    record.runs = [_run_entry(r, artifacts, sha) for r in runs]
    record.measured = _measured(runs)
    if policy is None:
        return record
    record.description = policy.description
    record.legal_basis = policy.legal_basis.value
    record.owner = policy.owner
    record.retention_days = policy.retention_days
    record.schedule = policy.schedule
    record.policy_file = policy.file
    record.policy_sha256 = policy.sha256
    record.guarantees = guarantee_lines(policy)
    record.exceptions = policy.exceptions()
    last_drift = runs[-1]["schema_drift"] if runs else {}
    for name in policy.sources:
        entry = _source_entry(policy, name, last_drift.get(name) or [])
        record.sources.append(entry)
        for col in entry["read"]:
            record.categories_in.setdefault(col["category"], []).append(f"{name}.{col['column']}")
            label = f"{name}.{col['column']}"
            record.data_categories.setdefault(col["data_category"], []).append(label)
        for t in entry["transformations"]:
            if t["output"]:
                label = f"{name}.{t['output']} ({t['treatment']})"
                record.categories_out.setdefault(t["category"], []).append(label)
    return record
