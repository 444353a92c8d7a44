"""What the SQL and Parquet sources share: the column check, UTC time parsing, the time window.

Kept apart so each source module holds one idea (how to read its format), and so both agree
on the two rules that matter to callers: a missing column is a `SourceError` naming it, and a
time that cannot be parsed comes back as ``NaT`` instead of vanishing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pandas as pd
import pyarrow as pa

from minimizer.errors import SourceError

__all__ = [
    "PANDAS_TYPES",
    "TIMESTAMP_DTYPE",
    "as_utc",
    "fetch_list",
    "in_window",
    "require_columns",
    "to_utc",
]

# One time type for every source, so chunks of a run concatenate and stage to one Arrow schema.
TIMESTAMP_DTYPE = "datetime64[us, UTC]"
_ISO_START = r"\d{4}-\d{2}-\d{2}"

# Arrow -> pandas dtypes that keep nulls without turning integers into floats: every chunk of a
# run has the same dtypes (and stages to one Arrow schema), and warehouse reads give integers.
PANDAS_TYPES: dict[pa.DataType, object] = {
    pa.int8(): pd.Int8Dtype(),
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}


def as_utc(moment: datetime) -> datetime:
    """A window bound as an aware UTC datetime. Naive bounds are taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def fetch_list(columns: Sequence[str], time_column: str | None) -> tuple[list[str], list[str]]:
    """(columns the caller asked for, columns to read): the time column is read to filter on."""
    wanted = list(dict.fromkeys(columns))
    extra = [time_column] if time_column is not None and time_column not in wanted else []
    return wanted, wanted + extra


def require_columns(source: str, available: Sequence[str], requested: Sequence[str]) -> None:
    """Deny by default works both ways: a column the policy names must exist. Names only."""
    known = set(available)
    missing = [name for name in requested if name not in known]
    if missing:
        raise SourceError(
            f"source lacks {len(missing)} requested column(s)",
            table=source,
            column=", ".join(missing),
            reason="missing_column",
            count=len(missing),
        )


def to_utc(values: pd.Series) -> pd.Series:
    """Any time column as ``datetime64[us, UTC]``; values that do not parse become ``NaT``.

    Naive times are taken to be UTC. Text is parsed as ISO 8601 (a space or ``T`` between date
    and time, optional fraction and offset), the formats SQLite's own date functions accept.
    Anything else (numbers, words such as "now", impossible dates) is ``NaT``, so the caller
    can count it.
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").astype(TIMESTAMP_DTYPE)
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return values.dt.tz_localize("UTC").astype(TIMESTAMP_DTYPE)
    # Through text first: pandas would read a bare number as nanoseconds since 1970. Only text
    # that starts like an ISO date is parsed: pandas also reads words such as "now".
    text = values.astype("str")
    text = text.where(text.str.match(_ISO_START, na=False))
    parsed = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    return parsed.astype(TIMESTAMP_DTYPE)


def in_window(times: pd.Series, since: datetime | None, until: datetime | None) -> pd.Series:
    """Rows with ``since <= time < until``, plus every row whose time is unknown (``NaT``)."""
    keep = pd.Series(True, index=times.index)
    if since is not None:
        keep &= times >= pd.Timestamp(as_utc(since))
    if until is not None:
        keep &= times < pd.Timestamp(as_utc(until))
    return keep | times.isna()
