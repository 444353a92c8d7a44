"""Which rows of a published text still hold that row's own name, as a word.

An independent re-check of what scrubbing promises, from the raw and published rows side by
side (the observer sees both). Each name value and each of its words (two characters or more)
is looked for case-insensitively, bounded by non-word characters, in the same row's text.

The search is vectorised across rows with ``np.strings``: ``find`` gives every row's next
occurrence at once, the characters either side decide the word boundary, and only the rows
whose occurrence was inside a word search again. The loop runs over occurrences and over the
words of a name, never over rows. Names are split into words once per distinct name.

>>> import pandas as pd
>>> text = pd.Series(["Call Anna Berg today", "Annabel called", "anna", None])
>>> first = pd.Series(["Anna", "Anna", "Anna", "Anna"])
>>> own_name_rows(text, [first]).tolist()
[True, False, True, False]
>>> own_name_rows(pd.Series(["Met van der Berg"]), [pd.Series(["Jan van der Berg"])]).tolist()
[True]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd
from numpy.dtypes import StringDType

__all__ = ["own_name_rows"]

_STR = StringDType()
Mask = npt.NDArray[np.bool_]


def _is_word(chars: np.ndarray) -> Mask:
    return np.strings.isalnum(chars) | (chars == "_")


def _contains_word(hay: np.ndarray, needles: np.ndarray) -> Mask:
    """Per row: does ``needles[i]`` occur in ``hay[i]`` as a whole word?"""
    found = np.zeros(len(hay), dtype=bool)
    width = np.strings.str_len(needles)
    start = np.zeros(len(hay), dtype=np.int64)
    active = np.arange(len(hay))
    while active.size:
        pos = np.strings.find(hay[active], needles[active], start[active])
        hit = pos >= 0
        active, pos = active[hit], pos[hit]
        if not active.size:
            break
        end = pos + width[active]
        before = np.strings.slice(hay[active], np.maximum(pos - 1, 0), pos)
        after = np.strings.slice(hay[active], end, end + 1)
        bounded = ~_is_word(before) & ~_is_word(after)  # "" (an edge) is not a word character
        found[active[bounded]] = True
        active, pos = active[~bounded], pos[~bounded]
        start[active] = pos + 1
    return found


def _name_parts(names: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Per row, a code into a table of each distinct name's parts (whole value, then words)."""
    codes, uniques = pd.factorize(names, use_na_sentinel=True)
    parts = []
    for name in np.asarray(uniques, dtype=object).tolist():
        whole = str(name).strip().lower()
        split = [w for w in whole.split() if len(w) >= 2]
        parts.append(([whole] if len(whole) >= 2 else []) + (split if len(split) > 1 else []))
    width = max((len(p) for p in parts), default=0)
    table = np.array([p + [""] * (width - len(p)) for p in parts] or [[""]], dtype=_STR)
    return codes, table


def own_name_rows(text: pd.Series, names: Sequence[pd.Series]) -> pd.Series:
    """Bool per row: the row's text contains one of its own name values or name words."""
    result = np.zeros(len(text), dtype=bool)
    rows = np.flatnonzero(text.notna().to_numpy())
    if rows.size:
        hay = np.strings.lower(np.array(text.iloc[rows].astype(str).tolist(), dtype=_STR))
        for name in names:
            codes, table = _name_parts(name.iloc[rows])
            for j in range(table.shape[1]):
                needles = table[np.maximum(codes, 0), j]
                usable = (codes >= 0) & (np.strings.str_len(needles) >= 2) & ~result[rows]
                at = np.flatnonzero(usable)
                if at.size:
                    result[rows[at[_contains_word(hay[at], needles[at])]]] = True
    return pd.Series(result, index=text.index)
