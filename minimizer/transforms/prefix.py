"""Keep only the first characters of a code: ``{generalise: prefix, keep: 2}`` for postcodes."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field

from minimizer.transforms.base import Outcome, Transform, TransformContext, register

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PY_WHITESPACE", "Prefix"]

# What Python's str.strip() removes (every c with c.isspace()), so Arrow trims exactly as the
# published prefixes always were; tests/transforms check the list against Python.
PY_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


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
        import pyarrow.compute as pc

        from minimizer.transforms._parse import as_str_series, text_array

        source = frame[self.source_of(output)]
        values = text_array(source)
        trimmed = pc.utf8_trim(values, characters=PY_WHITESPACE)
        kept = pc.utf8_slice_codeunits(trimmed, start=0, stop=self.keep)
        return Outcome(as_str_series(kept, source.index, source.name))
