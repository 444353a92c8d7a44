"""The canary against raw values written another way: hashed, homoglyphed, glued.

An attacker (or a careless export) publishes the customer's e-mail as its SHA-256, swaps a
Latin letter of the surname for a Cyrillic one, or glues first and last name into one word.
Each must still be found, per value; look-alikes that are someone else's must not be.
"""

from __future__ import annotations

import base64
import hashlib

import numpy as np
import pandas as pd
import pyarrow as pa

from minimizer.gate.canary import CanaryRecord, identifier_digests, name_digests
from minimizer.gate.canary import raw_identifier_hits as hits
from minimizer.gate.digests import unique
from minimizer.gate.own_names import glued_inside, glued_names, own_name_rows

SECRET = b"o" * 32
MAIL = "Anna.Berg@Example.org"
PHONE = "+49 30 1234567"


def _record(*columns: pd.Series) -> CanaryRecord:
    exact, contained = zip(*(identifier_digests(c, SECRET) for c in columns), strict=True)
    return CanaryRecord(
        "customers",
        digests=unique(np.concatenate(exact)),
        fragments=unique(np.concatenate(contained)),
        fragments_known=True,
    )


def _hits(record: CanaryRecord, texts: list[str]) -> list[bool]:
    return hits(pa.array(texts, pa.large_string()), record, SECRET).tolist()


def _hex(algorithm: str, text: str) -> str:
    return hashlib.new(algorithm, text.encode()).hexdigest()


def test_unsalted_hashes_of_a_raw_email_and_phone_are_raw_identifiers() -> None:
    record = _record(pd.Series([MAIL, "other@example.org"]), pd.Series([PHONE, None]))
    mail = MAIL.lower()
    published = [
        _hex("sha256", mail),
        _hex("md5", mail).upper(),  # hex in capitals is the same digest
        "hashed_email=" + _hex("sha1", mail),
        "ref " + _hex("sha256", "+49301234567") + " ok",  # the phone in E.164
        _hex("md5", "+49301234567"),
        _hex("sha256", "someone.else@example.org"),  # nobody's
        _hex("sha256", MAIL),  # not the normal form (capitals): no tool hashes that
    ]
    assert _hits(record, published) == [True, True, True, True, True, False, False]


def test_a_national_phone_number_is_hashed_in_e164_of_the_home_regions() -> None:
    record = _record(pd.Series(["030 1234567"]))
    published = [_hex("sha256", f"+{cc}301234567") for cc in ("49", "43", "41", "33")]
    assert _hits(record, published) == [True, True, True, False]


def test_homoglyphs_are_folded_on_both_sides() -> None:
    latin = _record(pd.Series(["max@web.de"]))
    assert _hits(latin, ["m\u0430x@web.de", "Mail an m\u0430x@w\u0435b.de", "mix@web.de"]) == [
        True,
        True,
        False,
    ]
    cyrillic = _record(pd.Series(["m\u0430x@web.de"]))  # a raw value with the look-alike
    assert _hits(cyrillic, ["max@web.de"]) == [True]


def test_a_glued_full_name_is_a_whole_name_form() -> None:
    whole = name_digests([pd.Series(["Anna", "Li"]), pd.Series(["Berg", "Wu"])], SECRET)
    record = CanaryRecord("customers", digests=whole, fragments=whole, fragments_known=True)
    texts = ["kunde:annaberg", "BERGANNA", "anna-berg", "liwu", "annaberger"]
    # "liwu" is too short to be told from a word; "annaberger" is a different word
    assert _hits(record, texts) == [True, True, True, False, False]


def test_own_name_rows_see_homoglyphs_and_glued_names() -> None:
    texts = pd.Series(
        [
            "Paket für B\u0435rg",  # Cyrillic е
            "P\u0430ket für \u0412\u0435rg",  # capital В too
            "kunde:annaberg",
            "kundeannaberg85",
            "Johanna Bergmann",  # someone else: the parts are inside other words
            "Bergamo",
        ]
    )
    first = pd.Series(["Anna"] * len(texts))
    last = pd.Series(["Berg"] * len(texts))
    assert own_name_rows(texts, [first, last]).tolist() == [True, True, True, True, False, False]


def test_glued_inside_is_per_row_and_skips_short_names() -> None:
    names = glued_names([pd.Series(["Anna", "Li", None]), pd.Series(["Berg", "Wu", "Berg"])])
    text = pd.Series(["xxannabergxx", "bolliwurst", "annaberg"])
    inside, equal = glued_inside(text, names)
    # row 3 has no first name: nothing glued; row 2's "liwu" is too short
    assert inside.tolist() == [True, False, False]
    assert equal.tolist() == [False, False, False]
    whole = glued_names([pd.Series(["Anna"]), pd.Series(["Berg"])])
    assert glued_inside(pd.Series(["annaberg"]), whole)[1].tolist() == [True]


def test_an_encoded_raw_id_is_compared_decoded() -> None:
    record = _record(pd.Series(["C4QK2M7ZT1"]))
    b64 = base64.b64encode(b"C4QK2M7ZT1").decode()
    published = [f"ref {b64}", "kd%3DC4QK2M7ZT1", "kd&#61;C4QK2M7ZT1", "ref QzlaWlo5OTk5OQ=="]
    assert _hits(record, published) == [True, True, True, False]
