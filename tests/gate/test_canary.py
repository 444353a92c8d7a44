"""The canary's raw side: what the observer collects, and that it never keeps a value."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from minimizer.gate.canary import (
    CanaryObserver,
    CanaryRecord,
    OwnNames,
    identifier_digests,
    merged,
    raw_identifier_hits,
)
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
    return CanaryRecord.load(report.canary)


def test_digests_of_identifiers_are_kept_not_their_values(tmp_path: Path) -> None:
    raw = _raw()
    published = pd.DataFrame({"notes": ["a b c"] * 4, "city": ["Paris"] * 4})
    record = _observe(raw, published, tmp_path)
    both = [digests(normalised(raw[c]), SECRET) for c in ("customer_id", "email")]
    # every identifier value is there, in its canonical form (and in its other forms)
    assert contains(unique(np.concatenate(both)), record.digests).all()
    forms = [identifier_digests(raw[c], SECRET)[0] for c in ("customer_id", "email")]
    assert contains(record.digests, unique(np.concatenate([*forms, record.digests]))).all()
    assert record.identifiers == ["customer_id", "email"]
    files = sorted(tmp_path.glob("customers.canary.*"))
    assert [f.name for f in files] == [
        "customers.canary.bin",
        "customers.canary.fragments.bin",
        "customers.canary.json",
    ]
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


def test_every_own_name_row_leaks_without_a_share_threshold(tmp_path: Path) -> None:
    raw = _raw()
    published = pd.DataFrame(
        {
            "notes": [
                "Spoke to anna about it",
                "Mr Van der Berg called back",
                "no names here",
                None,
            ],
            "city": ["Berlin", "Berg", "Lyon", "Nice"],  # 1 of 4 holds its own name: a leak
        }
    )
    record = _observe(raw, published, tmp_path)
    assert record.own_names["notes"].leaked_rows == 2
    assert record.own_names["city"].leaked_rows == 1
    assert record.summary()["own_name_rows"] == {"notes": 2, "city": 1}


def test_a_category_value_shared_by_many_other_rows_is_no_name(tmp_path: Path) -> None:
    """ "Paris" is the city of many customers; that one of them is called Paris is chance.
    The same value in a sentence, or in rows of that name only, still leaks."""
    n = 12
    raw = pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(n)],
            "email": [f"p{i}@example.org" for i in range(n)],
            "first_name": ["Jo"] * n,
            "last_name": ["Paris"] + [f"Name{chr(97 + i)}" for i in range(n - 1)],
            "remark": ["fine"] * n,
        }
    )
    published = pd.DataFrame(
        {"notes": ["Paris rang an wegen Paket"] + [None] * (n - 1), "city": ["Paris"] * n}
    )
    record = _observe(raw, published, tmp_path)
    assert record.own_names["city"].leaked_rows == 0
    assert record.own_names["city"].excused == 1
    assert record.own_names["notes"].leaked_rows == 1


def test_own_name_counts_add_up() -> None:
    assert OwnNames(in_short=3, short_rows=4).leaked_rows == 3
    assert OwnNames(in_short=1, short_rows=4).leaked_rows == 1
    assert OwnNames(in_sentences=1, in_short=1, short_rows=4).leaked_rows == 2


def test_records_of_all_sources_are_merged_for_every_table() -> None:
    a = CanaryRecord("a", digests=np.array([1, 5], dtype=np.uint64))
    b = CanaryRecord("b", digests=np.array([3], dtype=np.uint64))
    a.fragments_known = True  # none of a's values is compared as contained
    b.fragments = np.array([3], dtype=np.uint64)
    both = merged({"a": a, "b": b})
    assert both["a"].digests.tolist() == both["b"].digests.tolist() == [1, 3, 5]
    assert both["a"].fragments.tolist() == [3]
    legacy = merged({"a": CanaryRecord("a", digests=np.array([1, 5], dtype=np.uint64)), "b": b})
    assert legacy["b"].fragments.tolist() == [1, 3, 5]  # unknown fragments: all compared


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
        ("Bergs Auftrag", "Berg", True),  # genitive
        ("Boerner", "Börner", True),
        ("Börner", "Boerner", True),
        ("Borner", "Börner", True),
        ("Bo\u0308rner", "Börner", True),  # decomposed umlaut
        ("Bör\u200bner", "Börner", True),  # zero-width space inside
        ("Lena rief an", "Anna-Lena", True),
        ("mail an al.b85 ging raus", "al.b85@example.org", True),
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


def _hits(raw: list[str], published: list[str]) -> list[bool]:
    exact, contained = identifier_digests(pd.Series(raw), SECRET)
    record = CanaryRecord("x", digests=exact, fragments=contained, fragments_known=True)
    return raw_identifier_hits(pa.array(published), record, SECRET).tolist()


@pytest.mark.parametrize(
    ("raw", "published"),
    [
        ("+49 30 7000008", "Tel.030 7000008"),
        ("+49 30 7000008", "030 - 700 00 08"),
        ("+49 30 7000008", "0307000008"),
        ("+49 30 7000008", "+49 (0)30 700 00 08"),
        ("+49 30 7000008", "Anruf 0049 30 7000008"),
        ("030 7000008", "+49 30 7000008 bitte"),
        ("+43 1 5880", "Wien +43 1 5880"),
        (
            "DE89 3704 0044 0532 0130 00",
            "IBAN de89\u00a03704\u00a00044\u00a00532\u00a00130\u00a000",
        ),
        ("DE89 3704 0044 0532 0130 00", "Refund DE89-3704-0044-0532-0130-00 done"),
        ("DE89 3704 0044 0532 0130 00", "de89  3704  0044  0532  0130  00"),
        ("C4QK2M7ZT1", "Kd-Nr.:C4QK2M7ZT1"),
        ("C4QK2M7ZT1", "Kundennummer c4qk\u200b2m7zt1"),
        ("C4QK2M7ZT1", "ＣＡ４ＱＫ２Ｍ７ＺＴ１".replace("Ａ", "")),  # full-width
        ("kd.00042.mail@example.org", "Mail an KD.00042.Mail@Example.org"),
        ("kd.00042.mail@example.org", "schreib kd.00042.mail(at)example.org"),
        ("kd.00042.mail@example.org", "local part kd.00042.mail only"),
    ],
)
def test_a_raw_identifier_is_found_inside_text_however_written(raw: str, published: str) -> None:
    assert _hits([raw], [published]) == [True]


def test_everyday_words_and_short_numbers_are_compared_whole_only() -> None:
    """A raw value that is a plain word ("Berlin") or a short number is an identifier only
    where the published value *is* it: inside a sentence it is a word like any other."""
    raw = ["Berlin", "4711"]
    assert _hits(raw, ["berlin", "Wohnt in Berlin", "4711", "Zimmer 4711", "nothing"]) == [
        True, False, True, False, False,
    ]  # fmt: skip


def test_a_record_of_the_old_digest_format_is_refused(tmp_path: Path) -> None:
    """Format 1 held BLAKE2b digests that match nothing now: loading it must fail, not pass."""
    record = CanaryRecord("orders", ["customer_id"], [], np.array([7], dtype=np.uint64))
    meta = record.save(tmp_path)
    doc = json.loads(meta.read_text())
    meta.write_text(json.dumps({**doc, "format": "minimizer-canary/1"}))
    with pytest.raises(ValueError, match="not a canary record"):
        CanaryRecord.load(meta)
