"""``keep`` and ``drop``: the two transforms that do not change values."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from minimizer.transforms.base import Outcome, Transform, TransformContext, register

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Drop", "Keep"]


@register("keep")
class Keep(Transform):
    """Pass a column through unchanged. The leak gate still scans it for PII."""

    category: ClassVar[str] = "kept"

    def describe(self) -> str:
        return "kept as is"

    def apply(self, frame: pd.DataFrame, output: str, ctx: TransformContext) -> Outcome:
        return Outcome(frame[self.source_of(output)])


@register("drop")
class Drop(Transform):
    """Name a column only to document that it is dropped (the default for unnamed columns)."""

    category: ClassVar[str] = "dropped"

    def inputs(self, output: str) -> tuple[str, ...]:
        return ()

    def describe(self) -> str:
        return "dropped"

    def apply(self, frame: pd.DataFrame, output: str, ctx: TransformContext) -> Outcome:
        raise RuntimeError("dropped columns are never computed")
