"""Replace a row's own identifying values wherever they occur in that row's text, in the ways
people write them.

A value is looked for in its **variants** (:func:`value_variants`), built column-wise over the
distinct values: the value itself; German transliteration both ways ("Börner" as "Boerner",
"Boerner" as "Börner", "Strauß" as "Strauss") and with the umlaut just dropped ("Borner");
for a name, each part of a hyphenated or multi-word name ("Anna-Lena" also hides a lone
"Lena"); for an e-mail address, its local part ("anna.berg85" of "anna.berg85@example.org");
for an e-mail address or a phone number, the unsalted MD5, SHA-1 and SHA-256 hex digests of
its usual normal form (the lower-case address; the number in E.164), which ad and CRM tools
publish as a "hashed e-mail" and which anyone holding the address can recompute.
The text is normalised first (:func:`minimizer.pii.normalisation.normalise_one`: NFKC, HTML
entities and %XX escapes, confusable Cyrillic/Greek letters in Latin words) and stripped of
invisible and bidi characters, so a decomposed umlaut (``"Bo\\u0308rner"``), a zero-width
space or a Cyrillic ``е`` inside a name does not break the match. A genitive -s right after
a name ("Dörrs Lieferung") belongs to the name. The gate's own-name check
(:mod:`minimizer.gate.own_names`) uses the same variants.

The search runs on numpy's variable-width strings (``np.strings``), element-wise across rows:
``find`` locates the next case-insensitive occurrence in every row at once, the characters
either side are tested for word boundaries, and matching rows get the tag spliced in. The
Python loop is over *variants* and *occurrences per row* (usually one or two), never over rows.

Rows numpy cannot take on (lone surrogates) or whose lower-casing changes the length (so
positions in the lower-cased copy do not map back, e.g. "İ") are the only ones handled by a
per-row ``re.sub``, and only when the lower-cased value is a substring of the text.

>>> import numpy as np
>>> texts = np.array(["Boerners Paket", "an anna.b85 schreiben", "Lena rief an"], dtype=object)
>>> values = np.array(["Börner", "anna.b85@example.org", "Anna-Lena"], dtype=object)
>>> replace_own_values(texts, values, "[X]").tolist()
['[X] Paket', 'an [X] schreiben', '[X] rief an']
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import unicodedata
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pandas as pd
from numpy.dtypes import StringDType

from minimizer.pii.normalisation import normalise_one

__all__ = [
    "EMAIL_SHAPE",
    "HASHES",
    "HOME_CODES",
    "PHONE_SHAPE",
    "hash_forms",
    "hash_variants",
    "normalise_text",
    "replace_own_values",
    "value_variants",
]

Objects = npt.NDArray[np.object_]
_STR = StringDType()
# Invisible characters put inside a value so that no equality holds (kept in step with
# minimizer.gate.digests).
INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff]"
)
_NAME_SHAPE = r"^[^\W\d_]+(?:[\s'’.-]+[^\W\d_]+)*\.?$"  # letters in words, no digits, no @
_TO_LATIN = (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss"))
_FROM_LATIN = (("ae", "ä"), ("oe", "ö"), ("ue", "ü"))
_MIN_LENGTH = 2
# Parts of a name that are everyday words on their own ("der" in "van der Berg"): a lone one
# is not the subject; the whole name still is.
PARTICLES = frozenset(
    {"al", "bin", "da", "de", "del", "della", "den", "der", "des", "di", "do", "dos", "du",
     "el", "ibn", "la", "le", "lo", "st", "te", "ten", "ter", "van", "vom", "von", "zu",
     "zum", "zur", "dr", "prof", "mr", "mrs", "ms", "herr", "frau"}
)  # fmt: skip
_MIN_LOCAL_PART = 3
_MAX_NAME_PARTS = 4  # "Anna Maria van Berg"; a longer text is not a name, its words no parts


# the unsalted digests tracking and CRM tools exchange as a "hashed" e-mail or phone number
HASHES = ("md5", "sha1", "sha256")
EMAIL_SHAPE = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
PHONE_SHAPE = r"^(?:\+|00|0)[0-9\s()/.\-]+$"
_PHONE_DIGITS = (6, 15)
# a national number ("030 1234567") in E.164 for the home regions whose numbers share the
# trunk prefix 0 and no area-code digit is lost: DE, AT, CH
HOME_CODES = ("49", "43", "41")


def normalise_text(text: str) -> str:
    """:func:`~minimizer.pii.normalisation.normalise_one` and no invisible or bidi characters:
    what scrubbing and the gate both search in."""
    with contextlib.suppress(UnicodeError, ValueError):  # lone surrogates: NFKC, strip only
        text = normalise_one(text)
    return INVISIBLE.sub("", unicodedata.normalize("NFKC", text))


def _hex(values: pd.Series, algorithm: str) -> pd.Series:
    """Hex digests of the non-empty values, "" elsewhere (hashlib per distinct value: the
    callers pass distinct values, and only e-mail- and phone-shaped ones are non-empty)."""
    out = pd.Series("", index=values.index, dtype=object)
    used = (values != "").to_numpy(dtype=bool)
    if used.any():
        out[used] = [
            hashlib.new(algorithm, v.encode("utf-8", "replace")).hexdigest()
            for v in values[used].tolist()
        ]
    return out


def hash_forms(values: pd.Series) -> list[pd.Series]:
    """Per value, what is hashed for it: columns of normal forms ("" where unused).

    An e-mail address in lower case; a phone number in E.164, a national one once per home
    country code. Vectorised over the values (pandas string methods)."""
    text = values.astype(object).where(values.notna(), "").astype(str).str.strip()
    email = text.str.lower().where(text.str.match(EMAIL_SHAPE), "")
    digits = text.str.replace(r"[^0-9]", "", regex=True)
    phone = text.str.match(PHONE_SHAPE) & digits.str.len().between(*_PHONE_DIGITS)
    international = phone & (text.str.startswith("+") | text.str.startswith("00"))
    national = phone & ~international
    e164 = "+" + digits.str.replace(r"^00", "", regex=True)
    first = email.where(email != "", e164.where(international, ""))
    forms: list[pd.Series] = []
    for code in HOME_CODES:
        as_code = ("+" + code + digits.str.slice(1)).where(national, "")
        forms.append(first.where(first != "", as_code) if not forms else as_code)
    return forms


def hash_variants(values: pd.Series) -> list[pd.Series]:
    """The MD5, SHA-1 and SHA-256 hex digests of each value's :func:`hash_forms`."""
    return [_hex(form, algorithm) for form in hash_forms(values) for algorithm in HASHES]


def _unicode_only(values: pd.Series, fn: Callable[[str], str]) -> pd.Series:
    """``fn`` on the non-ASCII values only (ASCII is already what any normal form gives)."""
    other = ~values.str.isascii().fillna(True).to_numpy(dtype=bool)
    if not other.any():
        return values
    out = values.copy()
    out[other] = values[other].map(fn)
    return out


def _strip_marks(values: pd.Series) -> pd.Series:
    decomposed = _unicode_only(values, lambda v: unicodedata.normalize("NFKD", v))
    return decomposed.str.replace(r"[\u0300-\u036f]+", "", regex=True)


def _spelled(values: pd.Series, pairs: tuple[tuple[str, str], ...]) -> pd.Series:
    out = values.str.lower()
    for a, b in pairs:
        out = out.str.replace(a, b, regex=False)
    return out


def _encodable(value: object) -> str:
    text = str(value)
    if text.isascii():
        return text
    return text.encode("utf-8", "replace").decode("utf-8")


def value_variants(values: pd.Series, hashes: bool = True) -> pd.DataFrame:
    """Per value, its variants as columns (the value first; "" where a slot is unused).

    Vectorised over ``values`` (pass the distinct values): pandas string methods, no loop over
    values. Variants shorter than two characters (an initial) are left out; a variant equal
    to an earlier one of the same value is blanked, case-insensitively. ``hashes``: also the
    unsalted hex digests of e-mails and phone numbers (see the module docstring).
    """
    raw = values.astype(object).where(values.notna(), "")
    # A lone surrogate cannot become an Arrow-backed string; it can hold no name, so it is
    # replaced (only values that are not plain ASCII are looked at: the distinct ones).
    text = raw.map(_encodable).astype(str)
    text = _unicode_only(text, normalise_text).str.strip()
    slots: list[pd.Series] = [
        text,
        _spelled(text, _TO_LATIN),
        _spelled(text, _FROM_LATIN),
        _strip_marks(text),
    ]
    is_name = text.str.fullmatch(_NAME_SHAPE) & (
        text.str.count(r"[\s'’.-]+[^\W\d_]") < _MAX_NAME_PARTS
    )
    parts = text.where(is_name, "").str.split(r"[\s'’.-]+", regex=True, expand=True)
    if parts.shape[1] > 1:  # a lone part of a multi-part name, in its spellings too
        for column in parts.columns:
            part = parts[column].fillna("")
            part = part.where(~part.str.lower().isin(PARTICLES), "")
            slots += [part, _spelled(part, _TO_LATIN), _strip_marks(part)]
    local = text.str.extract(r"^([^@\s]+)@[^@\s]+$", expand=False).fillna("")
    slots.append(local.where(local.str.len() >= _MIN_LOCAL_PART, ""))
    if hashes:  # (the gate compares hashes of every raw identifier already, not per row)
        slots += hash_variants(text)
    table = pd.concat([s.reset_index(drop=True) for s in slots], axis=1, ignore_index=True)
    table = table.fillna("").astype(str)
    lowered = table.apply(lambda column: column.str.lower())
    for j in range(table.shape[1]):  # column-wise: a few dozen slots at most
        repeated = np.zeros(len(table), dtype=bool)
        for i in range(j):
            repeated |= (lowered[j] == lowered[i]).to_numpy()
        table.loc[repeated | (table[j].str.len() < _MIN_LENGTH).to_numpy(), j] = ""
    table.index = values.index
    return table


def _is_word(chars: npt.NDArray[np.str_]) -> npt.NDArray[np.bool_]:
    """Python ``re``'s ``\\w`` on single characters: alphanumeric or underscore."""
    return np.asarray(np.strings.isalnum(chars) | (chars == "_"), dtype=bool)


def _regex_replace(text: str, value: str, tag: str, bounded: bool = True) -> str:
    pattern = rf"(?<!\w){re.escape(value)}s?(?!\w)" if bounded else re.escape(value)
    return re.sub(pattern, lambda _: tag, text, flags=re.IGNORECASE)


def _splice(texts: np.ndarray, values: np.ndarray, tag: str, bounded: bool = True) -> np.ndarray:
    """Vectorised case-insensitive replacement of values[i] in texts[i], word-bounded unless
    ``bounded`` is False (then anywhere, also inside a word)."""
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
        # a genitive -s ("Dörrs") belongs to the name it follows
        genitive = (np.strings.lower(after) == "s") & ~_is_word(
            np.strings.slice(texts[active], end + 1, end + 2)
        )
        end = end + genitive
        if bounded:  # "" (edge) is no word char
            ok = ~_is_word(before) & (~_is_word(after) | genitive)
        else:
            ok, end = np.ones(len(active), dtype=bool), end - genitive
        rows, at, to = active[ok], pos[ok], end[ok]
        texts[rows] = np.strings.add(
            np.strings.add(np.strings.slice(texts[rows], 0, at), tag),
            np.strings.slice(texts[rows], to, None),
        )
        lowered[rows] = np.strings.lower(texts[rows])
        start[rows] = at + len(tag)
        start[active[~ok]] = pos[~ok] + 1
    return texts


def _to_strings(values: Objects) -> np.ndarray | None:
    try:
        return np.array(values, dtype=_STR)
    except UnicodeEncodeError:
        return None


def _replace_exact(texts: Objects, values: Objects, tag: str, bounded: bool = True) -> Objects:
    """Per row i, replace ``values[i]`` (one spelling) in ``texts[i]`` by ``tag``."""
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
            out[fast] = _splice(haystack[fast], needles[fast], tag, bounded).astype(object)
        slow = contains & ~same_length
    for row in np.flatnonzero(slow):
        out[row] = _regex_replace(out[row], values[row], tag, bounded)
    return out


def _normalised(texts: Objects) -> Objects:
    """NFKC and no zero-width characters, once per distinct text."""
    codes, uniques = pd.factorize(pd.Series(texts, dtype=object))
    clean = np.array([normalise_text(str(t)) for t in uniques.tolist()], dtype=object)
    return clean[codes] if len(texts) else texts.copy()


def replace_own_values(texts: Objects, values: Objects, tag: str, bounded: bool = True) -> Objects:
    """Per row i, replace ``values[i]``, in all its variants, in ``texts[i]`` by ``tag``.

    Both are object arrays of ``str`` of equal length: the caller drops nulls and values
    shorter than two characters (vectorised, in pandas) before calling. A text where
    something was replaced is returned normalised (see the module docstring), the others as
    they were. ``bounded``: only whole words (and a genitive -s) match; False also finds a
    value glued inside a word (for long values only: "kundeannaberg").
    """
    normal = _normalised(texts)
    if not len(normal):
        return normal
    out = normal.copy()
    codes, uniques = pd.factorize(pd.Series(values, dtype=object))
    table = value_variants(pd.Series(uniques, dtype=object)).to_numpy(dtype=object)
    for j in range(table.shape[1]):  # longest spellings first would not matter: tags differ
        needles = table[codes, j]
        at = np.flatnonzero(needles != "")
        if at.size:
            out[at] = _replace_exact(out[at], needles[at], tag, bounded)
    unchanged = out == normal
    out[unchanged] = texts[unchanged]
    return out
