import re

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from minimizer.keys import KeyRing
from minimizer.transforms.pseudonymise import TOKEN_PATTERN, Pseudonymise, token_for, tokens

TOKEN = re.compile(TOKEN_PATTERN)


TEST_MASTER = bytes(range(32))  # the fixed test key of conftest.py


def test_golden_token_under_the_fixed_test_key(purpose_key):
    # Changing the derivation or the format must be a deliberate, visible change.
    assert purpose_key.scheme == "aes-cmac"
    assert token_for("C0000001", purpose_key) == "mzp1_95de8da877e35e71aa638858a60a2d92"


def test_a_key_ring_from_before_aes_cmac_keeps_its_blake2b_tokens():
    # The token a legacy (blake2b) key version made in the first release, unchanged: old
    # warehouses keep joining with new runs under the same key version.
    legacy = KeyRing(masters={1: TEST_MASTER}, current=1).purpose_key("churn_analysis")
    assert legacy.scheme == "blake2b"
    assert token_for("C0000001", legacy) == "mzp1_5d8d5f43dc35497d880843aee73ca27d"


@given(st.lists(st.one_of(st.text(max_size=60), st.integers()), max_size=40))
def test_the_column_path_equals_the_one_value_path_under_both_schemes(values):
    series = pd.Series(values, dtype=object)
    for scheme in ("blake2b", "aes-cmac"):
        ring = KeyRing(masters={3: TEST_MASTER}, current=3, schemes={3: scheme})
        key = ring.purpose_key("p")
        assert tokens(series, key).tolist() == [token_for(str(v), key) for v in values]


def test_the_two_schemes_give_unrelated_tokens_for_one_master():
    values = pd.Series([f"C{i:07d}" for i in range(200)])
    blake = KeyRing(masters={1: TEST_MASTER}, current=1).purpose_key("p")
    cmac = KeyRing(masters={1: TEST_MASTER}, current=1, schemes={1: "aes-cmac"}).purpose_key("p")
    assert not set(tokens(values, blake)) & set(tokens(values, cmac))


def test_same_value_same_token_nulls_stay_null(ctx):
    s = pd.Series(["a", "b", None, "a"])
    out = Pseudonymise().apply(pd.DataFrame({"id": s}), "id", ctx).values
    assert out[0] == out[3] != out[1]
    assert pd.isna(out[2])
    assert out.notna().sum() == 3


def test_tokens_differ_between_purposes_and_key_versions(keyring):
    a = keyring.purpose_key("churn_analysis")
    b = keyring.purpose_key("marketing_segments")
    keyring.rotate()
    a2 = keyring.purpose_key("churn_analysis")
    values = pd.Series([f"C{i:05d}" for i in range(500)])
    ta, tb, ta2 = tokens(values, a), tokens(values, b), tokens(values, a2)
    assert not set(ta) & set(tb)
    assert not set(ta) & set(ta2)
    assert ta2.str.startswith("mzp2_").all()


def test_the_raw_value_is_nowhere_in_the_token(purpose_key):
    out = tokens(pd.Series(["alice@example.com"]), purpose_key)
    assert "alice" not in out[0]


def test_non_string_ids_hash_as_their_text(purpose_key):
    assert tokens(pd.Series([42]), purpose_key)[0] == token_for("42", purpose_key)


def test_empty_column(purpose_key):
    assert tokens(pd.Series([], dtype="str"), purpose_key).empty


@given(st.lists(st.one_of(st.none(), st.text(max_size=30)), max_size=60))
def test_deterministic_and_well_formed(values):
    key = KeyRing(masters={1: TEST_MASTER}, current=1).purpose_key("p")
    s = pd.Series(values, dtype="object")
    first, second = tokens(s, key), tokens(s, key)
    assert first.equals(second)
    present = first.dropna()
    assert len(present) == sum(v is not None for v in values)
    assert present.map(lambda t: bool(TOKEN.match(t))).all()
    # Equal inputs map to equal tokens and unequal inputs to unequal ones.
    pairs = {(v, t) for v, t in zip(values, first, strict=True) if v is not None}
    assert len({v for v, _ in pairs}) == len({t for _, t in pairs}) == len(pairs)
    for v in {v for v in values if v is not None}:
        assert token_for(v, key) in set(present)


def test_rotating_tokens_change_every_day_and_match_token_for(ctx, purpose_key):
    from minimizer.transforms.pseudonymise import period_label

    ts = pd.to_datetime(
        ["2026-06-14 08:00", "2026-06-14 22:00", "2026-06-15 08:00", None], utc=True
    )
    df = pd.DataFrame({"id": ["C1", "C1", "C1", "C1"], "ts": ts})
    out = Pseudonymise(rotate="day", time="ts").apply(df, "id", ctx)
    assert out.values[0] == out.values[1] != out.values[2]
    assert out.values[0] == token_for("C1", purpose_key, period_label(ts[0], "day"))
    assert out.values[0] != token_for("C1", purpose_key)
    assert pd.isna(out.values[3]) and out.invalid.tolist() == [False, False, False, True]


def test_rotation_needs_a_time_column():
    import pytest

    with pytest.raises(ValueError, match="needs 'time'"):
        Pseudonymise(rotate="week")


def test_distinct_columns_hashed_row_by_row_get_the_tokens_of_the_distinct_pass():
    # aes-cmac hashes a column of distinct values row by row and one with repeats per distinct
    # value (transforms/pseudonymise._looks_all_distinct): the work differs, the tokens not.
    key = KeyRing(masters={1: TEST_MASTER}, current=1, schemes={1: "aes-cmac"}).purpose_key("p")
    distinct = pd.Series([f"C{i:06d}@example.de" for i in range(20_000)], dtype="str")
    repeated = pd.concat([distinct, distinct.iloc[:5]], ignore_index=True)
    nulls = pd.Series([*distinct.iloc[:100], None], dtype="str")
    by_row, by_value = tokens(distinct, key), tokens(repeated, key)
    assert by_row.tolist() == by_value.iloc[:20_000].tolist()
    assert by_row.iloc[::4999].tolist() == [token_for(v, key) for v in distinct.iloc[::4999]]
    assert tokens(nulls, key).iloc[:100].tolist() == by_row.iloc[:100].tolist()
    assert tokens(nulls, key).isna().tolist()[-1]
