"""One UTC day of behavioural events for everybody, generated with whole-array numpy.

A person's day is a Poisson number of sessions. A session starts at a local hour drawn from a
daily rhythm, happens at one place (see movement.py) over one connection and one device, and
holds a few page views seconds to minutes apart, sometimes ending in a purchase. Sessions are
drawn in UTC and placed by local time, so a partition holds exactly one UTC date.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

from minimizer.synth.cities import CITIES
from minimizer.synth.ids import random_ids
from minimizer.synth.movement import HOME, WORK, jitter, place
from minimizer.synth.network import CARRIER_POOL, Network
from minimizer.synth.population import Population
from minimizer.synth.schema import EVENTS

__all__ = ["PAGES", "PURCHASE_PAGE", "day_events", "utc_offsets"]

HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
# Relative activity by local hour: quiet at night, busy at lunch and in the evening.
_LOCAL_HOUR_WEIGHTS = np.array(
    [0.6, 0.3, 0.2, 0.1, 0.1, 0.2, 0.8, 2.0, 3.0, 3.2, 3.2, 3.4,
     4.0, 3.6, 3.2, 3.2, 3.4, 4.0, 5.0, 6.0, 6.2, 5.2, 3.4, 1.6]
)  # fmt: skip
_EVENTS_PER_SESSION = 3.0  # geometric, so most sessions are short
_MAX_EVENTS_PER_SESSION = 40
_GAP_S = 45.0  # mean time between two page views of a session
_GPS_SIGMA_M = 30.0
_FIXED_LINE_SHARE = 0.85  # at home or work, most sessions use the fixed line, not mobile data
_DESKTOP_SHARE = 0.6  # on a fixed line, the desktop browser; otherwise the phone
_PURCHASE_SHARE = 0.08  # sessions that end in a purchase

PURCHASE_PAGE = "/checkout/complete"
_CATEGORIES = ("women", "men", "kids", "home", "sports", "beauty", "electronics", "sale")
_BROWSE_PAGES = (
    "/", "/search", "/cart", "/account", "/wishlist", "/help", "/checkout",
    *(f"/c/{c}" for c in _CATEGORIES),
    *(f"/p/{10_000 + 37 * k}" for k in range(400)),
)  # fmt: skip
PAGES = pa.array([*_BROWSE_PAGES, PURCHASE_PAGE], pa.string())
_PAGE_WEIGHTS = 1.0 / np.arange(1, len(_BROWSE_PAGES) + 1) ** 0.9


def utc_offsets(day: date) -> np.ndarray:
    """UTC offset of each city in seconds, at noon UTC of ``day`` (DST included)."""
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    offsets = [noon.astimezone(ZoneInfo(c.tz)).utcoffset() for c in CITIES]
    return np.array([int(o.total_seconds()) if o else 0 for o in offsets], dtype=np.int64)


def _session_starts(rng: np.random.Generator, city: np.ndarray, offset_s: np.ndarray) -> np.ndarray:
    """Start of each session in microseconds after midnight UTC, following local rhythms."""
    local_hour_of_utc = (np.arange(24)[None, :] + offset_s[:, None] // 3600) % 24
    weights = _LOCAL_HOUR_WEIGHTS[local_hour_of_utc]
    cdf = np.cumsum(weights, axis=1) / weights.sum(axis=1, keepdims=True)
    hour = (rng.random(len(city))[:, None] >= cdf[city][:, :-1]).sum(axis=1)
    starts: np.ndarray = hour * HOUR_US + rng.integers(0, HOUR_US, size=len(city))
    return starts


def day_events(
    rng: np.random.Generator,
    people: Population,
    network: Network,
    customer_ids: pa.Array,
    day: date,
) -> pa.Table:
    """All events with a timestamp on the UTC date ``day``, sorted by time."""
    active = people.signup_date <= np.datetime64(day, "D")
    sessions = rng.poisson(people.activity * active / _EVENTS_PER_SESSION)
    person = np.repeat(np.arange(len(people)), sessions)
    city = people.city[person]
    offset_s = utc_offsets(day)
    start = _session_starts(rng, city, offset_s)
    local = start + offset_s[city] * 1_000_000
    local_hour = (local % DAY_US) // HOUR_US
    weekday = (day.weekday() + local // DAY_US) % 7  # local midnight may fall on another date
    slot, lat0, lon0 = place(rng, people.anchors, people.city, person, local_hour, weekday)

    fixed = ((slot == HOME) | (slot == WORK)) & (rng.random(len(person)) < _FIXED_LINE_SHARE)
    carrier = network.carrier_first[people.country[person]]
    carrier = carrier + rng.integers(0, CARRIER_POOL, size=len(person))
    line = np.where(slot == HOME, network.home_ip[person], network.work_ip[person])
    ip = np.where(fixed, line, carrier)
    desktop = fixed & (rng.random(len(person)) < _DESKTOP_SHARE)
    agent = np.where(desktop, network.desktop_ua[person], network.mobile_ua[person])

    length = np.minimum(
        rng.geometric(1 / _EVENTS_PER_SESSION, size=len(person)), _MAX_EVENTS_PER_SESSION
    )
    session = np.repeat(np.arange(len(person)), length)
    first = np.cumsum(length) - length
    gaps = rng.exponential(_GAP_S * 1e6, size=len(session)).astype(np.int64)
    gaps[first] = 0
    elapsed = np.cumsum(gaps)
    ts = start[session] + elapsed - elapsed[first][session]
    lat, lon = jitter(rng, lat0[session], lon0[session], _GPS_SIGMA_M)

    page = rng.choice(len(_BROWSE_PAGES), size=len(session), p=_PAGE_WEIGHTS / _PAGE_WEIGHTS.sum())
    bought = np.zeros(len(session), dtype=bool)
    bought[(first + length - 1)[rng.random(len(person)) < _PURCHASE_SHARE]] = True
    page[bought] = len(_BROWSE_PAGES)
    amount = np.round(rng.lognormal(np.log(40.0), 0.8, size=len(session)), 2)
    session_ids = pa.array(random_ids(rng, len(person), "S", 12), pa.string())

    # Sessions running past midnight are cut: their tail belongs to the next UTC date.
    keep = np.flatnonzero(ts < DAY_US)
    keep = keep[np.argsort(ts[keep], kind="stable")]
    midnight = np.datetime64(day, "D").astype("datetime64[us]").astype(np.int64)
    columns = {
        "customer_id": customer_ids.take(person[session[keep]]),
        "session_id": session_ids.take(session[keep]),
        "ts": pa.array(midnight + ts[keep], EVENTS.field("ts").type),
        "lat": lat[keep],
        "lon": lon[keep],
        "ip": network.ips.take(ip[session[keep]]),
        "user_agent": network.user_agents.take(agent[session[keep]]),
        "page": PAGES.take(page[keep]),
        "amount": pa.array(amount[keep], pa.float64(), mask=~bought[keep]),
    }
    return pa.table(columns, schema=EVENTS)
