"""Which rows of a published text still hold that row's own subject, written any way.

An independent re-check of what scrubbing promises, from the raw and published rows side by
side (the observer sees both). A row's **own forms** are the variants of its name values and
its e-mail's local part (:func:`minimizer.pii.own_values.value_variants`: transliteration both
ways, umlauts dropped, parts of hyphenated and multi-word names), in canonical form
(:func:`minimizer.gate.digests.canonical`: NFKC, zero-width characters removed, folded, and
then confusable Cyrillic/Greek letters as their Latin look-alikes, on both sides: "Bеrg" with
a Cyrillic "е" is "berg", :func:`folded`). The
published text is cut into :func:`~minimizer.gate.digests.fragments` (words, letter/digit
runs, run windows, a genitive -s dropped). A row hits when one of its fragments is one of its
own forms.

Both sides become 64-bit keyed digests, and each (subject, form) pair one more digest
(:func:`~minimizer.gate.digests.mix`), so the check is a sorted-array membership test over
all rows at once. The subject is the row itself, or the digest of its raw key, which lets
forms come from elsewhere: the CRM's names of a customer whose source reads no name column
(:class:`minimizer.gate.canary.CrmIndex`). Fragments are built once per distinct text, and
only fragments that are someone's own form are expanded to rows.

>>> import pandas as pd
>>> text = pd.Series(["Call Anna Berg today", "Annabel called", "anna", None, "Boerners Paket"])
>>> first = pd.Series(["Anna", "Anna", "Anna", "Anna", "Jo"])
>>> last = pd.Series(["Berg", "Berg", "Berg", "Berg", "Börner"])
>>> own_name_rows(text, [first, last]).tolist()
[True, False, True, False, True]
>>> own_name_rows(pd.Series(["Met van der Berg"]), [pd.Series(["Jan van der Berg"])]).tolist()
[True]
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from minimizer.gate.digests import (
    Digests,
    canonical,
    compact,
    contains,
    digests,
    fragments,
    mix,
    unique,
)
from minimizer.pii.normalisation import fold_confusables_arrow
from minimizer.pii.own_values import value_variants

__all__ = [
    "OwnForms",
    "folded",
    "glued_inside",
    "glued_names",
    "own_forms",
    "own_name_hits",
    "own_name_rows",
    "subjects",
]

Mask = npt.NDArray[np.bool_]
_MIN_FORM = 2
# a glued first+last name shorter than this is not looked for inside words ("liwu")
_MIN_GLUED = 6
# A key for checks whose digests never leave the process (own_name_rows on its own).
_EPHEMERAL = secrets.token_bytes(32)


@dataclass(frozen=True)
class OwnForms:
    """(subject, own form) pairs as digests, and the forms alone (a cheap first filter)."""

    pairs: Digests  # sorted, unique
    forms: Digests  # sorted, unique

    @classmethod
    def empty(cls) -> OwnForms:
        none = np.empty(0, dtype=np.uint64)
        return cls(none, none)

    def __or__(self, other: OwnForms) -> OwnForms:
        return OwnForms(
            unique(np.concatenate([self.pairs, other.pairs])),
            unique(np.concatenate([self.forms, other.forms])),
        )


def folded(texts: pa.Array) -> pa.Array:
    """Canonical, then every confusable letter as its Latin look-alike (after lower-casing,
    so a capital and its small letter end up the same on either side)."""
    return fold_confusables_arrow(canonical(texts))


def subjects(keys: pd.Series, secret: bytes) -> Digests:
    """Per row, the digest of its canonical raw key (0 for a missing key)."""
    codes, uniques = pd.factorize(keys, use_na_sentinel=True)
    text = pa.array([str(v) for v in np.asarray(uniques, dtype=object).tolist()], pa.large_string())
    found = np.append(digests(canonical(text), secret), np.uint64(0))
    return np.asarray(found[codes], dtype=np.uint64)  # code -1 picks the appended 0


def own_forms(names: Sequence[pd.Series], subject: Digests, secret: bytes) -> OwnForms:
    """The own forms of each row's values (name, e-mail...), paired with the row's subject."""
    pairs, forms = [], []
    for values in names:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        if not len(uniques):
            continue
        # no hashes: the raw-identifier check compares them for every customer already
        distinct = pd.Series(np.asarray(uniques, dtype=object), dtype=object)
        table = value_variants(distinct, hashes=False)
        flat = table.to_numpy(dtype=object).ravel()  # value-major: value i owns slots i*w..
        owner = np.repeat(np.arange(len(table)), table.shape[1])
        used = flat != ""
        canon = folded(pa.array(flat[used].tolist(), type=pa.large_string()))
        long_enough = pc.greater_equal(pc.utf8_length(canon), _MIN_FORM).to_numpy(
            zero_copy_only=False
        )
        form = digests(canon.filter(pa.array(long_enough)), secret)
        owner = owner[used][long_enough]
        # expand value -> rows holding it: rows sorted by their value's code
        present = np.flatnonzero(codes >= 0)
        order = present[np.argsort(codes[present], kind="stable")]
        starts = np.searchsorted(codes[order], np.arange(len(uniques)))
        ends = np.searchsorted(codes[order], np.arange(len(uniques)), side="right")
        per = (ends - starts)[owner]
        rows = order[_ranges(starts[owner], per)]
        pairs.append(mix(subject[rows], np.repeat(form, per)))
        forms.append(form)
    if not pairs:
        return OwnForms.empty()
    return OwnForms(unique(np.concatenate(pairs)), unique(np.concatenate(forms)))


def _ranges(starts: npt.NDArray[np.int64], lengths: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Concatenated ``arange(s, s + n)`` for each (s, n), without a loop."""
    total = int(lengths.sum())
    if not total:
        return np.empty(0, dtype=np.int64)
    offsets = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.repeat(starts, lengths) + (np.arange(total) - offsets)


def own_name_hits(
    text: pd.Series, subject: Digests, known: OwnForms, secret: bytes
) -> tuple[Mask, Mask]:
    """Per row: does its text hold one of its subject's own forms, and is the whole text one?

    ``subject`` is aligned with ``text`` by position; ``known`` holds the (subject, form) pairs
    of every row (:func:`own_forms`, possibly joined with the CRM's)."""
    rows_hit = np.zeros(len(text), dtype=bool)
    whole_hit = np.zeros(len(text), dtype=bool)
    if not len(known.pairs) or not len(text):
        return rows_hit, whole_hit
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    if not len(uniques):
        return rows_hit, whole_hit
    distinct = pa.array(
        [str(v) for v in np.asarray(uniques, dtype=object).tolist()], pa.large_string()
    )
    pieces, parent = fragments(folded(distinct))
    encoded = pc.dictionary_encode(pieces)
    piece_digest = digests(encoded.dictionary, secret)
    index = encoded.indices.to_numpy(zero_copy_only=False)
    someones = contains(piece_digest, known.forms)[index]  # the cheap filter, per piece
    if not someones.any():
        return rows_hit, whole_hit
    parent, found = parent[someones], piece_digest[index[someones]]
    whole = np.zeros(len(someones), dtype=bool)
    whole[: len(distinct)] = True  # fragments() puts each whole text first
    whole = whole[someones]
    # expand each surviving piece to the rows holding its text
    present = np.flatnonzero(codes >= 0)
    order = present[np.argsort(codes[present], kind="stable")]
    starts = np.searchsorted(codes[order], parent)
    per = np.searchsorted(codes[order], parent, side="right") - starts
    rows = order[_ranges(starts, per)]
    hit = contains(mix(subject[rows], np.repeat(found, per)), known.pairs)
    rows_hit[rows[hit]] = True
    whole_hit[rows[hit & np.repeat(whole, per)]] = True
    return rows_hit, whole_hit


def glued_names(names: Sequence[pd.Series]) -> list[pd.Series]:
    """Per row, the first two name columns glued both ways ("AnnaBerg", "BergAnna"); None
    where a part is missing. Empty when there are fewer than two name columns."""
    if len(names) < 2:
        return []
    a, b = (pd.Series(n.to_numpy(dtype=object), dtype=object) for n in names[:2])
    both = a.notna() & b.notna()
    a, b = a.where(both, "").astype(str), b.where(both, "").astype(str)
    return [(a + b).where(both), (b + a).where(both)]


def _per_row(values: pd.Series, fn: Callable[[pa.Array], pa.Array]) -> np.ndarray:
    """``fn`` (Arrow array -> Arrow array) once per distinct value, back on the rows as a
    numpy string array ("" for nulls)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    distinct = pa.array([str(v).encode("utf-8", "replace").decode("utf-8")
                         for v in np.asarray(uniques, dtype=object).tolist()],
                        pa.large_string())  # fmt: skip
    forms = np.asarray(fn(distinct).to_numpy(zero_copy_only=False), dtype=object)
    out = np.full(len(values), "", dtype=object)
    out[codes >= 0] = forms[codes[codes >= 0]]
    return out.astype(np.dtypes.StringDType())


def glued_inside(text: pd.Series, glued: Sequence[pd.Series]) -> tuple[Mask, Mask]:
    """Per row: does its text hold its own glued full name inside a word ("kundeannaberg"),
    and is the whole text that name? Both folded (module docstring), element-wise over the
    rows with numpy's string functions; glued names shorter than ``_MIN_GLUED`` skip."""
    published = _per_row(pd.Series(text.to_numpy(dtype=object), dtype=object), folded)
    inside = np.zeros(len(text), dtype=bool)
    equal = np.zeros(len(text), dtype=bool)
    for names in glued:
        own = _per_row(names, lambda a: compact(folded(a)))
        usable = np.strings.str_len(own) >= _MIN_GLUED
        at = np.flatnonzero(usable)
        if at.size:
            inside[at] |= np.strings.find(published[at], own[at]) >= 0
            equal[at] |= published[at] == own[at]
    return inside, equal


def own_name_rows(text: pd.Series, names: Sequence[pd.Series]) -> pd.Series:
    """Bool per row: the row's text holds one of its own name values or name parts, or its
    first two names glued into one word."""
    subject = np.arange(1, len(text) + 1, dtype=np.uint64)  # each row is its own subject
    aligned = [pd.Series(n.to_numpy(dtype=object), dtype=object) for n in names]
    glued = glued_names(aligned)
    known = own_forms([*aligned, *glued], subject, _EPHEMERAL)
    plain = pd.Series(text.to_numpy(dtype=object))
    hit, _ = own_name_hits(plain, subject, known, _EPHEMERAL)
    if glued:
        hit |= glued_inside(plain, glued)[0]
    return pd.Series(hit, index=text.index)
