"""The CRM: schema and types, identifiers, realistic content, and notes that really leak PII."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from minimizer.synth import generate
from minimizer.synth.identities import ascii_slug

END = date(2024, 3, 13)


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("crm")
    generate(path, customers=200, days=1, seed=3, end=END)
    return path


@pytest.fixture(scope="module")
def crm(out: Path) -> dict[str, pd.DataFrame]:
    with sqlite3.connect(out / "crm.sqlite") as conn:
        return {
            t: pd.read_sql(f"SELECT * FROM {t}", conn)
            for t in ("customers", "orders", "web_profiles")
        }


@pytest.fixture(scope="module")
def truth(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out / "truth" / "people.parquet")


def declared(out: Path, table: str) -> dict[str, str]:
    with sqlite3.connect(out / "crm.sqlite") as conn:
        return {r[1]: r[2] for r in conn.execute(f"PRAGMA table_info({table})")}


def test_tables_have_the_documented_columns_and_types(out: Path) -> None:
    assert declared(out, "customers") == {
        "customer_id": "TEXT", "first_name": "TEXT", "last_name": "TEXT", "email": "TEXT",
        "phone": "TEXT", "street_address": "TEXT", "postcode": "TEXT", "city": "TEXT",
        "birth_date": "DATE", "iban": "TEXT", "signup_date": "DATE", "loyalty_tier": "TEXT",
        "notes": "TEXT",
    }  # fmt: skip
    assert declared(out, "orders") == {
        "order_id": "TEXT", "customer_id": "TEXT", "order_date": "TIMESTAMP",
        "amount": "NUMERIC(12, 2)", "currency": "TEXT", "channel": "TEXT",
        "payment_reference": "TEXT",
    }  # fmt: skip
    assert list(declared(out, "web_profiles")) == [
        "customer_id", "twitter_handle", "instagram_handle", "profile_url", "device_id",
        "inferred_interests", "inferred_income_band",
    ]  # fmt: skip


def test_customer_ids_are_unique_random_looking_and_shared_by_all_tables(
    crm: dict[str, pd.DataFrame],
) -> None:
    ids = crm["customers"]["customer_id"]
    assert ids.is_unique and len(ids) == 200
    assert ids.str.fullmatch(r"C[A-Z2-7]{9}").all()
    assert ids.str[1:].str.isdigit().sum() == 0  # never a small integer a canary could hit
    assert set(crm["orders"]["customer_id"]) <= set(ids)
    assert crm["web_profiles"]["customer_id"].is_unique
    assert set(crm["web_profiles"]["customer_id"]) < set(ids)  # the vendor matched only some
    assert crm["orders"]["order_id"].is_unique


def test_foreign_keys_hold(out: Path) -> None:
    with sqlite3.connect(out / "crm.sqlite") as conn:
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


def test_dates_are_iso_and_plausible(crm: dict[str, pd.DataFrame]) -> None:
    c = crm["customers"]
    birth = pd.to_datetime(c["birth_date"], format="%Y-%m-%d")
    signup = pd.to_datetime(c["signup_date"], format="%Y-%m-%d")
    age_at_signup = (signup - birth).dt.days / 365.25
    assert age_at_signup.min() >= 17.99 and (pd.Timestamp(END) - birth).dt.days.max() < 91 * 366
    assert signup.max() <= pd.Timestamp(END)
    orders = crm["orders"].merge(c[["customer_id", "signup_date"]], on="customer_id")
    when = pd.to_datetime(orders["order_date"], format="%Y-%m-%d %H:%M:%S")
    assert (when >= pd.to_datetime(orders["signup_date"])).all()
    assert (when < pd.Timestamp(END) + pd.Timedelta(days=1)).all()


def test_amounts_have_two_decimals_and_currency_follows_the_country(
    crm: dict[str, pd.DataFrame],
) -> None:
    orders = crm["orders"].merge(crm["customers"][["customer_id", "city"]], on="customer_id")
    assert ((orders["amount"] * 100).round(6) % 1 == 0).all() and (orders["amount"] > 0).all()
    us = orders["city"] == "New York"
    assert (orders.loc[us, "currency"] == "USD").all()
    assert (orders.loc[~us, "currency"] == "EUR").all()
    refs = orders["payment_reference"]
    has_number = refs.str.contains("ORD-", regex=False)
    assert 0.3 < has_number.mean() < 0.8  # sometimes an order number, sometimes nothing


def test_customers_are_multinational_with_local_ibans(
    crm: dict[str, pd.DataFrame], truth: pd.DataFrame
) -> None:
    c = crm["customers"]
    assert set(c["city"]) == {"Berlin", "München", "Paris", "Lyon", "New York"}
    assert set(truth["origin_locale"]) == {"de_DE", "en_US", "fr_FR"}
    country = c["city"].map({"Berlin": "DE", "München": "DE", "Paris": "FR", "Lyon": "FR"})
    assert c.loc[country.isna(), "iban"].isna().all()  # US residents pay by card
    assert (c.loc[country.notna(), "iban"].str[:2] == country.dropna()).all()
    assert c["email"].is_unique and c["email"].str.fullmatch(r"[a-z0-9._]+@[a-z0-9.-]+").all()
    assert c["postcode"].str.fullmatch(r"\d{5}").all()


def test_loyalty_tiers_are_skewed_towards_bronze(crm: dict[str, pd.DataFrame]) -> None:
    share = crm["customers"]["loyalty_tier"].value_counts(normalize=True)
    assert set(share.index) <= {"bronze", "silver", "gold", "platinum"}
    assert share["bronze"] > share["silver"] > share["gold"] > share.get("platinum", 0.0)


def own_pii(row: dict[str, object]) -> list[str]:
    values = [row["first_name"], row["last_name"], row["email"], row["phone"], row["iban"]]
    return [v for v in values if isinstance(v, str)]


def test_about_a_third_of_notes_quote_the_customers_own_pii(
    crm: dict[str, pd.DataFrame], truth: pd.DataFrame
) -> None:
    c = crm["customers"].merge(truth[["customer_id", "notes_has_pii"]], on="customer_id")
    rows = c.to_dict("records")
    quoted = [
        any(v in r["notes"] for v in own_pii(r)) or r["street_address"] in r["notes"] for r in rows
    ]
    assert quoted == c["notes_has_pii"].tolist()
    assert 0.2 < c["notes_has_pii"].mean() < 0.4
    assert c["notes"].notna().all()


def test_web_profiles_are_enrichment_linkable_to_the_customer(
    crm: dict[str, pd.DataFrame],
) -> None:
    w = crm["web_profiles"]
    uuid4 = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}"
    assert w["device_id"].str.fullmatch(uuid4).all()
    assert w["twitter_handle"].dropna().str.fullmatch(r"@\w{1,15}").all()
    assert w["profile_url"].str.startswith("https://").all()
    interests = w["inferred_interests"].str.split(",")
    assert interests.map(len).between(1, 4).all()
    bands = ["<25k", "25-50k", "50-75k", "75-100k", "100-150k", ">150k"]
    assert w["inferred_income_band"].isin(bands).all()
    assert 0.2 < w["twitter_handle"].isna().mean() < 0.8
    # Handles are built from the name, as in life: enrichment links back to the person.
    last = crm["customers"].set_index("customer_id")["last_name"]
    ig = w.dropna(subset=["instagram_handle"])
    assert len(ig) > 20
    for cid, handle in zip(ig["customer_id"], ig["instagram_handle"], strict=True):
        assert handle.endswith("." + ascii_slug(last[cid]))
