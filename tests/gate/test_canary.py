"""The canary's raw side: what the observer collects, and that it never keeps a value."""

from __future__ import annotations

import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from minimizer.gate.canary import SCRATCH_KEY, CanaryObserver, CanaryRecord, OwnNames
from minimizer.gate.digests import contains, digests, normalised, unique
from minimizer.gate.own_names import own_name_rows
from minimizer.gate.rules import IdentifierPlan
from minimizer.pii import scrub_text
from minimizer.pipeline import SourceReport

SECRET = b"s" * 32
PLAN = IdentifierPlan(
    source="customers",
    identifiers=("customer_id", "email"),
    names=("first_name", "last_name"),
    candidates=("remark",),
    text_outputs=("notes", "city"),
)


def _raw(n: int = 4) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(n)],
            "email": [f"Person{i}@Example.org" for i in range(n)],
            "first_name": ["Anna", "Jan", "Marie Claire", "Bo"][:n],
            "last_name": ["Berg", "van der Berg", "Dupont", "Li"][:n],
            "remark": ["fine", "fine", "fine", "fine"][:n],
        }
    )


def _observe(raw: pd.DataFrame, published: pd.DataFrame, tmp_path: Path) -> CanaryRecord:
    observer = CanaryObserver(PLAN, SECRET)
    observer.observe(raw, published)
    report = SourceReport(source="customers", staged=tmp_path / "customers.parquet")
    observer.finish(report)
    return CanaryRecord.load(report.scratch[SCRATCH_KEY])


def test_digests_of_identifiers_are_kept_not_their_values(tmp_path: Path) -> None:
    raw = _raw()
    published = pd.DataFrame({"notes": ["a b c"] * 4, "city": ["Paris"] * 4})
    record = _observe(raw, published, tmp_path)
    both = [digests(normalised(raw[c]), SECRET) for c in ("customer_id", "email")]
    assert np.array_equal(record.digests, unique(np.concatenate(both)))
    assert record.identifiers == ["customer_id", "email"]
    files = sorted(tmp_path.glob("customers.canary.*"))
    assert [f.name for f in files] == ["customers.canary.bin", "customers.canary.json"]
    for file in files:
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
        data = file.read_bytes().lower()
        assert b"person1@example.org" not in data and b"anna" not in data


def test_a_candidate_column_becomes_an_identifier_once_a_detector_flags_it(
    tmp_path: Path,
) -> None:
    raw = _raw()
    raw.loc[2, "remark"] = "write to someone@example.org"
    record = _observe(raw, pd.DataFrame({"notes": [None] * 4}), tmp_path)
    assert record.identifiers == ["customer_id", "email", "remark"]
    assert contains(digests(normalised(pd.Series(["fine"])), SECRET), record.digests).all()


def test_own_names_count_in_sentences_not_coincidences_in_short_values(
    tmp_path: Path,
) -> None:
    raw = _raw()
    published = pd.DataFrame(
        {
            "notes": [
                "Spoke to anna about it",
                "Mr Van der Berg called back",
                "no names here",
                None,
            ],
            "city": ["Berlin", "Berg", "Lyon", "Nice"],  # one customer named like their city
        }
    )
    record = _observe(raw, published, tmp_path)
    assert record.own_names["notes"].leaked_rows == 2
    assert record.own_names["city"].leaked_rows == 0  # 1 of 4 short values: a coincidence
    assert record.summary()["own_name_rows"] == {"notes": 2, "city": 0}


def test_a_column_that_mostly_copies_own_names_is_a_leak() -> None:
    assert OwnNames(in_short=3, short_rows=4).leaked_rows == 3
    assert OwnNames(in_short=1, short_rows=4).leaked_rows == 0
    assert OwnNames(in_sentences=1, in_short=1, short_rows=4).leaked_rows == 1


def test_scrubbed_text_holds_no_own_name() -> None:
    raw = _raw()
    text = pd.Series(
        ["Call Anna Berg", "Jan van der Berg rang", "Marie Claire wrote", "Bo said hi"]
    )
    names = [raw.first_name, raw.last_name]
    assert own_name_rows(text, names).all()
    assert not own_name_rows(scrub_text(text, names), names).any()


@pytest.mark.parametrize(
    ("text", "name", "hit"),
    [
        ("Annabel called", "Anna", False),
        ("ANNA called", "anna", True),
        ("call anna.", "Anna", True),
        ("Berg-Hansen", "Berg", True),  # a hyphen bounds a word, as in the scrubber
        ("Liam", "Li", False),
        ("", "Anna", False),
    ],
)
def test_own_names_are_whole_words_case_insensitive(text: str, name: str, hit: bool) -> None:
    assert own_name_rows(pd.Series([text]), [pd.Series([name])]).tolist() == [hit]


def test_a_record_survives_a_round_trip_and_refuses_a_mismatched_digest_file(
    tmp_path: Path,
) -> None:
    record = CanaryRecord("orders", ["customer_id"], [], np.array([7, 3], dtype=np.uint64))
    meta = record.save(tmp_path)
    assert CanaryRecord.load(meta).digests.tolist() == [3, 7]
    (tmp_path / "orders.canary.bin").write_bytes(b"a" * 8)
    with pytest.raises(ValueError, match="does not match"):
        CanaryRecord.load(meta)
