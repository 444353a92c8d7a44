"""Where people are: home, work and favourite places, and which of them a session happens at.

Each person lives in one city. At night they are near home, during weekday working hours the
employed are near work, otherwise they are at one of their favourite places or roaming the city.
Home and work together (and, to a lesser degree, the favourite places) make a movement trace
identifying: that is the point of this data, since the product measures unicity on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from minimizer.synth.cities import CITIES

__all__ = ["FAVOURITES", "HOME", "ROAM", "WORK", "Anchors", "draw_anchors", "jitter", "place"]

M_PER_DEG_LAT = 111_320.0
HOME, WORK, FAVOURITES, ROAM = 0, 1, (2, 3, 4), -1
Pair = tuple[np.ndarray, np.ndarray]  # latitudes and longitudes, or east and north metres
_CITY_LAT = np.array([c.lat for c in CITIES])
_CITY_LON = np.array([c.lon for c in CITIES])
_CITY_RADIUS_M = np.array([c.radius_km * 1000.0 for c in CITIES])

# Rows: night (22-07 local), weekday working hours (09-17, employed only), any other time.
# Columns: home, work, a favourite place, roaming somewhere in the city.
_REGIME_PROBS = np.array(
    [
        [0.93, 0.00, 0.05, 0.02],
        [0.05, 0.85, 0.06, 0.04],
        [0.40, 0.00, 0.45, 0.15],
    ]
)
_FAVOURITE_PROBS = np.array([0.5, 0.3, 0.2])  # the first favourite place is near home
_POIS_PER_CITY = 40  # shared places of interest (malls, parks, stations)
_EMPLOYEES_PER_EMPLOYER = 15  # colleagues share a work place, so work alone is weakly identifying


@dataclass(frozen=True)
class Anchors:
    """Per person: coordinates of the five anchor places and whether they have a work place."""

    lat: np.ndarray  # (n, 5) float64: home, work, favourite 1..3
    lon: np.ndarray
    employed: np.ndarray  # (n,) bool; for the others the work slot repeats home
    employer: np.ndarray  # (n,) int: shared work place (colleagues share an office and its IP)


def _shift(lat: np.ndarray, lon: np.ndarray, dx_m: np.ndarray, dy_m: np.ndarray) -> Pair:
    """Move points by metres east (dx) and north (dy); exact enough at city scale."""
    new_lat = lat + dy_m / M_PER_DEG_LAT
    new_lon = lon + dx_m / (M_PER_DEG_LAT * np.cos(np.radians(lat)))
    return new_lat, new_lon


def _disk(rng: np.random.Generator, radius_m: np.ndarray, power: float) -> Pair:
    """Offsets in a disk; power 0.5 is uniform, larger values crowd the centre."""
    r = radius_m * rng.random(len(radius_m)) ** power
    theta = rng.uniform(0.0, 2.0 * np.pi, len(radius_m))
    return r * np.cos(theta), r * np.sin(theta)


def _in_city(rng: np.random.Generator, city: np.ndarray, power: float) -> Pair:
    dx, dy = _disk(rng, _CITY_RADIUS_M[city], power)
    return _shift(_CITY_LAT[city], _CITY_LON[city], dx, dy)


def _shared_places(
    rng: np.random.Generator, city: np.ndarray, per_city: np.ndarray, power: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Draw ``per_city[k]`` places per city and give each person one of their city's places."""
    place_city = np.repeat(np.arange(len(CITIES)), per_city)
    lat, lon = _in_city(rng, place_city, power)
    first = np.concatenate([[0], np.cumsum(per_city)[:-1]])
    return lat, lon, first[city], per_city[city]


def draw_anchors(rng: np.random.Generator, city: np.ndarray) -> Anchors:
    """Anchor places for people living in ``city`` (indices into CITIES)."""
    n = len(city)
    home_lat, home_lon = _in_city(rng, city, 0.7)
    employed = rng.random(n) < 0.8

    per_city = np.maximum(3, np.bincount(city, minlength=len(CITIES)) // _EMPLOYEES_PER_EMPLOYER)
    emp_lat, emp_lon, first, count = _shared_places(rng, city, per_city, 1.3)
    employer = first + (rng.random(n) * count).astype(np.intp)
    work_lat, work_lon = _shift(emp_lat[employer], emp_lon[employer], *_gauss(rng, n, 40.0))
    work_lat = np.where(employed, work_lat, home_lat)
    work_lon = np.where(employed, work_lon, home_lon)

    near_lat, near_lon = _shift(home_lat, home_lon, *_disk(rng, np.full(n, 1500.0), 0.5))
    pois = np.full(len(CITIES), _POIS_PER_CITY)
    poi_lat, poi_lon, first, _ = _shared_places(rng, city, pois, 0.9)
    popularity = 1.0 / np.arange(1, _POIS_PER_CITY + 1) ** 0.8
    picks = rng.choice(_POIS_PER_CITY, size=(n, 2), p=popularity / popularity.sum())
    poi = first[:, None] + picks

    lat = np.column_stack([home_lat, work_lat, near_lat, poi_lat[poi[:, 0]], poi_lat[poi[:, 1]]])
    lon = np.column_stack([home_lon, work_lon, near_lon, poi_lon[poi[:, 0]], poi_lon[poi[:, 1]]])
    return Anchors(lat=lat, lon=lon, employed=employed, employer=employer)


def _gauss(rng: np.random.Generator, n: int, sigma_m: float) -> Pair:
    return rng.normal(0.0, sigma_m, n), rng.normal(0.0, sigma_m, n)


def place(
    rng: np.random.Generator,
    anchors: Anchors,
    city: np.ndarray,
    person: np.ndarray,
    local_hour: np.ndarray,
    weekday: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pick the place of each session: returns (slot, lat, lon); slot is ROAM or an anchor."""
    night = (local_hour >= 22) | (local_hour < 7)
    working = anchors.employed[person] & (weekday < 5) & (local_hour >= 9) & (local_hour < 17)
    regime = np.where(night, 0, np.where(working, 1, 2))
    cdf = np.cumsum(_REGIME_PROBS, axis=1)[regime]
    kind = (rng.random(len(person))[:, None] >= cdf[:, :-1]).sum(axis=1)
    favourite = FAVOURITES[0] + rng.choice(len(FAVOURITES), size=len(person), p=_FAVOURITE_PROBS)
    slot = np.choose(kind, [HOME, WORK, favourite, ROAM])
    roam_lat, roam_lon = _in_city(rng, city[person], 0.6)
    anchor = np.maximum(slot, 0)
    lat = np.where(slot == ROAM, roam_lat, anchors.lat[person, anchor])
    lon = np.where(slot == ROAM, roam_lon, anchors.lon[person, anchor])
    return slot, lat, lon


def jitter(rng: np.random.Generator, lat: np.ndarray, lon: np.ndarray, sigma_m: float) -> Pair:
    """GPS noise of ``sigma_m`` metres per axis."""
    return _shift(lat, lon, *_gauss(rng, len(lat), sigma_m))
