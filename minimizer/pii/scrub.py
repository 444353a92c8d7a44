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


def _needles(own: pd.Series) -> Iterator[tuple[pd.Series, str]]:
    """The strings to look for, with their tag: the whole value, then the words of a name."""
    raw = own.to_numpy(dtype=object)
    found = pd.notna(raw)
    values = raw.copy()
    # numpy's str, not pandas' Arrow-backed one: a lone surrogate must not crash the scrubber.
    values[found] = np.char.strip(raw[found].astype(str)).astype(object)
    strings = pd.Series(values, dtype=object)
    present = strings.notna()
    is_name = "name" in str(own.name).lower()
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
            usable = present & needles.notna().to_numpy() & (needles.str.len() >= 2).to_numpy()
            at = np.flatnonzero(usable)
            if at.size:
                rows[at] = replace_own_values(rows[at], needles.to_numpy(dtype=object)[at], tag)

    out = text.to_numpy(dtype=object, copy=True)
    out[present] = rows[present]
    dtype = text.dtype if isinstance(text.dtype, pd.StringDtype) else object
    return pd.Series(out, index=text.index, name=text.name, dtype=dtype)
