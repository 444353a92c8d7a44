"""What a detector is, and the registry of detectors by name.

A :class:`PatternDetector` is a compiled candidate pattern, a cheap RE2 hint and a validator
(vectorised, or a library checked on the distinct candidate spans only). The same object
answers three questions over a batch of distinct strings: ``flag`` (which contain the kind),
``spans`` (which substrings are it) and ``replace`` (swap them for the kind's tag). Detection
and scrubbing therefore agree by construction. :class:`AnyOf` bundles several such forms of
one kind (a national id of seven countries) under one name, one tag and one union hint.

``flag`` normalises first (:mod:`minimizer.pii.normalisation`); ``flag_normalised`` and
``replace`` expect text that is normalised already, so a caller running many kinds over the
same values normalises once.

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
from minimizer.pii.hints import re2_hint
from minimizer.pii.normalisation import normalise
from minimizer.pii.text import Mask, UniqueText, harmless, hint_mask
from minimizer.pii.validators import Validator

__all__ = [
    "DETECTORS",
    "AnyOf",
    "Detector",
    "PatternDetector",
    "UnknownDetectorError",
    "accept_all",
    "detector",
    "register_any_of",
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
        return _flag_live(self, texts)

    def flag_normalised(self, texts: pd.Series) -> Mask:
        """:meth:`flag` for texts already passed through :func:`normalise`."""
        found = np.zeros(len(texts), dtype=bool)
        candidates = self._candidates(texts)
        if candidates.empty:
            return found
        if self.validate is accept_all:
            # count, not contains: contains warns about the patterns' named groups
            found[candidates.index] = (candidates.str.count(self.pattern) > 0).to_numpy()
        else:
            found[self.spans(candidates).index.unique()] = True
        return found

    def spans(self, texts: pd.Series) -> pd.Series:
        """Valid spans, indexed by the label of the text they are in. Masks are not applied.

        A loop over the candidate texts (few, after the hint), not over the column: cheaper
        than ``str.extractall``, whose MultiIndex costs more than the matching.
        """
        labels: list[object] = []
        found: list[str] = []
        search = self.pattern.finditer
        for label, text in zip(texts.index, texts.to_numpy(dtype=object), strict=True):
            if isinstance(text, str):
                for match in search(text):
                    labels.append(label)
                    found.append(match.group(1))
        if not found:
            return pd.Series([], dtype=object)
        spans = pd.Series(found, index=pd.Index(labels), dtype=object)
        return spans[self.validate(spans)]

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
            subset = subset.loc[valid.index.unique()]
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


@dataclass(frozen=True)
class AnyOf:
    """One kind written in several forms, each a :class:`PatternDetector` of its own.

    A single alternation would extract one span per position: a candidate taken by the first
    form that fails that form's checksum would hide a valid reading by another form. Each form
    therefore extracts and validates on its own; one RE2 pass of the union of the hints picks
    the texts any form could match (or, with ``union_prefilter=False``, each form's hint runs
    over the batch itself).
    """

    name: str
    tag: str
    forms: tuple[PatternDetector, ...]
    masks: tuple[str, ...] = ()
    # False: no union pass, each form's own hint runs over the batch. RE2 runs a union of
    # many digit-heavy hints slower than the hints one by one (national ids: 0.46 s against
    # 0.28 s on bench/pii_eval.py's 54,000 values), while a union that filters hard pays
    # for itself (vat_id: 0.04 s against 0.15 s).
    union_prefilter: bool = True

    @property
    def hint(self) -> str:
        return "|".join(f"(?:{form.hint})" for form in self.forms)

    def __call__(self, values: pd.Series) -> pd.Series:
        text = UniqueText.of(values)
        return text.broadcast(self.flag(text.uniques))

    def flag(self, texts: pd.Series) -> Mask:
        return _flag_live(self, texts)

    def flag_normalised(self, texts: pd.Series) -> Mask:
        found = np.zeros(len(texts), dtype=bool)
        if not self.union_prefilter:
            for earlier in self.masks:
                texts = _REGISTRY[earlier].replace(texts)
            for form in self.forms:
                found |= form.flag_normalised(texts)
            return found
        at = np.flatnonzero(hint_mask(texts, self.hint))
        if not at.size:
            return found
        subset = texts.iloc[at].reset_index(drop=True)
        for earlier in self.masks:
            subset = _REGISTRY[earlier].replace(subset)
        for form in self.forms:
            found[at] |= form.flag_normalised(subset)
        return found

    def spans(self, texts: pd.Series) -> pd.Series:
        parts = [form.spans(texts) for form in self.forms]
        parts = [p for p in parts if not p.empty]
        return pd.concat(parts) if parts else pd.Series([], dtype=object)

    def replace(self, texts: pd.Series) -> pd.Series:
        for form in self.forms:
            texts = form.replace(texts)
        return texts


def _flag_live(found: PatternDetector | AnyOf, texts: pd.Series) -> Mask:
    """Normalise, set aside the harmless shapes, and flag the rest."""
    normal = normalise(texts)
    live = np.flatnonzero(~harmless(normal))
    flagged = np.zeros(len(texts), dtype=bool)
    if live.size == len(texts):
        return found.flag_normalised(normal.reset_index(drop=True))
    if live.size:
        flagged[live] = found.flag_normalised(normal.iloc[live].reset_index(drop=True))
    return flagged


_REGISTRY: dict[str, PatternDetector | AnyOf] = {}
DETECTORS: Mapping[str, PatternDetector | AnyOf] = MappingProxyType(_REGISTRY)


def detector(
    name: str,
    pattern: re.Pattern[str],
    hint: str | None,
    *,
    tag: str,
    masks: tuple[str, ...] = (),
) -> Callable[[Validator], PatternDetector]:
    """Register a kind: decorates its validator and returns the ready detector.

    Without a ``hint`` the pattern's own RE2 form is the hint (:func:`re2_hint`).
    """

    def register(validate: Validator) -> PatternDetector:
        if name in _REGISTRY:
            raise ValueError(f"PII detector {name!r} is registered twice")
        unknown = [m for m in masks if m not in _REGISTRY]
        if unknown:
            raise ValueError(f"PII detector {name!r} masks unregistered kinds {unknown}")
        found = PatternDetector(
            name, tag, pattern, re2_hint(pattern) if hint is None else hint, validate, masks
        )
        _REGISTRY[name] = found
        return found

    return register


def register_any_of(
    name: str,
    tag: str,
    forms: Iterable[PatternDetector],
    masks: tuple[str, ...] = (),
    *,
    union_prefilter: bool = True,
) -> AnyOf:
    """Register a kind of several forms (each form's own name and tag are not used)."""
    if name in _REGISTRY:
        raise ValueError(f"PII detector {name!r} is registered twice")
    unknown = [m for m in masks if m not in _REGISTRY]
    if unknown:
        raise ValueError(f"PII detector {name!r} masks unregistered kinds {unknown}")
    bundled = tuple(
        PatternDetector(name, tag, f.pattern, f.hint, f.validate, f.masks) for f in forms
    )
    found = AnyOf(name, tag, bundled, masks, union_prefilter)
    _REGISTRY[name] = found
    return found


def resolve(kinds: Iterable[str] | None) -> list[str]:
    """Kind names in priority order; all of them for None. Unknown names raise."""
    if kinds is None:
        return list(_REGISTRY)
    wanted = {kinds} if isinstance(kinds, str) else set(kinds)
    for name in sorted(wanted):
        if name not in _REGISTRY:
            raise UnknownDetectorError(name, _REGISTRY)
    return [name for name in _REGISTRY if name in wanted]
