"""Throughput of the minimisation itself, beside the peers' recorded figures.

    .venv/bin/python bench/throughput.py [--events 5000000] [--chunk 1000000] [--crm 200000]

Workload 1 (events): pseudonymise customer_id, coarsen lat/lon to H3 resolution 8, truncate the
timestamp to the hour, drop ip and user agent; streamed in chunks (bounded memory), written to
Parquet as the pipeline stages it. Workload 2 (CRM): pseudonymise customer_id and email, mask
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
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from minimizer.keys import KeyRing
from minimizer.minimise import minimise_chunk
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=5_000_000)
    ap.add_argument("--chunk", type=int, default=1_000_000)
    ap.add_argument("--subjects", type=int, default=50_000)
    ap.add_argument("--crm", type=int, default=200_000)
    args = ap.parse_args()

    ring = KeyRing.new()
    ctx = TransformContext("bench", datetime.now(UTC), ring.purpose_key("bench"))
    rng = np.random.default_rng(0)

    minimise_s = write_s = 0.0
    done = 0
    with tempfile.TemporaryDirectory() as tmp:
        writer: pq.ParquetWriter | None = None
        while done < args.events:
            n = min(args.chunk, args.events - done)
            chunk = event_chunk(rng, n, args.subjects)  # generation is not timed
            t0 = time.perf_counter()
            result = minimise_chunk(chunk, EVENTS, ctx)
            t1 = time.perf_counter()
            table = pa.Table.from_pandas(result.frame, preserve_index=False)
            writer = writer or pq.ParquetWriter(Path(tmp) / "events.parquet", table.schema)
            writer.write_table(table)
            write_s += time.perf_counter() - t1
            minimise_s += t1 - t0
            done += n
            print(f"  events: {done:,}/{args.events:,}", flush=True)
        if writer:
            writer.close()
    events_per_s = args.events / minimise_s
    staged_per_s = args.events / (minimise_s + write_s)

    crm = crm_table(rng, args.crm)
    t0 = time.perf_counter()
    minimise_chunk(crm, CRM, ctx)
    crm_per_s = args.crm / (time.perf_counter() - t0)

    print(f"\nevents minimised: {args.events:,} in chunks of {args.chunk:,}")
    print(f"  minimisation        {events_per_s:>14,.0f} events/s   (target >= 1,000,000)")
    print(f"  incl. Parquet write {staged_per_s:>14,.0f} events/s")
    print(f"CRM (4 identifiers):  {crm_per_s:>14,.0f} rows/s")
    for name, figure in PEERS.items():
        print(f"  peer: {name:<58} {figure:>12,}")
    print(f"peak RSS: {peak_rss_mb():,.0f} MB")
    print(
        json.dumps(
            {
                "events": args.events,
                "chunk": args.chunk,
                "events_per_s": round(events_per_s),
                "events_per_s_with_write": round(staged_per_s),
                "crm_rows_per_s": round(crm_per_s),
                "presidio_structured_rows_per_s": PEERS[next(iter(PEERS))],
                "peak_rss_mb": round(peak_rss_mb()),
            }
        )
    )


if __name__ == "__main__":
    main()
