"""Keyed digests of normalised text, so raw and published values can be compared unseen.

Both sides go through the same steps (:func:`canonical`): text form; NFKC (full-width letters
and digits, composed umlauts: ``"Bo\\u0308rner"`` is ``"Börner"``); zero-width characters and
soft hyphens removed; lower case; German transliteration folded (``ä``→``ae``, ``ö``→``oe``,
``ü``→``ue``, ``ß``→``ss``) and other diacritics dropped, so "Boerner", "BÖRNER" and "börner"
are one form; runs of whitespace become one space. Then a keyed 64-bit digest (SipHash-2-4,
key derived from ``keyring.secret_for("canary")``, see :func:`digests`) held as ``uint64``: a
sorted array is compact (8 bytes a value) and membership is one vectorised search. 64 bits
make a chance match between a million raw and a million published values about 1 in 10^7; a
chance match fails the gate (the safe side). Only distinct values are hashed. A digest
reveals nothing without the key, and with the key only a value one guesses.

"Contains" is decided on :func:`fragments`: the pieces of a published text a raw identifier
could be written as: the whole text and its compact form (only letters and digits), its
whitespace words, its letter/digit runs, and windows of consecutive runs, joined by a space
(names: "anna berg") and joined without one (numbers written in groups: ``030 - 12 34 56 78``
is the run window ``03012345678``; ``Kd-Nr.:C4QK2M7ZT1`` has the run ``c4qk2m7zt1``). Every
piece is built column-wise in Arrow over the distinct texts; no loop runs over values.

>>> import pandas as pd
>>> raw = digests(normalised(pd.Series(["Anna@X.de ", "B7", "b7"])), b"k" * 32)
>>> out = digests(normalised(pd.Series(["anna@x.de", "C9"])), b"k" * 32)
>>> len(raw), contains(out, unique(raw)).tolist()
(2, [True, False])
>>> sorted(words(pd.Series(["Write to (anna@x.de), said C7.", None])).to_pylist())
['anna@x.de', 'c7', 'said', 'to', 'write']
>>> canonical(pa.array(["Bo\\u0308r\\u200bner", "ＳＴＲＡßＥ"])).to_pylist()
['boerner', 'strasse']
>>> pieces, parent = fragments(pa.array(["Tel. 030 - 12 34 56 78"]))
>>> "03012345678" in pieces.to_pylist()
True
"""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from minimizer.pii.own_values import INVISIBLE

__all__ = [
    "DIGEST_BYTES",
    "PUNCTUATION",
    "Digests",
    "canonical",
    "compact",
    "contains",
    "digests",
    "fragments",
    "mix",
    "normalised",
    "pack",
    "runs",
    "stripped",
    "unique",
    "unpack",
    "words",
]

DIGEST_BYTES = 8
Digests = npt.NDArray[np.uint64]
# Stripped from both ends of a word: "(anna@x.de)," is the word "anna@x.de".
PUNCTUATION = "\"'()[]{}<>.,;:!?«»“”‘’"
# Invisible characters an attacker puts inside a value so that no equality holds.
_INVISIBLE = INVISIBLE.pattern  # shared with scrubbing: both strip the same characters
_TRANSLITERATION = (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss"))
_NOT_ALNUM = r"[^\p{L}\p{N}]+"
# Windows of 2..3 runs are names ("anna lena berg"); longer windows join digit groups of
# phones and IBANs, up to 10 groups ("DE89 3704 0044 0532 0130 00" is 6).
_NAME_WINDOW = 3
_NUMBER_WINDOW = 10
_MAX_COMPACT = 40  # longer than any phone, IBAN or id: not worth a digest


def _arrow_text(values: pd.Series) -> pa.Array:
    """The distinct non-null values as an Arrow string array (their text form)."""
    uniques = pd.unique(values.dropna())
    try:
        return pa.array(np.asarray(uniques, dtype=object), type=pa.large_string())
    except (pa.ArrowException, TypeError):
        # ints, dates, lone surrogates...: one str() per distinct value, never per row
        text = [str(v).encode("utf-8", "replace").decode("utf-8") for v in uniques]
        return pa.array(text, type=pa.large_string())


def _large(texts: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    return texts.cast(pa.large_string()) if texts.type != pa.large_string() else texts


def canonical(texts: pa.Array) -> pa.Array:
    """The one form both sides are compared in (see the module docstring), value by value.

    ASCII text (ids, most e-mails and phones) only needs lower case and spaces; the Unicode
    steps run on the other values only."""
    texts = _large(texts)
    ascii_ = pc.fill_null(pc.string_is_ascii(texts), True)
    simple = pc.utf8_trim_whitespace(pc.replace_substring_regex(pc.ascii_lower(texts), r"\s+", " "))
    other = pc.invert(ascii_)
    if not pc.any(other).as_py():
        return simple
    return pc.replace_with_mask(simple, other, _unicode_canonical(texts.filter(other)))


def _unicode_canonical(texts: pa.Array) -> pa.Array:
    text = pc.utf8_normalize(_large(texts), "NFKC")
    text = pc.replace_substring_regex(text, _INVISIBLE, "")
    text = pc.utf8_lower(text)
    for letter, spelled in _TRANSLITERATION:
        text = pc.replace_substring(text, letter, spelled)
    text = pc.replace_substring_regex(pc.utf8_normalize(text, "NFD"), r"\p{Mn}+", "")
    text = pc.utf8_normalize(text, "NFC")
    return pc.utf8_trim_whitespace(pc.replace_substring_regex(text, r"\s+", " "))


def stripped(texts: pa.Array) -> pa.Array:
    """Canonical, but umlauts dropped instead of spelled out: "Börner" as "borner"."""
    text = pc.utf8_lower(pc.utf8_normalize(_large(texts), "NFKC"))
    text = pc.replace_substring_regex(text, _INVISIBLE, "")
    return canonical(pc.replace_substring_regex(pc.utf8_normalize(text, "NFD"), r"\p{Mn}+", ""))


def compact(texts: pa.Array) -> pa.Array:
    """Only the letters and digits of canonical texts: ``+49 (30) 1234-5678`` as ``4930...``."""
    return pc.replace_substring_regex(_large(texts), _NOT_ALNUM, "")


def normalised(values: pd.Series) -> pa.Array:
    """Distinct values in canonical form; empty strings dropped."""
    text = pc.unique(canonical(_arrow_text(values)))
    return text.filter(pc.greater(pc.utf8_length(text), 0))


def words(values: pd.Series, min_length: int = 2) -> pa.Array:
    """Distinct words of free text: split on whitespace, punctuation trimmed, canonical."""
    split = pc.utf8_split_whitespace(canonical(_arrow_text(values)))
    flat = pc.unique(pc.utf8_trim(pc.list_flatten(split), characters=PUNCTUATION))
    return flat.filter(pc.greater_equal(pc.utf8_length(flat), min_length))


def runs(texts: pa.Array) -> tuple[pa.Array, npt.NDArray[np.int64]]:
    """The letter/digit runs of canonical texts, flat, with the index of the text of each."""
    split = pc.split_pattern_regex(_large(texts), _NOT_ALNUM)
    parent = pc.list_parent_indices(split).to_numpy()
    flat = pc.list_flatten(split)
    keep = pc.greater(pc.utf8_length(flat), 0)
    return flat.filter(keep), parent[keep.to_numpy(zero_copy_only=False)]


def _windows(
    flat: pa.Array, parent: npt.NDArray[np.int64], width: int, sep: str
) -> tuple[pa.Array, npt.NDArray[np.int64]]:
    """Consecutive runs ``width`` at a time, within one text, joined by ``sep``."""
    n = len(flat) - width + 1
    if n <= 0:
        return pa.array([], type=pa.large_string()), np.empty(0, dtype=np.int64)
    same = parent[:n] == parent[width - 1 :]
    start = np.flatnonzero(same)
    if not start.size:
        return pa.array([], type=pa.large_string()), np.empty(0, dtype=np.int64)
    parts = [flat.take(pa.array(start + k)) for k in range(width)]
    return pc.binary_join_element_wise(*parts, pa.scalar(sep, pa.large_string())), parent[start]


def fragments(texts: pa.Array) -> tuple[pa.Array, npt.NDArray[np.int64]]:
    """Every piece of each text a raw value could hide in (module docstring), with the index
    of its text. ``texts`` need not be canonical; the pieces are."""
    texts = canonical(texts)
    index = np.arange(len(texts), dtype=np.int64)
    pieces: list[pa.Array] = [texts, compact(texts)]
    parents: list[npt.NDArray[np.int64]] = [index, index]
    split = pc.utf8_split_whitespace(texts)
    pieces.append(pc.utf8_trim(pc.list_flatten(split), characters=PUNCTUATION))
    parents.append(pc.list_parent_indices(split).to_numpy())
    flat, parent = runs(texts)
    pieces.append(flat)
    parents.append(parent)
    # "Dörrs Lieferung": the genitive -s of a name run (the apostrophe form splits by itself)
    genitive = pc.and_(pc.ends_with(flat, "s"), pc.greater_equal(pc.utf8_length(flat), 4))
    pieces.append(pc.utf8_slice_codeunits(flat.filter(genitive), 0, -1))
    parents.append(parent[genitive.to_numpy(zero_copy_only=False)])
    digit = pc.match_substring_regex(flat, r"\d").to_numpy(zero_copy_only=False)
    digits_before = np.concatenate([[0], np.cumsum(digit)])
    for width in range(2, _NUMBER_WINDOW + 1):
        if width <= _NAME_WINDOW:
            joined, at = _windows(flat, parent, width, " ")
            pieces.append(joined)
            parents.append(at)
            joined, at = _windows(flat, parent, width, "")
        else:  # only windows of digit groups: a sentence's words are not a number
            joined, at = _windows(flat, parent, width, "")
            if not len(joined):
                break
            n = len(flat) - width + 1
            same = np.flatnonzero(parent[:n] == parent[width - 1 :])
            all_digits = (digits_before[same + width] - digits_before[same]) == width
            joined, at = joined.filter(pa.array(all_digits)), at[all_digits]
        if not len(joined):
            break
        short = pc.less_equal(pc.utf8_length(joined), _MAX_COMPACT)
        pieces.append(joined.filter(short))
        parents.append(at[short.to_numpy(zero_copy_only=False)])
    out = pa.concat_arrays([_large(p) for p in pieces])
    return out, np.concatenate(parents)


def _siphash_key(secret: bytes) -> str:
    """A 16-byte SipHash key from the canary secret: pandas takes it as 16 ASCII characters,
    so each byte keeps 7 bits (112 key bits)."""
    derived = hashlib.blake2b(secret, digest_size=16, person=b"mz-canary-sip").digest()
    return bytes(b & 0x7F for b in derived).decode("ascii")


def digests(texts: pa.Array, secret: bytes) -> Digests:
    """Keyed digests of normalised texts, in order: SipHash-2-4 (a keyed pseudo-random
    function made for short inputs) over each text's UTF-8 bytes, in C over the whole array
    (``pandas.util.hash_array``), about seven times faster than BLAKE2b value by value."""
    values = _large(texts).to_numpy(zero_copy_only=False)
    if not len(values):
        return np.empty(0, dtype=np.uint64)
    objects = np.asarray(values, dtype=object)
    found = pd.util.hash_array(objects, hash_key=_siphash_key(secret), categorize=False)
    return np.asarray(found, dtype=np.uint64)


def mix(subject: Digests, found: Digests) -> Digests:
    """One 64-bit digest of a (subject, value) pair: "this row's own name", as a number.

    splitmix64's finaliser over the subject xor a multiple of the value: both are already
    keyed digests, so this only has to spread bits, not hide them."""
    with np.errstate(over="ignore"):
        x = subject ^ (found * np.uint64(0x9E3779B97F4A7C15))
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return x


def unique(found: Digests) -> Digests:
    """Sorted and without repeats: the form ``contains`` searches. (A sort: numpy's hash-based
    ``unique`` is several times slower on millions of uint64.)"""
    ordered = np.sort(found)
    keep = np.ones(len(ordered), dtype=bool)
    keep[1:] = ordered[1:] != ordered[:-1]
    return ordered[keep]


def contains(candidates: Digests, known: Digests) -> npt.NDArray[np.bool_]:
    """Per candidate: is it in ``known`` (sorted, unique)?"""
    if not len(known):
        return np.zeros(len(candidates), dtype=bool)
    at = np.minimum(np.searchsorted(known, candidates), len(known) - 1)
    found: npt.NDArray[np.bool_] = known[at] == candidates
    return found


def pack(found: Digests) -> bytes:
    """The on-disk form: sorted unique little-endian uint64."""
    return unique(found).astype("<u8").tobytes()


def unpack(data: bytes) -> Digests:
    if len(data) % DIGEST_BYTES:
        raise ValueError("a digest file holds whole 8-byte digests")
    return np.frombuffer(data, dtype="<u8").astype(np.uint64)
