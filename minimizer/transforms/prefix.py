"""Keep only the first characters of a code: ``{generalise: prefix, keep: 2}`` for postcodes."""

from __future__ import annotations

from typing import ClassVar, Literal

import pandas as pd
from pydantic import Field

from minimizer.transforms.base import Outcome, Transform, TransformContext, register

__all__ = ["Prefix"]


@register("generalise", methods=("prefix",))
class Prefix(Transform):
    category: ClassVar[str] = "generalised"
    method: Literal["prefix"]
    keep: int = Field(ge=0, le=32)

    def describe(self) -> str:
        return f"first {self.keep} character(s) kept, the rest removed"

    def ladder(self, value: str) -> list[str]:
        shorter = [value[:n] for n in range(len(value) - 1, 0, -1)]
        return [value, *shorter, "*"]

    def apply(self, frame: pd.DataFrame, output: str, ctx: TransformContext) -> Outcome:
        values = frame[self.source_of(output)].astype("str")
        return Outcome(values.str.strip().str.slice(0, self.keep))
