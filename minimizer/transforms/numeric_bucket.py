"""Numbers into buckets of fixed width or explicit edges, with top and bottom coding.

``{generalise: bucket, width: 50, bottom: 0, top: 1000}`` or ``{generalise: bucket, edges: [0, 18, 65]}``.
Labels are half-open intervals such as ``[50, 100)``; values past the codes become ``<0``/``>=1000``.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from minimizer.transforms._parse import to_numeric
from minimizer.transforms.base import Outcome, Transform, TransformContext, register

__all__ = ["NumericBucket"]


def _fmt(x: float) -> str:
    return f"{x:g}"


@register("generalise", methods=("bucket",))
class NumericBucket(Transform):
    category: ClassVar[str] = "generalised"
    method: Literal["bucket"]
    width: float | None = Field(None, gt=0)
    edges: tuple[float, ...] | None = None
    bottom: float | None = None
    top: float | None = None

    @model_validator(mode="after")
    def _one_scheme(self) -> NumericBucket:
        if (self.width is None) == (self.edges is None):
            raise ValueError("give exactly one of 'width' or 'edges'")
        if self.edges is not None and list(self.edges) != sorted(set(self.edges)):
            raise ValueError("'edges' must be strictly increasing")
        if self.bottom is not None and self.top is not None and self.bottom >= self.top:
            raise ValueError("'bottom' must be below 'top'")
        return self

    def describe(self) -> str:
        scheme = f"width {_fmt(self.width)}" if self.width else f"edges {list(self.edges or ())}"
        codes = "".join(
            f", {name} {_fmt(v)}" for name, v in (("bottom", self.bottom), ("top", self.top)) if v
        )
        return f"numeric buckets of {scheme}{codes}"

    def apply(self, frame: pd.DataFrame, output: str, ctx: TransformContext) -> Outcome:
        values, invalid = to_numeric(frame[self.source_of(output)])
        x = values.to_numpy()
        out = np.full(len(x), None, dtype=object)
        known = ~np.isnan(x)
        if self.width is not None:
            lo = np.floor(x[known] / self.width) * self.width
            hi = lo + self.width
        else:
            edges = np.asarray(self.edges)
            i = np.searchsorted(edges, x[known], side="right")
            lo = np.concatenate([[-np.inf], edges])[i]
            hi = np.concatenate([edges, [np.inf]])[i]
        labels = pd.Series(lo).map(_fmt).radd("[") + ", " + pd.Series(hi).map(_fmt) + ")"
        out[known] = labels.to_numpy()
        if self.bottom is not None:
            out[known & (x < self.bottom)] = f"<{_fmt(self.bottom)}"
        if self.top is not None:
            out[known & (x >= self.top)] = f">={_fmt(self.top)}"
        return Outcome(pd.Series(out, index=values.index, dtype="str", name=output), invalid)
