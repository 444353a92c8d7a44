"""Free text with detected PII replaced by tags such as ``[EMAIL]``: the ``scrub`` action.

Beyond patterns, the same row's identifying values (the customer's own name, e-mail, phone) are
replaced too, even where those columns are dropped: names are what patterns miss.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from minimizer.transforms.base import Outcome, Transform, TransformContext, register

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Scrub"]


@register("scrub")
class Scrub(Transform):
    category: ClassVar[str] = "scrubbed"

    def describe(self) -> str:
        return "free text with detected PII and the subject's own identifiers replaced by tags"

    def apply(self, frame: pd.DataFrame, output: str, ctx: TransformContext) -> Outcome:
        from minimizer.pii.scrub import scrub_text

        own = [s.reindex(frame.index) for s in ctx.identifying.values()]
        return Outcome(scrub_text(frame[self.source_of(output)], own))
