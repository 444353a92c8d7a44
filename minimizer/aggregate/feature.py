"""The aggregate feature of a run: after the gate has checked the minimised rows, each
aggregate source's staged rows are replaced by its group counts (thresholded, and with
differential privacy when the policy asks), and dp releases are checked against the purpose's
privacy budget. Nothing row-level of such a source is ever loaded.

The ``aggregate_outputs`` step of :mod:`minimizer.flow`; the audit record gets ``guarantees.aggregate`` (per source)
and ``guarantees.privacy_ledger``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from minimizer.aggregate.aggregate import aggregate_rows
from minimizer.aggregate.checks import (
    AGGREGATE_GATE_KEY,
    AggregateCheck,
    check_aggregate_table,
    raise_on_failure,
)
from minimizer.aggregate.dp import dp_release
from minimizer.aggregate.ledger import LEDGER_KEY, ledger_days, plan_spend
from minimizer.io.warehouse import Warehouse
from minimizer.outcome import time_output
from minimizer.policy import AggregateSpec, Policy, SourceSpec
from minimizer.report import RunReport, SourceReport
from minimizer.transforms.coarsen import Coarsen

__all__ = ["aggregate_sources"]

AGGREGATE_KEY = "aggregate"


def _cell_column(spec: SourceSpec, agg: AggregateSpec) -> tuple[str, int] | None:
    for col in agg.by:
        t = spec.outputs().get(col)
        if isinstance(t, Coarsen) and t.method == "h3":
            return col, int(t.resolution or 0)
    return None


def _release_days(table: pa.Table, hour: str, report: RunReport) -> list[date]:
    """Days of the release: those within retention on which the source has events. Which days
    data was collected on is taken as public (docs/location-risk.md)."""
    stamps = pd.to_datetime(table.column(hour).to_pandas(), utc=True).dropna()
    days = pd.DatetimeIndex(stamps.dt.floor("D").unique())
    cutoff = pd.Timestamp(report.retention_cutoff).tz_convert("UTC")
    return [d.date() for d in days.sort_values() if d >= cutoff.floor("D")]


def _aggregate_one(
    policy: Policy, name: str, rep: SourceReport, report: RunReport
) -> tuple[dict[str, Any], list[date], AggregateCheck]:
    spec = policy.sources[name]
    agg = spec.aggregate
    assert agg is not None and rep.staged is not None
    rows = pq.read_table(rep.staged, columns=list(dict.fromkeys([*agg.by, agg.subject])))
    figures: dict[str, Any] = {
        "by": list(agg.by),
        "measures": list(agg.measures),
        "min_distinct_subjects": agg.min_distinct_subjects,
        "small_groups": agg.small_groups,
        "rows_in": rows.num_rows,
        # Counts, not traces: no subject token and no sequence is published.
        "unicity_after": 0.0,
        "unicity_basis": "no traces published (counts per group only)",
    }
    days: list[date] = []
    time_col = time_output(spec)
    remainder_by = (time_col,) if time_col and time_col in agg.by else ()
    if agg.dp is not None:
        found = _cell_column(spec, agg)
        hour = time_output(spec)
        assert found is not None and hour is not None  # the policy check guarantees both
        cell, resolution = found
        days = _release_days(rows, hour, report)
        release = dp_release(rows, agg, cell=cell, hour=hour, resolution=resolution, days=days)
        out = release.table
        figures.update(release.figures, cell_resolution=resolution)
    else:
        out, stats = aggregate_rows(rows, agg, remainder_by=remainder_by)
        figures.update(stats.as_dict())
        found = _cell_column(spec, agg)
        if found:
            figures["cell_resolution"] = found[1]
    # The gate's checks of the table that will be loaded (the row-level gate ran before).
    check = check_aggregate_table(policy, name, out, rows=rows, remainder_by=remainder_by)
    pq.write_table(out, rep.staged)
    rep.schema = out.schema
    rep.rows_out = out.num_rows
    figures["published_rows"] = out.num_rows
    return figures, days, check


def aggregate_sources(policy: Policy, report: RunReport, warehouse: Warehouse | None) -> None:
    """Replace each aggregate source's staged rows by its release; check the budget."""
    released: dict[str, Any] = {}
    checks: dict[str, AggregateCheck] = {}
    days: set[date] = set()
    epsilon = 0.0
    for name, spec in policy.sources.items():
        if spec.aggregate is None or name not in report.sources:
            continue
        figures, dp_days, checks[name] = _aggregate_one(policy, name, report.sources[name], report)
        released[name] = figures
        if spec.aggregate.dp is not None:
            days.update(dp_days)
            epsilon += spec.aggregate.dp.epsilon
    if not released:
        return
    report.guarantees[AGGREGATE_KEY] = released
    report.gate[AGGREGATE_GATE_KEY] = {n: c.summary() for n, c in checks.items()}
    raise_on_failure(checks)  # fail closed before the budget is planned: nothing is loaded
    if policy.budget is not None:
        history = {}
        if warehouse is not None:
            history = ledger_days(warehouse.audit_runs(policy.purpose))
        spend = plan_spend(policy.budget, epsilon, days, history)
        report.guarantees[LEDGER_KEY] = spend.as_dict()
