"""Age bands from a birth date or an age: ``{generalise: age_band, width: 10, top: 90}``."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field

from minimizer.transforms.base import Outcome, Transform, TransformContext, register

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["AgeBand", "band_labels"]


def band_labels(lower: np.ndarray, width: int, top: int | None) -> np.ndarray:
    """'30-39' for a band starting at 30 of width 10; '90+' from the top code on."""
    import numpy as np

    # A column holds a handful of bands: label each distinct one, then broadcast.
    starts, codes = np.unique(lower, return_inverse=True)
    labels = np.array(
        [
            f"{top}+" if top is not None and s >= top else f"{s}-{s + width - 1}"
            for s in starts.tolist()
        ],
        dtype=object,
    )
    return labels[codes.reshape(-1)]


@register("generalise", methods=("age_band",))
class AgeBand(Transform):
    """Age at the run's reference date, in bands of ``width`` years; ``top`` codes the oldest."""

    category: ClassVar[str] = "generalised"
    method: Literal["age_band"]
    width: int = Field(10, ge=1, le=100)
    top: int | None = Field(None, ge=1, le=150)
    # `birth_date` computes the age from a date; `age` bands an age already given.
    input: Literal["birth_date", "age"] = "birth_date"

    def describe(self) -> str:
        topcode = f", {self.top}+ top-coded" if self.top else ""
        return f"age band of {self.width} years{topcode}"

    def ladder(self, value: str) -> list[str]:
        if value.endswith("+"):
            return [value, "*"]
        lower = int(value.split("-")[0])
        rungs = [value]
        for factor in (2, 4):
            width = self.width * factor
            start = lower // width * width
            rungs.append(f"{start}-{start + width - 1}")
        return [*dict.fromkeys(rungs), "*"]

    def apply(self, frame: pd.DataFrame, output: str, ctx: TransformContext) -> Outcome:
        import numpy as np
        import pandas as pd

        from minimizer.transforms._parse import to_numeric, to_utc_timestamp

        raw = frame[self.source_of(output)]
        if self.input == "age":
            age, invalid = to_numeric(raw)
        else:
            born, invalid = to_utc_timestamp(raw)
            ref = pd.Timestamp(ctx.as_of).tz_convert("UTC")
            had_birthday = (born.dt.month < ref.month) | (
                (born.dt.month == ref.month) & (born.dt.day <= ref.day)
            )
            age = (ref.year - born.dt.year - (~had_birthday).astype(int)).astype("float64")
        # A negative or absurd age is a parse failure, not a value to publish.
        bad = age.notna() & ((age < 0) | (age > 150))
        invalid = invalid | bad
        known = age.notna() & ~bad
        lower = (np.floor(age[known].to_numpy() / self.width) * self.width).astype(int)
        out = pd.Series(None, index=raw.index, dtype="str", name=output)
        out[known] = band_labels(lower, self.width, self.top)
        return Outcome(out, invalid)
