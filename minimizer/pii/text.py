"""Unique-value view of a column, and the RE2 pre-filter that runs over it.

Analytic columns repeat a lot, so every detector and the scrubber work on the distinct values
(``pd.factorize``) and broadcast their answer back to the rows by the factor codes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["UniqueText", "hint_mask"]

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


def hint_mask(texts: pd.Series, hint: str) -> Mask:
    """Which texts match the RE2 ``hint``: Arrow's C++ regex over the whole batch at once.

    Strings Arrow cannot hold (lone surrogates) fall back to Python's ``re`` for the batch.
    """
    values = texts.to_numpy(dtype=object)
    try:
        array = pa.array(values, type=pa.large_string())
    except (UnicodeEncodeError, pa.ArrowException):
        return texts.str.contains(hint, regex=True).to_numpy(dtype=bool)
    return pc.match_substring_regex(array, hint).to_numpy(zero_copy_only=False)
