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
from minimizer.guarantees.kanon_grouping import group_rows
from minimizer.hierarchy import Hierarchy

__all__ = ["HistogramBuilder", "QIHistogram", "encode_frame", "qi_histogram"]

# Merge the pending chunk groups once they hold this many rows, to bound memory.
_MERGE_EVERY = 2_000_000


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
