"""Person names from a packaged name list: Faker's first and last names of the home locales.

The list is read from the installed ``faker`` package (``faker.providers.person.<locale>``
for de_DE, de_AT, de_CH, fr_FR, nl_NL, en_GB, en_US) on first use and cached: about 9,000
names, nothing downloaded. Each name is kept in several spellings: case-folded, with umlauts
transliterated (``Börner`` -> ``boerner``, ``Strauß`` -> ``strauss``) and with accents dropped
(``Müller`` -> ``muller``, ``Séverine`` -> ``severine``).

What counts as a name in a text (after :mod:`minimizer.pii.normalisation`):

- a word of letters (``O'Neill`` is one word; ``Anna-Lena`` is two) that starts with a
  capital letter, or is written in capitals: lower-case words are ordinary words. A row's own
  names are matched in any case by the own-value scrubbing; this list is the safety net for
  other people's names;
- its case-folded form is a listed name, alone or with a genitive ``s`` / ``'s`` stripped
  (``Dörrs Lieferung``, ``Müller's``);
- it is at least three letters long, and not on the stop list.

The stop list holds names that are also everyday words in the four languages, where removing
them would wreck the note rather than protect anyone: every listed name that Faker's own lorem
word lists (de_DE, en_US, fr_FR, nl_NL) contain, plus months, weekdays and a short hand-kept
list (``Mai``, ``May``, ``Will``, ``Rose``, ``Long``, ``Mark``, ``Grant``, ``Post``, ``Ende``,
...). Occupational surnames that are German nouns (``Wagner``, ``Müller``, ``Koch``,
``Fischer``) are *not* stopped: a capitalised ``Koch`` in a note is as likely a person, and
over-scrubbing a word is the safe error.

The search is vectorised where it can be: Arrow splits every text into words and the
distinct words are looked up once; only texts holding a name go through a Python ``re.sub``.
"""

from __future__ import annotations

import importlib
import re
import unicodedata
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from minimizer.pii.text import Mask, to_arrow

__all__ = ["LOCALES", "STOP_WORDS", "contains_name", "is_name", "name_keys", "replace_names"]

LOCALES = ("de_DE", "de_AT", "de_CH", "fr_FR", "nl_NL", "en_GB", "en_US")
_LOREM_LOCALES = ("de_DE", "en_US", "fr_FR", "nl_NL")
_PARTICLES = frozenset(
    {"von", "van", "der", "den", "de", "la", "le", "du", "di", "da", "ten", "ter", "zu"}
)

# Names that are everyday words (or months, weekdays, places) in de/en/fr/nl text.
STOP_WORDS = frozenset(
    [
        "januar",
        "februar",
        "märz",
        "april",
        "mai",
        "juni",
        "juli",
        "august",
        "september",
        "oktober",
        "november",
        "dezember",
        "january",
        "february",
        "march",
        "may",
        "june",
        "july",
        "october",
        "december",
        "janvier",
        "avril",
        "juin",
        "juillet",
        "août",
        "montag",
        "dienstag",
        "mittwoch",
        "donnerstag",
        "freitag",
        "samstag",
        "sonntag",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "lundi",
        "mardi",
        "mercredi",
        "jeudi",
        "vendredi",
        "samedi",
        "dimanche",
        "will",
        "long",
        "rose",
        "mark",
        "grant",
        "bill",
        "art",
        "page",
        "hope",
        "grace",
        "joy",
        "faith",
        "summer",
        "winter",
        "sommer",
        "herbst",
        "frank",
        "ernst",
        "klein",
        "lang",
        "lange",
        "groß",
        "gross",
        "neu",
        "alt",
        "weiß",
        "weiss",
        "schwarz",
        "braun",
        "roth",
        "kurz",
        "hell",
        "post",
        "ende",
        "kraft",
        "link",
        "wahl",
        "park",
        "street",
        "house",
        "hall",
        "church",
        "field",
        "wood",
        "green",
        "brown",
        "white",
        "black",
        "young",
        "king",
        "rich",
        "little",
        "small",
        "short",
        "best",
        "bank",
        "day",
        "gold",
        "silver",
        "stone",
        "gut",
        "guten",
        "see",
        "sea",
        "hill",
        "moor",
        "rock",
        "star",
        "sun",
        "sonne",
        "mond",
        "morgen",
        "abend",
        "nacht",
        "tag",
        "heute",
        "gestern",
        "paris",
        "london",
        "berlin",
        "wien",
        "zürich",
        "genf",
        "lyon",
        "nice",
        "nancy",
        "florence",
        "lincoln",
        "chester",
        "austin",
        "jersey",
        "orange",
        "victoria",
        "regina",
        "louis",
        "mars",
        "via",
        "van",
        "von",
        "der",
        "den",
        "des",
        "les",
    ]
)

_WORD = re.compile(r"(?<![^\W\d_])[^\W\d_]+(?:'[^\W\d_]+)*")
_TRANSLIT = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _spellings(name: str) -> set[str]:
    key = name.casefold()
    return {key, key.translate(_TRANSLIT), _strip_accents(key)}


def _provider_names(locale: str) -> list[str]:
    provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
    found: list[str] = []
    for attribute in dir(provider):
        if attribute.startswith(("first_names", "last_names")):
            found.extend(str(n) for n in getattr(provider, attribute))  # tuple or weighted dict
    return found


@lru_cache(maxsize=1)
def _lorem_words() -> frozenset[str]:
    words: set[str] = set()
    for locale in _LOREM_LOCALES:
        provider = importlib.import_module(f"faker.providers.lorem.{locale}").Provider
        words.update(w.casefold() for w in provider.word_list)
    return frozenset(words)


@lru_cache(maxsize=1)
def name_keys() -> frozenset[str]:
    """Every spelling of every listed name, minus the stop list (case-folded)."""
    keys: set[str] = set()
    for locale in LOCALES:
        for full in _provider_names(locale):
            for part in re.split(r"[\s-]+", full):
                part = part.strip("'")
                if len(part) >= 3 and part.casefold() not in _PARTICLES:
                    keys.update(_spellings(part))
    stop = set(STOP_WORDS) | _lorem_words()
    stop |= {s for word in list(stop) for s in _spellings(word)}
    return frozenset(k for k in keys if k not in stop and len(k) >= 3)


def is_name(word: str) -> bool:
    """Is this word (capitalised or in capitals) a listed name, or its genitive?"""
    if len(word) < 3 or not word[0].isupper():
        return False
    keys = name_keys()
    key = word.casefold()
    if key in keys:
        return True
    return any(key.endswith(s) and key[: -len(s)] in keys for s in ("'s", "'", "s"))


def _words_with_names(texts: pd.Series) -> Mask:
    """Which texts hold a listed name: Arrow splits, each distinct word is looked up once."""
    found = np.zeros(len(texts), dtype=bool)
    array = to_arrow(texts)
    if array is None:  # not strings: check every text
        return np.array([isinstance(t, str) and bool(_WORD.search(t)) for t in texts], dtype=bool)
    words = pc.split_pattern_regex(array, r"[^\p{L}\p{M}']+")
    parents = pc.list_parent_indices(words).to_numpy()
    flat = pc.list_flatten(words)
    if len(flat) == 0:
        return found
    capital = pc.match_substring_regex(flat, r"^\p{Lu}").to_numpy(zero_copy_only=False)
    encoded = pc.dictionary_encode(flat)
    distinct = encoded.dictionary.to_pylist()
    # split keeps a genitive "'s" and O'Neill's apostrophe: strip the edges, then look up
    verdict = np.fromiter(
        (is_name(w.strip("'")) for w in distinct), dtype=bool, count=len(distinct)
    )
    hit = verdict[encoded.indices.to_numpy(zero_copy_only=False)] & capital
    found[np.unique(parents[hit])] = True
    return found


def contains_name(texts: pd.Series) -> Mask:
    """Per text (object dtype, normalised): does it hold a listed name?"""
    if texts.empty:
        return np.zeros(0, dtype=bool)
    return _words_with_names(texts.reset_index(drop=True))


def replace_names(texts: pd.Series, tag: str) -> pd.Series:
    """``texts`` with every listed name replaced by ``tag`` (a new Series, same index)."""
    hits = contains_name(texts)
    if not hits.any():
        return texts
    out = texts.copy()
    position = np.flatnonzero(hits)

    def swap(match: re.Match[str]) -> str:
        return tag if is_name(match.group(0)) else match.group(0)

    out.iloc[position] = [_WORD.sub(swap, t) for t in texts.iloc[position]]
    return out
