"""The Arrow code paths give exactly what the per-row definitions give.

Tokens are checked against keyed BLAKE2b computed here one value at a time with hashlib (the
scheme as documented), masks and prefixes against Python's own string operations. Any
difference would silently change published values, and for tokens would break joins with
every earlier load of the same key version.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minimizer.keys import KeyRing
from minimizer.transforms import TransformContext
from minimizer.transforms.mask import Mask
from minimizer.transforms.prefix import PY_WHITESPACE, Prefix
from minimizer.transforms.pseudonymise import tokens

TEST_MASTER = bytes(range(32))  # the fixed test key of conftest.py
KEY = KeyRing(masters={1: TEST_MASTER}, current=1).purpose_key("p")
CTX = TransformContext("p", datetime(2026, 6, 15, tzinfo=UTC), KEY)
TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=24)
VALUES = st.lists(st.one_of(st.none(), TEXT), max_size=40)
WHITESPACE_HEAVY = st.text(alphabet=st.sampled_from(f"{PY_WHITESPACE}ab1ÄЖ漢🙂"), max_size=12)


def reference_token(value: object) -> str:
    digest = hashlib.blake2b(str(value).encode(), key=KEY.secret, digest_size=16).hexdigest()
    return f"mzp{KEY.version}_{digest}"


def as_list(series: pd.Series) -> list[object]:
    return [None if pd.isna(v) else v for v in series.tolist()]


@settings(max_examples=150, deadline=None)
@given(VALUES, st.sampled_from(["str", "object"]))
def test_tokens_equal_the_per_value_scheme(values, dtype):
    out = tokens(pd.Series(values, dtype=dtype), KEY)
    assert as_list(out) == [None if v is None else reference_token(v) for v in values]
    assert out.dtype == "str"


@pytest.mark.parametrize(
    "series",
    [
        pd.Series([42, 7, 42], dtype="int64"),
        pd.Series([42, None, 7], dtype="Int64"),
        pd.Series([1.5, np.nan, 2.0]),
        pd.Series(["a", "b", None, "a"], dtype="category"),
        pd.Series([42, "42", None], dtype="object"),
    ],
    ids=["int64", "Int64", "float", "category", "mixed-object"],
)
def test_non_text_columns_hash_the_text_python_gives_them(series):
    expected = [None if pd.isna(v) else reference_token(v) for v in series.tolist()]
    assert as_list(tokens(series, KEY)) == expected


def test_a_large_column_with_repeats_matches_value_by_value():
    ids = pd.Series([f"C{i % 5000}" for i in range(60_000)], dtype="str")
    out = tokens(ids, KEY)
    first = dict(zip(ids[:5000], out[:5000], strict=True))
    assert first == {v: reference_token(v) for v in ids[:5000]}
    assert (out.to_numpy() == out[:5000].to_numpy()[np.arange(60_000) % 5000]).all()


def reference_mask(value: str | None, mask: Mask) -> str | None:
    if value is None:
        return None
    first, last = value[: mask.n], value[max(len(value) - mask.n, 0) :] if mask.n else ""
    kept = first if mask.method == "first" else last
    hidden = max((mask.width if mask.width is not None else len(value)) - len(kept), 0)
    return mask.char * hidden + kept if mask.method == "last" else kept + mask.char * hidden


@settings(max_examples=150, deadline=None)
@given(
    VALUES,
    st.sampled_from(["first", "last"]),
    st.integers(0, 6),
    st.one_of(st.none(), st.integers(1, 10)),
    st.sampled_from(["*", "#", "•"]),
)
def test_mask_equals_python_slicing(values, method, n, width, char):
    mask = Mask(method=method, n=n, width=width, char=char)
    out = mask.apply(pd.DataFrame({"v": pd.Series(values, dtype="str")}), "v", CTX).values
    assert as_list(out) == [reference_mask(v, mask) for v in values]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.none(), WHITESPACE_HEAVY, TEXT), max_size=30), st.integers(0, 5))
def test_prefix_equals_python_strip_and_slice(values, keep):
    out = Prefix(method="prefix", keep=keep).apply(
        pd.DataFrame({"v": pd.Series(values, dtype="str")}), "v", CTX
    )
    assert as_list(out.values) == [None if v is None else v.strip()[:keep] for v in values]


def test_the_whitespace_list_is_pythons():
    assert set(PY_WHITESPACE) == {c for c in map(chr, range(0x110000)) if c.isspace()}


def test_mask_and_prefix_of_numbers_use_their_text(ctx):
    df = pd.DataFrame({"v": pd.Series([12345, None], dtype="Int64")})
    assert as_list(Mask(method="last", n=2).apply(df, "v", ctx).values) == ["***45", None]
    assert as_list(Prefix(method="prefix", keep=2).apply(df, "v", ctx).values) == ["12", None]


@pytest.mark.parametrize("version", [1, 2, 12, 345])
def test_tokens_of_any_key_version_equal_token_for(version):
    # The Arrow token table lays the version prefix beside the hex of every digest at once;
    # a longer prefix must shift nothing.
    from minimizer.transforms.pseudonymise import TOKEN_RE, token_for

    key = KeyRing(masters={version: TEST_MASTER}, current=version).purpose_key("p")
    values = ["C1", "", "ÄÖü漢🙂", "C1", None, "x" * 300]
    out = as_list(tokens(pd.Series(values, dtype="str"), key))
    assert out == [None if v is None else token_for(v, key) for v in values]
    assert all(TOKEN_RE.match(t) for t in out if t is not None)
    assert {t[: len(f"mzp{version}_")] for t in out if t} == {f"mzp{version}_"}
