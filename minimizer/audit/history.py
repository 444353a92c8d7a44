"""The runs of each purpose: loaded runs from the warehouse audit table, failed ones from
``<artifacts>/runs.jsonl`` (a failed run loads nothing, so its record lives beside it).

Both hold the same audit row (``RunReport.audit_row``): names, counts and hashes, no values.
A run in both is taken from the warehouse, which is the record of what was loaded.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from minimizer.io.warehouse import AUDIT_SCHEMA, Warehouse, WarehouseError

__all__ = ["Erasure", "Run", "load_erasures", "load_runs"]

log = logging.getLogger("minimizer.audit")

Run = dict[str, Any]
Erasure = dict[str, Any]
_JSON = ("rows_in", "rows_out", "dropped_columns", "schema_drift", "details")


def _moment(value: object) -> datetime | None:
    if value is None or value != value:  # None or NaT/NaN
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _normal(row: Mapping[str, Any], origin: str) -> Run:
    run = dict(row)
    for key in _JSON:
        value = run.get(key)
        if isinstance(value, str):
            value = json.loads(value)
        run[key] = value if isinstance(value, dict) else {}
    run["started_at"] = _moment(run.get("started_at"))
    run["finished_at"] = _moment(run.get("finished_at"))
    run["origin"] = origin
    return run


def _from_warehouse(warehouse: Warehouse) -> Iterable[Run]:
    try:
        frame = warehouse.audit_runs()
    except WarehouseError:  # no run has loaded yet: no audit table
        return []
    return [_normal(row, "warehouse") for row in frame.to_dict(orient="records")]


def _from_log(artifacts: Path | None) -> Iterable[Run]:
    path = artifacts / "runs.jsonl" if artifacts else None
    if path is None or not path.exists():
        return []
    runs = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            runs.append(_normal(json.loads(line), "runs.jsonl"))
        except (json.JSONDecodeError, ValueError, TypeError):
            log.warning("%s line %d is not a run record; skipped", path.name, number)
    return runs


def load_runs(warehouse: Warehouse, artifacts: Path | None) -> dict[str, list[Run]]:
    """Runs by purpose, oldest first."""
    merged: dict[str, Run] = {run["run_id"]: run for run in _from_log(artifacts)}
    merged.update({run["run_id"]: run for run in _from_warehouse(warehouse)})
    by_purpose: dict[str, list[Run]] = {}
    for run in merged.values():
        by_purpose.setdefault(str(run["purpose"]), []).append(run)
    epoch = datetime.min.replace(tzinfo=UTC)
    for runs in by_purpose.values():
        runs.sort(key=lambda r: (r["started_at"] or epoch, r["run_id"]))
    return by_purpose


def load_erasures(warehouse: Warehouse) -> list[Erasure]:
    """The erasures recorded in the warehouse (``minimizer_audit.erasures``): dates and counts
    only. The erasure id and the subject digest are never read, so never shown."""
    from minimizer.rights.sql import ERASURES

    if (AUDIT_SCHEMA, ERASURES) not in set(warehouse.tables()):
        return []
    frame = warehouse.query(
        f'SELECT requested_at, done_at, rows_deleted, keys_destroyed, origin FROM "{AUDIT_SCHEMA}"'
        f'."{ERASURES}" ORDER BY done_at'
    )
    out: list[Erasure] = []
    for row in frame.to_dict(orient="records"):
        deleted = row.get("rows_deleted")
        deleted = json.loads(deleted) if isinstance(deleted, str) else deleted
        out.append(
            {
                "requested_at": _moment(row.get("requested_at")),
                "done_at": _moment(row.get("done_at")),
                "rows_deleted": {str(k): int(v or 0) for k, v in (deleted or {}).items()},
                "keys_destroyed": int(row.get("keys_destroyed") or 0),
                "origin": row.get("origin"),
            }
        )
    return out
