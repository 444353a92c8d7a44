"""Parsing that never coerces silently: what cannot be parsed is reported as invalid."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

__all__ = ["as_date32", "strings_from_codes", "to_numeric", "to_utc_timestamp"]


def to_utc_timestamp(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Timestamps in UTC, and a mask of present values that were not valid dates."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        parsed = values.dt.tz_convert("UTC")
    else:
        parsed = pd.to_datetime(values, errors="coerce", utc=True, format="mixed")
    return parsed, values.notna() & parsed.isna()


def to_numeric(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    parsed = pd.to_numeric(values, errors="coerce").astype("float64")
    return parsed, values.notna() & parsed.isna()


def as_date32(stamps: pd.Series) -> pd.Series:
    """Naive timestamps at midnight as an Arrow ``date32`` column (a DATE in the warehouse)."""
    days = pa.array(stamps.to_numpy().astype("datetime64[D]"), from_pandas=True)
    return pd.Series(pd.arrays.ArrowExtensionArray(days), index=stamps.index, name=stamps.name)


def strings_from_codes(
    codes: np.ndarray, uniques: list[str] | pa.Array, index: pd.Index
) -> pd.Series:
    """Broadcast per-distinct-value results back to rows (code -1 is null), in Arrow, no loop."""
    indices = pa.array(codes.astype(np.int32), mask=codes < 0)
    dictionary = (
        uniques.cast(pa.string())
        if isinstance(uniques, pa.Array)
        else pa.array(uniques, pa.string())
    )
    values = pa.DictionaryArray.from_arrays(indices, dictionary)
    return pd.Series(pd.arrays.ArrowExtensionArray(values.cast(pa.string())), index=index).astype(
        "str"
    )
