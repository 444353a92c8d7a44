"""Numbers into buckets of fixed width or explicit edges, with top and bottom coding.

``{generalise: bucket, width: 50, bottom: 0, top: 1000}`` or ``{generalise: bucket, edges: [0, 18, 65]}``.
Labels are half-open intervals such as ``[50, 100)``; values past the codes become ``<0``/``>=1000``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field, model_validator

from minimizer.transforms.base import Outcome, Transform, TransformContext, register

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["NumericBucket"]


def _fmt(x: float) -> str:
    """A bound as text: ``%g`` where it reads back as the same number (the labels published so
    far keep their spelling), else 15 significant digits. ``%g``'s six would print the bucket
    starting at -1000006 as -1.00001e+06, a bound the bucket's values are not even above; 15
    still print 3 * 0.1 as 0.3."""
    short = f"{x:g}"
    return short if float(short) == x else f"{x:.15g}"


@register("generalise", methods=("bucket",))
class NumericBucket(Transform):
    category: ClassVar[str] = "generalised"
    method: Literal["bucket"]
    width: float | None = Field(None, gt=0)
    edges: tuple[float, ...] | None = None
    bottom: float | None = None
    top: float | None = None
    # Also publish <column>_from, the bucket's lower bound as a number (minimizer.sortable).
    sortable: bool = False

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
        sort = "; sort by <column>_from" if self.sortable else ""
        return f"numeric buckets of {scheme}{codes}{sort}"

    def apply(self, frame: pd.DataFrame, output: str, ctx: TransformContext) -> Outcome:
        import numpy as np
        import pandas as pd

        from minimizer.transforms._parse import strings_from_codes, to_numeric

        values, invalid = to_numeric(frame[self.source_of(output)])
        x = values.to_numpy()
        known = ~np.isnan(x)
        if self.width is not None:
            lower = np.floor(x / self.width) * self.width
        else:
            bounds = np.concatenate([[-np.inf], np.asarray(self.edges)])
            lower = bounds[np.searchsorted(bounds, np.nan_to_num(x), side="right") - 1]
        # Label each distinct bucket once, then broadcast; extra codes carry the top/bottom codes.
        codes, lows = pd.factorize(lower)
        labels = [f"[{_fmt(lo)}, {_fmt(self._upper(lo))})" for lo in lows]
        codes = np.where(known, codes, -1)
        if self.bottom is not None:
            codes = np.where(known & (x < self.bottom), len(labels), codes)
            labels.append(f"<{_fmt(self.bottom)}")
        if self.top is not None:
            codes = np.where(known & (x >= self.top), len(labels), codes)
            labels.append(f">={_fmt(self.top)}")
        return Outcome(strings_from_codes(codes, labels, values.index).rename(output), invalid)

    def _upper(self, lower: float) -> float:
        if self.width is not None:
            return lower + self.width
        later = [e for e in self.edges or () if e > lower]  # the policy's few edges
        return float(later[0]) if later else float("inf")
