"""Movement data: DP aggregates at scale, and unicity before and after for the demo purposes.

    .venv/bin/python bench/movement.py [--events 10000000] [--demo-customers 2000]

1. **DP aggregation of N events** (default 10,000,000; cell at H3 res 7 over the five demo
   cities, one day of hours, 400,000 daily tokens), two ways in the same run:
   * minimizer: ``minimizer.aggregate.dp.dp_release`` (contribution bounds in DuckDB, the count
     vectors over the public partitions in numpy, OpenDP's ``make_laplace`` for the noise, both
     measures: events and distinct subjects);
   * OpenDP alone, for the events measure: OpenDP's ``make_count_by_categories`` over one row
     per kept event (its partition index) chained with ``then_laplace``, on the same bounded
     input (OpenDP's core has no per-unit contribution bounding outside its Polars API, which
     is not installed; the bounding step is timed once and shared).
2. **Unicity at 4 points, before and after**, for the demo's two movement purposes on the
   demo's synthetic data (2,000 customers, 14 days, seed 7): ``mobility_research`` (traces,
   ``max_unicity``) and ``footfall_heatmap`` (DP counts only, no traces). Basis: tokens, one per
   person and rotation period of the published token; raw points at about 11 m, hourly.
3. **Mean relative error of the DP counts per cell-hour**: |noisy - true| / true over the
   published cell-hours whose true count is above 0, on the demo data and on the N events.

The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import opendp.prelude as dp
import pandas as pd
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from minimizer.aggregate.dp import (  # noqa: E402
    bound_contributions,
    dp_release,
    measure_mechanism,
    public_cells,
    public_hours,
)
from minimizer.keys import KeyRing  # noqa: E402
from minimizer.policy import load_policy  # noqa: E402

dp.enable_features("contrib")
FOOTFALL = ROOT / "configs" / "purposes" / "footfall_heatmap.yaml"
MOBILITY = ROOT / "configs" / "purposes" / "mobility_research.yaml"
DAY = pd.Timestamp("2026-06-14", tz="UTC")


def synthetic_events(n: int, tokens: int, seed: int = 3) -> tuple[pa.Table, list[str]]:
    """n events over the public grid at res 7, hours of one day, Zipf-like busy cells."""
    rng = np.random.default_rng(seed)
    spec = load_policy(FOOTFALL).sources["events"].aggregate
    assert spec is not None and spec.dp is not None
    cells = public_cells(spec.dp.grid, 7)
    weight = 1.0 / np.arange(1, len(cells) + 1) ** 0.7
    cell_idx = rng.choice(len(cells), size=n, p=weight / weight.sum())
    hours = DAY + pd.to_timedelta(rng.integers(0, 24, n), unit="h")
    table = pa.table(
        {
            "cell": pa.DictionaryArray.from_arrays(
                pa.array(cell_idx, pa.int32()), pa.array(cells)
            ).cast(pa.string()),
            "hour": pa.array(hours),
            "visitor": pa.array(rng.integers(0, tokens, n)).cast(pa.string()),
        }
    )
    return table, cells


def mean_relative_error(release, measure: str) -> float:
    true = release.true_counts.to_pandas().set_index(["cell", "hour"])[measure]
    noisy = release.table.to_pandas().set_index(["cell", "hour"])[measure]
    both = pd.concat([true.rename("t"), noisy.rename("n")], axis=1, join="inner")
    both = both[both.t > 0]
    return float(((both.n - both.t).abs() / both.t).mean()) if len(both) else float("nan")


def dp_at_scale(n: int) -> dict[str, object]:
    policy = load_policy(FOOTFALL)
    spec = policy.sources["events"].aggregate
    assert spec is not None and spec.dp is not None
    table, cells = synthetic_events(n, tokens=400_000)
    hours = public_hours([DAY.date()])

    start = time.perf_counter()
    release = dp_release(table, spec, cell="cell", hour="hour", resolution=7, days=[DAY.date()])
    ours = time.perf_counter() - start

    # OpenDP alone (events measure) on the same bounded input: one row per kept event.
    start = time.perf_counter()
    bounded, _ = bound_contributions(
        table,
        cell="cell",
        hour="hour",
        subject="visitor",
        max_groups=spec.dp.max_groups_per_day,
        max_events=spec.dp.max_events_per_group,
    )
    bounding = time.perf_counter() - start
    frame = bounded.to_pandas()
    part = pd.Index(cells).get_indexer(frame.cell) * len(hours) + hours.get_indexer(
        pd.DatetimeIndex(pd.to_datetime(frame.hour, utc=True))
    )
    mech = measure_mechanism("events", spec.dp, len(spec.measures))
    start = time.perf_counter()
    # The events of each kept (unit, group) pair, up to E, as rows labelled by partition: what a
    # row-level DP library counts. (Rebuilt from the bounded counts: same totals per group.)
    rows = np.repeat(part.astype(np.int64), frame.events.to_numpy())
    counter = dp.t.make_count_by_categories(
        dp.vector_domain(dp.atom_domain(T="i64")),
        dp.symmetric_distance(),
        categories=list(range(len(cells) * len(hours))),
        null_category=False,
        TOA="i64",
    )
    chain = counter >> dp.m.then_laplace(scale=mech.scale)
    noisy = chain(rows)
    alone = bounding + time.perf_counter() - start
    assert chain.map(int(mech.d_in)) <= mech.epsilon + 1e-9
    return {
        "events": n,
        "partitions": len(cells) * len(hours),
        "minimizer_dp_seconds": round(ours, 2),
        "minimizer_dp_events_per_second": round(n / ours),
        "opendp_alone_seconds": round(alone, 2),
        "opendp_alone_bounding_seconds": round(bounding, 2),
        "opendp_alone_partitions_released": len(noisy),
        "error_95": release.figures["error_95"],
        "mean_relative_error_events": round(mean_relative_error(release, "events"), 4),
        "mean_relative_error_distinct_subjects": round(
            mean_relative_error(release, "distinct_subjects"), 4
        ),
    }


def demo_purposes(customers: int) -> dict[str, object]:
    from minimizer.guarantees.risk import raw_points, unicity
    from minimizer.io.sources import EventSource
    from minimizer.service import run_policy_file
    from minimizer.synth import generate
    from minimizer.transforms.coarsen import h3_cells

    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        sources = Path(tmp) / "sources"
        generate(sources, customers=customers, days=14, seed=7, end=date(2026, 6, 14))
        ring = KeyRing(masters={1: bytes(range(32))}, current=1)
        as_of = datetime(2026, 6, 15, 12, tzinfo=UTC)
        for policy in (MOBILITY, FOOTFALL):
            report = run_policy_file(
                policy,
                sources=sources,
                warehouse=str(Path(tmp) / f"{policy.stem}.duckdb"),
                as_of=as_of,
                keyring=ring,
                artifacts=Path(tmp) / "art",
            )
            out[policy.stem] = {"status": report.status, "rows": report.loaded_rows}
            if "max_unicity" in report.guarantees:
                g = report.guarantees["max_unicity"]
                out[policy.stem] |= {
                    k: g[k]
                    for k in (
                        "basis",
                        "unicity_before",
                        "unicity_before_with_p_points",
                        "unicity_after",
                        "unicity_after_with_p_points",
                        "tokens_after",
                    )
                }
            else:
                agg = report.guarantees["aggregate"]["events"]
                out[policy.stem] |= {
                    "unicity_after": agg["unicity_after"],
                    "basis_after": agg["unicity_basis"],
                    "error_95": agg["error_95"],
                    "published_partitions": agg["published_partitions"],
                    "partitions": agg["partitions"],
                }
        # The raw "before" of the footfall source, on the daily-token basis (as mobility's).
        raw = pd.concat(
            EventSource(sources / "events").chunks(["customer_id", "lat", "lon", "ts"]),
            ignore_index=True,
        )
        ts = pd.to_datetime(raw.ts, utc=True)
        raw["s"] = raw.customer_id.astype(str) + "|" + ts.dt.strftime("%Y-%m-%d")
        points = raw_points(raw, subject="s", lat="lat", lon="lon", ts="ts")
        before = unicity(points, subject="subject", place="place", time="time", p=4, samples=2000)
        out["footfall_heatmap"]["unicity_before"] = before  # type: ignore[index]
        out["footfall_heatmap"]["basis_before"] = "tokens (one per person and day)"  # type: ignore[index]
        # Mean relative error on the demo data, through the same release code.
        spec = load_policy(FOOTFALL).sources["events"].aggregate
        assert spec is not None
        rows = pa.table(
            {
                "cell": pa.array(h3_cells(raw.lat.to_numpy(float), raw.lon.to_numpy(float), 6)),
                "hour": pa.array(ts.dt.floor("h")),
                "visitor": pa.array(raw.s),
            }
        )
        from h3ronpy import cells_to_string

        rows = rows.set_column(
            0, "cell", pa.array(cells_to_string(rows.column("cell").combine_chunks()))
        )
        days = sorted({d.date() for d in ts.dt.floor("D")})
        release = dp_release(rows, spec, cell="cell", hour="hour", resolution=6, days=days)
        out["footfall_heatmap"]["mean_relative_error_events"] = round(
            mean_relative_error(release, "events"), 4
        )  # type: ignore[index]
        out["footfall_heatmap"]["mean_relative_error_distinct_subjects"] = round(  # type: ignore[index]
            mean_relative_error(release, "distinct_subjects"), 4
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--demo-customers", type=int, default=2000)
    args = parser.parse_args()
    # --events 0 skips the scale part (the demo figures alone, in about a minute).
    scale = dp_at_scale(args.events) if args.events else None
    figures = {"dp_at_scale": scale, "demo": demo_purposes(args.demo_customers)}
    print(json.dumps(figures, indent=1, default=str))
    print(json.dumps(figures, default=str))


if __name__ == "__main__":
    main()
