"""Network fingerprints: IP addresses and user agents, as pools that events index into.

Events only carry indices into these pools and take the strings with one Arrow ``take``, so no
string is formatted per event. Home and office connections are stable per person (IPs are
quasi-identifiers); mobile connections come from a carrier pool per country.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np
import pyarrow as pa

from minimizer.synth.cities import COUNTRIES, Country

__all__ = ["CARRIER_POOL", "COUNTRY_CODES", "Network", "build_network"]

COUNTRY_CODES: tuple[str, ...] = tuple(COUNTRIES)
CARRIER_POOL = 512  # mobile addresses per country (carrier-grade NAT makes them shared)
_HOME_IPV6_SHARE = 0.25
_MOBILE_IPV6_SHARE = 0.35

_CHROME = [f"{v}.0.0.0" for v in range(120, 132)]
_DESKTOP = [
    *(
        f"Mozilla/5.0 ({os}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v} Safari/537.36"
        for os, v in product(
            (
                "Windows NT 10.0; Win64; x64",
                "Macintosh; Intel Mac OS X 10_15_7",
                "X11; Linux x86_64",
            ),
            _CHROME,
        )
    ),
    *(
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        f"Version/{v} Safari/605.1.15"
        for v in ("17.0", "17.1", "17.2", "17.3", "17.4", "17.5", "17.6", "18.0", "18.1")
    ),
    *(
        f"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0"
        for v in range(121, 134)
    ),
]
_MOBILE = [
    *(
        f"Mozilla/5.0 (iPhone; CPU iPhone OS {os} like Mac OS X) AppleWebKit/605.1.15 "
        f"(KHTML, like Gecko) Version/{os.split('_')[0]}.0 Mobile/15E148 Safari/604.1"
        for os in ("16_7", "17_0", "17_1", "17_2", "17_3", "17_4", "17_5", "17_6", "18_0", "18_1")
    ),
    *(
        f"Mozilla/5.0 (Linux; Android {a}; {m}) AppleWebKit/537.36 (KHTML, like Gecko) "
        f"Chrome/{v} Mobile Safari/537.36"
        for a, m, v in product(("13", "14", "15"), ("K", "SM-S918B", "Pixel 8"), _CHROME[-6:])
    ),
]


@dataclass(frozen=True)
class Network:
    ips: pa.Array  # every IP string events can use
    home_ip: np.ndarray  # per person: index into ips
    work_ip: np.ndarray  # per person: index into ips (the employer's office line)
    carrier_first: np.ndarray  # per country: first index of its carrier pool in ips
    user_agents: pa.Array
    desktop_ua: np.ndarray  # per person: index into user_agents
    mobile_ua: np.ndarray


def _ips(rng: np.random.Generator, country: Country, n: int, ipv6_share: float) -> list[str]:
    """Public-looking addresses from the country's access-provider blocks."""
    octets = rng.integers(1, 255, size=(n, 4))
    groups = rng.integers(0, 2**16, size=(n, 7))
    first = rng.choice(country.ipv4_first_octets, size=n)
    prefix = rng.choice(country.ipv6_prefixes, size=n)
    is_v6 = rng.random(n) < ipv6_share
    return [
        f"{p}:" + ":".join(f"{g:x}" for g in grp) if v6 else f"{f}.{o[1]}.{o[2]}.{o[3]}"
        for v6, p, grp, f, o in zip(is_v6, prefix, groups, first, octets, strict=True)
    ]


def _popular(rng: np.random.Generator, size: int, n: int) -> np.ndarray:
    """Indices into a pool of ``size`` with a long tail: rare agents are quasi-identifiers."""
    weights = 1.0 / np.arange(1, size + 1) ** 1.1
    return rng.permutation(size)[rng.choice(size, size=n, p=weights / weights.sum())]


def build_network(rng: np.random.Generator, country: np.ndarray, employer: np.ndarray) -> Network:
    """Pools and per-person indices for people in ``country`` working at ``employer``."""
    n = len(country)
    home = np.empty(n, dtype=object)
    for k, code in enumerate(COUNTRY_CODES):
        mask = country == k
        home[mask] = _ips(rng, COUNTRIES[code], int(mask.sum()), _HOME_IPV6_SHARE)
    # An office line per employer; the office is in the employee's country.
    n_employers = int(employer.max()) + 1 if n else 0
    office_country = np.zeros(max(n_employers, 1), dtype=np.intp)
    office_country[employer] = country
    office = np.empty(len(office_country), dtype=object)
    for k, code in enumerate(COUNTRY_CODES):
        mask = office_country == k
        office[mask] = _ips(rng, COUNTRIES[code], int(mask.sum()), 0.2)
    carriers = [_ips(rng, COUNTRIES[c], CARRIER_POOL, _MOBILE_IPV6_SHARE) for c in COUNTRY_CODES]

    ips = pa.array([*home, *office, *(ip for pool in carriers for ip in pool)], pa.string())
    carrier_first = n + len(office) + CARRIER_POOL * np.arange(len(COUNTRY_CODES))
    return Network(
        ips=ips,
        home_ip=np.arange(n),
        work_ip=n + employer,
        carrier_first=carrier_first,
        user_agents=pa.array(_DESKTOP + _MOBILE, pa.string()),
        desktop_ua=_popular(rng, len(_DESKTOP), n),
        mobile_ua=len(_DESKTOP) + _popular(rng, len(_MOBILE), n),
    )
