"""The finite set of values a generalised column can hold, from its transform alone.

An age band with a top code, numeric buckets with edges (or a width between a bottom and a top
code): the policy fixes every label they can produce. When the column is a k-anonymity
quasi-identifier, the coarser rungs of its ladder and ``*`` (generalised to the top, or the row
suppressed) are possible too. A kept quasi-identifier that the last load generalised to the top
can only hold ``*``. Labels are computed by the transform itself on synthetic inputs, so the
catalog cannot drift from what the transform writes. No data is read.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd

from minimizer.transforms import Transform, TransformContext
from minimizer.transforms.age_band import AgeBand
from minimizer.transforms.numeric_bucket import NumericBucket
from minimizer.transforms.passthrough import Keep

__all__ = ["finite_domain"]

TOP = "*"


def _inputs(t: Transform) -> pd.Series | None:
    """Synthetic source values that reach every label of the transform, or None (unbounded)."""
    if isinstance(t, AgeBand):
        if t.top is None:
            return None
        return pd.Series(np.arange(0, t.top + t.width + 1, dtype=float))
    if isinstance(t, NumericBucket):
        if t.edges is not None:
            edges = np.asarray(t.edges, dtype=float)
            mids = (edges[:-1] + edges[1:]) / 2
            return pd.Series(np.concatenate([edges, mids, [edges[0] - 1, edges[-1] + 1]]))
        if t.width is None or t.bottom is None or t.top is None:
            return None
        return pd.Series(np.arange(t.bottom - t.width, t.top + t.width, t.width / 2))
    return None


def _labels(t: Transform, output: str, values: pd.Series) -> list[str]:
    if isinstance(t, AgeBand):
        t = t.model_copy(update={"input": "age"})
    frame = pd.DataFrame({t.source_of(output): values})
    ctx = TransformContext("catalog", datetime(2000, 1, 1, tzinfo=UTC))
    out = t.apply(frame, output, ctx).values
    return sorted({str(v) for v in out.dropna()})


def finite_domain(
    t: Transform, output: str, *, quasi_identifier: bool = False, level: int = 0
) -> list[str] | None:
    """Every value the column can hold, or None when the policy does not bound it."""
    if isinstance(t, Keep):
        # Only when k-anonymity took a kept column to the top: its ladder is [value, *].
        return [TOP] if quasi_identifier and level >= 1 else None
    values = _inputs(t)
    if values is None:
        return None
    labels = _labels(t, output, values)
    if not quasi_identifier:
        return labels
    rungs = {rung for label in labels for rung in t.ladder(label)}
    return sorted(rungs | {TOP})
