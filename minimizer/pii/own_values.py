"""Replace a row's own identifying values wherever they occur in that row's text.

The value to look for differs per row, so one regex over the column cannot do it. Instead the
search runs on numpy's variable-width strings (``np.strings``), element-wise across rows:
``find`` locates the next case-insensitive occurrence in every row at once, the characters
either side are tested for word boundaries, and matching rows get the tag spliced in. The
Python loop is over *occurrences per row* (usually one or two), never over rows.

Rows numpy cannot take on (lone surrogates) or whose lower-casing changes the length (so
positions in the lower-cased copy do not map back, e.g. "İ") are the only ones handled by a
per-row ``re.sub``, and only when the lower-cased value is a substring of the text.
"""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt
from numpy.dtypes import StringDType

__all__ = ["replace_own_values"]

Objects = npt.NDArray[np.object_]
_STR = StringDType()


def _is_word(chars: npt.NDArray[np.str_]) -> npt.NDArray[np.bool_]:
    """Python ``re``'s ``\\w`` on single characters: alphanumeric or underscore."""
    return np.strings.isalnum(chars) | (chars == "_")


def _regex_replace(text: str, value: str, tag: str) -> str:
    return re.sub(rf"(?<!\w){re.escape(value)}(?!\w)", lambda _: tag, text, flags=re.IGNORECASE)


def _splice(texts: np.ndarray, values: np.ndarray, tag: str) -> np.ndarray:
    """Vectorised word-bounded, case-insensitive replacement of values[i] in texts[i]."""
    texts = texts.copy()
    lowered = np.strings.lower(texts)
    needles = np.strings.lower(values)
    width = np.strings.str_len(needles)
    start = np.zeros(len(texts), dtype=np.int64)
    active = np.arange(len(texts))
    while active.size:
        pos = np.strings.find(lowered[active], needles[active], start[active])
        hit = pos >= 0
        active, pos = active[hit], pos[hit]
        if not active.size:
            break
        end = pos + width[active]
        before = np.strings.slice(texts[active], np.maximum(pos - 1, 0), pos)
        after = np.strings.slice(texts[active], end, end + 1)
        bounded = ~_is_word(before) & ~_is_word(after)  # "" (text edge) is not a word char
        rows, at, to = active[bounded], pos[bounded], end[bounded]
        texts[rows] = np.strings.add(
            np.strings.add(np.strings.slice(texts[rows], 0, at), tag),
            np.strings.slice(texts[rows], to, None),
        )
        lowered[rows] = np.strings.lower(texts[rows])
        start[rows] = at + len(tag)
        start[active[~bounded]] = pos[~bounded] + 1
    return texts


def _to_strings(values: Objects) -> np.ndarray | None:
    try:
        return np.array(values, dtype=_STR)
    except UnicodeEncodeError:
        return None


def replace_own_values(texts: Objects, values: Objects, tag: str) -> Objects:
    """Per row i, replace ``values[i]`` in ``texts[i]`` by ``tag``; returns a new array.

    Both are object arrays of ``str`` of equal length: the caller drops nulls and values
    shorter than two characters (vectorised, in pandas) before calling.
    """
    out = texts.copy()
    haystack, needles = _to_strings(texts), _to_strings(values)
    if haystack is None or needles is None:
        slow = np.ones(len(texts), dtype=bool)  # undecodable input: see module docstring
    else:
        lowered = np.strings.lower(haystack)
        contains = np.strings.find(lowered, np.strings.lower(needles)) >= 0
        same_length = np.strings.str_len(lowered) == np.strings.str_len(haystack)
        fast = contains & same_length
        if fast.any():
            out[fast] = _splice(haystack[fast], needles[fast], tag).astype(object)
        slow = contains & ~same_length
    for row in np.flatnonzero(slow):
        out[row] = _regex_replace(out[row], values[row], tag)
    return out
