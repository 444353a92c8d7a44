"""The gate's measurements over one column's distinct values, as GX hands them to a metric.

A metric (:mod:`minimizer.gate.expectations`) asks the database for the column's distinct
values and their row counts (``SELECT c, COUNT(*) ... GROUP BY c``, one query per column, shared
by every check on it); :class:`ColumnFacts` holds that answer, and each check works on the
distinct values and turns a per-value answer into row counts with the counts. Results are
counts only: rows and distinct values flagged. Nothing here keeps state between validations.

>>> facts = ColumnFacts.of(["a@b.de", "x", None, "x"], [2, 5, 1, 1])
>>> facts.rows, facts.detector("email").rows, facts.detector("email").distinct
(9, 2, 1)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from minimizer.categories import FLOAT32_TOLERANCE, precise_floats
from minimizer.gate.canary import CanaryRecord, raw_identifier_hits
from minimizer.gate.rules import CLOSED_FORMATS, OUTPUT_FORMATS
from minimizer.pii import DEFAULT_MAX_DECIMALS, DETECTORS, precise_coordinates

__all__ = ["ColumnFacts", "Hit"]

Mask = npt.NDArray[np.bool_]
_T = TypeVar("_T")

# Period starts as TruncateTime publishes them: the cutoff is compared at the same grain.
_PERIOD = {"year": "Y", "quarter": "Q", "month": "M", "week": "W-SUN", "day": "D"}


@dataclass(frozen=True)
class Hit:
    """Rows and distinct values a check flags in a column of ``element_count`` rows."""

    rows: int
    distinct: int
    element_count: int
    applicable: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "unexpected_count": self.rows,
            "distinct_unexpected": self.distinct,
            "element_count": self.element_count,
            "applicable": self.applicable,
        }


def _kind(values: Sequence[object]) -> str:
    """text, integer, float, temporal or other, from the non-null distinct values' types."""
    kinds = {type(v) for v in values}
    if not kinds:
        return "text"
    if kinds <= {str}:
        return "text"
    if all(issubclass(k, int) and not issubclass(k, bool) for k in kinds):
        return "integer"
    if all(issubclass(k, float | int | Decimal | np.floating) and k is not bool for k in kinds):
        return "float"
    if all(issubclass(k, datetime | pd.Timestamp) or k.__name__ == "date" for k in kinds):
        return "temporal"
    return "other"


def _arrow_kind(kind: pa.DataType) -> str:
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return "text"
    if pa.types.is_integer(kind):
        return "integer"
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "float"
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        return "temporal"
    return "other"


class ColumnFacts:
    """One column as distinct non-null values and the rows of each, plus its null rows."""

    def __init__(
        self,
        values: list[object] | pa.Array,
        counts: npt.NDArray[np.int64],
        nulls: int,
    ) -> None:
        self._arrow = values if isinstance(values, pa.Array) else None
        self._list = None if isinstance(values, pa.Array) else values
        self.counts = counts
        self.rows = int(counts.sum()) + nulls
        self.kind = _arrow_kind(values.type) if isinstance(values, pa.Array) else _kind(values)
        self._memo: dict[tuple[Any, ...], Any] = {}

    @property
    def _values(self) -> list[object]:
        if self._list is None:
            assert self._arrow is not None
            self._list = self._arrow.to_pylist()
        return self._list

    @classmethod
    def from_arrow(cls, values: pa.Array, counts: pa.Array) -> ColumnFacts:
        """From a ``GROUP BY`` answer fetched as Arrow (no Python object per value)."""
        present = pc.is_valid(values)
        rows = counts.to_numpy(zero_copy_only=False).astype(np.int64)
        keep = present.to_numpy(zero_copy_only=False)
        return cls(values.filter(present), rows[keep], int(rows[~keep].sum()))

    @classmethod
    def of(cls, values: Sequence[object], counts: Sequence[int]) -> ColumnFacts:
        """From a ``GROUP BY`` answer: (value, rows) pairs, the null group included."""
        present = [i for i, v in enumerate(values) if v is not None]
        nulls = int(sum(c for v, c in zip(values, counts, strict=True) if v is None))
        kept = [values[i] for i in present]
        return cls(kept, np.asarray([counts[i] for i in present], dtype=np.int64), nulls)

    @property
    def texty(self) -> bool:
        """Text checks apply to strings and integers (a card number stored as a number)."""
        return self.kind in ("text", "integer")

    def _hit(self, flagged: Mask, applicable: bool = True) -> Hit:
        return Hit(int(self.counts[flagged].sum()), int(flagged.sum()), self.rows, applicable)

    def _none(self) -> Hit:
        return Hit(0, 0, self.rows, applicable=False)

    def _memoised(self, key: tuple[Any, ...], compute: Callable[[], _T]) -> _T:
        if key not in self._memo:
            self._memo[key] = compute()
        # The memo holds what compute() returned for this key.
        return cast(_T, self._memo[key])

    @property
    def text(self) -> pa.Array:
        """The distinct values' text form, aligned with ``counts``."""

        def compute() -> pa.Array:
            if self.kind == "text" and self._arrow is not None:
                return self._arrow.cast(pa.large_string())
            if self.kind == "text":
                try:
                    return pa.array(self._values, type=pa.large_string())
                except (pa.ArrowException, TypeError):
                    pass
            safe = [str(v).encode("utf-8", "replace").decode() for v in self._values]
            return pa.array(safe, type=pa.large_string())

        return self._memoised(("text",), compute)

    def _matches(self, pattern: str) -> Mask:
        return self._memoised(
            ("match", pattern),
            lambda: pc.match_substring_regex(self.text, pattern).to_numpy(zero_copy_only=False),
        )

    def closed(self) -> Mask:
        """Distinct values in a closed format (token, H3 cell): they cannot hold PII."""
        mask = np.zeros(len(self.counts), dtype=bool)
        for pattern in CLOSED_FORMATS.values():
            mask |= self._matches(pattern)
        return mask

    # ------------------------------------------------------------------ the checks

    def format_mismatch(self, name: str) -> Hit:
        """Rows whose value is not in the closed format ``name`` (nulls are not checked)."""
        if self.kind != "text":
            return Hit(int(self.counts.sum()), len(self.counts), self.rows)
        return self._hit(~self._matches(OUTPUT_FORMATS[name]))

    def _floats(self) -> npt.NDArray[np.float64]:
        if self._arrow is not None:
            return np.asarray(
                pc.cast(self._arrow, pa.float64()).to_numpy(zero_copy_only=False), dtype=float
            )
        # Only a float column (kind "float") gets here: its distinct values are numbers.
        return np.asarray([float(v) for v in self._values], dtype=float)  # type: ignore[arg-type]

    @property
    def _tolerance(self) -> float:
        # a REAL of 4 bytes cannot tell 52.52 from 52.52000046: read at its own precision
        single = self._arrow is not None and pa.types.is_float32(self._arrow.type)
        return FLOAT32_TOLERANCE if single else 1e-9

    def detector(self, kind: str, max_decimals: int = DEFAULT_MAX_DECIMALS) -> Hit:
        """Rows holding ``kind`` (a minimizer.pii detector); values in a closed format skip.
        A float column holds no text, but exact coordinates under any name: it gets the
        coordinate check on its numbers (:func:`precise_floats`)."""
        if kind == "precise_coordinates" and self.kind == "float":
            return self._memoised(
                ("floats", max_decimals),
                lambda: self._hit(precise_floats(self._floats(), max_decimals, self._tolerance)),
            )
        if not self.texty:
            return self._none()

        def compute() -> Hit:
            open_ = np.flatnonzero(~self.closed())
            flagged = np.zeros(len(self.counts), dtype=bool)
            if open_.size:
                texts = pd.Series(self.text.take(pa.array(open_)).to_pylist(), dtype=object)
                if kind == "precise_coordinates":
                    found = precise_coordinates(texts, max_decimals).to_numpy()
                else:
                    found = DETECTORS[kind].flag(texts)
                flagged[open_] = found
            return self._hit(flagged)

        return self._memoised(("detector", kind, max_decimals), compute)

    def canary(self, record: CanaryRecord, secret: bytes, words: bool) -> Hit:
        """Rows whose value equals or contains a raw identifier value. (``words``: the column
        is published text; every column is compared for containment the same way now.)"""
        if not self.texty:
            return self._none()
        skip = np.zeros(len(self.counts), dtype=bool)
        for name, pattern in CLOSED_FORMATS.items():
            if not record.shaped.get(name, 0):  # no raw identifier has that shape
                skip |= self._matches(pattern)
        check = np.flatnonzero(~skip)
        flagged = np.zeros(len(self.counts), dtype=bool)
        if check.size and (len(record.digests) or len(record.fragments)):
            texts = self.text.take(pa.array(check))
            # equal to, or containing, a raw identifier of any source (minimizer.gate.canary)
            flagged[check] = raw_identifier_hits(texts, record, secret)
        return self._hit(flagged)

    def older_than(self, cutoff: datetime, unit: str) -> Hit:
        """Rows whose time lies before the cutoff, compared at the column's own grain."""
        if self.kind not in ("temporal", "text"):
            return self._none()
        stamps = pd.to_datetime(pd.Series(self._values, dtype=object), utc=True)
        floor = pd.Timestamp(cutoff).tz_convert(UTC)
        if unit == "hour":
            floor = floor.floor("h")
        elif unit in _PERIOD:
            floor = floor.tz_localize(None).to_period(_PERIOD[unit]).start_time.tz_localize(UTC)
        return self._hit((stamps < floor).to_numpy(dtype=bool))
