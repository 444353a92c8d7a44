"""``minimizer audit report``: the processing record of every purpose, as HTML and JSON.

Reads the policies (``configs/purposes`` by default; none found is an error), the warehouse's
audit tables (runs, erasures) and ``<artifacts>/runs.jsonl``; writes into ``out``::

    index.html                 the records, with the run history and links to each run's
                               Data Docs under <artifacts>/gate/<run_id>/
    processing_record.json     the same, machine-readable
    <purpose>-rows.png         rows read and loaded per run, over time
    <purpose>-gate.png         gate results per run, over time
    <purpose>-risk.png         suppressed rows, uniqueness and unicity per run, over time
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minimizer.audit.explain import (
    DEFAULT_MAX_UNICITY,
    Finding,
    collapsed_columns,
    gate_findings,
    k_anonymity_findings,
    location_findings,
)
from minimizer.audit.history import Erasure, Run, load_erasures, load_runs
from minimizer.audit.html import render
from minimizer.audit.plots import gate_plot, risk_plot, rows_plot
from minimizer.audit.record import ProcessingRecord, build_record
from minimizer.errors import MinimizerError, PolicyError
from minimizer.io.warehouse import Warehouse, open_warehouse
from minimizer.policy import Policy, load_policy

__all__ = ["ReportFiles", "write_report"]

log = logging.getLogger("minimizer.audit")


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    json: Path
    images: tuple[Path, ...]
    purposes: tuple[str, ...]


def _policies(directory: Path | None) -> dict[str, Policy]:
    """The policies of a folder. A folder with none is an error: a record without its policies
    would say nothing about purpose, basis or retention (wrong folder, most likely)."""
    if directory is None:
        return {}
    files = sorted(directory.glob("*.yaml")) if directory.is_dir() else []
    if not files:
        raise MinimizerError(
            f"no purpose policy (*.yaml) in {directory.resolve()}: run from the project folder "
            "or pass --policies FOLDER"
        )
    found: dict[str, Policy] = {}
    for file in files:
        try:
            policy = load_policy(file)
        except PolicyError as exc:  # a broken policy is reported, the others still are
            log.warning("skipping %s: %s", file.name, exc)
            continue
        found[policy.purpose] = policy
    if not found:
        raise MinimizerError(
            f"none of the {len(files)} policies in {directory.resolve()} loads; "
            "check them with 'minimizer policy check'"
        )
    return found


def _unicity_target(policy: Policy | None) -> float | None:
    """The policy's own unicity target, where its schema has one (else None)."""
    if policy is None:
        return None
    value = getattr(policy.guarantees.risk, "max_unicity", None)
    return float(value) if value is not None else None


def _as_dicts(found: Sequence[Finding]) -> list[dict[str, Any]]:
    return [{"text": f.text, "warning": f.warning} for f in found]


def _findings(
    wh: Warehouse, policy: Policy | None, purpose: str, runs: Sequence[Run]
) -> dict[str, list[dict[str, Any]]]:
    """The last loaded run's figures in words, with warnings (see minimizer.audit.explain)."""
    loaded = [r for r in runs if r.get("status") == "loaded"]
    if not loaded:
        return {}
    details = loaded[-1]["details"]
    g = details.get("guarantees") or {}
    out: dict[str, list[dict[str, Any]]] = {}
    k = g.get("k_anonymity")
    if k:
        source, qis = str(k.get("source")), [str(c) for c in k.get("quasi_identifiers", [])]
        present = (purpose, source) in set(wh.tables())
        collapsed = collapsed_columns(wh, purpose, source, qis) if present else {}
        allowed = (
            policy.guarantees.k_anonymity.max_suppression
            if policy and (policy.guarantees.k_anonymity)
            else None
        )
        title = f"k-anonymity on {source}: k = {k.get('k')}, method {k.get('method', '?')}"
        out[title] = _as_dicts(k_anonymity_findings(k, collapsed, allowed))
    loc = g.get("location")
    if loc:
        title = f"location on {loc.get('source')}: at least {loc.get('m')} subjects per cell"
        out[title] = _as_dicts(location_findings(loc, _unicity_target(policy)))
    measured = (details.get("gate") or {}).get("measured") or {}
    if measured:
        out["re-checked independently by the gate"] = _as_dicts(gate_findings(measured))
    return out


def _day(moment: Any) -> str | None:
    return moment.date().isoformat() if moment is not None else None


def _erasures(purpose: str, erasures: Sequence[Erasure]) -> dict[str, Any]:
    """Counts and dates of the erasures (GDPR Art. 17) that touched this purpose's tables."""
    mine = [e for e in erasures if any(t.startswith(f"{purpose}.") for t in e["rows_deleted"])]
    rows: dict[str, int] = {}
    for e in mine:
        for table, n in e["rows_deleted"].items():
            if table.startswith(f"{purpose}."):
                rows[table] = rows.get(table, 0) + n
    delays = [
        (e["done_at"] - e["requested_at"]).total_seconds() / 86400
        for e in mine
        if e["done_at"] is not None and e["requested_at"] is not None
    ]
    months: dict[str, int] = {}
    for e in mine:
        if e["done_at"] is not None:
            months[e["done_at"].strftime("%Y-%m")] = (
                months.get(e["done_at"].strftime("%Y-%m"), 0) + 1
            )
    return {
        "recorded": len(erasures),
        "subjects": len(mine),
        "rows_deleted": rows,
        "keys_destroyed": sum(e["keys_destroyed"] for e in mine),
        "first": _day(mine[0]["done_at"]) if mine else None,
        "last": _day(mine[-1]["done_at"]) if mine else None,
        "longest_days": round(max(delays), 1) if delays else None,
        "by_month": months,
    }


def _rotations(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """Key rotations as the runs show them: each rekey, and each change of key version between
    loaded runs. Versions, dates and counts only."""
    out: list[dict[str, Any]] = []
    previous: int | None = None
    for run in runs:
        version = run.get("key_version")
        version = int(version) if version is not None and version == version else None
        if run.get("status") == "rekeyed":
            rekey = run["details"].get("rekey") or {}
            out.append(
                {
                    "date": _day(run["started_at"]),
                    "event": "re-keyed (keys rekey)",
                    "from_versions": list(rekey.get("from_versions") or []),
                    "to_version": version,
                    "rows": sum(int(v or 0) for v in run["rows_out"].values()),
                    "deleted_unmapped": sum(
                        int(v or 0) for v in (rekey.get("deleted_unmapped") or {}).values()
                    ),
                }
            )
        elif run.get("status") == "loaded" and previous is not None and version != previous:
            out.append(
                {
                    "date": _day(run["started_at"]),
                    "event": "first load with a new key version",
                    "from_versions": [previous],
                    "to_version": version,
                    "rows": sum(int(v or 0) for v in run["rows_out"].values()),
                    "deleted_unmapped": 0,
                }
            )
        if run.get("status") in ("loaded", "rekeyed") and version is not None:
            previous = version
    return out


def _plots(
    record: ProcessingRecord, runs: Sequence[Run], policy: Policy | None, out: Path
) -> dict[str, Path]:
    if not record.runs:
        return {}
    p = record.purpose
    images = {
        "rows": rows_plot(record.runs, out / f"{p}-rows.png", f"{p}: rows read and loaded per run"),
        "gate": gate_plot(record.runs, out / f"{p}-gate.png", f"{p}: gate expectations per run"),
    }
    target = _unicity_target(policy)
    risk = risk_plot(
        runs,
        out / f"{p}-risk.png",
        f"{p}: what the guarantees left, per loaded run",
        DEFAULT_MAX_UNICITY if target is None else target,
    )
    if risk is not None:
        images["risk"] = risk
    return images


def write_report(
    warehouse: str, out: Path, *, artifacts: Path | None, policies: Path | None
) -> ReportFiles:
    """Write the records of every purpose that has a policy or a run. ``policies=None``
    reports the run history alone; a folder without policies is an error."""
    known = _policies(policies)
    with open_warehouse(warehouse) as wh:
        runs = load_runs(wh, artifacts)
        erasures = load_erasures(wh)
        records: list[ProcessingRecord] = []
        for p in sorted(set(known) | set(runs)):
            record = build_record(p, known.get(p), runs.get(p, []), artifacts)
            record.findings = _findings(wh, known.get(p), p, runs.get(p, []))
            record.erasures = _erasures(p, erasures)
            record.rotations = _rotations(runs.get(p, []))
            records.append(record)
    out.mkdir(parents=True, exist_ok=True)
    images: dict[str, dict[str, Path]] = {
        r.purpose: _plots(r, runs.get(r.purpose, []), known.get(r.purpose), out) for r in records
    }
    html = out / "index.html"
    html.write_text(render(records, images, out))
    doc = out / "processing_record.json"
    payload = {
        "format": "minimizer-processing-record/1",
        "purposes": [r.to_json() for r in records],
    }
    doc.write_text(json.dumps(payload, indent=1, default=str) + "\n")
    return ReportFiles(
        html=html,
        json=doc,
        images=tuple(p for d in images.values() for p in d.values()),
        purposes=tuple(r.purpose for r in records),
    )
