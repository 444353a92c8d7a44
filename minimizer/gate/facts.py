"""The gate's vectorised measurements over a staged table, computed once per column.

Each column is factorised once (``pd.factorize``); every check then works on its distinct
values and turns a per-value answer into row counts with the factor counts. The expectations
(:mod:`minimizer.gate.expectations`) read these measurements as GX metrics, so ten checks on a
column cost one factorisation. Results are counts only: rows and distinct values flagged.

``facts_for(df)`` returns the one :class:`TableFacts` of a DataFrame object (held by identity,
released with the frame); ``attach(df, record)`` gives it the canary record of its source.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from minimizer.gate.canary import CanaryRecord
from minimizer.gate.digests import PUNCTUATION, contains, digests
from minimizer.gate.rules import CLOSED_FORMATS
from minimizer.pii import DEFAULT_MAX_DECIMALS, DETECTORS, precise_coordinates

__all__ = [
    "ColumnFacts",
    "Hit",
    "NoCanaryRecordError",
    "TableFacts",
    "UnregisteredFrameError",
    "attach",
    "facts_for",
    "registered_facts",
    "stand_in",
]

Mask = npt.NDArray[np.bool_]
# Period starts as TruncateTime publishes them: the cutoff is compared at the same grain.
_PERIOD = {"year": "Y", "quarter": "Q", "month": "M", "week": "W-SUN", "day": "D"}


class NoCanaryRecordError(RuntimeError):
    """The canary was asked about a table whose source's raw digests were not attached."""


@dataclass(frozen=True)
class Hit:
    """Rows and distinct values a check flags in a column of ``rows`` rows."""

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


def _kind(dtype: object) -> str:
    if isinstance(dtype, pd.CategoricalDtype):  # text read dictionary-encoded
        return _kind(dtype.categories.dtype)
    if pd.api.types.is_bool_dtype(dtype):
        return "other"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype):
        return "text"
    if pd.api.types.is_datetime64_any_dtype(dtype) or "date" in str(dtype):
        return "temporal"
    return "other"


class ColumnFacts:
    """One column, factorised: distinct values, rows per distinct value, cached answers."""

    def __init__(self, values: pd.Series) -> None:
        self.rows = len(values)
        self.kind = _kind(values.dtype)
        self.codes, self._uniques = pd.factorize(values, use_na_sentinel=True)
        self.counts = np.bincount(self.codes[self.codes >= 0], minlength=len(self._uniques))
        self._memo: dict[tuple[Any, ...], Any] = {}

    @property
    def texty(self) -> bool:
        """Text checks apply to strings and integers (a card number stored as a number)."""
        return self.kind in ("text", "integer")

    def _hit(self, flagged: Mask, applicable: bool = True) -> Hit:
        return Hit(int(self.counts[flagged].sum()), int(flagged.sum()), self.rows, applicable)

    def _none(self) -> Hit:
        return Hit(0, 0, self.rows, applicable=False)

    def _memoised(self, key: tuple[Any, ...], compute: Any) -> Any:
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    @property
    def text(self) -> pa.Array:
        """The distinct values' text form, aligned with ``counts``."""

        def compute() -> pa.Array:
            objects = np.asarray(self._uniques, dtype=object)
            if self.kind != "text":
                objects = np.array([str(v) for v in objects.tolist()], dtype=object)
            try:
                return pa.array(objects, type=pa.large_string())
            except (pa.ArrowException, TypeError):
                safe = [str(v).encode("utf-8", "replace").decode() for v in objects.tolist()]
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
        """Rows whose value is not in the closed format ``name``."""
        if self.kind != "text":
            return Hit(int(self.counts.sum()), len(self.counts), self.rows)
        return self._hit(~self._matches(CLOSED_FORMATS[name]))

    def detector(self, kind: str, max_decimals: int = DEFAULT_MAX_DECIMALS) -> Hit:
        """Rows holding ``kind`` (a minimizer.pii detector); values in a closed format skip."""
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
        """Rows whose value (or, for text, a word of it) equals a raw identifier value."""
        if not self.texty:
            return self._none()

        def compute() -> Hit:
            normal = pc.utf8_lower(pc.utf8_trim_whitespace(self.text))
            skip = np.zeros(len(self.counts), dtype=bool)
            for name, pattern in CLOSED_FORMATS.items():
                if not record.shaped.get(name, 0):  # no raw identifier has that shape
                    skip |= self._matches(pattern)
            check = np.flatnonzero(~skip)
            flagged = np.zeros(len(self.counts), dtype=bool)
            if check.size and len(record.digests):
                flagged[check] = _in_digests(normal.take(pa.array(check)), record, secret)
                if words:
                    flagged[check] |= _words_in_digests(
                        normal.take(pa.array(check)), record, secret
                    )
            return self._hit(flagged)

        return self._memoised(("canary", id(record), words), compute)

    def older_than(self, cutoff: datetime, unit: str) -> Hit:
        """Rows whose time lies before the cutoff, compared at the column's own grain."""
        if self.kind not in ("temporal", "text"):
            return self._none()
        stamps = pd.to_datetime(pd.Series(np.asarray(self._uniques, dtype=object)), utc=True)
        floor = pd.Timestamp(cutoff).tz_convert(UTC)
        if unit == "hour":
            floor = floor.floor("h")
        elif unit in _PERIOD:
            floor = floor.tz_localize(None).to_period(_PERIOD[unit]).start_time.tz_localize(UTC)
        return self._hit((stamps < floor).to_numpy(dtype=bool))


def _in_digests(texts: pa.Array, record: CanaryRecord, secret: bytes) -> Mask:
    return contains(digests(texts, secret), record.digests)


def _words_in_digests(texts: pa.Array, record: CanaryRecord, secret: bytes) -> Mask:
    """Per text: is one of its words a raw identifier value? Each distinct word hashed once."""
    split = pc.utf8_split_whitespace(texts)
    parents = pc.list_parent_indices(split).to_numpy()
    flat = pc.utf8_trim(pc.list_flatten(split), characters=PUNCTUATION)
    encoded = pc.dictionary_encode(flat)
    known = _in_digests(encoded.dictionary, record, secret)
    word_hit = known[encoded.indices.to_numpy(zero_copy_only=False)]
    out = np.zeros(len(texts), dtype=bool)
    np.logical_or.at(out, parents[word_hit], True)
    return out


class TableFacts:
    """All facts of one staged table, plus its source's canary record when attached."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = weakref.ref(frame)
        self._columns: dict[str, ColumnFacts] = {}
        self._memo: dict[tuple[Any, ...], Any] = {}
        self.record: CanaryRecord | None = None
        self.secret: bytes | None = None

    def column(self, name: str) -> ColumnFacts:
        if name not in self._columns:
            frame = self._frame()
            if frame is None:
                raise RuntimeError("the table these facts describe is gone")
            self._columns[name] = ColumnFacts(frame[name])
        return self._columns[name]

    def canary(self, column: str, words: bool) -> Hit:
        if self.record is None or self.secret is None:
            raise NoCanaryRecordError(
                "no canary record is attached to this table: run it through minimizer.gate"
            )
        return self.column(column).canary(self.record, self.secret, words)

    def own_names(self, column: str) -> Hit:
        if self.record is None:
            raise NoCanaryRecordError("no canary record is attached to this table")
        counts = self.record.own_names.get(column)
        rows = self.column(column).rows
        if counts is None:  # the source reads no name column: nothing to compare
            return Hit(0, 0, rows, applicable=False)
        return Hit(counts.leaked_rows, 0, rows)

    def min_class_size(self, columns: tuple[str, ...], k: int, top: str) -> dict[str, Any]:
        """Equivalence classes over ``columns``; rows suppressed to ``top`` everywhere excluded."""

        def compute() -> dict[str, Any]:
            facts = [self.column(c) for c in columns]
            rows = facts[0].rows if facts else 0
            suppressed = np.ones(rows, dtype=bool)
            key = np.zeros(rows, dtype=np.int64)
            for f in facts:
                is_top = np.zeros(len(f.counts) + 1, dtype=bool)
                is_top[:-1] = np.asarray(f.text.to_pylist(), dtype=object) == top
                suppressed &= is_top[f.codes]  # code -1 (null) maps to the False sentinel
                # re-factorised after each column, so many wide columns never overflow int64
                key = pd.factorize(key * (len(f.counts) + 1) + (f.codes + 1))[0].astype(np.int64)
            sizes = np.unique(key[~suppressed], return_counts=True)[1]
            small = sizes < k
            return {
                "min_class_size": int(sizes.min()) if sizes.size else 0,
                "classes": int(sizes.size),
                "classes_below_k": int(small.sum()),
                "rows_in_small_classes": int(sizes[small].sum()),
                "suppressed_rows": int(suppressed.sum()),
                "rows": rows,
            }

        return self._memoised(("kanon", columns, k, top), compute)

    def min_subjects(self, cell: str, bucket: str, subject: str, m: int) -> dict[str, Any]:
        """Distinct subjects per (cell, bucket); rows missing any of the three are unlocated."""

        def compute() -> dict[str, Any]:
            c, b, s = (self.column(x) for x in (cell, bucket, subject))
            located = (c.codes >= 0) & (b.codes >= 0) & (s.codes >= 0)
            group = c.codes[located].astype(np.int64) * max(len(b.counts), 1) + b.codes[located]
            group = pd.factorize(group)[0].astype(np.int64)  # dense: no overflow below
            width = max(len(s.counts), 1)
            pairs = np.unique(group * width + s.codes[located])
            subjects = np.unique(pairs // width, return_counts=True)[1]
            small = subjects < m
            return {
                "min_distinct_subjects": int(subjects.min()) if subjects.size else 0,
                "groups": int(subjects.size),
                "groups_below_min": int(small.sum()),
                "unlocated_rows": int((~located).sum()),
                "rows": c.rows,
            }

        return self._memoised(("location", cell, bucket, subject, m), compute)

    def _memoised(self, key: tuple[Any, ...], compute: Any) -> Any:
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]


_LOCK = threading.Lock()
_TABLES: dict[int, tuple[weakref.ref[pd.DataFrame], TableFacts]] = {}


def facts_for(frame: pd.DataFrame) -> TableFacts:
    """The facts of this DataFrame object (created on first use, dropped with the frame)."""
    with _LOCK:
        held = _TABLES.get(id(frame))
        if held is not None and held[0]() is frame:
            return held[1]
        facts = TableFacts(frame)
        key = id(frame)
        _TABLES[key] = (weakref.ref(frame, lambda _: _TABLES.pop(key, None)), facts)
        return facts


class UnregisteredFrameError(RuntimeError):
    """GX handed a metric a frame the gate never registered (a copy): refuse to measure it."""


def registered_facts(frame: pd.DataFrame) -> TableFacts:
    """The facts of a frame the gate registered; never fresh facts over an unknown frame.

    Metrics read facts through this, so if GX ever validated a copy of the stand-in, every
    check would error (and the gate fail closed) instead of measuring zero rows."""
    with _LOCK:
        held = _TABLES.get(id(frame))
        if held is None or held[0]() is not frame:
            raise UnregisteredFrameError("the validated frame is not the one the gate registered")
        return held[1]


def stand_in(frame: pd.DataFrame) -> pd.DataFrame:
    """A row-less frame with ``frame``'s columns that answers with ``frame``'s facts.

    GX fingerprints and copies whatever frame it validates; handing it this stand-in keeps that
    fixed cost independent of the rows, while every check still measures the whole table
    (the caller keeps ``frame`` alive for the validation)."""
    facts = facts_for(frame)
    probe = frame.iloc[:0]
    with _LOCK:
        key = id(probe)
        _TABLES[key] = (weakref.ref(probe, lambda _: _TABLES.pop(key, None)), facts)
    return probe


def attach(frame: pd.DataFrame, record: CanaryRecord, secret: bytes) -> TableFacts:
    """Give a staged table its source's canary record (and the key to digest with)."""
    facts = facts_for(frame)
    facts.record, facts.secret = record, secret
    return facts
