"""Throughput of the minimisation itself, beside the peers' recorded figures.

    .venv/bin/python bench/throughput.py [--events 5000000] [--chunk 1000000] [--crm 200000]
                                         [--presidio-rows 20000 | --no-presidio]

Workload 1 (events): pseudonymise customer_id, coarsen lat/lon to H3 resolution 8, truncate the
timestamp to the hour, drop ip and user agent; read from day-partitioned Parquet in chunks
(bounded memory), minimised in one process and then in worker processes, written to Parquet as
the pipeline stages it. Workload 2 (CRM): pseudonymise customer_id and email, mask
phone and IBAN: the 4-identifier table of the presidio-structured figure in shared/DESIGN.md,
measured in the same run against presidio-structured 0.0.10 itself on the same table
(bench/presidio_crm.py, in a side virtualenv under bench/out/ that this script creates with pip
from PyPI when it is missing: presidio's dependencies never enter the project's environment).
The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import run_measured
from workloads import EVENTS_SOURCE, crm_table, event_chunk

from minimizer.io.sources import EventSource
from minimizer.keys import KeyRing
from minimizer.minimise import STAGED_DICTIONARY_BYTES, minimise_chunk, to_arrow
from minimizer.parallel import default_workers, ordered_map
from minimizer.policy import SourceSpec
from minimizer.transforms import TransformContext

PRESIDIO = "presidio-structured==0.0.10"
SIDE_VENV = Path(__file__).resolve().parent / "out" / "presidio-structured"
PEERS = {
    "presidio-structured 0.0.10 (hash, redact, mask), CRM rows/s, recorded": 10_000,
    "naive hmac.digest loop, values/s": 250_000,
    "openssl SHA-256 16-byte inputs, hashes/s/core": 5_800_000,
}

EVENTS = SourceSpec.model_validate(EVENTS_SOURCE)
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


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def presidio_python() -> Path:
    """The side virtualenv's Python, created with pip from PyPI on first use (not timed)."""
    python = SIDE_VENV / "bin" / "python"
    if not python.exists():
        print(f"installing {PRESIDIO} into {SIDE_VENV} (once, not timed) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(SIDE_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", PRESIDIO, "numpy", "pandas"],
            check=True,
        )
    return python


def presidio_crm(rows: int) -> dict[str, float]:
    """presidio-structured's rows/s on the CRM table, and the peak RSS of its process."""
    script = Path(__file__).resolve().parent / "presidio_crm.py"
    run = run_measured([str(presidio_python()), str(script), "--rows", str(rows)], os.environ)
    figures = json.loads(run.output.strip().splitlines()[-1])
    return {
        "rows_per_s": figures["rows_per_s"],
        "rows_per_cpu_s": figures["rows_per_cpu_s"],
        "peak_rss_mb": run.peak_rss_mib,
    }


def write_events(root: Path, total: int, chunk: int, subjects: int) -> None:
    """The input, as day-partitioned Parquet like the synthetic sources (not timed)."""
    rng = np.random.default_rng(0)
    for i, start in enumerate(range(0, total, chunk)):
        part = root / f"date=2026-11-{i + 1:02d}"
        part.mkdir(parents=True)
        frame = event_chunk(rng, min(chunk, total - start), subjects)
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), part / "part-0.parquet")


def staged_run(
    root: Path, out: Path, ctx: TransformContext, workers: int
) -> tuple[float, float, float]:
    """Read -> minimise -> write, as the pipeline stages a source (its Arrow conversion and
    writer settings). Returns (wall s, minimise wall s, minimise CPU s).

    ``workers`` threads minimise chunks side by side; H3 indexing also splits a chunk across
    cores, so even one worker uses more than one core for that step."""
    source = EventSource(root)
    fn = partial(minimise_chunk, spec=EVENTS, ctx=ctx)
    writer: pq.ParquetWriter | None = None
    minimise_s = minimise_cpu = 0.0
    t0 = time.perf_counter()
    chunks = source.chunks(EVENTS.inputs(), time_column="ts")
    for _, result in ordered_map(fn, chunks, workers):
        table = to_arrow(result.frame, writer.schema if writer else None)
        writer = writer or pq.ParquetWriter(
            out, table.schema, dictionary_pagesize_limit=STAGED_DICTIONARY_BYTES
        )
        writer.write_table(table)
    if writer:
        writer.close()
    wall = time.perf_counter() - t0
    if workers == 1:  # the transforms alone, without reading or writing
        for chunk in source.chunks(EVENTS.inputs(), time_column="ts"):
            t1, c1 = time.perf_counter(), time.process_time()
            fn(chunk)
            minimise_s += time.perf_counter() - t1
            minimise_cpu += time.process_time() - c1
    return wall, minimise_s, minimise_cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=5_000_000)
    ap.add_argument("--chunk", type=int, default=1_000_000)
    ap.add_argument("--subjects", type=int, default=50_000)
    ap.add_argument("--crm", type=int, default=200_000)
    ap.add_argument("--workers", type=int, default=default_workers())
    ap.add_argument("--presidio-rows", type=int, default=20_000, help="presidio is slow")
    ap.add_argument("--no-presidio", action="store_true", help="skip the side virtualenv")
    args = ap.parse_args()

    ring = KeyRing.new()
    ctx = TransformContext("bench", datetime.now(UTC), ring.purpose_key("bench"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "events"
        print(f"writing {args.events:,} synthetic events (not timed) ...", flush=True)
        write_events(root, args.events, args.chunk, args.subjects)
        one_wall, minimise_s, minimise_cpu = staged_run(root, Path(tmp) / "one.parquet", ctx, 1)
        print(f"  1 worker: {args.events / one_wall:,.0f} events/s", flush=True)
        par_wall, _, _ = staged_run(root, Path(tmp) / "par.parquet", ctx, args.workers)
        print(f"  {args.workers} workers: {args.events / par_wall:,.0f} events/s", flush=True)

    crm = crm_table(np.random.default_rng(1), args.crm)
    rss_before_crm = peak_rss_mb()
    crm_wall = crm_cpu = float("inf")
    for _ in range(5):  # best of 5: the least time measures the code, not the neighbours
        t0, c0 = time.perf_counter(), time.process_time()
        minimise_chunk(crm, CRM, ctx)
        crm_wall = min(crm_wall, time.perf_counter() - t0)
        crm_cpu = min(crm_cpu, time.process_time() - c0)
    crm_per_s = args.crm / crm_wall
    presidio = None if args.no_presidio else presidio_crm(args.presidio_rows)

    figures = {
        "events": args.events,
        "chunk": args.chunk,
        "workers": args.workers,
        "events_per_s": round(args.events / par_wall),
        "events_per_s_one_worker": round(args.events / one_wall),
        "transform_only_events_per_s": round(args.events / minimise_s),
        "transform_only_cpu_s": round(minimise_cpu, 2),
        "crm_cpu_s": round(crm_cpu, 3),
        "crm_rows_per_s": round(crm_per_s),
        "presidio_structured_rows_per_s": round(presidio["rows_per_s"]) if presidio else None,
        "presidio_structured_peak_rss_mb": round(presidio["peak_rss_mb"]) if presidio else None,
        "crm_times_presidio": round(crm_per_s / presidio["rows_per_s"], 1) if presidio else None,
        # Both run on one thread: CPU seconds compare them whatever else the machine does.
        "crm_times_presidio_cpu": (
            round(args.crm / crm_cpu / presidio["rows_per_cpu_s"], 1) if presidio else None
        ),
        "peak_rss_mb_events": round(rss_before_crm),
        "peak_rss_mb": round(peak_rss_mb()),
    }
    print(
        f"\nevents: {args.events:,} in chunks of {args.chunk:,}, read from and written to Parquet"
    )
    print(
        f"  {args.workers} workers        {figures['events_per_s']:>14,} events/s   (target >= 1,000,000)"
    )
    print(f"  1 worker         {figures['events_per_s_one_worker']:>14,} events/s")
    print(
        f"  transforms only  {figures['transform_only_events_per_s']:>14,} events/s (no I/O;"
        f" {minimise_cpu:.2f} s CPU)"
    )
    print(f"CRM (4 identifiers) {figures['crm_rows_per_s']:>13,} rows/s ({crm_cpu:.2f} s CPU)")
    if presidio:
        print(
            f"  presidio-structured 0.0.10, same run {figures['presidio_structured_rows_per_s']:>8,}"
            f" rows/s ({args.presidio_rows:,} rows; peak RSS"
            f" {figures['presidio_structured_peak_rss_mb']:,} MB)"
        )
        print(
            f"  minimizer / presidio-structured {figures['crm_times_presidio']:>10}x  (goal >= 100x)\n"
            f"  the same in CPU seconds         {figures['crm_times_presidio_cpu']:>10}x"
        )
    for name, figure in PEERS.items():
        print(f"  peer: {name:<58} {figure:>12,}")
    print(f"peak RSS: {figures['peak_rss_mb_events']:,} MB after the events rows,")
    print(f"          {figures['peak_rss_mb']:,} MB whole benchmark (this process)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
