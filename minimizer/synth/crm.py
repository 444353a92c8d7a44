"""The CRM tables (customers, orders, web_profiles) and the ground-truth table, as Arrow tables."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa

from minimizer.synth.cities import CITIES, COUNTRIES, LOCALES
from minimizer.synth.identities import Identities, ascii_slug
from minimizer.synth.movement import HOME, WORK
from minimizer.synth.network import COUNTRY_CODES
from minimizer.synth.population import TIERS, Population
from minimizer.synth.schema import CUSTOMERS, ORDERS, TRUTH, WEB_PROFILES

__all__ = ["customers_table", "orders_table", "truth_table", "web_profiles_table"]

_ORDERS_PER_TIER = np.array([1.5, 3.0, 6.0, 12.0])  # expected orders over the customer's tenure
_CHANNELS = ("web", "app", "store", "phone")
_CHANNEL_PROBS = (0.55, 0.25, 0.15, 0.05)
_FIRST_ORDER_NUMBER = 10_000_001
# Bank transfer references: an order number, nothing sensitive, or the payer's name.
_REFERENCE_PROBS = (0.45, 0.45, 0.10)
_LANGUAGES = ("en", "de", "fr")
_REF_ORDER = np.array(  # put in front of the order number
    [["Order ", "", "Payment "], ["Bestellung ", "", "Rechnung "], ["Commande ", "", "Facture "]]
)
_REF_PLAIN = np.array(
    [
        ["Online purchase", "Thank you", "Webshop payment", "Gift"],
        ["Online-Einkauf", "Danke", "Zahlung Webshop", "Geschenk"],
        ["Achat en ligne", "Merci", "Paiement boutique", "Cadeau"],
    ]
)
_PROFILE_COVERAGE = 0.65  # the share of customers the enrichment vendor matched
_INTERESTS = (
    "running", "cycling", "cooking", "travel", "gaming", "fashion", "gardening", "photography",
    "music", "fitness", "parenting", "pets", "finance", "technology", "wine", "books",
)  # fmt: skip
_INCOME_BANDS = ("<25k", "25-50k", "50-75k", "75-100k", "100-150k", ">150k")


def customers_table(people: Population, ids: Identities, notes: list[str]) -> pa.Table:
    columns = {
        "customer_id": people.customer_id,
        "first_name": ids.first_name,
        "last_name": ids.last_name,
        "email": ids.email,
        "phone": ids.phone,
        "street_address": ids.street_address,
        "postcode": people.postcode,
        "city": np.array([c.name for c in CITIES])[people.city],
        "birth_date": people.birth_date,
        "iban": ids.iban,
        "signup_date": people.signup_date,
        "loyalty_tier": np.array(TIERS)[people.tier],
        "notes": notes,
    }
    return pa.table(columns, schema=CUSTOMERS.schema)


def orders_table(
    rng: np.random.Generator, people: Population, ids: Identities, end: date
) -> pa.Table:
    """Orders between each customer's signup and the end of ``end``, numbered by time."""
    counts = rng.poisson(_ORDERS_PER_TIER[people.tier])
    owner = np.repeat(np.arange(len(people)), counts)
    start_s = people.signup_date[owner].astype("datetime64[s]").astype(np.int64)
    stop_s = np.datetime64(end, "D").astype("datetime64[s]").astype(np.int64) + 86_400
    when = start_s + (rng.random(len(owner)) * (stop_s - start_s)).astype(np.int64)
    order = np.argsort(when, kind="stable")
    owner, when = owner[order], when[order]
    number = np.char.add("ORD-", (np.arange(len(owner)) + _FIRST_ORDER_NUMBER).astype(str))

    tier = people.tier[owner]
    amount = np.round(rng.lognormal(np.log(45.0) + 0.25 * tier, 0.7), 2).clip(1.0, 5000.0)
    currency = np.array([COUNTRIES[c].currency for c in COUNTRY_CODES])[people.country[owner]]
    channel = np.array(_CHANNELS)[rng.choice(len(_CHANNELS), size=len(owner), p=_CHANNEL_PROBS)]
    kind = rng.choice(3, size=len(owner), p=_REFERENCE_PROBS)
    pick = rng.integers(0, 1 << 30, size=len(owner))
    city_language = [_LANGUAGES.index(COUNTRIES[c.country].language) for c in CITIES]
    lang = np.array(city_language)[people.city[owner]]
    # "MÜLLER H. ": how a payer's name looks on a bank statement.
    initial = np.array(ids.first_name).astype("<U1")
    payer = np.char.add(np.char.upper(np.array(ids.last_name)), np.char.add(" ", initial))
    reference = np.where(
        kind == 1,
        _REF_PLAIN[lang, pick % _REF_PLAIN.shape[1]],
        np.char.add(
            np.where(
                kind == 0,
                _REF_ORDER[lang, pick % _REF_ORDER.shape[1]],
                np.char.add(payer[owner], ". "),
            ),
            number,
        ),
    )
    columns = {
        "order_id": number,
        "customer_id": people.customer_id[owner],
        "order_date": when.astype("datetime64[s]").astype("datetime64[us]"),
        "amount": pa.array(amount).cast(ORDERS.schema.field("amount").type),
        "currency": currency,
        "channel": channel,
        "payment_reference": reference,
    }
    return pa.table(columns, schema=ORDERS.schema)


def _handles(
    rng: np.random.Generator, first: list[str], last: list[str]
) -> tuple[list[str | None], list[str | None]]:
    n = len(first)
    digits = rng.integers(1, 1000, size=n)
    has_twitter = rng.random(n) < 0.5
    has_instagram = rng.random(n) < 0.6
    twitter: list[str | None] = []
    instagram: list[str | None] = []
    for k in range(n):
        f, la = ascii_slug(first[k]) or "x", ascii_slug(last[k]) or "x"
        twitter.append(f"@{f}{la}{digits[k]}"[:16] if has_twitter[k] else None)
        instagram.append(f"@{f}.{la}" if has_instagram[k] else None)
    return twitter, instagram


def web_profiles_table(rng: np.random.Generator, people: Population, ids: Identities) -> pa.Table:
    """Bought-in enrichment for the customers the vendor matched."""
    who = np.flatnonzero(rng.random(len(people)) < _PROFILE_COVERAGE)
    first = [ids.first_name[k] for k in who.tolist()]
    last = [ids.last_name[k] for k in who.tolist()]
    twitter, instagram = _handles(rng, first, last)
    tag = rng.integers(0, 1 << 24, size=len(who))
    url = [
        f"https://www.instagram.com/{ig[1:]}/" if ig
        else f"https://x.com/{tw[1:]}" if tw
        else f"https://www.linkedin.com/in/{ascii_slug(f)}-{ascii_slug(la)}-{t:06x}"
        for ig, tw, f, la, t in zip(instagram, twitter, first, last, tag, strict=True)
    ]  # fmt: skip
    raw = rng.integers(0, 1 << 62, size=(len(who), 2))
    device = [
        f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"
        for h in (f"{a:016x}{b:016x}" for a, b in raw.tolist())
    ]
    n_interests = rng.integers(1, 5, size=len(who))
    ranked = np.argsort(rng.random((len(who), len(_INTERESTS))), axis=1)
    interests = [
        ",".join(_INTERESTS[i] for i in sorted(row[:m].tolist()))
        for row, m in zip(ranked, n_interests.tolist(), strict=True)
    ]
    band = np.round(1 + 0.8 * people.tier[who] + rng.normal(0.0, 1.0, len(who)))
    columns = {
        "customer_id": people.customer_id[who],
        "twitter_handle": twitter,
        "instagram_handle": instagram,
        "profile_url": url,
        "device_id": device,
        "inferred_interests": interests,
        "inferred_income_band": np.array(_INCOME_BANDS)[band.clip(0, 5).astype(np.intp)],
    }
    return pa.table(columns, schema=WEB_PROFILES.schema)


def truth_table(people: Population, notes_has_pii: np.ndarray) -> pa.Table:
    employed = people.anchors.employed
    columns = {
        "customer_id": people.customer_id,
        "city": np.array([c.name for c in CITIES])[people.city],
        "tz": np.array([c.tz for c in CITIES])[people.city],
        "origin_locale": np.array(LOCALES)[people.origin],
        "home_lat": people.anchors.lat[:, HOME],
        "home_lon": people.anchors.lon[:, HOME],
        "work_lat": pa.array(people.anchors.lat[:, WORK], mask=~employed),
        "work_lon": pa.array(people.anchors.lon[:, WORK], mask=~employed),
        "notes_has_pii": notes_has_pii,
    }
    return pa.table(columns, schema=TRUTH)
