"""What a detector is, and the registry of detectors by name.

A :class:`PatternDetector` is a compiled candidate pattern, a cheap RE2 hint and a vectorised
validator. The same object answers three questions over a batch of distinct strings:
``flag`` (which contain the kind), ``spans`` (which substrings are it) and ``replace``
(swap them for the kind's tag). Detection and scrubbing therefore agree by construction.

The registration order is the priority order: scrubbing applies kinds in this order, and a
detector's ``masks`` name earlier kinds whose spans are tagged out before it looks (so the
digits of an IBAN are not also counted as a phone number).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from minimizer.errors import MinimizerError
from minimizer.pii.text import Mask, UniqueText, hint_mask
from minimizer.pii.validators import Validator

__all__ = [
    "DETECTORS",
    "Detector",
    "PatternDetector",
    "UnknownDetectorError",
    "accept_all",
    "detector",
    "resolve",
]


@runtime_checkable
class Detector(Protocol):
    name: str

    def __call__(self, values: pd.Series) -> pd.Series: ...


class UnknownDetectorError(MinimizerError, ValueError):
    """A detector name that is not registered. Names the valid ones; carries no data."""

    def __init__(self, name: str, valid: Iterable[str]) -> None:
        self.name = name
        self.valid = tuple(valid)
        super().__init__(f"unknown PII detector {name!r}; valid: {', '.join(self.valid)}")


def accept_all(spans: pd.Series) -> Mask:
    """The validator of kinds whose pattern is the whole test (no checksum exists)."""
    return np.ones(len(spans), dtype=bool)


@dataclass(frozen=True)
class PatternDetector:
    name: str
    tag: str
    pattern: re.Pattern[str]  # group 1 is the whole span
    hint: str  # RE2; every span of the kind contains a match of it
    validate: Validator = accept_all
    masks: tuple[str, ...] = ()

    def __call__(self, values: pd.Series) -> pd.Series:
        """Bool mask over ``values``: True where a value contains this kind; nulls False."""
        text = UniqueText.of(values)
        return text.broadcast(self.flag(text.uniques))

    def flag(self, texts: pd.Series) -> Mask:
        """Per text (object dtype, RangeIndex): does it contain a valid span?"""
        found = np.zeros(len(texts), dtype=bool)
        candidates = self._candidates(texts)
        if candidates.empty:
            return found
        if self.validate is accept_all:
            found[candidates.index] = candidates.str.contains(self.pattern).to_numpy(dtype=bool)
        else:
            found[self.spans(candidates).index.get_level_values(0).unique()] = True
        return found

    def spans(self, texts: pd.Series) -> pd.Series:
        """Valid spans, indexed by (text position, match number). Masks are not applied."""
        if texts.empty:
            return pd.Series([], dtype=object)
        extracted = texts.str.extractall(self.pattern)
        if extracted.empty:
            return pd.Series([], dtype=object)
        found = extracted.iloc[:, 0].astype(object)
        return found[self.validate(found)]

    def replace(self, texts: pd.Series) -> pd.Series:
        """``texts`` with every valid span replaced by the tag (a new Series)."""
        subset = texts[hint_mask(texts, self.hint)]
        if subset.empty:
            return texts
        if self.validate is accept_all:
            replaced = subset.str.replace(self.pattern, self.tag.replace("\\", r"\\"), regex=True)
        else:
            valid = self.spans(subset)
            if valid.empty:
                return texts
            keep = set(valid)
            # the callable runs once per candidate match in the few texts that hold a valid
            # span; validity depends on the span alone, so set membership is exact
            subset = subset.loc[valid.index.get_level_values(0).unique()]
            replaced = subset.str.replace(
                self.pattern, lambda m: self.tag if m.group(0) in keep else m.group(0), regex=True
            )
        out = texts.copy()
        out.loc[replaced.index] = replaced
        return out

    def _candidates(self, texts: pd.Series) -> pd.Series:
        subset = texts[hint_mask(texts, self.hint)]
        for earlier in self.masks:
            subset = _REGISTRY[earlier].replace(subset)
        return subset


_REGISTRY: dict[str, PatternDetector] = {}
DETECTORS: Mapping[str, PatternDetector] = MappingProxyType(_REGISTRY)


def detector(
    name: str,
    pattern: re.Pattern[str],
    hint: str,
    *,
    tag: str,
    masks: tuple[str, ...] = (),
) -> Callable[[Validator], PatternDetector]:
    """Register a kind: decorates its validator and returns the ready detector."""

    def register(validate: Validator) -> PatternDetector:
        if name in _REGISTRY:
            raise ValueError(f"PII detector {name!r} is registered twice")
        unknown = [m for m in masks if m not in _REGISTRY]
        if unknown:
            raise ValueError(f"PII detector {name!r} masks unregistered kinds {unknown}")
        found = PatternDetector(name, tag, pattern, hint, validate, masks)
        _REGISTRY[name] = found
        return found

    return register


def resolve(kinds: Iterable[str] | None) -> list[str]:
    """Kind names in priority order; all of them for None. Unknown names raise."""
    if kinds is None:
        return list(_REGISTRY)
    wanted = {kinds} if isinstance(kinds, str) else set(kinds)
    for name in sorted(wanted):
        if name not in _REGISTRY:
            raise UnknownDetectorError(name, _REGISTRY)
    return [name for name in _REGISTRY if name in wanted]
