"""k-anonymity on a published table, the way an attacker feeds it: copies of one person, empty
tables, all-NULL and '' quasi-identifiers, dates and integers that must stay dates and integers.
Every guarantee is re-checked with a plain pandas group-by."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minimizer.errors import GuaranteeError
from minimizer.guarantees.enforce import enforce_k_anonymity, ladder_hierarchy
from minimizer.guarantees.kanon.table import subject_column
from minimizer.policy import load_policy

ROOT = Path(__file__).resolve().parents[2]
MARKETING = load_policy(ROOT / "configs" / "purposes" / "marketing_segments.yaml")
SPEC = MARKETING.sources["customers"]
KANON = MARKETING.guarantees.k_anonymity
assert KANON is not None
QIS = ["age_band", "city", "loyalty_tier"]


def published(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": [f"tok{i:05d}" for i in range(n)],
            "age_band": rng.choice(["20-29", "30-39", "40-49", "50-59"], n),
            "city": rng.choice(["Berlin", "Hamburg", "München"], n),
            "loyalty_tier": rng.choice(["gold", "silver"], n),
            "notes": "x",
        }
    )


def min_people(table: pa.Table) -> int:
    frame = table.to_pandas()
    kept = frame.loc[~(frame[QIS] == "*").all(axis=1)]
    return int(kept.groupby(QIS, dropna=False).customer_id.nunique(dropna=False).min())


def test_the_subject_is_the_pseudonym_published_from_the_key():
    assert subject_column(SPEC) == "customer_id"


def test_five_copies_of_one_customer_in_a_lone_city_are_suppressed_not_published():
    hermit = pd.DataFrame(
        {
            "customer_id": ["tokHERMIT"] * 5,
            "age_band": "30-39",
            "city": "Wanne-Eickel",
            "loyalty_tier": "gold",
            "notes": "x",
        }
    )
    frame = pd.concat([published(400), hermit], ignore_index=True)
    out, figures = enforce_k_anonymity(frame, KANON, SPEC)
    rows = out.to_pandas()
    assert figures["counted_over"] == "subjects" and figures["subjects"] == 401
    assert (rows.loc[rows.customer_id == "tokHERMIT", "city"] == "*").all()
    assert min_people(out) >= 5
    assert figures["suppressed"] == int((rows[QIS] == "*").all(axis=1).sum()) == 5


def test_a_class_of_exactly_k_people_stays_and_one_fewer_goes():
    base = published(400, 1)
    five = pd.DataFrame(
        {"customer_id": [f"p{i}" for i in range(5)], "age_band": "30-39", "city": "Kiel"}
    ).assign(loyalty_tier="gold", notes="x")
    out, _ = enforce_k_anonymity(pd.concat([base, five]), KANON, SPEC)
    assert (out.to_pandas().tail(5).city == "Kiel").all()
    out, _ = enforce_k_anonymity(pd.concat([base, five.iloc[1:]]), KANON, SPEC)
    assert (out.to_pandas().tail(4).city == "*").all()


def test_an_empty_table_publishes_nothing_and_passes():
    empty = pa.Table.from_pandas(published(0), preserve_index=False)
    out, figures = enforce_k_anonymity(empty, KANON, SPEC)
    assert out.num_rows == 0 and out.schema == empty.schema
    assert figures["suppressed"] == 0 and figures["rows"] == 0


def test_an_all_null_quasi_identifier_is_one_class_not_a_crash():
    frame = published(300, 2)
    frame["city"] = pd.Series([None] * len(frame), dtype="str")
    assert ladder_hierarchy(SPEC, "city", frame.city).n_leaves == 1
    out, figures = enforce_k_anonymity(frame, KANON, SPEC)
    rows = out.to_pandas()
    assert rows.city.isna().sum() + (rows.city == "*").sum() == len(rows)
    kept = rows.loc[~(rows[QIS] == "*").all(axis=1)]
    assert kept.groupby(QIS, dropna=False).customer_id.nunique().min() >= 5
    assert figures["suppressed"] <= 0.05 * len(rows)


def test_an_empty_string_city_is_data_a_missing_class_not_an_invalid_policy():
    frame = published(300, 3)
    frame.loc[:9, "city"] = ""
    out, _ = enforce_k_anonymity(frame, KANON, SPEC)
    rows = out.to_pandas()
    assert "" not in set(rows.city.dropna())
    assert rows.loc[:9, "city"].isna().all() or (rows.loc[:9, "city"] == "*").all()


def test_a_value_already_masked_in_the_warehouse_stays_masked():
    frame = published(300, 4)
    frame.loc[:3, QIS] = "*"
    out, _ = enforce_k_anonymity(frame, KANON, SPEC, max_suppression=1.0)
    assert (out.to_pandas().loc[:3, QIS] == "*").all(axis=None)


def test_k_above_the_number_of_people_fails_closed():
    frame = pd.concat([published(3)] * 10, ignore_index=True)
    with pytest.raises(GuaranteeError, match="distinct subject"):
        enforce_k_anonymity(frame, KANON, SPEC)


# -- types ------------------------------------------------------------------------------------

ORDERS_POLICY = """\
purpose: orders_k
description: Orders by month and channel.
legal_basis: legitimate_interest
owner: a@example.com
retention: 400d
sources:
  orders:
    kind: table
    key: customer_id
    time: order_date
    columns:
      customer_id: pseudonymise
      order_month: {generalise: month, source: order_date}
      channel: keep
      items: keep
guarantees:
  k_anonymity:
    source: orders
    k: 5
    quasi_identifiers: [order_month, channel, items]
    max_suppression: 0.02
    method: METHOD
"""


def _orders(tmp_path: Path, method: str):
    path = tmp_path / "orders_k.yaml"
    path.write_text(ORDERS_POLICY.replace("METHOD", method))
    policy = load_policy(path)
    rng = np.random.default_rng(5)
    n = 600
    months = pd.to_datetime(rng.choice(pd.date_range("2024-01-01", "2025-12-01", freq="MS"), n))
    table = pa.table(
        {
            "customer_id": pa.array([f"t{i % 150}" for i in range(n)]),
            "order_month": pa.array(months.date, pa.date32()),
            "channel": pa.array(rng.choice(["web", "app", "store"], n)),
            "items": pa.array(rng.integers(1, 4, n), pa.int64()),
        }
    )
    return policy, table


@pytest.mark.parametrize("method", ["full_domain", "mondrian"])
def test_dates_stay_dates_and_integers_stay_integers(tmp_path, method):
    policy, table = _orders(tmp_path, method)
    g = policy.guarantees.k_anonymity
    out, figures = enforce_k_anonymity(table, g, policy.sources["orders"])
    assert out.schema == table.schema
    frame = out.to_pandas()
    months = frame.order_month.dropna()
    # Every released month is the first day of a period that holds the original date.
    assert all(isinstance(d, dt.date) and d.day == 1 for d in months)
    original = table.column("order_month").to_pandas()
    released = pd.to_datetime(frame.order_month)
    unit = figures["grains"].get("order_month", "month")
    span = {"month": 1, "quarter": 3, "year": 12}[unit]
    held = released.isna() | (
        (released <= pd.to_datetime(original))
        & (pd.to_datetime(original) < released + pd.DateOffset(months=span))
    )
    assert held.all()
    # k over people, by an independent group-by over the typed columns.
    qis = ["order_month", "channel", "items"]
    masked = (frame.channel == "*") & frame.order_month.isna() & frame["items"].isna()
    kept = frame if method == "mondrian" else frame.loc[~masked]
    assert int(masked.sum()) <= 0.02 * len(frame) or method == "mondrian"
    if len(kept):
        assert kept.groupby(qis, dropna=False).customer_id.nunique().min() >= 5
    assert frame["items"].dropna().isin([1, 2, 3]).all()


def test_a_month_raised_to_a_quarter_reports_the_coarser_grain(tmp_path):
    policy, table = _orders(tmp_path, "full_domain")
    out, figures = enforce_k_anonymity(
        table, policy.guarantees.k_anonymity, policy.sources["orders"]
    )
    if figures["levels"]["order_month"] > 0:
        assert figures["grains"]["order_month"] in ("quarter", "year")
        assert set(pd.to_datetime(out.to_pandas().order_month.dropna()).dt.month) <= {1, 4, 7, 10}


def test_a_table_read_back_from_the_warehouse_keeps_its_types(tmp_path):
    # What erasure hands over: a pandas frame from DuckDB (DATE as datetime64, BIGINT).
    from minimizer.io.warehouse import open_warehouse

    policy, table = _orders(tmp_path, "full_domain")
    with open_warehouse(str(tmp_path / "w.duckdb")) as wh:
        wh._fetch("CREATE SCHEMA p")  # type: ignore[attr-defined]
        wh._con.register("t", table)  # type: ignore[attr-defined]
        wh._fetch("CREATE TABLE p.orders AS SELECT * FROM t")  # type: ignore[attr-defined]
        frame = wh.read("p", "orders")
    before = pa.Table.from_pandas(frame, preserve_index=False)
    out, figures = enforce_k_anonymity(
        frame, policy.guarantees.k_anonymity, policy.sources["orders"]
    )
    assert out.schema == before.schema
    kept = out.to_pandas()
    assert (
        kept.groupby(["order_month", "channel", "items"], dropna=False).customer_id.nunique().min()
        >= 5
    )
    assert figures["suppressed"] == 0


def test_a_rotating_pseudonym_is_not_a_subject_column():
    # One person, a new token every day: distinct tokens would count one person as many.
    text = (ROOT / "configs" / "purposes" / "footfall_heatmap.yaml").read_text()
    policy = load_policy(ROOT / "configs" / "purposes" / "footfall_heatmap.yaml")
    assert "rotate: day" in text
    assert subject_column(policy.sources["events"]) is None


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sizes=st.lists(st.integers(5, 7), min_size=2, max_size=8),
    copies=st.integers(1, 3),
    victim=st.integers(0, 10_000),
)
def test_erasing_one_member_of_a_class_of_exactly_k_never_leaves_a_class_below_k(
    sizes, copies, victim
):
    # What erasure does: remove one person's rows from a published, k-anonymous table, then
    # re-enforce. Classes of exactly k=5 lose a member; none may stay published below k.
    cities = ["Berlin", "Hamburg", "München", "Köln", "Kiel", "Bonn", "Jena", "Ulm"]
    parts = [
        pd.DataFrame(
            {
                "customer_id": [f"c{j}-{i}" for i in range(size)] * copies,
                "age_band": "30-39",
                "city": cities[j],
                "loyalty_tier": "gold",
                "notes": "x",
            }
        )
        for j, size in enumerate(sizes)
    ]
    table = pd.concat(parts, ignore_index=True)
    people = table.customer_id.unique()
    erased = table.loc[table.customer_id != people[victim % len(people)]]
    out, figures = enforce_k_anonymity(erased, KANON, SPEC, max_suppression=1.0)
    frame = out.to_pandas()
    masked = (frame[QIS] == "*").all(axis=1)
    kept = frame.loc[~masked]
    if len(kept):
        assert kept.groupby(QIS, dropna=False).customer_id.nunique().min() >= 5
    assert figures["suppressed"] <= int(masked.sum())
    assert len(frame) == len(erased)
