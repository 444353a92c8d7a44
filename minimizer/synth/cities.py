"""Reference data: the cities people live in, and what follows from the country they are in.

Differences between countries live in these tables, not in branches elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CITIES", "COUNTRIES", "LOCALES", "City", "Country"]

LOCALES: tuple[str, ...] = ("de_DE", "en_US", "fr_FR")


@dataclass(frozen=True)
class Country:
    code: str
    locale: str  # Faker locale for addresses, phones and IBANs of residents
    language: str  # language of the staff notes
    currency: str
    has_iban: bool  # US customers pay by card: their IBAN is NULL
    ipv4_first_octets: tuple[int, ...]  # public /8 blocks of local access providers
    ipv6_prefixes: tuple[str, ...]


@dataclass(frozen=True)
class City:
    name: str
    country: str
    tz: str
    lat: float
    lon: float
    radius_km: float  # homes, workplaces and places of interest lie within this radius
    weight: float  # share of customers living here
    postcodes: tuple[str, ...]


COUNTRIES: dict[str, Country] = {
    "DE": Country(
        "DE", "de_DE", "de", "EUR", True, (77, 79, 84, 87, 91, 93, 217), ("2003", "2a02")
    ),
    "FR": Country("FR", "fr_FR", "fr", "EUR", True, (78, 80, 82, 86, 88, 90, 92), ("2a01", "2a04")),
    "US": Country(
        "US", "en_US", "en", "USD", False, (24, 50, 66, 67, 68, 71, 73, 98), ("2600", "2601")
    ),
}


def _codes(first: int, last: int, count: int) -> tuple[str, ...]:
    """``count`` five-digit postcodes spread over a real range (not every code exists)."""
    values = np.unique(np.linspace(first, last, count).round().astype(int))
    return tuple(f"{v:05d}" for v in values)


CITIES: tuple[City, ...] = (
    City(
        "Berlin", "DE", "Europe/Berlin", 52.520008, 13.404954, 11.0, 0.24, _codes(10115, 14199, 90)
    ),
    City(
        "München", "DE", "Europe/Berlin", 48.137154, 11.576124, 8.0, 0.14, _codes(80331, 81929, 74)
    ),
    City("Paris", "FR", "Europe/Paris", 48.856613, 2.352222, 6.5, 0.24, _codes(75001, 75020, 20)),
    City("Lyon", "FR", "Europe/Paris", 45.764043, 4.835659, 5.5, 0.10, _codes(69001, 69009, 9)),
    City(
        "New York",
        "US",
        "America/New_York",
        40.730610,
        -73.935242,
        12.0,
        0.28,
        _codes(10001, 10040, 40) + _codes(11201, 11239, 39) + _codes(11354, 11385, 32),
    ),
)
