"""The aggregate feature of a run: after the gate has checked the minimised rows, each
aggregate source's staged rows are replaced by its group counts (thresholded, and with
differential privacy when the policy asks), and dp releases are checked against the purpose's
privacy budget. Nothing row-level of such a source is ever loaded.

A day a dp source released before is re-published from the warehouse when its true counts are
unchanged (ε 0), else released afresh, spending ε again (:mod:`.republish`, :mod:`.ledger`).

The ``aggregate_outputs`` step of :mod:`minimizer.flow`; the audit record gets
``guarantees.aggregate`` (per source) and ``guarantees.privacy_ledger``.
"""

from __future__ import annotations

from collections.abc import Iterable
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
from minimizer.aggregate.ledger import (
    LEDGER_KEY,
    PLANNED_ON,
    Release,
    ledger_history,
    plan_spend,
    refuse_unledgered,
    with_records,
)
from minimizer.aggregate.republish import (
    DPInput,
    decide,
    parameters_text,
    stored_release,
    true_count_texts,
)
from minimizer.io.warehouse import Warehouse
from minimizer.keys import KeyRing
from minimizer.outcome import time_output
from minimizer.policy import AggregateSpec, Policy, SourceSpec
from minimizer.report import WITHHELD_KEY, RunReport, SourceReport
from minimizer.transforms.coarsen import Coarsen

__all__ = ["aggregate_sources", "exact_count_paths"]

AGGREGATE_KEY = "aggregate"
# A dp release's exact, un-noised counts: the audit table sits beside the noisy one, so a
# one-day run's exact event total there would undo the noise (docs/location-risk.md). They
# stay in the run's report (its summary, Airflow's report JSON), never in the audit row.
_EXACT_FIGURES = (
    "rows_in",
    "events_dropped_by_bounds",
    "unit_groups_dropped",
    "groups_outside_grid",
)
_EXACT_PER_SOURCE = ("rejected", "excluded_erased", "measures", "invalid_by_column")


def exact_count_paths(source: str) -> tuple[str, ...]:
    """The audit row's paths of a dp source's exact counts (``guarantees[WITHHELD_KEY]``)."""
    return (
        f"rows_in.{source}",
        *(f"details.{field}.{source}" for field in _EXACT_PER_SOURCE),
        f"details.gate.tables.{source}.rows",
        *(f"details.guarantees.{AGGREGATE_KEY}.{source}.{f}" for f in _EXACT_FIGURES),
    )


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


def _dp_input(policy: Policy, name: str, rows: pa.Table, report: RunReport) -> DPInput:
    spec = policy.sources[name]
    agg = spec.aggregate
    found = _cell_column(spec, agg) if agg is not None else None
    hour = time_output(spec)
    assert agg is not None and found is not None and hour is not None  # the policy checks it
    cell, resolution = found
    days = tuple(d.isoformat() for d in _release_days(rows, hour, report))
    texts = true_count_texts(rows, cell=cell, hour=hour, subject=agg.subject, days=days)
    return DPInput(name, rows, cell, hour, resolution, days, texts)


def _dp_table(
    agg: AggregateSpec, inp: DPInput, fresh: set[str], stored: pd.DataFrame | None
) -> tuple[pa.Table, dict[str, Any]]:
    """Fresh noise for the fresh days; the stored noisy counts of the others, read back."""
    again = [d for d in inp.days if d not in fresh]
    row_days = pd.to_datetime(inp.rows.column(inp.hour).to_pandas(), utc=True).dt.strftime(
        "%Y-%m-%d"
    )
    # The true rows of a re-published day are not counted again: no noise is drawn for them.
    rows = inp.rows.filter(pa.array(~row_days.isin(again).to_numpy(dtype=bool)))
    fresh_days = [date.fromisoformat(d) for d in inp.days if d in fresh]
    release = dp_release(
        rows, agg, cell=inp.cell, hour=inp.hour, resolution=inp.resolution, days=fresh_days
    )
    out = release.table
    figures: dict[str, Any] = {
        **release.figures,
        "cell_resolution": inp.resolution,
        "fresh_days": len(fresh_days),
        "republished_days": len(again),
        "republished_partitions": 0,
    }
    if again:
        assert stored is not None  # decide() re-publishes only days the warehouse holds
        old = stored[stored["_day"].isin(again)][out.column_names]
        kept = pa.Table.from_pandas(old, preserve_index=False).cast(out.schema)
        figures["republished_partitions"] = kept.num_rows
        out = pa.concat_tables([kept, out]).sort_by(
            [(inp.cell, "ascending"), (inp.hour, "ascending")]
        )
    return out, figures


def _rows_by_day(table: pa.Table, hour: str, days: Iterable[str]) -> dict[str, int]:
    """Published rows per day, for every day of the run (0 where this source has none): the
    next re-run checks that the warehouse still holds them all."""
    stamps = pd.to_datetime(table.column(hour).to_pandas(), utc=True).dt.strftime("%Y-%m-%d")
    counts = stamps.value_counts()
    return {d: int(counts.get(d, 0)) for d in days}


def _aggregate_one(
    policy: Policy,
    name: str,
    rep: SourceReport,
    rows: pa.Table,
    dp_table: tuple[pa.Table, dict[str, Any]] | None,
) -> tuple[dict[str, Any], AggregateCheck]:
    spec = policy.sources[name]
    agg = spec.aggregate
    assert agg is not None and rep.staged is not None
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
    time_col = time_output(spec)
    remainder_by = (time_col,) if time_col and time_col in agg.by else ()
    if dp_table is not None:
        out, released = dp_table
        figures.update(released)
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
    return figures, check


def _read_rows(policy: Policy, name: str, rep: SourceReport) -> pa.Table:
    agg = policy.sources[name].aggregate
    assert agg is not None and rep.staged is not None
    return pq.read_table(rep.staged, columns=list(dict.fromkeys([*agg.by, agg.subject])))


def aggregate_sources(
    policy: Policy, report: RunReport, warehouse: Warehouse | None, keyring: KeyRing
) -> None:
    """Replace each aggregate source's staged rows by its release; check the budget. A day
    released before whose true counts are unchanged is re-published, not released again."""
    names = [
        n for n, s in policy.sources.items() if s.aggregate is not None and n in report.sources
    ]
    if not names:
        return
    rows = {n: _read_rows(policy, n, report.sources[n]) for n in names}
    inputs: dict[str, DPInput] = {}
    params: dict[str, str] = {}
    for n in names:
        agg = policy.sources[n].aggregate
        if agg is not None and agg.dp is not None:
            inputs[n] = _dp_input(policy, n, rows[n], report)
            params[n] = parameters_text(agg, inputs[n].resolution)
    history: list[Release] = []
    if inputs and policy.budget is not None and warehouse is not None:
        history = ledger_history(warehouse.audit_runs(policy.purpose))
    # What the warehouse holds now: some days may be re-published from it, and a day it holds
    # that the ledger does not know of is never released afresh (its audit rows were lost).
    stored: dict[str, pd.DataFrame] = {}
    if inputs and policy.budget is not None and warehouse is not None:
        stored = {
            n: stored_release(warehouse, policy.purpose, n, i.hour) for n, i in inputs.items()
        }
    decision = decide(keyring, report.key_version, list(inputs.values()), params, history, stored)
    refuse_unledgered(decision.fresh, history, {n: f["_day"].unique() for n, f in stored.items()})
    fresh = set(decision.fresh)
    released: dict[str, Any] = {}
    checks: dict[str, AggregateCheck] = {}
    published: dict[str, dict[str, int]] = {}
    epsilon = 0.0
    for name in names:
        agg = policy.sources[name].aggregate
        assert agg is not None
        dp_table = None
        if name in inputs:
            dp_table = _dp_table(agg, inputs[name], fresh, stored.get(name))
            published[name] = _rows_by_day(dp_table[0], inputs[name].hour, decision.digests)
            epsilon += agg.dp.epsilon if agg.dp is not None else 0.0
        figures, checks[name] = _aggregate_one(
            policy, name, report.sources[name], rows[name], dp_table
        )
        released[name] = figures
    report.guarantees[AGGREGATE_KEY] = released
    withheld = [p for n in names if n in inputs for p in exact_count_paths(n)]
    if withheld:
        report.guarantees[WITHHELD_KEY] = withheld
    report.gate[AGGREGATE_GATE_KEY] = {n: c.summary() for n, c in checks.items()}
    raise_on_failure(checks)  # fail closed before the budget is planned: nothing is loaded
    if policy.budget is not None:
        spend = plan_spend(
            policy.budget,
            epsilon,
            [date.fromisoformat(d) for d in decision.fresh],
            history,
            decision.republished,
        )
        spend = with_records(spend, decision.digests, published, decision.why)
        # The loaded releases this plan counted: the load checks again, inside its
        # transaction, that no other run has loaded a release since (recheck_spend).
        planned_on = sorted({r.run_id for r in history})
        report.guarantees[LEDGER_KEY] = {**spend.as_dict(), PLANNED_ON: planned_on}
