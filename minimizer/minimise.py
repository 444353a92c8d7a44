"""Minimise one chunk of one source: select, transform, and flag unparseable rows.

A pure function of the chunk and the policy: no I/O, the input frame is never mutated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from minimizer.policy import SourceSpec
from minimizer.transforms import TransformContext

__all__ = ["ChunkResult", "minimise_chunk"]


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
