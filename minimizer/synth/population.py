"""Who the customers are, as numbers: city, origin, dates, tier, activity and anchor places.

Everything here is drawn with vectorised numpy; names and addresses (Faker) come later, in
identities.py, from these attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from minimizer.synth.cities import CITIES, COUNTRIES, LOCALES
from minimizer.synth.ids import unique_random_ids
from minimizer.synth.movement import HOME, M_PER_DEG_LAT, Anchors, draw_anchors
from minimizer.synth.network import COUNTRY_CODES

__all__ = ["TIERS", "Population", "draw_population"]

TIERS: tuple[str, ...] = ("bronze", "silver", "gold", "platinum")
_TIER_PROBS = np.array([0.55, 0.28, 0.13, 0.04])
_LOCAL_ORIGIN = 0.85  # share of residents whose name comes from their country's locale
_INACTIVE = 0.08  # customers who never use the app or web shop
_POSTCODE_CELL_M = 1200.0
_MAX_TENURE_DAYS = 6 * 365


@dataclass(frozen=True)
class Population:
    customer_id: np.ndarray  # str, 'C' + 9 base32 characters
    city: np.ndarray  # index into CITIES
    country: np.ndarray  # index into COUNTRY_CODES
    origin: np.ndarray  # index into LOCALES: where the person's name comes from
    birth_date: np.ndarray  # datetime64[D]
    signup_date: np.ndarray  # datetime64[D]
    tier: np.ndarray  # index into TIERS
    postcode: np.ndarray  # str, derived from the home location
    activity: np.ndarray  # expected events per day (0 for inactive customers)
    anchors: Anchors

    def __len__(self) -> int:
        return len(self.customer_id)


def _postcodes(city: np.ndarray, anchors: Anchors) -> np.ndarray:
    """Postcode of the ~1 km cell around home, so postcode and home location agree."""
    lat0 = np.array([c.lat for c in CITIES])[city]
    lon0 = np.array([c.lon for c in CITIES])[city]
    dy = (anchors.lat[:, HOME] - lat0) * M_PER_DEG_LAT
    dx = (anchors.lon[:, HOME] - lon0) * M_PER_DEG_LAT * np.cos(np.radians(lat0))
    cx = np.floor(dx / _POSTCODE_CELL_M).astype(np.int64)
    cy = np.floor(dy / _POSTCODE_CELL_M).astype(np.int64)
    out = np.empty(len(city), dtype=object)
    for k, c in enumerate(CITIES):
        mask = city == k
        cell_hash = (cx[mask] * 73_856_093) ^ (cy[mask] * 19_349_663)
        out[mask] = np.array(c.postcodes)[cell_hash % len(c.postcodes)]
    return out.astype(str)


def draw_population(
    rng: np.random.Generator, n: int, end: date, events_per_customer_day: float
) -> Population:
    """``n`` customers as of ``end`` (no one signed up or was born after it)."""
    weights = np.array([c.weight for c in CITIES])
    city = rng.choice(len(CITIES), size=n, p=weights / weights.sum())
    city_country = np.array([COUNTRY_CODES.index(c.country) for c in CITIES])
    country = city_country[city]
    local = np.array([LOCALES.index(COUNTRIES[c].locale) for c in COUNTRY_CODES])[country]
    other = (local + rng.integers(1, len(LOCALES), size=n)) % len(LOCALES)
    origin = np.where(rng.random(n) < _LOCAL_ORIGIN, local, other)

    end_day = np.datetime64(end, "D")
    age_days = (18 * 365.25 + rng.beta(2.0, 3.5, size=n) * 72 * 365.25).astype(np.int64)
    birth = end_day - age_days
    adult_since = birth + int(18 * 365.25)
    signup = np.maximum(end_day - rng.integers(0, _MAX_TENURE_DAYS, size=n), adult_since)

    tier = rng.choice(len(TIERS), size=n, p=_TIER_PROBS)
    active = rng.random(n) >= _INACTIVE
    # Gamma(2, 1/2) has mean 1: some people are far busier than others, as in real logs.
    activity = events_per_customer_day * rng.gamma(2.0, 0.5, size=n) * active / (1 - _INACTIVE)
    anchors = draw_anchors(rng, city)
    return Population(
        customer_id=unique_random_ids(rng, n, "C", 9),
        city=city,
        country=country,
        origin=origin,
        birth_date=birth,
        signup_date=signup,
        tier=tier,
        postcode=_postcodes(city, anchors),
        activity=activity,
        anchors=anchors,
    )
