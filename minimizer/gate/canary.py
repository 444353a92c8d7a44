"""The canary's raw side: keyed digests of identifier values, collected while the run stages.

:class:`CanaryObserver` is a pipeline ``ChunkObserver``. For each chunk it adds the digests of
the distinct values of the source's identifier columns (see :mod:`minimizer.gate.rules`),
counts identifier values shaped like a closed output format (a token, an H3 cell), and counts
the rows whose text outputs still hold the row's own name. At the end it writes a
:class:`CanaryRecord` beside the staged file and puts the record's path in
``SourceReport.scratch["gate.canary"]``, so an Airflow task that runs the gate later reads the
same record. Nothing here holds or writes a raw value.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from minimizer.gate.digests import Digests, digests, normalised, pack, unique, unpack
from minimizer.gate.own_names import own_name_rows
from minimizer.gate.rules import CLOSED_FORMATS, IdentifierPlan
from minimizer.pii import detect
from minimizer.pipeline import SourceReport

__all__ = ["SCRATCH_KEY", "CanaryObserver", "CanaryRecord", "OwnNames"]

SCRATCH_KEY = "gate.canary"
_FORMAT = "minimizer-canary/1"
# A text output row with fewer words than this is a value, not a sentence (see OwnNames).
_SENTENCE_WORDS = 3


@dataclass
class OwnNames:
    """Rows of one text output that hold their own name: in sentences, and in short values.

    A sentence naming its own subject is a leak. A short value equal to its own subject's name
    (a customer called "Paris" living in Paris, city kept) is a coincidence, unless it is what
    the column mostly holds: then the column is a copy of a name column.
    """

    in_sentences: int = 0
    in_short: int = 0
    short_rows: int = 0

    @property
    def leaked_rows(self) -> int:
        copy = self.in_short > 0 and 2 * self.in_short >= self.short_rows
        return self.in_sentences + (self.in_short if copy else 0)


@dataclass
class CanaryRecord:
    """What the canary needs from the raw side of one source: digests and counts, no values."""

    source: str
    identifiers: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    digests: Digests = field(default_factory=lambda: np.empty(0, dtype=np.uint64))
    shaped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CLOSED_FORMATS, 0))
    own_names: dict[str, OwnNames] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """JSON-able figures for the audit record."""
        return {
            "identifier_columns": self.identifiers,
            "name_columns": self.names,
            "distinct_identifier_values": len(self.digests),
            "identifier_values_shaped_like": self.shaped,
            "own_name_rows": {o: n.leaked_rows for o, n in self.own_names.items()},
        }

    def save(self, directory: Path) -> Path:
        """``<source>.canary.json`` and ``<source>.canary.bin`` (sorted 8-byte digests), 0600."""
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
        }
        _write_private(directory / f"{self.source}.canary.bin", pack(self.digests))
        _write_private(meta, (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode())
        return meta

    @classmethod
    def load(cls, meta: Path) -> CanaryRecord:
        doc = json.loads(meta.read_text())
        if doc.get("format") != _FORMAT:
            raise ValueError(f"{meta.name} is not a canary record")
        found = unpack(meta.with_name(f"{doc['source']}.canary.bin").read_bytes())
        if len(found) != doc["digests"]:
            raise ValueError(f"{meta.name}: the digest file does not match its record")
        return cls(
            source=doc["source"],
            identifiers=list(doc["identifiers"]),
            names=list(doc["names"]),
            digests=found,
            shaped=dict(doc["shaped"]),
            own_names={o: OwnNames(**n) for o, n in doc["own_names"].items()},
        )


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _is_text(values: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(values.dtype) or values.dtype == object


def _word_counts(text: pd.Series) -> np.ndarray:
    array = pa.array(text.astype("str").to_numpy(dtype=object), type=pa.large_string())
    counts = pc.list_value_length(pc.utf8_split_whitespace(array))
    return counts.to_numpy(zero_copy_only=False)


class CanaryObserver:
    """Collects one source's canary record while the run stages it (a ``ChunkObserver``)."""

    def __init__(self, plan: IdentifierPlan, secret: bytes, directory: Path | None = None) -> None:
        self.plan = plan
        self.secret = secret
        self.directory = directory
        self.flagged: list[str] = []
        self.record = CanaryRecord(plan.source, names=list(plan.names))
        self._digests: list[Digests] = []

    def observe(self, raw: pd.DataFrame, published: pd.DataFrame) -> None:
        self._flag_candidates(raw)
        for column in (*self.plan.identifiers, *self.flagged):
            if column in raw:
                self._add_digests(raw[column])
        names = [raw[n] for n in self.plan.names if n in raw]
        if names:
            for output in self.plan.text_outputs:
                if output in published and _is_text(published[output]):
                    self._count_own_names(output, published[output], names)

    def finish(self, report: SourceReport) -> None:
        self.record.identifiers = [*self.plan.identifiers, *self.flagged]
        if self._digests:
            self.record.digests = unique(np.concatenate(self._digests))
        directory = report.staged.parent if report.staged is not None else self.directory
        if directory is None:
            raise ValueError("the canary record needs a directory: the staged file's or given")
        report.scratch[SCRATCH_KEY] = self.record.save(directory)
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
        self._digests.append(digests(texts, self.secret))
        if len(self._digests) > 32:  # a value seen in many chunks is kept once
            self._digests = [unique(np.concatenate(self._digests))]
        for name, pattern in CLOSED_FORMATS.items():
            shaped = pc.sum(pc.match_substring_regex(texts, pattern)).as_py() or 0
            self.record.shaped[name] += int(shaped)

    def _count_own_names(self, output: str, text: pd.Series, names: list[pd.Series]) -> None:
        counts = self.record.own_names.setdefault(output, OwnNames())
        present = text.notna().to_numpy()
        hits = own_name_rows(text, names).to_numpy()
        sentence = np.zeros(len(text), dtype=bool)
        sentence[present] = _word_counts(text[present]) >= _SENTENCE_WORDS
        counts.in_sentences += int((hits & sentence).sum())
        counts.in_short += int((hits & ~sentence).sum())
        counts.short_rows += int((present & ~sentence).sum())
