"""The transform contract and its registry.

A transform is a frozen pydantic model: its fields are the parameters a policy gives, validated
once when the policy loads. ``apply`` is a pure, vectorised function of the source columns it
names. Transforms are registered by the YAML words that select them::

    @register("generalise", methods=("year", "month"))   # {generalise: month}
    @register("keep")                                      # keep

so the policy loader, the JSON Schema and the error messages all come from one table.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar, NamedTuple

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    import pandas as pd

    from minimizer.keys import PurposeKey

__all__ = [
    "REGISTRY",
    "Outcome",
    "Transform",
    "TransformContext",
    "allowed_forms",
    "lookup",
    "register",
]


@dataclass(frozen=True)
class TransformContext:
    """What a transform may know beyond its own parameters."""

    purpose: str
    as_of: datetime
    key: PurposeKey | None = None
    # The row's identifying values (first name, email, ...) for text scrubbing, even where those
    # columns are dropped from the output.
    identifying: Mapping[str, pd.Series] = field(default_factory=dict)


class Outcome(NamedTuple):
    """A transformed column, and which rows held a value that could not be parsed."""

    values: pd.Series
    invalid: pd.Series | None = None


class Transform(BaseModel):
    """Base of every transform. Subclasses add typed parameters and implement ``apply``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    action: ClassVar[str] = ""
    methods: ClassVar[tuple[str, ...]] = ()
    # What a reader of the data dictionary learns about the output.
    category: ClassVar[str] = "transformed"

    source: str | None = None

    def inputs(self, output: str) -> tuple[str, ...]:
        """Source columns this transform reads, for the output column ``output``."""
        return (self.source or output,)

    def describe(self) -> str:
        """One line for the plan, the column comment and the data dictionary."""
        raise NotImplementedError

    def apply(self, frame: pd.DataFrame, output: str, ctx: TransformContext) -> Outcome:
        raise NotImplementedError

    def source_of(self, output: str) -> str:
        return self.inputs(output)[0]

    def ladder(self, value: str) -> list[str]:
        """Coarser labels for one published value, up to ``*``: the rungs k-anonymity may climb.

        Level 0 is the value as published. Transforms that generalise know their own next
        steps (a 10-year band becomes 20 years, a month a quarter); the rest only know ``*``.
        """
        return [value, "*"]


REGISTRY: dict[tuple[str, str | None], type[Transform]] = {}


def register(action: str, *, methods: tuple[str, ...] = ()) -> Callable[[type], type]:
    """Register a transform class under its YAML action word (and method words, for families)."""

    def decorate(cls: type[Transform]) -> type[Transform]:
        cls.action = action
        cls.methods = methods
        keys: list[tuple[str, str | None]] = [(action, m) for m in methods] or [(action, None)]
        for key in keys:
            if key in REGISTRY:
                raise RuntimeError(f"transform {key} registered twice")
            REGISTRY[key] = cls
        return cls

    return decorate


def actions() -> list[str]:
    return sorted({a for a, _ in REGISTRY})


def allowed_forms() -> list[str]:
    """Every spelling a policy may use, for error messages."""
    forms = []
    for action, method in sorted(REGISTRY, key=lambda k: (k[0], k[1] or "")):
        forms.append(action if method is None else f"{{{action}: {method}}}")
    return forms


def lookup(action: str, method: str | None) -> type[Transform]:
    """The class for a policy spelling; a ValueError that lists the allowed ones otherwise."""
    try:
        return REGISTRY[(action, method)]
    except KeyError:
        spelled = action if method is None else f"{{{action}: {method}}}"
        close = difflib.get_close_matches(spelled, allowed_forms(), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ValueError(
            f"unknown action {spelled}{hint}; allowed: {', '.join(allowed_forms())}"
        ) from None
