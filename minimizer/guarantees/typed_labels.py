"""Released labels back to the column's own type: a date stays a date, an integer an integer.

The engine works on text labels (a hierarchy is text). A published column that is not text must
come out of the guarantees with its type, or the warehouse compares text with time (the
retention DELETE fails) and analysts get strings where they had numbers. Per distinct label:

* a label that is one of the column's own values (level 0) becomes that value again;
* for a date or timestamp, a coarser period (``2025-12``, ``2025-Q4``, ``2025``, or several
  whole periods joined by ``|`` as Mondrian releases them) becomes the start of the smallest
  month, quarter or year that covers it, and the column's grain becomes that unit;
* anything else (``*``, a suppressed row, a numeric range) becomes NULL.

Every label maps to one value, so released classes only merge: k and l still hold.

>>> labels = pa.array(["2025-12-01", "2025-Q4", "2025-10-01|2025-11-01", "*", None])
>>> original = pa.array([dt.date(2025, 12, 1)], pa.date32())
>>> values, unit = typed_labels(labels, original, "month")
>>> [str(v) for v in values.to_pylist()], unit
(['2025-12-01', '2025-10-01', '2025-10-01', 'None', 'None'], 'quarter')
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from minimizer.hierarchy import TOP

__all__ = ["UNIT_ORDER", "coarsest", "text_of", "typed_labels"]

# Grains from fine to coarse; "" is an exact time (no truncation).
UNIT_ORDER = ("", "hour", "day", "week", "month", "quarter", "year")
_PERIOD = {"hour": "h", "day": "D", "week": "W-SUN", "month": "M", "quarter": "Q", "year": "Y"}


def coarsest(*units: str) -> str:
    return max(units, key=UNIT_ORDER.index)


def text_of(values: pd.Series) -> pd.Series:
    """Values as the text the hierarchy sees; '' is no value (a missing class), not a label."""
    text = values.astype("str").where(values.notna())
    return text.where(text != "")


def typed_labels(labels: pa.Array, original: pa.Array, unit: str) -> tuple[pa.Array, str]:
    """``labels`` (text) as values of ``original``'s type, and the coarsest grain they carry.

    ``original``: the column's values before recoding (any subset holding every level-0 label);
    ``unit``: the grain of those values ("" exact, or the unit they were truncated to)."""
    target = original.type
    encoded = pc.dictionary_encode(labels.cast(pa.string()))
    names = encoded.dictionary.to_pylist()
    uniques = pc.unique(original)
    texts = text_of(pd.Series(uniques.to_pandas())).tolist()
    own = dict(zip(texts, uniques.to_pylist(), strict=True))
    temporal = pa.types.is_temporal(target)
    values, grain = [], unit
    for name in names:  # distinct labels only: a handful per chunk, never a row loop
        if name in own:
            values.append(own[name])
        elif temporal and name != TOP:
            start, period = _covering_period(name, unit)
            values.append(start)
            grain = coarsest(grain, period) if start is not None else grain
        else:
            values.append(None)
    dictionary = _as_type(values, target)
    return dictionary.take(encoded.indices), grain


def _as_type(values: list[object], target: pa.DataType) -> pa.Array:
    if pa.types.is_timestamp(target):
        stamps = [None if v is None else pd.Timestamp(v) for v in values]
        tz = target.tz
        stamps = [
            None if s is None else (s.tz_localize(tz) if s.tzinfo is None and tz else s)
            for s in stamps
        ]
        return pa.array(stamps, type=target)
    if pa.types.is_date(target):
        days = [None if v is None else pd.Timestamp(v).date() for v in values]
        return pa.array(days, type=target)
    return pa.array(values, type=target)


def _span(part: str, unit: str) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """[start, end) of one label part: a published value or a period of the ladder."""
    part = part.strip()
    try:
        if len(part) == 4 and part.isdigit():
            period = pd.Period(part, "Y")
        elif len(part) == 7 and part[4:6] == "-Q":
            period = pd.Period(part.replace("-", ""), "Q")
        elif len(part) == 7 and part[4] == "-":
            period = pd.Period(part, "M")
        else:
            stamp = pd.Timestamp(part)
            stamp = stamp.tz_convert(None) if stamp.tzinfo is not None else stamp
            if not unit:
                return stamp, stamp + pd.Timedelta(microseconds=1)
            period = stamp.to_period(_PERIOD[unit])
    except (ValueError, TypeError):
        return None
    return period.start_time, period.end_time + pd.Timedelta(1, "ns")


def _covering_period(label: str, unit: str) -> tuple[dt.datetime | None, str]:
    """Start and unit of the smallest period (at least ``unit``) covering every part."""
    spans = [_span(part, unit) for part in label.split("|")]
    if not spans or any(s is None for s in spans):
        return None, unit
    low = min(s[0] for s in spans if s is not None)
    high = max(s[1] for s in spans if s is not None)
    for candidate in UNIT_ORDER[max(UNIT_ORDER.index(unit), 1) :]:
        period = low.to_period(_PERIOD[candidate])
        if period.start_time <= low and high <= period.end_time + pd.Timedelta(1, "ns"):
            return period.start_time.to_pydatetime(), candidate
    return None, unit
