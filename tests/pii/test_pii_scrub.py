"""scrub_text: tags per kind, a row's own identifiers, nulls, dtypes and no mutation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from minimizer.errors import DataError
from minimizer.pii import scrub_text
from minimizer.pii.registry import UnknownDetectorError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mail an max.mustermann@web.de bitte", "Mail an [EMAIL] bitte"),
        ("Rückruf unter 030 12345678.", "Rückruf unter [PHONE]."),
        ("call (212) 555-0199 or +1-303-228-9218x401", "call [PHONE] or [PHONE]"),
        ("rappeler au 01 23 45 67 89", "rappeler au [PHONE]"),
        ("IBAN DE89 3704 0044 0532 0130 00, danke", "IBAN [IBAN], danke"),
        ("card 4111-1111-1111-1111 declined", "card [CARD] declined"),
        ("login from 85.176.69.154 and 2001:db8::1", "login from [IP] and [IP]"),
        ("wohnt Hauptstraße 12, seit Jahren", "wohnt [ADDRESS], seit Jahren"),
        ("moved to 221B Baker Street last year", "moved to [ADDRESS] last year"),
        ("livraison au 12 rue de la Paix", "livraison au [ADDRESS]"),
        ("geboren am 14.03.1987 in Köln", "geboren am [DATE] in Köln"),
        ("seen at 52.520008, 13.404954", "seen at [GEO], [GEO]"),
    ],
)
def test_each_kind_becomes_its_tag(text: str, expected: str) -> None:
    assert scrub_text(pd.Series([text])).tolist() == [expected]


def test_checksum_failures_are_left_alone() -> None:
    text = "IBAN DE88370400440532013000, card 4111111111111112"
    assert scrub_text(pd.Series([text])).tolist() == [text]


def test_tokens_cells_and_months_are_left_alone() -> None:
    text = "cell 881f1d4a97fffff token pz1:v1:Zm9vYmFy month 2024-03 at 2024-03-01 14:00"
    assert scrub_text(pd.Series([text])).tolist() == [text]


def test_own_name_is_replaced_where_no_pattern_would_find_it() -> None:
    notes = pd.Series(["Frau Weber rief an, weber ist verärgert", "Weber? No: Webern"])
    first = pd.Series(["Anna", "Ben"], name="first_name")
    last = pd.Series(["Weber", "Weber"], name="last_name")
    assert scrub_text(notes, names=False).tolist() == notes.tolist()  # no pattern finds a surname
    assert scrub_text(notes, [first, last], names=False).tolist() == [
        "Frau [NAME] rief an, [NAME] ist verärgert",
        "[NAME]? No: Webern",
    ]


def test_own_values_belong_to_their_row_only() -> None:
    notes = pd.Series(["Anna met Ben", "Anna met Ben"])
    first = pd.Series(["Anna", "Ben"], name="first_name")
    assert scrub_text(notes, [first], names=False).tolist() == ["[NAME] met Ben", "Anna met [NAME]"]


def test_own_values_are_case_insensitive_and_word_bounded() -> None:
    notes = pd.Series(["ANNA, anna and Anna's cat; Annabel and _anna stay"])
    first = pd.Series(["anna"], name="first_name")
    assert scrub_text(notes, [first], names=False).tolist() == [
        "[NAME], [NAME] and [NAME]'s cat; Annabel and _anna stay"
    ]


def test_values_in_other_columns_become_pii_and_short_ones_are_skipped() -> None:
    notes = pd.Series(["Kundennummer K-77 und Kürzel X erwähnt", "customer K-77"])
    customer = pd.Series(["K-77", None], name="customer_ref")
    initial = pd.Series(["X", "X"], name="initial")
    assert scrub_text(notes, [customer, initial], names=False).tolist() == [
        "Kundennummer [PII] und Kürzel X erwähnt",
        "customer K-77",
    ]


def test_full_name_values_also_hide_their_words() -> None:
    notes = pd.Series(["Schmidt called again"])
    full = pd.Series(["Hans Schmidt"], name="full_name")
    assert scrub_text(notes, [full], names=False).tolist() == ["[NAME] called again"]


def test_own_values_with_case_changing_characters_take_the_exact_path() -> None:
    notes = pd.Series(["İlkay Gündoğan schrieb; gündoğan bestätigt"])
    last = pd.Series(["Gündoğan"], name="last_name")
    assert scrub_text(notes, [last], names=False).tolist() == [
        "İlkay [NAME] schrieb; [NAME] bestätigt"
    ]


def test_nulls_stay_null_and_dtype_and_index_are_kept() -> None:
    notes = pd.Series(["a@b.de", None, "x"], index=[7, 8, 9], name="note")
    out = scrub_text(notes, [pd.Series(["A", "B", None], name="first_name")], names=False)
    assert out.index.tolist() == [7, 8, 9]
    assert out.name == "note"
    assert out.dtype == notes.dtype
    assert out.isna().tolist() == [False, True, False]
    legacy = pd.Series(["a@b.de", None], dtype=object)
    out_legacy = scrub_text(legacy)
    assert out_legacy.dtype == object
    assert out_legacy.tolist() == ["[EMAIL]", None]


def test_inputs_are_not_mutated() -> None:
    notes = pd.Series(["Anna: a@b.de", "Anna"], dtype=object)
    first = pd.Series(["Anna", "Anna"], name="first_name")
    before_notes, before_first = notes.copy(), first.copy()
    scrub_text(notes, [first], names=False)
    pd.testing.assert_series_equal(notes, before_notes)
    pd.testing.assert_series_equal(first, before_first)


def test_kinds_limit_what_is_scrubbed() -> None:
    text = pd.Series(["a@b.de 030 12345678"])
    assert scrub_text(text, kinds=["email"]).tolist() == ["[EMAIL] 030 12345678"]
    with pytest.raises(UnknownDetectorError):
        scrub_text(text, kinds=["passport"])


def test_misaligned_own_values_fail_without_quoting_them() -> None:
    secret = "Geheimname"
    with pytest.raises(DataError) as caught:
        scrub_text(pd.Series(["x", "y"]), [pd.Series([secret], name="last_name")])
    assert secret not in str(caught.value)
    assert caught.value.reason == "misaligned_own_values"


def test_repeated_texts_are_scrubbed_consistently() -> None:
    notes = pd.Series(["Anna: 030 12345678"] * 1000)
    first = pd.Series(np.where(np.arange(1000) % 2 == 0, "Anna", "Ben"), name="first_name")
    out = scrub_text(notes, [first], names=False)
    assert set(out[::2]) == {"[NAME]: [PHONE]"}
    assert set(out[1::2]) == {"Anna: [PHONE]"}
