"""Differentially private counts per (H3 cell, hour) with OpenDP: no noise code of our own.

The privacy unit is one subject on one day (a daily visitor token is exactly that). Before any
noise, each unit's contribution is bounded: it keeps at most ``max_groups_per_day`` of its
(cell, hour) groups, chosen at random, and at most ``max_events_per_group`` events in each.
Then one unit changes the vector of event counts by at most ``G·E`` in L1 (``E·√G`` in L2) and
the vector of distinct-subject counts by at most ``G`` (``√G``): these are the ``d_in`` handed
to OpenDP's own privacy maps.

Partitions are fixed and public: every H3 cell of the policy's ``grid`` boxes at the cell
column's resolution times every hour of the release's days. Choosing them reads no data, so
it spends no budget; every partition is released (zeros included) before post-processing.
Noise: OpenDP's ``make_laplace`` (discrete Laplace, pure ε) when ``delta`` is 0, else
``make_gaussian`` (discrete Gaussian, zCDP converted to (ε, δ)). ε (and δ) are split evenly
over the measures (sequential composition). The scale is what the library's privacy map says
meets ε, and the 95% error bound comes from ``opendp.accuracy``. OpenDP draws from the OS's
CSPRNG and cannot be seeded: tests check the accounting and the noise's statistics.

Post-processing (free): noisy counts below 0 become 0; a partition whose noisy
distinct-subject count (or, without that measure, noisy event count) is below
``min_distinct_subjects`` is withheld. The threshold is on noisy counts: DP is what protects
a small group, the threshold keeps the table readable.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import metadata

import h3
import numpy as np
import opendp.accuracy as accuracy
import opendp.prelude as dp
import pandas as pd
import pyarrow as pa

from minimizer.aggregate._duck import cursor
from minimizer.io.warehouse import DIALECTS, ident
from minimizer.policy import AggregateSpec, DifferentialPrivacy

__all__ = [
    "DPMeasure",
    "DPRelease",
    "bound_contributions",
    "dp_release",
    "measure_mechanism",
    "public_cells",
    "public_hours",
]

_D = DIALECTS["duckdb"]
ALPHA = 0.05  # the error bound holds for each count with probability 1 - ALPHA

dp.enable_features("contrib")
_OPENDP_VERSION = metadata.version("opendp")


def public_cells(grid: Sequence[tuple[float, float, float, float]], resolution: int) -> list[str]:
    """Every H3 cell at ``resolution`` whose centre lies in one of the boxes, sorted."""
    cells: set[str] = set()
    for south, west, north, east in grid:
        ring = [(south, west), (south, east), (north, east), (north, west)]
        cells.update(h3.polygon_to_cells(h3.LatLngPoly(ring), resolution))
    return sorted(cells)


def _utc(moment: date | datetime) -> pd.Timestamp:
    stamp = pd.Timestamp(moment)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def public_hours(days: Sequence[date | datetime]) -> pd.DatetimeIndex:
    """Every hour (UTC) of the given days (naive values are UTC)."""
    starts = pd.DatetimeIndex(sorted({_utc(d).floor("D") for d in days}))
    if starts.empty:
        return pd.DatetimeIndex([], tz="UTC")
    offsets = pd.to_timedelta(np.arange(24), unit="h")
    naive = starts.tz_convert(None).to_numpy()
    grid = (naive[:, None] + offsets.to_numpy()[None, :]).ravel()
    return pd.DatetimeIndex(grid).tz_localize("UTC")


def bound_contributions(
    rows: pa.Table,
    *,
    cell: str,
    hour: str,
    subject: str,
    max_groups: int,
    max_events: int,
    seed: str | None = None,
) -> tuple[pa.Table, dict[str, int]]:
    """True counts per (cell, hour) after bounding each (subject, day): (cell, hour, events,
    distinct_subjects) and how many pairs and events the bounds dropped. ``seed`` fixes which
    groups a unit keeps (tests, benchmarks); the noise is never seeded."""
    c, h, s = ident(cell, _D), ident(hour, _D), ident(subject, _D)
    # A keyed hash orders each unit's groups: a fresh random salt per release, so which groups
    # a unit keeps depends on neither the data nor anything an analyst can predict.
    salt = secrets.token_hex(16) if seed is None else str(seed)
    con = cursor()
    try:
        con.register("rows", rows.select([cell, hour, subject]))
        con.execute(
            f"""CREATE TEMP TABLE pairs AS
            SELECT {s} AS s, date_trunc('day', {h}) AS day, {c} AS c, {h} AS h, count(*) AS n
            FROM rows WHERE {c} IS NOT NULL AND {h} IS NOT NULL AND {s} IS NOT NULL
            GROUP BY ALL"""
        )
        kept = con.sql(
            f"""SELECT c AS {c}, h AS {h}, sum(least(n, {int(max_events)}))::BIGINT AS events,
                   count(*)::BIGINT AS distinct_subjects
            FROM (SELECT *, row_number() OVER (PARTITION BY s, day ORDER BY hash(s, c, h, ?)) AS k
                  FROM pairs) WHERE k <= {int(max_groups)} GROUP BY ALL""",
            params=[salt],
        ).to_arrow_table()
        # An aggregate without GROUP BY returns exactly one row.
        pairs, events = con.execute("SELECT count(*), coalesce(sum(n), 0) FROM pairs").fetchall()[0]
    finally:
        con.close()
    kept_events = int(pa.compute.sum(kept.column("events")).as_py() or 0)
    kept_pairs = int(pa.compute.sum(kept.column("distinct_subjects")).as_py() or 0)
    return kept, {
        "unit_groups_dropped": int(pairs) - kept_pairs,
        "events_dropped_by_bounds": int(events) - kept_events,
    }


@dataclass(frozen=True)
class DPMeasure:
    """One measure's mechanism: OpenDP's measurement, the d_in it was calibrated for, its
    (ε, δ) share, scale and the 95% error bound of each count."""

    name: str
    measurement: dp.Measurement = field(repr=False)
    d_in: float
    epsilon: float
    delta: float
    scale: float
    error_95: float


def _sensitivity(measure: str, cfg: DifferentialPrivacy, norm: str) -> float:
    groups, events = cfg.max_groups_per_day, cfg.max_events_per_group
    per_group = events if measure == "events" else 1
    return per_group * groups if norm == "l1" else per_group * math.sqrt(groups)


def measure_mechanism(measure: str, cfg: DifferentialPrivacy, share: int) -> DPMeasure:
    """The OpenDP measurement over a vector of int64 counts for one measure, spending
    ``1/share`` of the policy's ε (and δ)."""
    epsilon, delta = cfg.epsilon / share, cfg.delta / share
    domain = dp.vector_domain(dp.atom_domain(T="i64"))
    if cfg.delta == 0:
        d_in = int(_sensitivity(measure, cfg, "l1"))
        scale = d_in / epsilon
        meas = dp.m.make_laplace(domain, dp.l1_distance(T="i64"), scale=scale)
        error = accuracy.discrete_laplacian_scale_to_accuracy(scale, ALPHA)
        return DPMeasure(measure, meas, d_in, epsilon, 0.0, scale, float(error))
    l2 = _sensitivity(measure, cfg, "l2")

    def gaussian(scale: float) -> dp.Measurement:
        zcdp = dp.m.make_gaussian(domain, dp.l2_distance(T="f64"), scale=scale)
        return dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(zcdp), delta)

    scale = dp.binary_search_param(gaussian, d_in=l2, d_out=(epsilon, delta), T=float)
    error = accuracy.discrete_gaussian_scale_to_accuracy(scale, ALPHA)
    return DPMeasure(measure, gaussian(scale), l2, epsilon, delta, scale, float(error))


@dataclass(frozen=True)
class DPRelease:
    table: pa.Table  # published: cell, hour, noisy measures (withheld partitions left out)
    figures: dict[str, object]  # for the audit record: parameters and counts, never a value
    true_counts: pa.Table = field(repr=False)  # bounded counts before noise: tests only


def _vector(
    counts: pa.Table, column: str, cells: list[str], hours: pd.DatetimeIndex, cell: str, hour: str
) -> tuple[np.ndarray, int]:
    """The counts laid out over every public partition (cell-major), and the partitions'
    count of rows falling outside the public grid."""
    frame = counts.select([cell, hour, column]).to_pandas()
    ci = pd.Index(cells).get_indexer(frame[cell])
    stamps = pd.DatetimeIndex(pd.to_datetime(frame[hour], utc=True))
    hi = hours.get_indexer(stamps)
    inside = (ci >= 0) & (hi >= 0)
    out = np.zeros(len(cells) * len(hours), dtype=np.int64)
    np.add.at(out, ci[inside] * len(hours) + hi[inside], frame[column].to_numpy()[inside])
    return out, int((~inside).sum())


def dp_release(
    rows: pa.Table,
    spec: AggregateSpec,
    *,
    cell: str,
    hour: str,
    resolution: int,
    days: Sequence[date | datetime],
    seed: str | None = None,
) -> DPRelease:
    """Bound, count, add OpenDP noise over the public partitions, post-process."""
    cfg = spec.dp
    assert cfg is not None
    counts, dropped = bound_contributions(
        rows,
        cell=cell,
        hour=hour,
        subject=spec.subject,
        max_groups=cfg.max_groups_per_day,
        max_events=cfg.max_events_per_group,
        seed=seed,
    )
    cells, hours = public_cells(cfg.grid, resolution), public_hours(days)
    mechanisms = [measure_mechanism(m, cfg, len(spec.measures)) for m in spec.measures]
    noisy: dict[str, np.ndarray] = {}
    outside = 0
    for mech in mechanisms:
        true, outside = _vector(counts, mech.name, cells, hours, cell, hour)
        released = np.asarray(mech.measurement(true), dtype=np.int64) if true.size else true
        noisy[mech.name] = np.maximum(released, 0)
    gate = noisy.get("distinct_subjects", noisy.get("events"))
    assert gate is not None
    keep = gate >= spec.min_distinct_subjects
    cell_idx, hour_idx = np.divmod(np.flatnonzero(keep), max(len(hours), 1))
    hour_type = rows.schema.field(hour).type
    table = pa.table(
        {
            cell: pa.array(np.asarray(cells, dtype=object)[cell_idx], pa.string()),
            hour: pa.array(hours[hour_idx]).cast(hour_type),
            **{m: pa.array(v[keep]) for m, v in noisy.items()},
        }
    )
    figures: dict[str, object] = {
        "library": f"opendp {_OPENDP_VERSION}",
        "mechanism": "discrete laplace" if cfg.delta == 0 else "discrete gaussian",
        "privacy_unit": "one subject on one day",
        "epsilon": cfg.epsilon,
        "delta": cfg.delta,
        "max_groups_per_day": cfg.max_groups_per_day,
        "max_events_per_group": cfg.max_events_per_group,
        "partitions": len(cells) * len(hours),
        "public_cells": len(cells),
        "public_hours": len(hours),
        "published_partitions": int(keep.sum()),
        "withheld_partitions": int((~keep).sum()),
        "groups_outside_grid": outside,
        **dropped,
        "measures": {
            m.name: {
                "epsilon": m.epsilon,
                "delta": m.delta,
                "d_in": m.d_in,
                "scale": m.scale,
                "error_95": m.error_95,
            }
            for m in mechanisms
        },
        "error_95": max((m.error_95 for m in mechanisms), default=0.0),
    }
    return DPRelease(table=table, figures=figures, true_counts=counts)
