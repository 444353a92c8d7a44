"""The benchmarks' synthetic inputs (numpy and pandas only, so a bench can write them without
importing minimizer, nor Arrow: presidio's side virtualenv uses them too): events shaped like minimizer.synth's, and the 4-identifier CRM table."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["EVENTS_SOURCE", "crm_table", "event_chunk", "write_events"]

FIRST_DAY = date(2026, 11, 1)

# The events purpose the throughput benches time (a policy's source, as a plain mapping):
# pseudonymise the customer, the hour, H3 res 8 of lat/lon, keep the page, drop ip and agent.
EVENTS_SOURCE: dict[str, object] = {
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


def write_events(
    root: Path, total: int, per_day: int, subjects: int, first_day: date = FIRST_DAY
) -> None:
    """``root/date=YYYY-MM-DD/part-0.parquet``, ``per_day`` events a day from ``first_day``,
    each event's time inside its folder's day (not timed by any bench)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    for i, start in enumerate(range(0, total, per_day)):
        day = first_day + timedelta(days=i)
        n = min(per_day, total - start)
        frame = event_chunk(rng, n, subjects)
        midnight = np.datetime64(day.isoformat(), "us")
        offsets = rng.integers(0, 86_400_000_000, n).astype("m8[us]")
        frame["ts"] = pd.Series(midnight + offsets).dt.tz_localize("UTC")
        part = root / f"date={day.isoformat()}"
        part.mkdir(parents=True)
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), part / "part-0.parquet")


def crm_table(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """The 4-identifier CRM table of the presidio-structured figure, plus a kept tier."""
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
