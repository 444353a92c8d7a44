"""The counting pass: a histogram of distinct quasi-identifier combinations.

Everything k-anonymity decides depends only on how many records share each combination of
quasi-identifier values, so the search never needs the records themselves. The histogram is
built chunk by chunk (memory is bounded by the number of *distinct* combinations, not rows):
each chunk is encoded to integer leaf codes through the hierarchies, grouped, and merged into
the running counts. Sensitive attributes (for l-diversity) ride along as extra code columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from minimizer.errors import DataError
from minimizer.hierarchy import Hierarchy

__all__ = [
    "HistogramBuilder",
    "QIHistogram",
    "group_rows",
    "lookup_rows",
    "qi_histogram",
    "row_ids",
]

# Merge the pending chunk groups once they hold this many rows, to bound memory.
_MERGE_EVERY = 2_000_000
_PACK_LIMIT = 2**62


@dataclass(frozen=True, eq=False)
class QIHistogram:
    """Distinct (quasi-identifier, sensitive) code combinations and how many rows hold each."""

    columns: tuple[str, ...]
    hierarchies: tuple[Hierarchy, ...]
    codes: np.ndarray  # (m, q) leaf codes; the hierarchy's null_code marks a missing value
    counts: np.ndarray  # (m,) rows per combination
    sensitive: tuple[str, ...] = ()
    sensitive_codes: np.ndarray | None = None  # (m, s) value codes, -1 for a missing value
    sensitive_cardinality: tuple[int, ...] = ()

    @property
    def rows(self) -> int:
        return int(self.counts.sum())

    @property
    def radices(self) -> tuple[int, ...]:
        """Number of possible leaf codes per quasi-identifier (null included)."""
        return tuple(h.n_leaves + 1 for h in self.hierarchies)


def qi_histogram(
    chunks: Iterable[pd.DataFrame],
    quasi_identifiers: Mapping[str, Hierarchy],
    *,
    sensitive: Sequence[str] = (),
    table: str | None = None,
) -> QIHistogram:
    """Count distinct quasi-identifier combinations over an iterable of chunks."""
    builder = HistogramBuilder(quasi_identifiers, sensitive=sensitive, table=table)
    for chunk in chunks:
        builder.add(chunk)
    return builder.build()


class HistogramBuilder:
    """Accumulates chunk histograms; ``build`` merges them into one ``QIHistogram``."""

    def __init__(
        self,
        quasi_identifiers: Mapping[str, Hierarchy],
        *,
        sensitive: Sequence[str] = (),
        table: str | None = None,
    ) -> None:
        self._columns = tuple(quasi_identifiers)
        self._hierarchies = tuple(quasi_identifiers.values())
        self._sensitive = tuple(sensitive)
        self._table = table
        # Sensitive values get codes from one growing dictionary, so chunks agree on them.
        self._known: list[pd.Index] = [pd.Index([], dtype=object) for _ in self._sensitive]
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        self._pending_rows = 0

    def add(self, chunk: pd.DataFrame, *, codes: np.ndarray | None = None) -> None:
        """Count one chunk (``codes``: its quasi-identifier leaf codes, if already encoded)."""
        _require_columns(chunk, self._sensitive, self._table)
        if codes is None:
            codes = encode_frame(chunk, self._columns, self._hierarchies, table=self._table)
        if chunk.empty:
            return
        parts = [self._sensitive_codes(i, chunk[c]) for i, c in enumerate(self._sensitive)]
        matrix = np.concatenate([codes, *(p[:, None] for p in parts)], axis=1)
        grouped = group_rows(matrix, np.ones(len(matrix), dtype=np.int64))
        self._pending.append(grouped)
        self._pending_rows += len(grouped[1])
        if self._pending_rows > _MERGE_EVERY and len(self._pending) > 1:
            self._merge()

    def build(self) -> QIHistogram:
        width = len(self._columns) + len(self._sensitive)
        if self._pending:
            self._merge()
            matrix, counts = self._pending[0]
        else:
            matrix, counts = np.empty((0, width), dtype=np.int64), np.empty(0, dtype=np.int64)
        q = len(self._columns)
        codes = np.ascontiguousarray(matrix[:, :q])
        sens = np.ascontiguousarray(matrix[:, q:]) if self._sensitive else None
        for array in (codes, counts, sens):
            if array is not None:
                array.flags.writeable = False
        return QIHistogram(
            columns=self._columns,
            hierarchies=self._hierarchies,
            codes=codes,
            counts=counts,
            sensitive=self._sensitive,
            sensitive_codes=sens,
            sensitive_cardinality=tuple(len(known) for known in self._known),
        )

    def _sensitive_codes(self, i: int, values: pd.Series) -> np.ndarray:
        present = values.dropna()
        new = pd.Index(present.unique()).difference(self._known[i], sort=False)
        if len(new):
            self._known[i] = self._known[i].append(pd.Index(new, dtype=object))
        codes = self._known[i].get_indexer(values.to_numpy(dtype=object))
        return np.where(values.isna().to_numpy(), -1, codes).astype(np.int64)

    def _merge(self) -> None:
        matrix = np.concatenate([m for m, _ in self._pending])
        counts = np.concatenate([c for _, c in self._pending])
        self._pending = [group_rows(matrix, counts)]
        self._pending_rows = len(self._pending[0][1])


def encode_frame(
    chunk: pd.DataFrame,
    columns: Sequence[str],
    hierarchies: Sequence[Hierarchy],
    *,
    table: str | None = None,
) -> np.ndarray:
    """(rows, quasi-identifiers) matrix of leaf codes."""
    _require_columns(chunk, columns, table)
    parts = [h.encode(chunk[c]) for c, h in zip(columns, hierarchies, strict=True)]
    return np.stack(parts, axis=1) if parts else np.empty((len(chunk), 0), dtype=np.int64)


def _require_columns(chunk: pd.DataFrame, columns: Sequence[str], table: str | None) -> None:
    missing = [c for c in columns if c not in chunk.columns]
    if missing:
        raise DataError(
            f"{len(missing)} column(s) named by the guarantee are missing",
            table=table,
            column=missing[0],
            check="k_anonymity",
            reason="missing_column",
            count=len(missing),
        )


def row_ids(matrix: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense ids (0..g-1, in order of first appearance) of the distinct rows of ``matrix``."""
    key = np.zeros(len(matrix), dtype=np.int64)
    space = 1
    for column in matrix.T:
        # Codes may be -1 (missing sensitive value): shift by one so every digit is >= 0.
        span = int(column.max(initial=-1)) + 2
        if space * span >= _PACK_LIMIT:
            key, uniques = pd.factorize(key)
            space = len(uniques)
        key = key * span + (column + 1)
        space *= span
    ids, uniques = pd.factorize(key)
    return ids.astype(np.int64), len(uniques)


def group_rows(matrix: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of ``matrix`` (non-negative codes, or -1) and the summed ``counts`` of each."""
    if len(matrix) == 0:
        return matrix, counts
    spans = matrix.max(axis=0) + 2  # +1 for the shift that makes -1 a valid digit
    space = float(np.prod(spans.astype(float)))
    shift = int(counts.max()).bit_length()
    if space <= 4 * len(matrix) + 65536:
        # Small code space: one weighted bincount over it, no sort at all.
        key = _pack(matrix + 1, spans.tolist())
        summed = np.bincount(key, weights=counts, minlength=int(space)).astype(np.int64)
        present = np.flatnonzero(summed)
        return _unpack(present, spans) - 1, summed[present]
    if space < _PACK_LIMIT and int(space).bit_length() + shift <= 62:
        # Fast path: pack each row and its count into one int64, sort once, sum runs.
        key = _pack(matrix + 1, spans.tolist())
        packed = (key << shift) | counts
        packed.sort()
        keys = packed >> shift
        starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
        summed = np.add.reduceat(packed & ((1 << shift) - 1), starts)
        return _unpack(keys[starts], spans) - 1, summed
    ids, groups = row_ids(matrix)
    first = np.empty(groups, dtype=np.int64)
    # Scatter positions in reverse so the earliest row of each group is the one that sticks.
    first[ids[::-1]] = np.arange(len(ids) - 1, -1, -1)
    summed = np.bincount(ids, weights=counts, minlength=groups).astype(np.int64)
    return matrix[first], summed


def _unpack(keys: np.ndarray, spans: np.ndarray) -> np.ndarray:
    out = np.empty((len(keys), len(spans)), dtype=np.int64)
    rest = keys.copy()
    for j in range(len(spans) - 1, -1, -1):
        rest, out[:, j] = np.divmod(rest, spans[j])
    return out


def lookup_rows(table: np.ndarray, radices: Sequence[int], queries: np.ndarray) -> np.ndarray:
    """Position in ``table`` (distinct rows of codes) of each row of ``queries``; -1 if absent.

    Rows are packed into one int64 when the code space allows it (a hash lookup on integers),
    and looked up through a MultiIndex otherwise.
    """
    if float(np.prod(np.asarray(radices, dtype=float))) < _PACK_LIMIT:
        return pd.Index(_pack(table, radices)).get_indexer(_pack(queries, radices))
    index = pd.MultiIndex.from_arrays(list(table.T))
    return index.get_indexer(pd.MultiIndex.from_arrays(list(queries.T)))


def _pack(matrix: np.ndarray, radices: Sequence[int]) -> np.ndarray:
    """Mixed-radix int64 key of each row (numpy's integer matmul is slow; a loop of
    multiply-adds over the few columns is not)."""
    key = np.zeros(len(matrix), dtype=np.int64)
    for j, radix in enumerate(radices):
        key *= int(radix)
        key += matrix[:, j]
    return key
