"""The canary's raw side: keyed digests of identifier values, collected while the run stages.

:class:`CanaryObserver` is a pipeline ``ChunkObserver``. For each chunk it adds the digests of
the distinct values of the source's identifier columns (see :mod:`minimizer.gate.rules`) in
the forms a value is written in (:func:`identifier_digests`), counts identifier values shaped
like a closed output format (a token, an H3 cell), and counts the rows whose published text
still holds the row's own subject (:mod:`minimizer.gate.own_names`). At the end it writes a
:class:`CanaryRecord` beside the staged file and puts the record's path in
``SourceReport.canary``, so an Airflow task that runs the gate later reads the
same record. Nothing here holds or writes a raw value.

**Across sources.** The gate compares every published column with the identifiers of *every*
source the purpose reads (:func:`merged`), and with the CRM's identifying columns of all
customers (:class:`CrmIndex`, read by the canary itself, in chunks), so a customer's phone
planted in ``web_profiles``, or the id of a customer who has no row there, is caught.

**Written another way.** Both sides are compared folded (:func:`~minimizer.gate.own_names.
folded`: confusable Cyrillic/Greek letters as Latin), and the raw side also holds the
unsalted MD5/SHA-1/SHA-256 hex digests of each e-mail (lower case) and phone number (E.164):
a "hashed e-mail" is linkable by anyone holding the address. A first and last name glued
into one word ("annaberg") is a whole-name form too, and a row's own glued name is looked for
inside the words of its text ("kundeannaberg").

**Per value, no share.** Any published value that equals or contains a raw identifier fails
(:func:`raw_identifier_hits`), and so does any row that holds its own subject. The one
exception is a short value (under three words) that is *equal* to the row's own name and is
also published, in the same chunk, for at least :data:`COMMON_VALUE_ROWS` rows whose subject
has no such name: that is a category (the city "Paris" of a customer called Paris), not a name.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    normalised,
    pack,
    stripped,
    unique,
    unpack,
)
from minimizer.gate.own_names import (
    OwnForms,
    folded,
    glued_inside,
    glued_names,
    own_forms,
    own_name_hits,
    subjects,
)
from minimizer.gate.rules import (
    CLOSED_FORMATS,
    CRM_CUSTOMERS,
    IdentifierPlan,
    crm_columns,
)
from minimizer.pii.detect import detect
from minimizer.pii.normalisation import ENCODED as _ENCODED
from minimizer.pii.normalisation import fold_confusables_arrow, normalise_one
from minimizer.pii.own_values import EMAIL_SHAPE as _EMAIL_SHAPE
from minimizer.pii.own_values import HASHES as _HASHES
from minimizer.pii.own_values import HOME_CODES as _HOME_CODES
from minimizer.pii.own_values import PHONE_SHAPE as _PHONE_SHAPE
from minimizer.report import SourceReport

__all__ = [
    "COMMON_VALUE_ROWS",
    "SCRATCH_KEY",
    "CanaryObserver",
    "CanaryRecord",
    "CrmIndex",
    "OwnNames",
    "identifier_digests",
    "merged",
    "name_digests",
    "raw_identifier_hits",
]

log = logging.getLogger("minimizer.gate")

SCRATCH_KEY = "gate.canary"
# 2: SipHash digests, fragments. A format-1 record (BLAKE2b digests) would match nothing:
# it is refused, so a run staged before an upgrade fails closed instead of passing.
_FORMAT = "minimizer-canary/2"
_FORMATS = (_FORMAT,)
# A text output row with fewer words than this is a value, not a sentence (see OwnNames).
_SENTENCE_WORDS = 3
COMMON_VALUE_ROWS = 5
# Compared as "contained" only when it cannot be an everyday word: at least this long and not
# letters only (names are compared as whole names instead).
_MIN_FRAGMENT = 5
_MIN_NUMBER = 6
_LETTERS_ONLY = r"^\p{L}+$"
_CRM_CHUNK = 100_000
# a glued first+last name shorter than this is not a whole-name form ("liwu")
_MIN_GLUED = 6
Mask = npt.NDArray[np.bool_]
_NONE = np.empty(0, dtype=np.uint64)


@dataclass
class OwnNames:
    """Rows of one text output that hold their own subject: in sentences, and in short values.

    Every such row leaks, except short values excused as a category (module docstring):
    ``excused`` counts those, for the audit record.
    """

    in_sentences: int = 0
    in_short: int = 0
    short_rows: int = 0
    excused: int = 0

    @property
    def leaked_rows(self) -> int:
        return self.in_sentences + self.in_short


def _concat(parts: Sequence[pa.Array]) -> pa.Array:
    arrays = [p.cast(pa.large_string()) for p in parts if len(p)]
    return pa.concat_arrays(arrays) if arrays else pa.array([], type=pa.large_string())


def _join(*parts: pa.Array | str, sep: str = "") -> pa.Array:
    """Element-wise concatenation; plain strings are broadcast."""
    args = [pa.scalar(p, pa.large_string()) if isinstance(p, str) else p for p in parts]
    return pc.binary_join_element_wise(*args, pa.scalar(sep, pa.large_string()))


def _mask(array: pa.Array) -> Mask:
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=bool)


def _phone_forms(canon: pa.Array) -> pa.Array:
    """Phone numbers in the other notation: ``+49 30 1234567`` also as ``0301234567`` and
    ``030 1234567`` also as ``49301234567`` (+43, +41 too). Country codes are 1-3 digits;
    every split is a form, which costs a few digests and finds the number however written."""
    digits = compact(canon)
    numeric = pc.match_substring_regex(digits, r"^\d{6,15}$")
    dialled = pc.match_substring_regex(canon, r"^(\+|00|0)[\d\s()/.\-]+$")
    phone = _mask(pc.and_(numeric, dialled))
    canon, digits = canon.filter(pa.array(phone)), digits.filter(pa.array(phone))
    international = _mask(pc.match_substring_regex(canon, r"^(\+|00)"))
    inter = pc.replace_substring_regex(digits.filter(pa.array(international)), r"^00", "")
    national = digits.filter(pa.array(~international))
    forms = [inter, _join("00", inter)]
    for cc in (1, 2, 3):  # national "030..."
        forms.append(_join("0", pc.utf8_slice_codeunits(inter, cc)))
    # "+49 (0)30 ...": the trunk 0 kept after a two-digit country code (most of Europe)
    forms.append(
        _join(pc.utf8_slice_codeunits(inter, 0, 2), "0", pc.utf8_slice_codeunits(inter, 2))
    )
    nsn = pc.utf8_slice_codeunits(national, 1)
    for code in ("49", "43", "41"):
        forms += [_join(code, nsn), _join("00", code, nsn)]
    return _concat(forms)


def _eligible(forms: pa.Array) -> Mask:
    """Which forms are compared as contained in a text (module docstring)."""
    long_enough = pc.greater_equal(pc.utf8_length(forms), _MIN_FRAGMENT)
    wordlike = pc.match_substring_regex(forms, _LETTERS_ONLY)
    numberish = pc.match_substring_regex(forms, r"^[\p{L}\p{N}]+$")
    short_number = pc.and_(numberish, pc.less(pc.utf8_length(forms), _MIN_NUMBER))
    return _mask(pc.and_(long_enough, pc.and_(pc.invert(wordlike), pc.invert(short_number))))


def identifier_digests(
    values: pd.Series, secret: bytes, canon: pa.Array | None = None
) -> tuple[Digests, Digests]:
    """(exact, contained) digests of identifier values, in every form they are written in.

    Exact: the canonical value, its compact form, a phone number's other notations, an
    e-mail's local part. Contained: those that cannot be an everyday word (:func:`_eligible`).
    ``canon``: ``normalised(values)`` when the caller has it already.
    """
    canon = normalised(values) if canon is None else canon
    if not len(canon):
        return _NONE, _NONE
    canon = fold_confusables_arrow(canon)
    local = pc.extract_regex(canon, r"^(?P<local>[^@\s]+)@[^@\s]+$")
    local = pc.struct_field(local.filter(pc.is_valid(local)), [0])
    # the local part also compact: "kd.00042.mail(at)example.org" has the runs kd 00042 mail
    parts = [canon, compact(canon), _phone_forms(canon), local, compact(local), _hashes(canon)]
    forms = pc.unique(_concat(parts))
    forms = forms.filter(pc.greater(pc.utf8_length(forms), 0))
    found = digests(forms, secret)  # each form hashed once; the contained ones are a subset
    return unique(found), unique(found[_eligible(forms)])


def _hashes(canon: pa.Array) -> pa.Array:
    """The unsalted hex digests of the e-mail- and phone-shaped values (module docstring):
    an Arrow filter picks them, hashlib runs on those distinct values only."""
    emails = canon.filter(pc.match_substring_regex(canon, _EMAIL_SHAPE))
    phones = canon.filter(pc.match_substring_regex(canon, _PHONE_SHAPE))
    digits = compact(phones)
    length = pc.utf8_length(digits)
    ok = pc.and_(pc.greater_equal(length, 6), pc.less_equal(length, 15))
    phones, digits = phones.filter(ok), digits.filter(ok)
    international = pc.match_substring_regex(phones, r"^(\+|00)")
    inter = pc.replace_substring_regex(digits.filter(international), "^00", "")
    forms = [emails, _join("+", inter)]
    nsn = pc.utf8_slice_codeunits(digits.filter(pc.invert(international)), 1)
    forms += [_join("+", code, nsn) for code in _HOME_CODES]
    values = [v.encode("utf-8", "replace") for v in pc.unique(_concat(forms)).to_pylist()]
    hexes = [getattr(hashlib, name)(v).hexdigest() for name in _HASHES for v in values]
    return pa.array(hexes, type=pa.large_string())


def _spaced(names: pa.Array) -> pa.Array:
    """Canonical names as their letter runs joined by one space: "Anna-Lena" as "anna lena"."""
    return pc.utf8_trim_whitespace(
        pc.replace_substring_regex(folded(names), r"[^\p{L}\p{N}]+", " ")
    )


def name_digests(columns: Sequence[pd.Series], secret: bytes) -> Digests:
    """Whole names, compared globally: each multi-word name value, and the first two name
    columns of a row joined both ways, by a space and glued ("anna berg", "berg anna",
    "annaberg"), umlauts spelled and dropped.
    """
    found: list[pa.Array] = []
    for values in columns:
        for canon in (_spaced(normalised(values)), _spaced(stripped(normalised(values)))):
            found.append(canon.filter(pc.match_substring_regex(canon, r"\S{2,} \S{2,}")))
    if len(columns) >= 2:
        both = {"a": columns[0].to_numpy(dtype=object), "b": columns[1].to_numpy(dtype=object)}
        pairs = pd.DataFrame(both).dropna().drop_duplicates()
        if len(pairs):
            for spell in (canonical, stripped):
                a = _spaced(spell(pa.array(pairs["a"].astype(str).tolist(), pa.large_string())))
                b = _spaced(spell(pa.array(pairs["b"].astype(str).tolist(), pa.large_string())))
                ok = pc.and_(
                    pc.greater_equal(pc.utf8_length(a), 2), pc.greater_equal(pc.utf8_length(b), 2)
                )
                a, b = a.filter(ok), b.filter(ok)
                found += [_join(a, b, sep=" "), _join(b, a, sep=" ")]
                for glued in (_join(a, b), _join(b, a)):
                    glued = pc.replace_substring(glued, " ", "")
                    found.append(glued.filter(pc.greater_equal(pc.utf8_length(glued), _MIN_GLUED)))
    names = pc.unique(_concat(found))
    return unique(digests(names, secret)) if len(names) else _NONE


@dataclass
class CanaryRecord:
    """What the canary needs from the raw side of one source: digests and counts, no values."""

    source: str
    identifiers: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    digests: Digests = field(default_factory=lambda: np.empty(0, dtype=np.uint64))
    shaped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CLOSED_FORMATS, 0))
    own_names: dict[str, OwnNames] = field(default_factory=dict)
    # digests compared as contained in a published text (a subset of the forms in digests)
    fragments: Digests = field(default_factory=lambda: np.empty(0, dtype=np.uint64))
    # False for a record made by hand without fragments: every form is then compared as
    # contained (the observer and load() set it)
    fragments_known: bool = False
    crm: dict[str, Any] = field(default_factory=dict)  # figures of the CRM part, for the audit

    def summary(self) -> dict[str, Any]:
        """JSON-able figures for the audit record."""
        return {
            "identifier_columns": self.identifiers,
            "name_columns": self.names,
            "distinct_identifier_values": len(self.digests),
            "identifier_forms_compared_as_contained": len(self.contained),
            "identifier_values_shaped_like": self.shaped,
            "own_name_rows": {o: n.leaked_rows for o, n in self.own_names.items()},
            "own_name_rows_excused_as_category": {o: n.excused for o, n in self.own_names.items()},
            "crm": self.crm,
        }

    @property
    def contained(self) -> Digests:
        """The digests compared as contained in a published text."""
        known = self.fragments_known or len(self.fragments) > 0
        return self.fragments if known else self.digests

    def save(self, directory: Path) -> Path:
        """``<source>.canary.json``, ``.canary.bin`` and ``.canary.fragments.bin`` (sorted
        8-byte digests), 0600."""
        directory.mkdir(parents=True, exist_ok=True)
        meta = directory / f"{self.source}.canary.json"
        doc = {
            "format": _FORMAT,
            "source": self.source,
            "identifiers": self.identifiers,
            "names": self.names,
            "shaped": self.shaped,
            "own_names": {o: vars(n) for o, n in self.own_names.items()},
            "digests": len(self.digests),
            "fragments": len(self.contained),
            "crm": self.crm,
        }
        _write_private(directory / f"{self.source}.canary.bin", pack(self.digests))
        _write_private(directory / f"{self.source}.canary.fragments.bin", pack(self.contained))
        _write_private(meta, (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode())
        return meta

    @classmethod
    def load(cls, meta: Path) -> CanaryRecord:
        doc = json.loads(meta.read_text())
        if doc.get("format") not in _FORMATS:
            raise ValueError(f"{meta.name} is not a canary record")
        found = unpack(meta.with_name(f"{doc['source']}.canary.bin").read_bytes())
        if len(found) != doc["digests"]:
            raise ValueError(f"{meta.name}: the digest file does not match its record")
        fragments = unpack(meta.with_name(f"{doc['source']}.canary.fragments.bin").read_bytes())
        if len(fragments) != doc["fragments"]:
            raise ValueError(f"{meta.name}: the fragment file does not match its record")
        return cls(
            source=doc["source"],
            identifiers=list(doc["identifiers"]),
            names=list(doc["names"]),
            digests=found,
            shaped=dict(doc["shaped"]),
            own_names={o: OwnNames(**n) for o, n in doc["own_names"].items()},
            fragments=fragments,
            fragments_known=True,
            crm=dict(doc.get("crm", {})),
        )


def merged(records: dict[str, CanaryRecord]) -> dict[str, CanaryRecord]:
    """Each source's record with the identifiers of all of them: a raw value of one source
    must not appear in any table of the purpose. Own-name counts stay per source."""
    every = unique(np.concatenate([_NONE, *(r.digests for r in records.values())]))
    contained = unique(np.concatenate([_NONE, *(r.contained for r in records.values())]))
    shaped = {name: sum(r.shaped.get(name, 0) for r in records.values()) for name in CLOSED_FORMATS}
    return {
        table: CanaryRecord(
            source=r.source,
            identifiers=r.identifiers,
            names=r.names,
            digests=every,
            shaped=shaped,
            own_names=r.own_names,
            fragments=contained,
            fragments_known=True,
            crm=r.crm,
        )
        for table, r in records.items()
    }


def raw_identifier_hits(texts: pa.Array, record: CanaryRecord, secret: bytes) -> Mask:
    """Per (distinct) published text: is it, or does it contain, a raw identifier value?

    Equal: the canonical text is one of the record's forms. Contained: one of its fragments
    (:func:`minimizer.gate.digests.fragments`) is a form compared as contained. A text with
    an encoding in it (%XX, an HTML entity, a base64 token) is compared decoded too: the
    raw id in ``Q3VzdC0wMDQy`` is as linkable as written out."""
    if not len(texts):
        return np.zeros(0, dtype=bool)
    flagged = _plain_hits(texts, record, secret)
    encoded = np.flatnonzero(_mask(pc.match_substring_regex(texts, _ENCODED)))
    if encoded.size:
        original = texts.take(pa.array(encoded)).to_pylist()
        decoded = np.array([normalise_one(t) for t in original], dtype=object)
        changed = decoded != np.array(original, dtype=object)
        if changed.any():
            again = pa.array(decoded[changed].tolist(), pa.large_string())
            flagged[encoded[changed]] |= _plain_hits(again, record, secret)
    return flagged


def _plain_hits(texts: pa.Array, record: CanaryRecord, secret: bytes) -> Mask:
    """:func:`raw_identifier_hits` on the texts as they are."""
    texts = folded(texts)
    flagged = contains(digests(texts, secret), record.digests)
    contained = record.contained
    if len(contained):
        pieces, parent = fragments(texts)
        encoded = pc.dictionary_encode(pieces)
        known = contains(digests(encoded.dictionary, secret), contained)
        hit = known[encoded.indices.to_numpy(zero_copy_only=False)]
        flagged[np.unique(parent[hit])] = True
    return flagged


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _is_text(values: pd.Series) -> bool:
    return bool(pd.api.types.is_string_dtype(values.dtype) or values.dtype == object)


def _word_counts(text: pd.Series) -> np.ndarray:
    array = pa.array(text.astype("str").to_numpy(dtype=object), type=pa.large_string())
    counts = pc.list_value_length(pc.utf8_split_whitespace(array))
    return np.asarray(counts.to_numpy(zero_copy_only=False))


def _is_email_column(column: str) -> bool:
    lowered = column.lower()
    return "mail" in lowered


class CrmIndex:
    """The CRM customers table's identifying columns, as digests: read once per run.

    ``exact``/``fragments`` join every record (all customers, whether the purpose reads them
    or not); ``own`` pairs each customer's key with the forms of their names and e-mail local
    part, for sources that read no name column. Read in chunks of ``_CRM_CHUNK`` rows; what
    is kept is 8 bytes per distinct form, never a value."""

    def __init__(self) -> None:
        self.exact: Digests = _NONE
        self.fragments: Digests = _NONE
        self.own = OwnForms.empty()
        self.key: str | None = None
        self.figures: dict[str, Any] = {}

    @classmethod
    def read(cls, crm: str, secret: bytes, table: str = CRM_CUSTOMERS) -> CrmIndex | None:
        """The index of the CRM at ``crm`` (a SQLite path or PostgreSQL URL); None when it has
        no customers table (a CRM the purpose does not use)."""
        from minimizer.errors import SourceError
        from minimizer.io.sources import TableSource

        started = time.perf_counter()
        try:
            source = TableSource(crm, table)
            plan = crm_columns(source.columns())
        except SourceError as exc:
            if exc.reason != "missing_source":
                raise
            log.info("no CRM customers table for the canary; only the sources are compared")
            return None
        index = cls()
        index.key = plan.key
        columns = list(dict.fromkeys([*plan.identifiers, *plan.names]))
        exact: list[Digests] = []
        contained: list[Digests] = []
        pairs: list[Digests] = []
        forms: list[Digests] = []
        rows = 0
        for chunk in source.chunks(columns, chunk_rows=_CRM_CHUNK):
            rows += len(chunk)
            for column in plan.identifiers:
                e, f = identifier_digests(chunk[column], secret)
                exact.append(e)
                contained.append(f)
            name_columns = [chunk[c] for c in plan.names]
            if name_columns:
                whole = name_digests(name_columns, secret)
                exact.append(whole)
                contained.append(whole)
            if plan.key is not None:
                subject = subjects(chunk[plan.key], secret)
                mails = [chunk[c] for c in plan.identifiers if _is_email_column(c)]
                glued = glued_names(name_columns)
                own = own_forms([*name_columns, *mails, *glued], subject, secret)
                pairs.append(own.pairs)
                forms.append(own.forms)
            for parts in (exact, contained, pairs, forms):
                _consolidate(parts)
        index.exact = unique(np.concatenate([_NONE, *exact]))
        index.fragments = unique(np.concatenate([_NONE, *contained]))
        index.own = OwnForms(
            unique(np.concatenate([_NONE, *pairs])), unique(np.concatenate([_NONE, *forms]))
        )
        index.figures = {
            "table": table,
            "customers": rows,
            "identifier_columns": list(plan.identifiers),
            "name_columns": list(plan.names),
            "distinct_forms": len(index.exact),
            "own_name_pairs": len(index.own.pairs),
            "seconds": round(time.perf_counter() - started, 3),
        }
        return index


def _consolidate(parts: list[Digests]) -> None:
    """Chunk after chunk, a value seen again is kept once: memory follows distinct forms."""
    if len(parts) > 16:
        parts[:] = [unique(np.concatenate(parts))]


class CanaryObserver:
    """Collects one source's canary record while the run stages it (a ``ChunkObserver``)."""

    def __init__(
        self,
        plan: IdentifierPlan,
        secret: bytes,
        directory: Path | None = None,
        crm: CrmIndex | None = None,
    ) -> None:
        self.plan = plan
        self.secret = secret
        self.directory = directory
        self.crm = crm
        self.flagged: list[str] = []
        self.record = CanaryRecord(plan.source, names=list(plan.names))
        self._digests: list[Digests] = []
        self._fragments: list[Digests] = []

    def observe(self, raw: pd.DataFrame, published: pd.DataFrame) -> None:
        self._flag_candidates(raw)
        for column in (*self.plan.identifiers, *self.flagged):
            if column in raw:
                self._add_digests(raw[column])
        names = [raw[n] for n in self.plan.names if n in raw]
        if names:
            whole = name_digests(names, self.secret)
            self._digests.append(whole)
            self._fragments.append(whole)
        outputs = [o for o in self.plan.text_outputs if o in published and _is_text(published[o])]
        if outputs:
            self._check_own_names(raw, published, outputs, names)

    def finish(self, report: SourceReport) -> None:
        self.record.identifiers = [*self.plan.identifiers, *self.flagged]
        crm = [self.crm.exact] if self.crm is not None else []
        crm_contained = [self.crm.fragments] if self.crm is not None else []
        self.record.digests = unique(np.concatenate([_NONE, *self._digests, *crm]))
        self.record.fragments = unique(np.concatenate([_NONE, *self._fragments, *crm_contained]))
        self.record.fragments_known = True
        if self.crm is not None:
            self.record.crm = self.crm.figures
        directory = report.staged.parent if report.staged is not None else self.directory
        if directory is None:
            raise ValueError("the canary record needs a directory: the staged file's or given")
        report.canary = self.record.save(directory)
        report.measures["canary"] = self.record.summary()

    def _flag_candidates(self, raw: pd.DataFrame) -> None:
        """Read but unpublished text becomes an identifier once a detector flags any value."""
        for column in self.plan.candidates:
            if column in raw and column not in self.flagged and _is_text(raw[column]):
                distinct = pd.Series(pd.unique(raw[column].dropna()), dtype=object)
                if any(detect(distinct).values()):
                    self.flagged.append(column)

    def _add_digests(self, values: pd.Series) -> None:
        texts = normalised(values)
        if len(texts) == 0:
            return
        exact, contained = identifier_digests(values, self.secret, texts)
        self._digests.append(exact)
        self._fragments.append(contained)
        _consolidate(self._digests)
        _consolidate(self._fragments)
        for name, pattern in CLOSED_FORMATS.items():
            shaped = pc.sum(pc.match_substring_regex(texts, pattern)).as_py() or 0
            self.record.shaped[name] += int(shaped)

    def _subjects(self, raw: pd.DataFrame) -> tuple[Digests, bool]:
        """Per row, who it is about: its key's digest (joins the CRM), else the row itself."""
        key = self.plan.key
        if key is not None and key in raw:
            return subjects(raw[key], self.secret), True
        return np.arange(1, len(raw) + 1, dtype=np.uint64), False

    def _check_own_names(
        self,
        raw: pd.DataFrame,
        published: pd.DataFrame,
        outputs: list[str],
        names: list[pd.Series],
    ) -> None:
        mails = [raw[c] for c in self.plan.identifiers if c in raw and _is_email_column(c)]
        if not names and not mails and self.crm is None:
            return  # nobody's own name is known: nothing to compare
        subject, keyed = self._subjects(raw)
        glued = glued_names(names)
        known = own_forms([*names, *mails, *glued], subject, self.secret)
        if keyed and self.crm is not None:
            known = known | self.crm.own
        if not len(known.pairs):
            return
        for output in outputs:
            counts = self.record.own_names.setdefault(output, OwnNames())
            text = published[output].reset_index(drop=True)
            hits, whole = own_name_hits(text, subject, known, self.secret)
            if glued:
                inside, equal = glued_inside(text, glued)
                hits, whole = hits | inside, whole | equal
            present = text.notna().to_numpy()
            sentence = np.zeros(len(text), dtype=bool)
            sentence[present] = _word_counts(text[present]) >= _SENTENCE_WORDS
            short = hits & ~sentence
            excused = short & whole & _common(text, hits)
            counts.in_sentences += int((hits & sentence).sum())
            counts.in_short += int((short & ~excused).sum())
            counts.short_rows += int((present & ~sentence).sum())
            counts.excused += int(excused.sum())


def _common(text: pd.Series, hits: Mask) -> Mask:
    """Per row: is its value also published for at least COMMON_VALUE_ROWS rows that hold no
    own name (a category such as a city, not a name)?"""
    codes, _ = pd.factorize(canonical_series(text), use_na_sentinel=True)
    present = codes >= 0
    others = np.bincount(codes[present & ~hits], minlength=int(codes.max(initial=-1)) + 1)
    out = np.zeros(len(text), dtype=bool)
    out[present] = others[codes[present]] >= COMMON_VALUE_ROWS
    return out


def canonical_series(text: pd.Series) -> pd.Series:
    """Per row, the canonical form of its value (computed once per distinct value)."""
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    forms = canonical(pa.array([str(v) for v in np.asarray(uniques, dtype=object).tolist()],
                               pa.large_string())).to_numpy(zero_copy_only=False)  # fmt: skip
    out = np.full(len(text), None, dtype=object)
    out[codes >= 0] = np.asarray(forms, dtype=object)[codes[codes >= 0]]
    return pd.Series(out, index=text.index, dtype=object)
