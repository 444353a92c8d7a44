"""Keep the first or last n characters and mask the rest: ``{mask: last, n: 4}``."""

from __future__ import annotations

from typing import ClassVar, Literal

import pandas as pd
from pydantic import Field

from minimizer.transforms.base import Outcome, Transform, TransformContext, register

__all__ = ["Mask"]


@register("mask", methods=("first", "last"))
class Mask(Transform):
    category: ClassVar[str] = "masked"
    method: Literal["first", "last"]
    n: int = Field(ge=0, le=64)
    char: str = Field("*", min_length=1, max_length=1)
    # A fixed width hides the length of the original, which can itself identify.
    width: int | None = Field(None, ge=1, le=256)

    def describe(self) -> str:
        return f"masked with '{self.char}' except the {self.method} {self.n} character(s)"

    def apply(self, frame: pd.DataFrame, output: str, ctx: TransformContext) -> Outcome:
        values = frame[self.source_of(output)].astype("str")
        kept = values.str.slice(0, self.n) if self.method == "first" else values.str.slice(-self.n)
        if self.n == 0:
            kept = values.str.slice(0, 0)
        pad = (
            pd.Series(self.width, index=values.index)
            if self.width is not None
            else values.str.len().astype("float64")
        )
        masked_len = (pad - kept.str.len()).clip(lower=0).fillna(0).astype(int)
        mask = pd.Series(self.char, index=values.index, dtype="str").str.repeat(masked_len)
        out = mask + kept if self.method == "last" else kept + mask
        return Outcome(out.where(values.notna()).astype("str"))
