"""The counting pass: a histogram of distinct quasi-identifier combinations.

Everything k-anonymity decides depends only on how many records share each combination of
quasi-identifier values, so the search never needs the records themselves. The histogram is
built chunk by chunk (memory is bounded by the number of *distinct* combinations, not rows):
each chunk is encoded to integer leaf codes through the hierarchies, grouped, and merged into
the running counts. Sensitive attributes (for l-diversity) ride along as extra code columns, and
so does the subject (the published pseudonym of the source's key) when there is one: then a
class is measured in distinct subjects, not rows, so one person repeated five times is one
person, never a class of five.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from minimizer.errors import DataError
from minimizer.guarantees.kanon.grouping import group_rows, row_ids
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
    # (m,) subject code per combination (0 stands for a missing subject), or None: no key.
    subject_codes: np.ndarray | None = None
    # How the engine counts subjects per class, exactly and fast. A subject whose rows all
    # share one quasi-identifier combination is always in one class: ``people`` (m,) is 1 on
    # one of its rows and 0 elsewhere, and sums like rows. A subject with several combinations
    # (moved, a dirty CRM) may be in several classes: ``split_codes`` (m,) holds its code on its
    # rows and -1 elsewhere, and is counted distinct. Subjects per class = both together.
    people: np.ndarray | None = None
    split_codes: np.ndarray | None = None  # None when no subject has two combinations

    @property
    def rows(self) -> int:
        return int(self.counts.sum())

    @property
    def subjects(self) -> int:
        """Distinct subjects in the table (rows, when the table has no subject column)."""
        if self.people is None:
            return self.rows
        codes = self.split_codes
        split = 0 if codes is None else len(pd.unique(codes[codes >= 0]))
        return int(self.people.sum()) + split

    @property
    def radices(self) -> tuple[int, ...]:
        """Number of possible leaf codes per quasi-identifier (null included)."""
        return tuple(h.n_leaves + 1 for h in self.hierarchies)


def qi_histogram(
    chunks: Iterable[pd.DataFrame],
    quasi_identifiers: Mapping[str, Hierarchy],
    *,
    sensitive: Sequence[str] = (),
    subject: str | None = None,
    table: str | None = None,
) -> QIHistogram:
    """Count distinct quasi-identifier combinations over an iterable of chunks (per subject,
    when ``subject`` names the column that identifies the data subject)."""
    builder = HistogramBuilder(quasi_identifiers, sensitive=sensitive, subject=subject, table=table)
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
        subject: str | None = None,
        table: str | None = None,
    ) -> None:
        self._columns = tuple(quasi_identifiers)
        self._hierarchies = tuple(quasi_identifiers.values())
        self._sensitive = tuple(sensitive)
        self._subject = subject
        self._table = table
        # Sensitive values (and subjects, last) get codes from one growing dictionary each, so
        # chunks agree on them.
        extra = (*self._sensitive, *([subject] if subject else []))
        self._known: list[pd.Index] = [pd.Index([], dtype=object) for _ in extra]
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        self._pending_rows = 0

    def add(self, chunk: pd.DataFrame, *, codes: np.ndarray | None = None) -> None:
        """Count one chunk (``codes``: its quasi-identifier leaf codes, if already encoded)."""
        _require_columns(chunk, (*self._sensitive, *self._subjects()), self._table)
        if codes is None:
            codes = encode_frame(chunk, self._columns, self._hierarchies, table=self._table)
        if chunk.empty:
            return
        parts = [self._sensitive_codes(i, chunk[c]) for i, c in enumerate(self._sensitive)]
        if self._subject:
            # A missing subject is one (unknown) person, never several: code 0, others 1...
            parts.append(self._sensitive_codes(len(self._sensitive), chunk[self._subject]) + 1)
        matrix = np.concatenate([codes, *(p[:, None] for p in parts)], axis=1)
        grouped = group_rows(matrix, np.ones(len(matrix), dtype=np.int64))
        self._pending.append(grouped)
        self._pending_rows += len(grouped[1])
        if self._pending_rows > _MERGE_EVERY and len(self._pending) > 1:
            self._merge()

    def _subjects(self) -> tuple[str, ...]:
        return (self._subject,) if self._subject else ()

    def build(self) -> QIHistogram:
        width = len(self._columns) + len(self._sensitive) + len(self._subjects())
        if self._pending:
            self._merge()
            matrix, counts = self._pending[0]
        else:
            matrix, counts = np.empty((0, width), dtype=np.int64), np.empty(0, dtype=np.int64)
        q, s = len(self._columns), len(self._sensitive)
        codes = np.ascontiguousarray(matrix[:, :q])
        sens = np.ascontiguousarray(matrix[:, q : q + s]) if self._sensitive else None
        subj = np.ascontiguousarray(matrix[:, q + s]) if self._subject else None
        people, split = _designate(codes, subj)
        for array in (codes, counts, sens, subj, people, split):
            if array is not None:
                array.flags.writeable = False
        return QIHistogram(
            columns=self._columns,
            hierarchies=self._hierarchies,
            codes=codes,
            counts=counts,
            sensitive=self._sensitive,
            sensitive_codes=sens,
            sensitive_cardinality=tuple(len(known) for known in self._known[:s]),
            subject_codes=subj,
            people=people,
            split_codes=split,
        )

    def _sensitive_codes(self, i: int, values: pd.Series) -> np.ndarray:
        """Codes from the growing dictionary; -1 for a missing value. The chunk is factorised
        first, so only its distinct values are looked up (a subject column is mostly new)."""
        local, uniques = pd.factorize(values, use_na_sentinel=True)
        uniques = pd.Index(np.asarray(uniques, dtype=object), dtype=object)
        known = self._known[i].get_indexer(uniques)
        new = known < 0
        if new.any():
            known[new] = len(self._known[i]) + np.arange(int(new.sum()))
            self._known[i] = self._known[i].append(uniques[new])
        codes: np.ndarray = np.append(known, -1).astype(np.int64)[local]
        return codes

    def _merge(self) -> None:
        matrix = np.concatenate([m for m, _ in self._pending])
        counts = np.concatenate([c for _, c in self._pending])
        self._pending = [group_rows(matrix, counts)]
        self._pending_rows = len(self._pending[0][1])


def _designate(
    codes: np.ndarray, subj: np.ndarray | None
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``people`` and ``split_codes`` of the histogram (see ``QIHistogram``)."""
    if subj is None:
        return None, None
    # Hash-based (pandas), not sorting: a subject column is as long as the histogram.
    combos, _ = row_ids(codes)
    span = int(combos.max(initial=0)) + 1
    pairs = pd.Series(subj * span + combos)
    distinct_pairs = pd.Series(subj[~pairs.duplicated().to_numpy()])
    several = distinct_pairs[distinct_pairs.duplicated()].unique()
    is_split = np.isin(subj, several)
    first = ~pd.Series(subj).duplicated().to_numpy()
    people = (first & ~is_split).astype(np.int64)
    split = np.where(is_split, subj, -1).astype(np.int64) if len(several) else None
    return people, split


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
