"""Free-text scrubbing: detected spans become tags, names and a row's own identifiers too.

>>> import pandas as pd
>>> notes = pd.Series(["Call Anna at +49 30 12345678", None])
>>> scrub_text(notes, own_values=[pd.Series(["Anna", "Bo"], name="first_name")]).tolist()
['Call [NAME] at [PHONE]', nan]

Patterns run over the distinct texts, kind by kind in priority order (see
:mod:`minimizer.pii.registry`), so a span is tagged once, by the most specific kind. Own values
are then replaced per row (:mod:`minimizer.pii.own_values`): they catch names no pattern finds.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import pandas as pd

from minimizer.errors import DataError
from minimizer.pii.detect import DETECTORS  # importing detect is what registers the kinds
from minimizer.pii.names import replace_names
from minimizer.pii.normalisation import normalise
from minimizer.pii.own_values import replace_own_values
from minimizer.pii.registry import resolve
from minimizer.pii.text import UniqueText

__all__ = ["NAME_TAG", "PII_TAG", "scrub_text"]

NAME_TAG = "[NAME]"
PII_TAG = "[PII]"
# a full name glued into one word ("kunde:annaberg", "annaberg85") is looked for inside words
# too; shorter glued names ("liwu") would hit inside ordinary words
_MIN_GLUED = 6


def _is_name(own: pd.Series) -> bool:
    return "name" in str(own.name).lower()


def _glued(own_values: Sequence[pd.Series]) -> Iterator[pd.Series]:
    """The first two name columns glued, both ways, without spaces or hyphens."""
    names = [own for own in own_values if _is_name(own)][:2]
    if len(names) < 2:
        return
    # object dtype: Python's str methods (a lone surrogate must not crash); non-strings -> NaN
    a, b = (
        pd.Series(n.to_numpy(dtype=object), dtype=object).str.replace(r"[\s'’.-]+", "", regex=True)
        for n in names
    )
    for glued in (a + b, b + a):
        yield glued.where(glued.str.len() >= _MIN_GLUED)


def _needles(own: pd.Series) -> Iterator[tuple[pd.Series, str]]:
    """The strings to look for, with their tag: the whole value, then the words of a name."""
    raw = own.to_numpy(dtype=object)
    found = pd.notna(raw)
    values = raw.copy()
    # numpy's str, not pandas' Arrow-backed one: a lone surrogate must not crash the scrubber.
    values[found] = np.char.strip(raw[found].astype(str)).astype(object)
    strings = pd.Series(values, dtype=object)
    present = strings.notna()
    is_name = _is_name(own)
    tag = NAME_TAG if is_name else PII_TAG
    yield strings, tag
    if is_name:  # "Anna Maria Schmidt" also hides a lone "Schmidt" in the text
        words = strings[present].str.split(expand=True)
        if words.shape[1] > 1:
            for column in words.columns:
                yield words[column].reindex(strings.index).astype(object), tag


def scrub_text(
    text: pd.Series,
    own_values: Sequence[pd.Series] = (),
    kinds: Iterable[str] | None = None,
    names: bool = True,
) -> pd.Series:
    """Scrub free text: ``[EMAIL]``, ``[PHONE]``, ``[IBAN]``, ``[CARD]``, ``[IP]``,
    ``[ADDRESS]``, ``[DATE]``, ``[GEO]`` for detected spans of ``kinds`` (all for None), and
    ``[NAME]`` (Series whose name contains "name") or ``[PII]`` for each row's own values.

    ``own_values`` are aligned with ``text`` by position (columns of the same frame). Matching
    is case-insensitive and word-bounded; values shorter than two characters are skipped.
    With ``names`` (the default) capitalised names of the packaged name list
    (:mod:`minimizer.pii.names`) become ``[NAME]`` too. Text is normalised first
    (:mod:`minimizer.pii.normalisation`); a text with nothing to replace is returned as it was, a
    scrubbed one in its normalised form. Nulls stay null; the input is not modified.
    """
    kinds_ = resolve(kinds)
    unique = UniqueText.of(text)
    normal = normalise(unique.uniques)
    scrubbed = normal
    for kind in kinds_:
        scrubbed = DETECTORS[kind].replace(scrubbed)
    if names:
        scrubbed = replace_names(scrubbed, NAME_TAG)
    # a text nothing was found in keeps its own spelling; one that was scrubbed is returned in
    # its normalised form (positions in the original do not map to the normalised text)
    untouched = (scrubbed == normal).to_numpy(dtype=bool)
    scrubbed = scrubbed.where(~untouched, unique.uniques)
    present = unique.codes >= 0
    rows = np.full(len(text), None, dtype=object)
    rows[present] = scrubbed.to_numpy(dtype=object)[unique.codes[present]]

    for position, own in enumerate(own_values):
        if len(own) != len(text):
            raise DataError(
                "own_values Series is not aligned with the text",
                column=str(own.name) if own.name is not None else f"own_values[{position}]",
                check="scrub_text",
                reason="misaligned_own_values",
                count=len(own),
            )
        for needles, tag in _needles(own):
            _replace_own(rows, present, needles, tag, bounded=True)
    for needles in _glued(own_values):
        _replace_own(rows, present, needles, NAME_TAG, bounded=False)

    out = text.to_numpy(dtype=object, copy=True)
    out[present] = rows[present]
    dtype = text.dtype if isinstance(text.dtype, pd.StringDtype) else object
    return pd.Series(out, index=text.index, name=text.name, dtype=dtype)


def _replace_own(
    rows: np.ndarray, present: np.ndarray, needles: pd.Series, tag: str, bounded: bool
) -> None:
    """``rows`` (in place) with each row's needle, in its variants, replaced by ``tag``."""
    usable = present & needles.notna().to_numpy() & (needles.str.len() >= 2).to_numpy()
    at = np.flatnonzero(usable)
    if at.size:
        values = needles.to_numpy(dtype=object)[at]
        rows[at] = replace_own_values(rows[at], values, tag, bounded)
