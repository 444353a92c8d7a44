"""Categorical generalisation by an ARX-format hierarchy file: ``{generalise: hierarchy, file: ..., level: 1}``.

The file is resolved relative to the policy file, and read once when the policy loads.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field, PrivateAttr

from minimizer.transforms.base import Outcome, Transform, TransformContext, register

if TYPE_CHECKING:
    import pandas as pd

    from minimizer.hierarchy import Hierarchy

__all__ = ["HierarchyLevel"]


@register("generalise", methods=("hierarchy",))
class HierarchyLevel(Transform):
    category: ClassVar[str] = "generalised"
    method: Literal["hierarchy"]
    file: Path
    level: int = Field(1, ge=0)
    _hierarchy: Hierarchy | None = PrivateAttr(None)

    def bind(self, base_dir: Path) -> None:
        """Load the hierarchy file, relative to the policy's folder. Called by the policy loader."""
        from minimizer.hierarchy import Hierarchy

        path = self.file if self.file.is_absolute() else base_dir / self.file
        self._hierarchy = Hierarchy.from_csv(path)
        if self.level >= self._hierarchy.depth:
            raise ValueError(
                f"level {self.level} is beyond the hierarchy's {self._hierarchy.depth} levels "
                f"(0..{self._hierarchy.depth - 1})"
            )

    @property
    def hierarchy(self) -> Hierarchy:
        if self._hierarchy is None:
            raise RuntimeError("hierarchy transform used before its file was loaded")
        return self._hierarchy

    def describe(self) -> str:
        return f"generalised to level {self.level} of the hierarchy {self.file.name}"

    def ladder(self, value: str) -> list[str]:
        # The rest of the hierarchy above the published level, read off any leaf under value.
        h = self.hierarchy
        labels = list(h.level_labels(self.level))
        if value not in labels:
            return [value, "*"]
        import numpy as np

        leaf = int(np.flatnonzero(h.level_codes(self.level) == labels.index(value))[0])
        return [str(h.level_labels(j)[h.level_codes(j)[leaf]]) for j in range(self.level, h.depth)]

    def apply(self, frame: pd.DataFrame, output: str, ctx: TransformContext) -> Outcome:
        raw = frame[self.source_of(output)]
        return Outcome(self.hierarchy.generalise(raw, self.level))
