"""Throughput of the minimisation itself, beside the peers' recorded figures.

    .venv/bin/python bench/throughput.py [--events 5000000] [--chunk 1000000] [--crm 200000]

Workload 1 (events): pseudonymise customer_id, coarsen lat/lon to H3 resolution 8, truncate the
timestamp to the hour, drop ip and user agent; read from day-partitioned Parquet in chunks
(bounded memory), minimised in one process and then in worker processes, written to Parquet as
the pipeline stages it. Workload 2 (CRM): pseudonymise customer_id and email, mask
phone and IBAN: the 4-identifier table of the presidio-structured figure in shared/DESIGN.md.
The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from minimizer.io.sources import EventSource
from minimizer.keys import KeyRing
from minimizer.minimise import minimise_chunk
from minimizer.parallel import default_workers, ordered_map
from minimizer.policy import SourceSpec
from minimizer.transforms import TransformContext

PEERS = {
    "presidio-structured 0.0.10 (hash, redact, mask), CRM rows/s": 10_000,
    "naive hmac.digest loop, values/s": 250_000,
    "openssl SHA-256 16-byte inputs, hashes/s/core": 5_800_000,
}

EVENTS = SourceSpec.model_validate(
    {
        "kind": "events",
        "key": "customer_id",
        "time": "ts",
        "columns": {
            "customer_id": "pseudonymise",
            "hour": {"generalise": "hour", "source": "ts"},
            "cell": {"coarsen": "h3", "lat": "lat", "lon": "lon", "resolution": 8},
            "page": "keep",
            "ip": "drop",
            "user_agent": "drop",
        },
    }
)
CRM = SourceSpec.model_validate(
    {
        "columns": {
            "customer_id": "pseudonymise",
            "email": "pseudonymise",
            "phone": {"mask": "last", "n": 2},
            "iban": {"mask": "last", "n": 4},
            "loyalty_tier": "keep",
        }
    }
)


def event_chunk(rng: np.random.Generator, n: int, subjects: int) -> pd.DataFrame:
    """Synthetic events shaped like minimizer.synth's: people around a few cities."""
    who = rng.integers(0, subjects, n)
    home_lat = 48.0 + (who % 997) / 997 * 5.0
    home_lon = 2.0 + (who % 991) / 991 * 11.0
    start = np.datetime64("2026-11-01T00:00:00", "us")
    return pd.DataFrame(
        {
            "customer_id": pd.Series(np.char.add("C", who.astype(str)), dtype="str"),
            "ts": pd.Series(
                start + rng.integers(0, 86_400_000_000 * 28, n).astype("m8[us]")
            ).dt.tz_localize("UTC"),
            "lat": home_lat + rng.normal(0, 0.01, n),
            "lon": home_lon + rng.normal(0, 0.01, n),
            "ip": pd.Series(np.char.add("10.0.0.", (who % 250).astype(str)), dtype="str"),
            "user_agent": pd.Series(["Mozilla/5.0"] * n, dtype="str"),
            "page": pd.Series(np.array(["/", "/shop", "/cart", "/help"])[who % 4], dtype="str"),
        }
    )


def crm_table(rng: np.random.Generator, n: int) -> pd.DataFrame:
    ids = np.char.add("C", np.arange(n).astype(str))
    return pd.DataFrame(
        {
            "customer_id": pd.Series(ids, dtype="str"),
            "email": pd.Series(np.char.add(ids, "@example.com"), dtype="str"),
            "phone": pd.Series(
                np.char.add("+4930", rng.integers(10**6, 10**7, n).astype(str)), dtype="str"
            ),
            "iban": pd.Series(
                np.char.add("DE89370400440532", rng.integers(10**5, 10**6, n).astype(str)),
                dtype="str",
            ),
            "loyalty_tier": pd.Series(
                np.array(["bronze", "silver", "gold"])[np.arange(n) % 3], dtype="str"
            ),
        }
    )


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_events(root: Path, total: int, chunk: int, subjects: int) -> None:
    """The input, as day-partitioned Parquet like the synthetic sources (not timed)."""
    rng = np.random.default_rng(0)
    for i, start in enumerate(range(0, total, chunk)):
        part = root / f"date=2026-11-{i + 1:02d}"
        part.mkdir(parents=True)
        frame = event_chunk(rng, min(chunk, total - start), subjects)
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), part / "part-0.parquet")


def staged_run(root: Path, out: Path, ctx: TransformContext, workers: int) -> tuple[float, float]:
    """Read -> minimise -> write, as the pipeline stages a source. Returns (wall s, minimise s).

    ``workers`` threads minimise chunks side by side; H3 indexing also splits a chunk across
    cores, so even one worker uses more than one core for that step."""
    source = EventSource(root)
    fn = partial(minimise_chunk, spec=EVENTS, ctx=ctx)
    writer: pq.ParquetWriter | None = None
    minimise_s = 0.0
    t0 = time.perf_counter()
    chunks = source.chunks(EVENTS.inputs(), time_column="ts")
    for _, result in ordered_map(fn, chunks, workers):
        table = pa.Table.from_pandas(result.frame, preserve_index=False)
        writer = writer or pq.ParquetWriter(out, table.schema)
        writer.write_table(table)
    if writer:
        writer.close()
    wall = time.perf_counter() - t0
    if workers == 1:  # the transforms alone, without reading or writing
        for chunk in source.chunks(EVENTS.inputs(), time_column="ts"):
            t1 = time.perf_counter()
            fn(chunk)
            minimise_s += time.perf_counter() - t1
    return wall, minimise_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=5_000_000)
    ap.add_argument("--chunk", type=int, default=1_000_000)
    ap.add_argument("--subjects", type=int, default=50_000)
    ap.add_argument("--crm", type=int, default=200_000)
    ap.add_argument("--workers", type=int, default=default_workers())
    args = ap.parse_args()

    ring = KeyRing.new()
    ctx = TransformContext("bench", datetime.now(UTC), ring.purpose_key("bench"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "events"
        print(f"writing {args.events:,} synthetic events (not timed) ...", flush=True)
        write_events(root, args.events, args.chunk, args.subjects)
        one_wall, minimise_s = staged_run(root, Path(tmp) / "one.parquet", ctx, 1)
        print(f"  1 worker: {args.events / one_wall:,.0f} events/s", flush=True)
        par_wall, _ = staged_run(root, Path(tmp) / "par.parquet", ctx, args.workers)
        print(f"  {args.workers} workers: {args.events / par_wall:,.0f} events/s", flush=True)

    crm = crm_table(np.random.default_rng(1), args.crm)
    t0 = time.perf_counter()
    minimise_chunk(crm, CRM, ctx)
    crm_per_s = args.crm / (time.perf_counter() - t0)

    figures = {
        "events": args.events,
        "chunk": args.chunk,
        "workers": args.workers,
        "events_per_s": round(args.events / par_wall),
        "events_per_s_one_worker": round(args.events / one_wall),
        "transform_only_events_per_s": round(args.events / minimise_s),
        "crm_rows_per_s": round(crm_per_s),
        "presidio_structured_rows_per_s": PEERS[next(iter(PEERS))],
        "peak_rss_mb": round(peak_rss_mb()),
    }
    print(
        f"\nevents: {args.events:,} in chunks of {args.chunk:,}, read from and written to Parquet"
    )
    print(
        f"  {args.workers} workers        {figures['events_per_s']:>14,} events/s   (target >= 1,000,000)"
    )
    print(f"  1 worker         {figures['events_per_s_one_worker']:>14,} events/s")
    print(f"  transforms only  {figures['transform_only_events_per_s']:>14,} events/s (no I/O)")
    print(f"CRM (4 identifiers) {figures['crm_rows_per_s']:>13,} rows/s")
    for name, figure in PEERS.items():
        print(f"  peer: {name:<58} {figure:>12,}")
    print(f"peak RSS: {figures['peak_rss_mb']:,} MB")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
