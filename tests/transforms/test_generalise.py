from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minimizer.transforms.age_band import AgeBand
from minimizer.transforms.numeric_bucket import NumericBucket
from minimizer.transforms.prefix import Prefix
from minimizer.transforms.truncate_time import TruncateTime


def frame(**cols):
    return pd.DataFrame(cols)


@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        ("year", date(2024, 1, 1)),
        ("quarter", date(2024, 7, 1)),
        ("month", date(2024, 8, 1)),
        ("week", date(2024, 8, 12)),  # a Monday
        ("day", date(2024, 8, 15)),
    ],
)
def test_truncate_dates_to_the_start_of_the_period(ctx, unit, expected):
    out = TruncateTime(method=unit).apply(frame(t=["2024-08-15 17:42:10"]), "t", ctx)
    assert out.values[0] == expected
    assert not out.invalid.any()


def test_truncate_to_the_hour_keeps_a_utc_timestamp(ctx):
    ts = pd.Series(pd.to_datetime(["2024-08-15 17:42:10+02:00"], utc=True))
    out = TruncateTime(method="hour").apply(frame(t=ts), "t", ctx).values
    assert out[0] == pd.Timestamp("2024-08-15 15:00", tz="UTC")


def test_a_malformed_date_is_invalid_not_coerced(ctx):
    out = TruncateTime(method="month").apply(frame(t=["2024-13-45", None, "2024-01-02"]), "t", ctx)
    assert out.invalid.tolist() == [True, False, False]
    assert pd.isna(out.values[0]) and pd.isna(out.values[1])


def test_age_band_from_birth_date_respects_birthdays(ctx):
    # ctx.as_of is 2026-06-15.
    born = ["1990-06-15", "1990-06-16", "2016-06-16", "1930-01-01"]
    out = AgeBand(method="age_band", width=10, top=80).apply(frame(b=born), "b", ctx).values
    assert out.tolist() == ["30-39", "30-39", "0-9", "80+"]


def test_age_band_of_an_age_and_impossible_ages(ctx):
    t = AgeBand(method="age_band", width=5, input="age")
    out = t.apply(frame(a=[0, 4, 5, 17, -3, 200, None]), "a", ctx)
    assert out.values[:4].tolist() == ["0-4", "0-4", "5-9", "15-19"]
    assert out.invalid.tolist() == [False, False, False, False, True, True, False]


def test_postcode_prefix(ctx):
    out = Prefix(method="prefix", keep=2).apply(frame(p=["10115", " 75001", None]), "p", ctx)
    assert out.values[:2].tolist() == ["10", "75"]
    assert pd.isna(out.values[2])


def test_numeric_buckets_fixed_width_with_top_and_bottom_coding(ctx):
    t = NumericBucket(method="bucket", width=50, bottom=0, top=200)
    out = t.apply(frame(x=[-5, 0, 49.99, 50, 199, 200, 1e6, "n/a"]), "x", ctx)
    assert out.values.tolist()[:7] == [
        "<0",
        "[0, 50)",
        "[0, 50)",
        "[50, 100)",
        "[150, 200)",
        ">=200",
        ">=200",
    ]
    assert out.invalid.tolist() == [False] * 7 + [True]


def test_numeric_buckets_with_explicit_edges(ctx):
    t = NumericBucket(method="bucket", edges=(18, 65))
    out = t.apply(frame(x=[3, 18, 64, 65]), "x", ctx).values
    assert out.tolist() == ["[-inf, 18)", "[18, 65)", "[18, 65)", "[65, inf)"]


def test_bucket_parameters_are_checked_when_the_policy_loads():
    with pytest.raises(ValueError, match="exactly one"):
        NumericBucket(method="bucket", width=5, edges=(1, 2))
    with pytest.raises(ValueError, match="strictly increasing"):
        NumericBucket(method="bucket", edges=(5, 1))


@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=50), st.integers(1, 1000)
)
def test_every_value_falls_in_its_own_bucket(values, width):
    from datetime import UTC, datetime

    from minimizer.transforms import TransformContext

    ctx = TransformContext("p", datetime(2026, 1, 1, tzinfo=UTC))
    out = NumericBucket(method="bucket", width=width).apply(frame(x=values), "x", ctx).values
    lows = out.str.extract(r"^\[(-?[\d.e+-]+), ")[0].astype(float)
    assert (lows.to_numpy() <= np.array(values) + 1e-6).all()
    assert (np.array(values) < lows.to_numpy() + width + 1e-6).all()


def test_large_bounds_are_printed_exactly_and_short_ones_as_before():
    # %g's six digits once printed the bucket starting at -1000006 as -1.00001e+06.
    from datetime import UTC, datetime

    from minimizer.transforms import TransformContext

    ctx = TransformContext("p", datetime(2026, 1, 1, tzinfo=UTC))
    big = NumericBucket(method="bucket", width=7).apply(frame(x=[-1e6]), "x", ctx).values
    assert big.tolist() == ["[-1000006, -999999)"]
    tenths = NumericBucket(method="bucket", width=0.1).apply(frame(x=[0.35]), "x", ctx).values
    assert tenths.tolist() == ["[0.3, 0.4)"]
    coded = NumericBucket(method="bucket", width=50, top=1e6).apply(frame(x=[2e6]), "x", ctx)
    assert coded.values.tolist() == [">=1e+06"]  # exact already: spelled as before
