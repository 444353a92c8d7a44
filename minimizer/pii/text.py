"""Unique-value view of a column, and the RE2 pre-filter that runs over it.

Analytic columns repeat a lot, so every detector and the scrubber work on the distinct values
(``pd.factorize``) and broadcast their answer back to the rows by the factor codes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["HARMLESS", "SMALL_BATCH", "UniqueText", "harmless", "hint_mask", "to_arrow"]

Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class UniqueText:
    """The distinct non-null values of a Series as Python strings, and the way back to rows."""

    codes: npt.NDArray[np.intp]  # per row: position in ``uniques``, -1 for null
    uniques: pd.Series  # object dtype, RangeIndex, one string per distinct value
    index: pd.Index
    name: object

    @classmethod
    def of(cls, values: pd.Series) -> UniqueText:
        if not isinstance(values, pd.Series):
            raise TypeError(f"expected a pandas Series, got {type(values).__name__}")
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        as_objects = pd.Series(np.asarray(uniques, dtype=object), dtype=object)
        if pd.api.types.infer_dtype(as_objects, skipna=True) not in ("string", "empty"):
            # ints, floats, dates...: detectors read their text form (a card number stored
            # as int64 is still a card number); one str() per distinct value, not per row
            as_objects = as_objects.map(str)
        return cls(codes=codes, uniques=as_objects, index=values.index, name=values.name)

    def broadcast(self, unique_mask: Mask) -> pd.Series:
        """Row-level boolean Series from a per-unique mask; nulls are False."""
        rows = np.zeros(len(self.codes), dtype=bool)
        present = self.codes >= 0
        rows[present] = unique_mask[self.codes[present]]
        return pd.Series(rows, index=self.index, name=self.name)

    def row_counts(self) -> npt.NDArray[np.int64]:
        """How many rows hold each distinct value."""
        return np.bincount(self.codes[self.codes >= 0], minlength=len(self.uniques))


# Whole values of these shapes hold no PII of any kind, so one RE2 pass spares every
# detector the commonest analytic values: timestamps with a time of day (ISO 8601, German,
# US), amounts with at most two decimals, small counts. A date *without* a time is not here:
# it may be a birthday.
_CURRENCY = r"(?:[ ]?(?:EUR|USD|CHF|GBP|€|\$|£))"
_HARMLESS_SHAPES = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]{1,9})?)?"
    r"(?:[ ]?Z|[ ]?UTC|[ ]?[+-][0-9]{2}(?::?[0-9]{2})?)?",
    r"[0-9]{1,2}[./][0-9]{1,2}[./][0-9]{4},?[ ][0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?(?:[ ]?[AP]M)?",
    r"-?[0-9]{1,7}(?:[.,][0-9]{1,2})?(?:[ ]?(?:EUR|USD|CHF|GBP|€|\$|£))?",
    # grouped thousands with the other mark as decimal point, or a currency: "1.234,56",
    # "1,234.56 EUR"; "22.115.255.72" is an IPv4 address, not an amount
    rf"-?[0-9]{{1,3}}(?:\.[0-9]{{3}})+(?:,[0-9]{{1,2}}{_CURRENCY}?|{_CURRENCY})",
    rf"-?[0-9]{{1,3}}(?:[,'][0-9]{{3}})+(?:\.[0-9]{{1,2}})?{_CURRENCY}?",
    r"(?:EUR|USD|CHF|GBP|€|\$|£)[ ]?-?[0-9]{1,7}(?:[.,][0-9]{1,2})?",
)
HARMLESS = "^(?:" + "|".join(f"(?:{shape})" for shape in _HARMLESS_SHAPES) + ")$"


_HARMLESS_PY = re.compile(HARMLESS)


def harmless(texts: pd.Series) -> Mask:
    """Values whose whole text is a timestamp, an amount or a count (see ``HARMLESS``)."""
    if len(texts) <= SMALL_BATCH:  # Python's re on a few values; the pattern reads the same
        return np.fromiter(
            (isinstance(t, str) and _HARMLESS_PY.match(t) is not None for t in texts),
            dtype=bool,
            count=len(texts),
        )
    return hint_mask(texts, HARMLESS)


# The last batch converted, by identity: many kinds' hints run over the same Series object.
# A tuple is replaced in one assignment, so threads see either the old or the new pair.
_LAST: tuple[pd.Series, pa.Array | None] | None = None


def to_arrow(texts: pd.Series) -> pa.Array | None:
    """The batch as an Arrow string array, or None when Arrow cannot hold a value."""
    global _LAST
    cached = _LAST
    if cached is not None and cached[0] is texts:
        return cached[1]
    values = texts.to_numpy(dtype=object)
    try:
        array: pa.Array | None = pa.array(values, type=pa.large_string())
    except UnicodeEncodeError:
        # lone surrogates (a broken export): RE2 sees "?" in their place, which no hint needs
        safe = [v.encode("utf-8", "replace").decode() if isinstance(v, str) else v for v in values]
        array = pa.array(safe, type=pa.large_string())
    except (pa.ArrowException, TypeError):
        array = None
    _LAST = (texts, array)
    return array


# Arrow compiles a regex on every call (milliseconds for a large one): below this many texts
# a hint costs more than it saves, and every text is a candidate.
SMALL_BATCH = 256


def hint_mask(texts: pd.Series, hint: str) -> Mask:
    """Which texts match the RE2 ``hint``: Arrow's C++ regex over the whole batch at once.

    A small batch (``SMALL_BATCH``) is all candidates: the exact pattern decides. Strings
    Arrow cannot hold are read with "?" for their lone surrogates.
    """
    if texts.empty:
        return np.zeros(0, dtype=bool)
    if len(texts) <= SMALL_BATCH:
        return np.ones(len(texts), dtype=bool)
    array = to_arrow(texts)
    if array is None:
        return np.asarray(texts.str.contains(hint, regex=True), dtype=bool)
    return np.asarray(
        pc.match_substring_regex(array, hint).to_numpy(zero_copy_only=False), dtype=bool
    )
