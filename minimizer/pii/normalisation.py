"""Text normalisation before any detector looks: the tricks that hide PII from a regex.

What is undone, and why:

- **NFKC**: full-width ``＠`` and ``０１７１``, ligatures, compatibility spaces (NBSP, thin
  space) become their plain forms; a decomposed umlaut (``o`` + combining diaeresis) is composed.
- **zero-width and invisible characters** (ZWSP, ZWNJ, ZWJ, word joiner, BOM, soft hyphen) are
  removed: ``max\u200b@web.de`` is an address.
- **every Unicode decimal digit** (Arabic-Indic, Devanagari, mathematical bold ...) becomes its
  ASCII digit, and dashes, minus signs and primes become ``-``, ``'`` and ``"``: the patterns
  spell digits ``[0-9]``.
- **URL-encoding** (``max%40web.de``, ``%2B49``) is decoded.

Only the values that need it are touched: an RE2 test over the whole batch (Arrow) finds the
values with a non-ASCII character or a ``%XX`` escape, and only those go through Python's
string functions. Pure-ASCII text without escapes, nearly all of an analytic column, is
returned as it is.

Positions in the normalised text differ from the original's, so the scrubber works on the
normalised text and returns it for the values where it replaced something.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from urllib.parse import unquote

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from minimizer.pii.text import SMALL_BATCH, Mask, to_arrow

__all__ = ["NEEDS_NORMALISING", "needs_normalising", "normalise", "normalise_one"]

# RE2: a value is changed by normalisation only if it holds one of these.
NEEDS_NORMALISING = r"[^\x00-\x7f]|%[0-9A-Fa-f]{2}"
_NEEDS = re.compile(NEEDS_NORMALISING)
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_OTHER_DIGIT = re.compile(r"(?![0-9])\d")
_ASCII_ESCAPE = re.compile(r"%(?:[2-6][0-9A-Fa-f]|7[0-9A-Ea-e])")

_INVISIBLE = "\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad\u180e\u034f"
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d\u2043"
_SINGLE_QUOTES = "\u2032\u2035\u00b4\u02b9\u02bc\u2018\u2019\u201a\u201b"
_DOUBLE_QUOTES = "\u2033\u2036\u02ba\u201c\u201d\u201e\u201f\u3003"
# "@" look-alikes (NFKC folds these too; the table makes it independent of the form)
_AT_SIGNS = "\uff20\ufe6b"


@lru_cache(maxsize=1)
def _table() -> dict[int, str | None]:
    """str.translate table: invisible -> removed; dashes, primes and "@" forms -> ASCII."""
    table: dict[int, str | None] = {ord(c): None for c in _INVISIBLE}
    table.update({ord(c): "-" for c in _DASHES})
    table.update({ord(c): "'" for c in _SINGLE_QUOTES})
    table.update({ord(c): '"' for c in _DOUBLE_QUOTES})
    table.update({ord(c): "@" for c in _AT_SIGNS})
    return table


def _ascii_digit(match: re.Match[str]) -> str:
    return str(unicodedata.digit(match.group(0)))


def normalise_one(text: str) -> str:
    """One value, the same steps as :func:`normalise` (for tests and single strings)."""
    if text.isascii() and "%" not in text:
        return text
    if "%" in text:
        text = _unescape(text)
    # NFKC folds full-width digits and compatibility spaces; the rest of \d (Arabic-Indic,
    # Devanagari ...) has no compatibility form and is mapped by its digit value
    text = unicodedata.normalize("NFKC", text.translate(_table())).translate(_table())
    return _OTHER_DIGIT.sub(_ascii_digit, text) if not text.isascii() else text


def _unescape(text: str) -> str:
    """Decode %XX escapes as UTF-8; if that fails, decode the printable ASCII ones only."""
    if not _ESCAPE.search(text):
        return text
    try:
        return unquote(text, errors="strict")
    except UnicodeDecodeError:
        return _ASCII_ESCAPE.sub(lambda m: chr(int(m.group(0)[1:], 16)), text)


def needs_normalising(texts: pd.Series) -> Mask:
    """Which values normalisation would change (a superset): one RE2 pass in Arrow."""
    if texts.empty:
        return np.zeros(0, dtype=bool)
    if len(texts) <= SMALL_BATCH:
        return np.fromiter(
            (isinstance(t, str) and _NEEDS.search(t) is not None for t in texts),
            dtype=bool,
            count=len(texts),
        )
    array = to_arrow(texts)
    if array is None:
        return np.ones(len(texts), dtype=bool)
    return pc.match_substring_regex(array, NEEDS_NORMALISING).to_numpy(zero_copy_only=False)


def normalise(texts: pd.Series) -> pd.Series:
    """The normalised text of every value (object dtype, same index); others unchanged."""
    todo = needs_normalising(texts)
    if not todo.any():
        return texts
    out = texts.copy() if texts.dtype == object else texts.astype(object)
    out.iloc[np.flatnonzero(todo)] = [_safe(v) for v in out.iloc[np.flatnonzero(todo)]]
    return out


def _safe(value: object) -> object:
    if not isinstance(value, str):
        return value
    try:
        return normalise_one(value)
    except (UnicodeError, ValueError):  # lone surrogates: leave the value as it is
        return value
