"""Text normalisation before any detector looks: the tricks that hide PII from a regex.

What is undone, and why:

- **HTML entities** (``max&#64;web.de``, ``max&commat;web.de``, ``f&uuml;r``) are decoded
  (``html.unescape``): text copied out of a web form or a mail keeps them.
- **URL-encoding** (``max%40web.de``, ``%2B49``) is decoded, repeatedly (at most
  ``_MAX_ROUNDS`` times, until nothing changes): ``max%2540web.de`` is ``max%40web.de`` after
  one round and an address after two. Entities and escapes may be nested in each other.
- **NFKC**: full-width ``＠`` and ``０１７１``, ligatures, compatibility spaces (NBSP, thin
  space) become their plain forms; a decomposed umlaut (``o`` + combining diaeresis) is composed.
- **zero-width, invisible and bidi control characters** (ZWSP, ZWNJ, ZWJ, word joiner, BOM,
  soft hyphen, LRM/RLM U+200E/U+200F, the embeddings and overrides U+202A-U+202E, the
  isolates U+2066-U+2069, the Arabic letter mark) are removed: ``max\u200f@web.de`` is an
  address.
- **confusables**: Cyrillic and Greek letters that look like Latin ones (``mаx`` with a
  Cyrillic ``а``) are folded to the Latin letter, in words that also hold a Latin letter or a
  digit (a mixed-script word is a disguise; a Russian or Greek sentence is left alone).
- **every Unicode decimal digit** (Arabic-Indic, Devanagari, mathematical bold ...) becomes its
  ASCII digit, and dashes, minus signs and primes become ``-``, ``'`` and ``"``: the patterns
  spell digits ``[0-9]``.
- **base64**: a token of the base64 alphabet (8 to ``_MAX_BASE64`` characters, mixed case,
  padded to a multiple of four) that decodes to printable UTF-8 text holding an ``@`` or a
  digit is replaced by that text: ``bWF4QHdlYi5kZQ==`` is ``max@web.de``.

Only the values that need it are touched: an RE2 test over the whole batch (Arrow) finds the
values with a non-ASCII character, a ``%XX`` escape, an entity or a base64-looking run, and
only those go through Python's string functions. Plain ASCII text, nearly all of an analytic
column, is returned as it is.

Positions in the normalised text differ from the original's, so the scrubber works on the
normalised text and returns it for the values where it replaced something.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
import unicodedata
from functools import lru_cache
from urllib.parse import unquote

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from minimizer.pii.text import SMALL_BATCH, Mask, to_arrow

__all__ = [
    "CONFUSABLES",
    "ENCODED",
    "NEEDS_NORMALISING",
    "fold_confusables",
    "fold_confusables_arrow",
    "needs_normalising",
    "normalise",
    "normalise_one",
]

# RE2: a value is changed by normalisation only if it holds one of these: a non-ASCII
# character, a %XX escape, an HTML character reference, or a run that may be base64 (a lower
# case letter or digit before a capital, inside a run of eight; see _BASE64 for the real test).
_ENTITY_HINT = r"&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31};)"
_BASE64_HINT = r"[A-Za-z0-9+/]{3}[a-z0-9+/][A-Z][A-Za-z0-9+/]{3}"
# ... and the part of it that is an encoding (not merely a Unicode character)
ENCODED = rf"%[0-9A-Fa-f]{{2}}|{_ENTITY_HINT}|{_BASE64_HINT}"
NEEDS_NORMALISING = rf"[^\x00-\x7f]|{ENCODED}"
_NEEDS = re.compile(NEEDS_NORMALISING)
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_ENTITY = re.compile(_ENTITY_HINT)
_OTHER_DIGIT = re.compile(r"(?![0-9])\d")
_ASCII_ESCAPE = re.compile(r"%(?:[2-6][0-9A-Fa-f]|7[0-9A-Ea-e])")
# nested encodings are peeled one layer a round; more layers than this is not text a person
# wrote, and the bound keeps a crafted value from costing more than a few passes
_MAX_ROUNDS = 4

_INVISIBLE = (
    "\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad\u180e\u034f"
    # bidi controls: LRM, RLM, the Arabic letter mark, embeddings/overrides, isolates
    "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d\u2043"
_SINGLE_QUOTES = "\u2032\u2035\u00b4\u02b9\u02bc\u2018\u2019\u201a\u201b"
_DOUBLE_QUOTES = "\u2033\u2036\u02ba\u201c\u201d\u201e\u201f\u3003"
# "@" look-alikes (NFKC folds these too; the table makes it independent of the form)
_AT_SIGNS = "\uff20\ufe6b"

# Cyrillic and Greek letters drawn like a Latin letter or digit in common fonts (a subset of
# Unicode's confusables.txt: the ones a keyboard or a homoglyph tool produces). An explicit
# table rather than the full data file: the full list maps thousands of symbols, most of
# them irrelevant to names, e-mails and numbers, and a short list can be read and reviewed.
CONFUSABLES: dict[int, str] = {
    ord(k): v
    for k, v in {
        # Cyrillic lower case
        "а": "a", "в": "b", "е": "e", "һ": "h", "і": "i", "ј": "j", "к": "k", "ӏ": "l",
        "м": "m", "н": "h", "о": "o", "р": "p", "ԛ": "q", "ѕ": "s", "т": "t", "у": "y",
        "х": "x", "ԝ": "w", "с": "c", "ԁ": "d", "ё": "e", "ї": "i",
        # Cyrillic capitals
        "А": "A", "В": "B", "Е": "E", "Н": "H", "І": "I", "Ј": "J", "К": "K", "М": "M",
        "О": "O", "Р": "P", "Ԛ": "Q", "Ѕ": "S", "Т": "T", "У": "Y", "Х": "X", "Ԝ": "W",
        "С": "C", "Ԁ": "D", "Ё": "E", "Ї": "I", "З": "3", "з": "3", "б": "6", "Ӏ": "l",
        # Greek
        "α": "a", "ο": "o", "ρ": "p", "ι": "i", "κ": "k", "ν": "v", "υ": "u", "χ": "x",
        "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
        "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    }.items()
}  # fmt: skip
_CONFUSABLE = re.compile("[" + "".join(chr(c) for c in CONFUSABLES) + "]")
_WORD = re.compile(r"\w+")
_LATIN_OR_DIGIT = re.compile(r"[A-Za-z0-9]")

# base64 candidates: a whole run of the alphabet (standard or URL-safe), padded, with both a
# capital and a lower-case letter or digit; decoded only up to this many characters
_MAX_BASE64 = 344  # 258 bytes: longer than any e-mail or phone, bounded work per token
_BASE64 = re.compile(
    r"(?<![A-Za-z0-9+/=_-])(?=[A-Za-z0-9+/_-]*[A-Z])(?=[A-Za-z0-9+/_-]*[a-z0-9])"
    rf"[A-Za-z0-9+/_-]{{8,{_MAX_BASE64}}}={{0,2}}(?![A-Za-z0-9+/=_-])"
)
_DECODED_EVIDENCE = re.compile(r"[@0-9]")


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


def fold_confusables(text: str) -> str:
    """Every confusable Cyrillic/Greek letter as its Latin look-alike, wherever it stands."""
    return text.translate(CONFUSABLES)


def _fold_mixed_word(match: re.Match[str]) -> str:
    word = match.group(0)
    return word.translate(CONFUSABLES) if _LATIN_OR_DIGIT.search(word) else word


def fold_confusables_arrow(texts: pa.Array) -> pa.Array:
    """:func:`fold_confusables` over an Arrow string array, for comparisons that are never
    shown (the gate's digests): every confusable is folded, in every word; ASCII values are
    not touched, the others once each in Python."""
    if not len(texts):
        return texts
    other = pc.invert(pc.fill_null(pc.string_is_ascii(texts), True))
    if not pc.any(other).as_py():
        return texts
    folded = [None if t is None else t.translate(CONFUSABLES) for t in
              texts.filter(other).to_pylist()]  # fmt: skip
    return pc.replace_with_mask(texts, other, pa.array(folded, type=texts.type))


def _peel(text: str) -> str:
    """HTML entities and %XX escapes decoded, layer by layer, until nothing changes."""
    for _ in range(_MAX_ROUNDS):
        before = text
        if "&" in text and _ENTITY.search(text):
            text = html.unescape(text)
        if "%" in text:
            text = _unescape(text)
        if text == before:
            break
    return text


def _decoded(token: str) -> str | None:
    """The text a base64 token stands for, if it is printable text with an "@" or a digit."""
    if len(token) % 4:
        return None
    try:
        if "-" in token or "_" in token:
            if "+" in token or "/" in token:
                return None
            raw = base64.urlsafe_b64decode(token)
        else:
            raw = base64.b64decode(token, validate=True)
        text = raw.decode("utf-8")
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        return None
    if len(text) < 4 or not text.isprintable() or not _DECODED_EVIDENCE.search(text):
        return None
    return text


def _decode_base64(text: str) -> str:
    def swap(match: re.Match[str]) -> str:
        decoded = _decoded(match.group(0))
        return match.group(0) if decoded is None else _plain(decoded)

    return _BASE64.sub(swap, text)


def _plain(text: str) -> str:
    """All steps but base64 (also for what a base64 token decodes to)."""
    text = _peel(text)
    if text.isascii():
        return text
    # NFKC folds full-width digits and compatibility spaces; the rest of \d (Arabic-Indic,
    # Devanagari ...) has no compatibility form and is mapped by its digit value
    text = unicodedata.normalize("NFKC", text.translate(_table())).translate(_table())
    if not text.isascii() and _CONFUSABLE.search(text):
        text = _WORD.sub(_fold_mixed_word, text)
    return _OTHER_DIGIT.sub(_ascii_digit, text) if not text.isascii() else text


def normalise_one(text: str) -> str:
    """One value, the same steps as :func:`normalise` (for tests and single strings)."""
    if text.isascii() and not _NEEDS.search(text):
        return text
    text = _plain(text)
    return _decode_base64(text) if _BASE64.search(text) else text


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
    return np.asarray(
        pc.match_substring_regex(array, NEEDS_NORMALISING).to_numpy(zero_copy_only=False),
        dtype=bool,
    )


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
