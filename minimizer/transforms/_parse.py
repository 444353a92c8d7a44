"""Parsing that never coerces silently: what cannot be parsed is reported as invalid."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

__all__ = [
    "arrow_strings",
    "as_date32",
    "as_str_series",
    "strings_from_codes",
    "text_array",
    "to_numeric",
    "to_utc_timestamp",
]


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


def arrow_strings(values: pd.Series) -> pa.Array | None:
    """A text column as one Arrow string array (nulls kept), or None when it holds other types.

    pandas' text columns are Arrow already, so this is a view; an object column qualifies
    only when every present value is a ``str``."""
    dtype = values.dtype
    if isinstance(dtype, pd.StringDtype) or (
        isinstance(dtype, pd.ArrowDtype) and pa.types.is_string(dtype.pyarrow_dtype)
    ):
        strings = pa.array(values)
    elif pd.api.types.is_object_dtype(dtype) and pd.api.types.infer_dtype(values, skipna=True) in (
        "string",
        "empty",
    ):
        strings = pa.array(values, from_pandas=True, type=pa.large_string())
    else:
        return None
    if isinstance(strings, pa.ChunkedArray):
        strings = strings.combine_chunks()
    return strings


def text_array(values: pd.Series) -> pa.Array:
    """Any column as Arrow text: a view of a text column, else ``astype("str")`` first."""
    strings = arrow_strings(values)
    if strings is None:
        strings = arrow_strings(values.astype("str"))
    assert strings is not None
    return strings


def as_str_series(values: pa.Array, index: pd.Index, name: object = None) -> pd.Series:
    """An Arrow string array as a pandas ``str`` column without a copy of the characters."""
    if not pa.types.is_large_string(values.type):
        values = values.cast(pa.large_string())  # pandas' text is large_string: offsets only
    return pd.Series(values, index=index, name=name, dtype="str")


def strings_from_codes(
    codes: np.ndarray, uniques: list[str] | pa.Array, index: pd.Index
) -> pd.Series:
    """Broadcast per-distinct-value results back to rows (code -1 is null), in Arrow, no loop."""
    indices = pa.array(codes.astype(np.int32, copy=False), mask=codes < 0)
    dictionary = (
        uniques.cast(pa.large_string())
        if isinstance(uniques, pa.Array)
        else pa.array(uniques, pa.large_string())
    )
    return as_str_series(dictionary.take(indices), index)
