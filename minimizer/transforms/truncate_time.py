"""Dates and timestamps truncated to a coarser unit: ``{generalise: month}``."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from minimizer.transforms.base import Outcome, Transform, TransformContext, register

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TruncateTime"]

Unit = Literal["year", "quarter", "month", "week", "day", "hour"]
UNITS: tuple[str, ...] = ("year", "quarter", "month", "week", "day", "hour")
# Period aliases of pandas: the start of the period is what we publish.
_PERIOD = {"year": "Y", "quarter": "Q", "month": "M", "week": "W-SUN", "day": "D"}


@register("generalise", methods=UNITS)
class TruncateTime(Transform):
    """Truncate to the start of the unit. Hours stay timestamps (UTC); coarser units become dates."""

    category: ClassVar[str] = "generalised"
    method: Unit

    def describe(self) -> str:
        return f"truncated to the {self.method} (start of the period, UTC)"

    def ladder(self, value: str) -> list[str]:
        # Published as the start of the period (ISO); coarser rungs are labelled periods.
        import pandas as pd

        stamp = pd.Timestamp(value)
        rungs = [value]
        order = UNITS.index(self.method)
        if order >= UNITS.index("day"):
            rungs.append(f"{stamp:%Y-%m}")
        if order >= UNITS.index("month"):
            rungs.append(f"{stamp.year}-Q{stamp.quarter}")
        if order >= UNITS.index("quarter"):
            rungs.append(f"{stamp.year}")
        return [*dict.fromkeys(rungs), "*"]

    def apply(self, frame: pd.DataFrame, output: str, ctx: TransformContext) -> Outcome:
        from minimizer.transforms._parse import as_date32, to_utc_timestamp

        stamps, invalid = to_utc_timestamp(frame[self.source_of(output)])
        if self.method == "hour":
            return Outcome(stamps.dt.floor("h"), invalid)
        naive = stamps.dt.tz_localize(None)
        start = naive.dt.to_period(_PERIOD[self.method]).dt.start_time
        return Outcome(as_date32(start), invalid)
