"""Who each staged row belongs to, when the source's key is not published.

k counts people. When the policy publishes the key as a pseudonym, the guarantees read that
column. When it drops the key, the staged table cannot tell one person's five rows from five
people, so an observer numbers the raw keys while the rows stream past (0, 1, 2, ... in order of
first appearance; a missing key is one person) and writes those numbers, row-aligned with the
staged output, next to it. Only the numbers are written, never a key or a hash of one: without
the raw source they mean nothing, and the staging folder is removed after the run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from minimizer.errors import DataError
from minimizer.report import SourceReport

__all__ = ["SUBJECT", "RawSubjects", "with_subjects"]

SUBJECT = "__mz_subject"  # the column name the numbers travel under, never published


class RawSubjects:
    """Numbers the raw subject key of each staged row (a ChunkObserver)."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.known = pd.Index([], dtype=object)
        self.parts: list[np.ndarray] = []

    def observe(self, raw: pd.DataFrame, published: pd.DataFrame) -> None:
        values = raw[self.key].astype("str").where(raw[self.key].notna())
        present = pd.Index(values.dropna().unique())
        new = present.difference(self.known, sort=False)
        if len(new):
            self.known = self.known.append(pd.Index(new, dtype=object))
        codes = self.known.get_indexer(values.to_numpy(dtype=object)) + 1
        self.parts.append(np.where(values.isna().to_numpy(), 0, codes).astype(np.int64))

    def finish(self, report: SourceReport) -> None:
        assert report.staged is not None
        codes = np.concatenate(self.parts) if self.parts else np.empty(0, np.int64)
        path = report.staged.with_suffix(".subjects.parquet")
        pq.write_table(pa.table({SUBJECT: codes}), path)
        report.subjects = path
        self.parts, self.known = [], pd.Index([], dtype=object)


def with_subjects(batches: Iterator[pa.RecordBatch], path: Path) -> Iterator[pa.Table]:
    """The staged batches with their rows' subject numbers as one more column."""
    codes = pq.read_table(path).column(SUBJECT).to_numpy()
    start = 0
    for batch in batches:
        end = start + batch.num_rows
        if end > len(codes):
            raise _misaligned()
        table = pa.Table.from_batches([batch])
        yield table.append_column(SUBJECT, pa.array(codes[start:end], pa.int64()))
        start = end
    if start != len(codes):
        raise _misaligned()


def _misaligned() -> DataError:
    return DataError(
        "the staged table and its subject numbers differ in length",
        check="k_anonymity",
        reason="subjects_misaligned",
    )
