"""Minimise one chunk of one source: select, transform, and flag unparseable rows.

A pure function of the chunk and the policy: no I/O, the input frame is never mutated.
`to_arrow` is how a minimised frame becomes the Arrow table a staged file holds; the guarantees,
which rewrite staged files, use it and `STAGED_DICTIONARY_BYTES` too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa

from minimizer.policy import SourceSpec
from minimizer.transforms import TransformContext

if TYPE_CHECKING:
    from minimizer.report import SourceReport

__all__ = ["STAGED_DICTIONARY_BYTES", "ChunkObserver", "ChunkResult", "minimise_chunk", "to_arrow"]

# Tokens and cells repeat: a dictionary page large enough for a chunk's distinct values keeps
# them dictionary-encoded, so the gate and the load read them back without rebuilding it.
STAGED_DICTIONARY_BYTES = 16 * 2**20


class ChunkObserver(Protocol):
    """Sees each chunk's raw rows and what they were minimised to, aligned row by row, while a
    source is staged; ``finish`` leaves what it found in the source's report."""

    def observe(self, raw: pd.DataFrame, published: pd.DataFrame) -> None: ...

    def finish(self, report: SourceReport) -> None: ...


@dataclass(frozen=True)
class ChunkResult:
    frame: pd.DataFrame  # the published columns, in policy order
    invalid: np.ndarray  # bool per input row: some value could not be parsed
    invalid_by_column: dict[str, int]


def minimise_chunk(chunk: pd.DataFrame, spec: SourceSpec, ctx: TransformContext) -> ChunkResult:
    identifying = {c: chunk[c] for c in spec.identifying if c in chunk}
    ctx = TransformContext(ctx.purpose, ctx.as_of, ctx.key, identifying)
    columns: dict[str, pd.Series] = {}
    invalid = np.zeros(len(chunk), dtype=bool)
    by_column: dict[str, int] = {}
    for output, transform in spec.outputs().items():
        outcome = transform.apply(chunk, output, ctx)
        columns[output] = outcome.values.reset_index(drop=True)
        if outcome.invalid is not None:
            bad = outcome.invalid.to_numpy(dtype=bool)
            if bad.any():
                by_column[output] = int(bad.sum())
                invalid |= bad
    # A time column that does not parse is invalid even when it is not published.
    if spec.time and spec.time in chunk:
        time = chunk[spec.time]
        parsed = pd.to_datetime(time, errors="coerce", utc=True, format="mixed")
        bad_time = (time.isna() | parsed.isna()).to_numpy(dtype=bool)
        if bad_time.any():
            by_column[spec.time] = by_column.get(spec.time, 0) + int(bad_time.sum())
            invalid |= bad_time
    return ChunkResult(pd.DataFrame(columns), invalid, by_column)


def to_arrow(frame: pd.DataFrame, schema: pa.Schema | None = None) -> pa.Table:
    """A published frame as the Arrow table staging writes (plain strings, fixed schema)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    # pandas' strings come out as large_string; the warehouse wants plain strings.
    fields = [
        pa.field(f.name, pa.string()) if pa.types.is_large_string(f.type) else f
        for f in table.schema
    ]
    table = table.cast(pa.schema(fields))
    if schema is None:
        return table
    return table.cast(schema) if table.schema != schema else table
