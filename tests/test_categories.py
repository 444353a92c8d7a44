"""Data categories from names and roles, and what each action reveals of them."""

from __future__ import annotations

import doctest

import pytest

import minimizer.categories
from minimizer.categories import (
    FLOORS,
    REVEALS,
    Category,
    by_name,
    categorise,
    refusals,
    reveals,
)
from minimizer.policy import SourceSpec
from minimizer.transforms import REGISTRY

D, Q, S = Category.direct_identifier, Category.quasi_identifier, Category.sensitive
F, L, T = Category.free_text, Category.precise_location, Category.time


def test_doctests_pass() -> None:
    assert doctest.testmod(minimizer.categories).failed == 0


@pytest.mark.parametrize(
    ("column", "category"),
    [
        ("first_name", D), ("Vorname", D), ("lastName", D), ("nachname", D), ("surname", D),
        ("name", D), ("email", D), ("e_mail", D), ("customerEmail", D), ("telefon", D),
        ("handy", D), ("mobile", D), ("iban", D), ("bic", D), ("steuer_id", D), ("svnr", D),
        ("passport", D), ("device_id", D), ("idfa", D), ("gaid", D), ("mac", D), ("ip", D),
        ("twitter_handle", D), ("instagram", D), ("profile_url", D), ("url", D),
        ("username", D), ("street", D), ("Straße", D), ("address", D),
        ("lat", L), ("latitude", L), ("lon", L), ("lng", L), ("longitude", L), ("home_lat", L),
        ("birth_date", Q), ("geburtsdatum", Q), ("dob", Q), ("postcode", Q), ("plz", Q),
        ("zip", Q), ("gender", Q), ("city", Q),
        ("religion", S), ("health_status", S), ("ethnicity", S),
        ("notes", F), ("note_email", F), ("payment_reference", F), ("kommentar", F),
        ("order_date", T), ("ts", T), ("signup_month", T),
    ],
)  # fmt: skip
def test_names_in_english_and_german(column: str, category: Category) -> None:
    match = by_name(column)
    assert match is not None and match.category is category


@pytest.mark.parametrize(
    "column",
    ["loyalty_tier", "product_name", "email_verified", "has_phone", "channel", "amount", "zipper"],
)
def test_names_that_say_nothing_or_are_about_an_identifier(column: str) -> None:
    assert by_name(column) is None


def test_birth_dates_keep_their_kind_and_the_longest_phrase_wins() -> None:
    assert by_name("birth_date").kind == "birth_date"  # not the 'date' of time
    assert by_name("date_of_birth").kind == "birth_date"


def test_the_strictest_word_wins_and_the_policy_cannot_loosen() -> None:
    assert categorise("notes", declared=Category.other).category is F
    assert categorise("shoe_size", declared=Q).category is Q
    assert categorise("ref", key="ref").category is D
    looser = categorise("email", declared=Category.other)
    assert looser.category is D and looser.basis == ("name",)
    stricter = categorise("loyalty_tier", declared=D)
    assert stricter.category is D and stricter.basis == ("policy",)


def test_every_registered_transform_says_what_it_reveals() -> None:
    assert set(REGISTRY.values()) <= set(REVEALS)


def _refused(columns: dict[str, object], protected: tuple[str, ...] = (), **spec: object) -> set:
    source = SourceSpec.model_validate({"columns": columns, **spec})
    found = refusals(source.outputs(), source.column_categories(), protected)
    return {(r.output, r.code) for r in found}


@pytest.mark.parametrize(
    ("action", "refused"),
    [
        ("keep", True),
        ("scrub", True),
        ("pseudonymise", False),
        ("drop", False),
        ({"mask": "last", "n": 2}, False),
        ({"mask": "last", "n": 3}, True),
        ({"mask": "first", "n": 64}, True),
        ({"generalise": "prefix", "keep": 1}, False),
        ({"generalise": "prefix", "keep": 32}, True),
    ],
)
def test_a_name_may_show_at_most_a_third_of_its_typical_length(action, refused) -> None:
    assert bool(_refused({"last_name": action})) is refused


def test_a_phone_or_iban_may_show_four_characters_but_not_five() -> None:
    assert not _refused({"p": {"mask": "last", "source": "phone", "n": 4, "width": 8}})
    assert _refused({"p": {"mask": "last", "source": "phone", "n": 5}})
    assert not _refused({"i": {"mask": "last", "source": "iban", "n": 4}})


def test_a_postcode_prefix_is_no_identifier() -> None:
    assert not _refused({"area": {"generalise": "prefix", "source": "postcode", "keep": 3}})


def test_the_rule_follows_the_input_not_the_output_name() -> None:
    assert _refused({"harmless": {"generalise": "prefix", "source": "email", "keep": 20}})
    assert _refused({"x": "keep"}, categories={"x": "direct_identifier"})


@pytest.mark.parametrize(
    ("method", "size", "refused"),
    [
        ("h3", FLOORS["h3"], False), ("h3", FLOORS["h3"] + 1, True),
        ("geohash", FLOORS["geohash"], False), ("geohash", FLOORS["geohash"] + 1, True),
        ("grid", FLOORS["grid"], False), ("grid", FLOORS["grid"] + 1, True), ("grid", 5, True),
    ],
)  # fmt: skip
def test_locations_coarser_than_the_floor_pass(method: str, size: int, refused: bool) -> None:
    word = {"h3": "resolution", "geohash": "length", "grid": "decimals"}[method]
    action = {"coarsen": method, "lat": "lat", "lon": "lon", word: size}
    assert bool(_refused({"cell": action})) is refused


def test_raw_coordinates_and_narrow_buckets_are_refused() -> None:
    assert _refused({"lat": "keep"}) == {("lat", "precise_location")}
    assert _refused({"b": {"generalise": "bucket", "source": "lon", "width": 0.001}})
    assert not _refused({"b": {"generalise": "bucket", "source": "lon", "width": 0.1}})


@pytest.mark.parametrize(
    ("action", "refused"),
    [
        ({"generalise": "day"}, True),
        ({"generalise": "week"}, True),
        ({"generalise": "month"}, True),  # not under k-anonymity
        ({"generalise": "quarter"}, False),
        ({"generalise": "year"}, False),
        ({"generalise": "age_band", "width": 5}, False),
        ({"generalise": "prefix", "keep": 4}, False),
        ({"generalise": "prefix", "keep": 10}, True),
        ({"mask": "last", "n": 5}, True),
        ("keep", True),
    ],
)
def test_birth_dates_publish_no_more_than_a_year_or_quarter(action, refused) -> None:
    assert bool(_refused({"born": _with_source(action, "birth_date")})) is refused


def _with_source(action: object, source: str) -> object:
    if isinstance(action, dict):
        return {**action, "source": source}
    return {action: True, "source": source}


def test_the_month_of_birth_only_under_k_anonymity() -> None:
    month = {"born": {"generalise": "month", "source": "birth_date"}}
    assert _refused(month) == {("born", "exact_birth_date")}
    assert not _refused(month, protected=("born",))
    day = {"born": {"generalise": "day", "source": "birth_date"}}
    assert _refused(day, protected=("born",))


def test_pseudonymise_reveals_nothing_of_its_time_input() -> None:
    visitor = {"pseudonymise": True, "source": "customer_id", "rotate": "day", "time": "ts"}
    assert reveals(SourceSpec.model_validate({"columns": {"v": visitor}}).columns["v"]).nothing
    assert not _refused({"v": visitor})


def test_coarsened_columns_are_points_whatever_their_names() -> None:
    cell = {"coarsen": "h3", "lat": "breite", "lon": "x", "resolution": 12}
    assert _refused({"cell": cell}) == {("cell", "precise_location")}
    assert not _refused({"cell": {**cell, "resolution": 8}})


# -- red team: exact positions stored as numbers under neutral names ---------------------------


def test_a_float_column_of_exact_positions_is_profiled_as_a_precise_location() -> None:
    import pandas as pd

    from minimizer.categories import Category
    from minimizer.scan import profile_column

    positions = pd.Series([52.520008 + i / 1e6 for i in range(60)], name="pos_a")
    profile = profile_column(positions)
    assert profile.category.category is Category.precise_location
    assert "coordinate-like numbers 100%" in profile.category.basis[-1]
    amounts = pd.Series([19.99, 5.0, 120.5, 0.30000000000000004] * 15, name="pos_b")
    assert profile_column(amounts).category.category is not Category.precise_location


def test_precise_floats_reads_decimals_not_float_noise() -> None:
    import numpy as np

    from minimizer.categories import precise_floats

    values = np.array([52.5201, -179.9999, 0.1 + 0.2, 52.52, 181.12345, np.nan, -np.inf])
    assert precise_floats(values, 3).tolist() == [True, True, False, False, False, False, False]
    assert not precise_floats(values, 4).any()
