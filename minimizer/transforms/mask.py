"""Keep the first or last n characters and mask the rest: ``{mask: last, n: 4}``."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field

from minimizer.transforms.base import Outcome, Transform, TransformContext, register

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Mask"]

_END = 2**31 - 1  # "to the end of the string" for Arrow's slice kernel


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
        # Arrow kernels over the whole column; lengths and slices count characters (code
        # points), as Python's do.
        import pyarrow as pa
        import pyarrow.compute as pc

        from minimizer.transforms._parse import as_str_series, text_array

        source = frame[self.source_of(output)]
        values = text_array(source)
        if self.n == 0:
            kept = pc.utf8_slice_codeunits(values, start=0, stop=0)
        elif self.method == "first":
            kept = pc.utf8_slice_codeunits(values, start=0, stop=self.n)
        else:
            kept = pc.utf8_slice_codeunits(values, start=-self.n, stop=_END)
        total = pc.utf8_length(values) if self.width is None else self.width
        hidden = pc.max_element_wise(pc.subtract(total, pc.utf8_length(kept)), 0)
        mask = pc.binary_repeat(pa.scalar(self.char, values.type), hidden)
        parts = (mask, kept) if self.method == "last" else (kept, mask)
        joined = pc.binary_join_element_wise(*parts, pa.scalar("", values.type))
        return Outcome(as_str_series(joined, source.index))
