"""Names, contact details and addresses from Faker: the only per-customer Python loop.

One Faker instance per locale, each seeded from the run's seed, is called in customer order,
so the output is a pure function of the seed. Names come from the person's origin locale;
address, phone and IBAN from the country they live in (a French name in Berlin has a German
IBAN). Emails are built from the name, as real ones are, which makes them linkable.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from faker import Faker

from minimizer.synth.cities import CITIES, COUNTRIES, LOCALES
from minimizer.synth.population import Population

__all__ = ["Identities", "ascii_slug", "draw_identities"]

_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_EMAIL_PATTERNS = ("{f}.{l}", "{f}{l}", "{i}.{l}", "{f}_{l}", "{l}.{f}", "{l}{i}")
_PROGRESS_EVERY = 1000


@dataclass(frozen=True)
class Identities:
    first_name: list[str]
    last_name: list[str]
    email: list[str]
    phone: list[str]
    street_address: list[str]
    iban: list[str | None]


def ascii_slug(text: str) -> str:
    """Lower-case ASCII letters and digits only, as mail providers allow.

    >>> ascii_slug("Grégoire-Müller d'Aubigné")
    'gregoiremuellerdaubigne'
    """
    folded = unicodedata.normalize("NFKD", text.lower().translate(_UMLAUTS))
    return "".join(ch for ch in folded.encode("ascii", "ignore").decode() if ch.isalnum())


def _fakers(seeds: np.ndarray) -> list[Faker]:
    fakers: list[Faker] = []
    for locale, seed in zip(LOCALES, seeds, strict=True):
        fake = Faker(locale)
        fake.seed_instance(int(seed))
        fakers.append(fake)
    return fakers


def _emails(
    rng: np.random.Generator,
    first: list[str],
    last: list[str],
    birth_year: np.ndarray,
    domains: list[str],
) -> list[str]:
    n = len(first)
    pattern = rng.integers(0, len(_EMAIL_PATTERNS), size=n)
    suffix_kind = rng.choice(3, size=n, p=[0.65, 0.15, 0.20])  # none, birth year, random digits
    digits = rng.integers(1, 100, size=n)
    seen: set[str] = set()
    emails: list[str] = []
    for k in range(n):
        f, la = ascii_slug(first[k]) or "x", ascii_slug(last[k]) or "x"
        local = _EMAIL_PATTERNS[pattern[k]].format(f=f, l=la, i=f[0])
        local += ("", f"{birth_year[k] % 100:02d}", str(digits[k]))[suffix_kind[k]]
        candidate, extra = f"{local}@{domains[k]}", 1
        while candidate in seen:  # a unique constraint on email is usual in a CRM
            extra += 1
            candidate = f"{local}{extra}@{domains[k]}"
        seen.add(candidate)
        emails.append(candidate)
    return emails


def draw_identities(
    rng: np.random.Generator,
    faker_seeds: np.ndarray,
    people: Population,
    progress: Callable[[int], None] | None = None,
) -> Identities:
    """Faker-made identities for ``people``; ``progress`` gets the number done so far."""
    fakers = _fakers(faker_seeds)
    residence = [LOCALES.index(COUNTRIES[c.country].locale) for c in CITIES]
    has_iban = [COUNTRIES[c.country].has_iban for c in CITIES]
    first: list[str] = []
    last: list[str] = []
    phone: list[str] = []
    street: list[str] = []
    iban: list[str | None] = []
    domain: list[str] = []
    for k, (origin, city) in enumerate(
        zip(people.origin.tolist(), people.city.tolist(), strict=True)
    ):
        named, local = fakers[origin], fakers[residence[city]]
        first.append(named.first_name())
        last.append(named.last_name())
        street.append(local.street_address())
        phone.append(local.phone_number())
        iban.append(local.iban() if has_iban[city] else None)
        domain.append(local.free_email_domain())
        if progress is not None and (k + 1) % _PROGRESS_EVERY == 0:
            progress(k + 1)
    birth_year = people.birth_date.astype("datetime64[Y]").astype(np.int64) + 1970
    email = _emails(rng, first, last, birth_year, domain)
    if progress is not None and len(people) % _PROGRESS_EVERY:
        progress(len(people))
    return Identities(first, last, email, phone, street, iban)
