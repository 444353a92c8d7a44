"""Retention, decided on the raw event time when a row is extracted, not on what it becomes.

* The source is read from the run's cutoff on (``pipeline.source_window``), on the raw time.
* A row dated after the run's as-of plus the source's ``future_tolerance`` (an order dated 2099)
  would never expire: ``screen_times`` quarantines it, raw, outside the warehouse, beside the
  rows rejected as unparseable (or fails the run: ``on_future: fail``). A row with no time at
  all cannot be shown to be within retention: it is left out and counted.
* In the warehouse a truncated time is the start of a period; a row there goes only once its
  whole period lies before the cutoff (``retention_unit`` tells the load the period:
  the policy's truncation, or the coarser unit a guarantee raised the column to).

So a staged row is never deleted by the load that loads it, and the rows a run records are
the rows its tables hold.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from minimizer.errors import DataError
from minimizer.policy import SourceSpec
from minimizer.transforms._parse import to_utc_timestamp
from minimizer.transforms.truncate_time import UNITS, TruncateTime

__all__ = ["retention_unit", "screen_times"]

_FINE_TO_COARSE = ("", *reversed(UNITS))  # "", hour, day, week, month, quarter, year


def retention_unit(spec: SourceSpec, column: str | None, measures: Mapping[str, Any]) -> str:
    """The period a row's published time stands for: the policy's truncation of ``column``,
    or the coarser unit the guarantees released it at (``measures["time_grains"]``)."""
    if column is None:
        return ""
    transform = spec.columns.get(column)
    unit = transform.method if isinstance(transform, TruncateTime) else ""
    raised = str(measures.get("time_grains", {}).get(column, ""))
    return max(unit, raised, key=_FINE_TO_COARSE.index)


def screen_times(
    name: str,
    spec: SourceSpec,
    chunk: pd.DataFrame,
    as_of: datetime,
    quarantine: Path,
    measures: MutableMapping[str, Any],
) -> np.ndarray | None:
    """Keep-mask of a raw chunk: rows dated beyond as-of + tolerance are quarantined (or the
    run fails, as the policy says); rows with no time are left out. None: keep every row."""
    if spec.time is None or spec.time not in chunk.columns or chunk.empty:
        return None
    raw = chunk[spec.time]
    stamps, _ = to_utc_timestamp(raw)
    limit = pd.Timestamp(as_of).tz_convert("UTC") + pd.Timedelta(spec.future_tolerance)
    future: npt.NDArray[np.bool_] = (stamps > limit).to_numpy(dtype=bool)
    untimed: npt.NDArray[np.bool_] = raw.isna().to_numpy(dtype=bool)
    if not future.any() and not untimed.any():
        return None
    counts = measures.setdefault("retention", {"future_quarantined": 0, "no_time_dropped": 0})
    if future.any():
        if spec.on_future == "fail":
            raise DataError(
                f"rows of source {name!r} are dated more than {spec.future_tolerance} after "
                "the run's as-of; the policy says on_future: fail (use 'quarantine' to set "
                "them aside, or fix the source's clock)",
                table=name,
                column=spec.time,
                check="retention",
                reason="future_dated",
                count=int(future.sum()),
            )
        quarantine.mkdir(parents=True, exist_ok=True, mode=0o700)
        part = len(list(quarantine.glob(f"{name}.future-*.parquet")))
        # Raw rows, kept for a person to fix the source: outside the warehouse, owner-only.
        rows = pa.Table.from_pandas(chunk.loc[future], preserve_index=False)
        pq.write_table(rows, quarantine / f"{name}.future-{part:05d}.parquet")
        counts["future_quarantined"] += int(future.sum())
    counts["no_time_dropped"] += int(untimed.sum())
    return ~(future | untimed)
