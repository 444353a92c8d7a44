"""Recall and false positives of the PII detectors, per kind and locale, on data we did not write.

Positives come from two outside sources:

- the people table shipped by the PyPI package ``presidio-evaluator``
  (``presidio_evaluator/data_generator/raw_data/FakeNameGenerator.com_3000.csv``, 3,000 people
  x 30 columns), rows of DE, AT, CH, FR, NL, GB and US. Its dependencies are huge and clash
  with ours, so the bench installs it itself, ``pip install --no-deps --target`` into
  ``bench/out/side/presidio-evaluator`` (git-ignored), when it is not importable, and reads
  the CSV from that installed package. Nothing is copied into the repository;
- Faker's de_DE, de_AT, de_CH, fr_FR, nl_NL and en_GB providers, each value alone and, every
  other one, inside a sentence of the locale's language.

Negatives are values of non-PII columns: products, cities (Faker's and the table's), tiers,
amounts, timestamps, pseudonym tokens ``mzp1_<32 hex>``, H3 cells, order/customer ids, paths,
counts, versions, EAN-13 codes, occupations and company names.

Targets per kind and locale: recall >= 0.99 for checksummed and exact-format kinds, >= 0.95
for phones, e-mails, addresses, dates of birth, BICs and VAT ids; false positives <= 0.1 % of
the negatives, per kind. Exit status 1 when a target is missed (``--no-fail``: print only).

    .venv/bin/python bench/pii_eval.py --n 400 --seed 7

The last line printed is one JSON object with every figure. Only the side install touches
the network (the package registry), once.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import h3
import numpy as np
import pandas as pd
from faker import Faker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from minimizer.pii import DETECTORS, flag_all  # noqa: E402
from minimizer.pii.detect import detect  # noqa: E402  (the function, not the module)

SIDE = ROOT / "bench" / "out" / "side" / "presidio-evaluator"
CSV = "data_generator/raw_data/FakeNameGenerator.com_3000.csv"
FAKER_LOCALES = ("de_DE", "de_AT", "de_CH", "fr_FR", "nl_NL", "en_GB")
COUNTRY_LOCALE = {
    "DE": "de_DE", "AT": "de_AT", "CH": "de_CH", "FR": "fr_FR", "NL": "nl_NL", "GB": "en_GB",
    "US": "en_US",
}  # fmt: skip

CHECKSUMMED = ("iban", "card", "national_id")
EXACT = ("ipv4", "ipv6", "mac_address", "device_id")
PATTERN = ("phone", "email", "street_address", "birth_date", "vat_id", "precise_coordinates")
# A BIC of letters only is an 8- or 11-letter capitalised word ("BUSINESS", "GLAUBENDORF"):
# the detector wants a label, a digit or the "XXX" branch, and Faker's random letter codes
# often have none. Measured and printed, with no target (see docs/pii-detectors.md).
REPORTED_ONLY = ("bic",)
TARGET: dict[str, float | None] = {
    **dict.fromkeys(CHECKSUMMED + EXACT, 0.99),
    **dict.fromkeys(PATTERN, 0.95),
    **dict.fromkeys(REPORTED_ONLY, None),
}
MAX_FP_RATE = 0.001

TEMPLATES = {
    "de": ("Bitte an {} schicken.", "Kontakt laut Kunde: {}", "Kundin hat {} angegeben, Rückruf",
           "Neue Angabe ({}) nach Telefonat übernommen"),
    "en": ("Please send it to {}.", "Contact per customer: {}", "Customer gave {} on the phone",
           "Updated ({}) after the chat"),
    "fr": ("Merci d'envoyer à {}.", "Contact selon le client : {}", "La cliente a indiqué {}",
           "Nouvelle info ({}) après l'appel"),
    "nl": ("Graag sturen naar {}.", "Contact volgens klant: {}", "Klant gaf {} op",
           "Nieuwe gegevens ({}) na het gesprek"),
}  # fmt: skip
MONTHS = {
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    "en": "January February March April May June July August September October November December",
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "nl": "januari februari maart april mei juni juli augustus september oktober november december",
}
DATE_FORMATS = {
    "de": ("%d.%m.%Y", "%d.%m.%y", "%d%m%Y", "%Y-%m-%d", "{d}. {month} %Y"),
    "fr": ("%d/%m/%Y", "%d.%m.%Y", "%Y-%m-%d", "{d} {month} %Y"),
    "nl": ("%d-%m-%Y", "%d/%m/%Y", "%Y-%m-%d", "{d} {month} %Y"),
    "en": ("%d/%m/%Y", "%Y-%m-%d", "{d} {month} %Y", "{month} {d}, %Y"),
}


# --- the presidio-evaluator people table ---------------------------------------------------
def presidio_csv() -> Path:
    """The CSV inside the installed package; installs the package to the side folder first."""
    spec = importlib.util.find_spec("presidio_evaluator")
    if spec is None:
        if not (SIDE / "presidio_evaluator").is_dir():
            print(f"installing presidio-evaluator (no dependencies) into {SIDE}", file=sys.stderr)
            subprocess.run(
                [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
                 str(SIDE), "presidio-evaluator"],
                check=True,
            )  # fmt: skip
        sys.path.insert(0, str(SIDE))
        spec = importlib.util.find_spec("presidio_evaluator")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("presidio_evaluator is not importable")
    # the package's __init__ imports its (absent) dependencies: read the file, do not import
    return Path(next(iter(spec.submodule_search_locations))) / CSV


def presidio_samples() -> tuple[list[tuple[str, str | None, str, str]], dict[str, str]]:
    """(locale, kind or None, source, text) rows from the table's home-country people."""
    table = pd.read_csv(presidio_csv(), dtype=str, encoding="utf-8-sig", keep_default_na=False)
    notes = {
        "card": "CCNumber is stored as a float in scientific notation (5.54563E+15): no "
        "card number survives, so cards are measured on Faker only",
        "national_id": "NationalID is filled for FR, GB and US only; values Excel turned into "
        "floats (E+) are left out",
    }
    mapping = {
        "TelephoneNumber": "phone", "EmailAddress": "email", "StreetAddress": "street_address",
        "Birthday": "birth_date", "NationalID": "national_id",
    }  # fmt: skip
    rows: list[tuple[str, str | None, str, str]] = []
    home = table[table["Country"].isin(list(COUNTRY_LOCALE))]
    for country, people in home.groupby("Country"):
        locale = f"presidio:{country}"
        for column, kind in mapping.items():
            for value in people[column]:
                if value and "E+" not in value:
                    rows.append((locale, kind, column, value))
        for column in ("City", "Occupation", "Company", "CCType", "StateFull"):
            for value in people[column]:
                if value:
                    rows.append((locale, None, column, value))
    return rows, notes


# --- Faker ----------------------------------------------------------------------------------
def _grouped(text: str, sep: str, size: int = 4) -> str:
    return sep.join(text[i : i + size] for i in range(0, len(text), size))


def _date_of_birth(fake: Faker, lang: str, rng: random.Random) -> str:
    day = fake.date_of_birth()
    form = rng.choice(DATE_FORMATS[lang])
    month = MONTHS[lang].split()[day.month - 1]
    return day.strftime(form.replace("{d}", str(day.day)).replace("{month}", month))


def faker_positives(fake: Faker, locale: str, rng: random.Random) -> dict[str, Callable[[], str]]:
    lang = locale[:2]
    ssn = fake.rvnr if locale == "de_DE" else fake.ssn  # de_DE's ssn() is a US number
    return {
        "email": fake.email,
        "phone": fake.phone_number,
        "street_address": fake.street_address,
        "iban": lambda: rng.choice(
            (
                lambda s: s,
                lambda s: _grouped(s, " "),
                lambda s: _grouped(s, "\u00a0"),
                lambda s: _grouped(s, "-"),
                lambda s: s[:2] + " " + _grouped(s[2:], " "),
            )
        )(fake.iban()),
        "bic": fake.swift,
        "card": lambda: rng.choice(
            (
                lambda s: s,
                lambda s: _grouped(s, " "),
                lambda s: _grouped(s, "-"),
                lambda s: _grouped(s, "."),
            )
        )(fake.credit_card_number()),
        "national_id": ssn,
        "vat_id": fake.vat_id,
        "birth_date": lambda: _date_of_birth(fake, lang, rng),
        "ipv4": fake.ipv4,
        "ipv6": fake.ipv6,
        "mac_address": fake.mac_address,
        "device_id": lambda: rng.choice((str.upper, str.lower))(fake.uuid4()),
        "precise_coordinates": lambda: _position(fake, rng),
    }


def _dms(value: float, positive: str, negative: str) -> str:
    hemisphere = positive if value >= 0 else negative
    value = abs(value)
    degrees, minutes = int(value), int(value * 60) % 60
    seconds = value * 3600 % 60
    return f"{degrees}°{minutes}'{seconds:.0f}\"{hemisphere}"


def _position(fake: Faker, rng: random.Random) -> str:
    """Faker's local_latlng / coordinate, written as decimals, decimal commas or DMS."""
    place = fake.local_latlng(country_code=fake.current_country_code()) or ("52.52", "13.40")
    lat, lon = float(place[0]), float(place[1])
    lat, lon = lat + rng.uniform(-0.05, 0.05), lon + rng.uniform(-0.05, 0.05)
    return rng.choice(
        (f"{lat:.6f}, {lon:.6f}", f"{lat:.5f} {lon:.5f}",
         f"{lat:.4f}".replace(".", ",") + " " + f"{lon:.4f}".replace(".", ","),
         f"{_dms(lat, 'N', 'S')} {_dms(lon, 'E', 'W')}")
    )  # fmt: skip


PRODUCTS = (
    "Bio Vollmilch {n}L", "USB-C Kabel {n}m", "Espresso Bohnen {n}kg", "Laufschuh Modell {n}",
    "Winterjacke Gr. {size}", "Kaffeevollautomat EQ.{n}", "Rucksack {n}L Wandern",
    "Organic Whole Milk {n} gal", "Running Shoe Model {n}", "Wireless Mouse M{n}",
    "Hiking Backpack {n}L", "Lait entier bio {n}L", "Câble USB-C {n}m", "Sac à dos {n}L",
    "Melkpoeder {n} kg", "Fietsslot niveau {n}", "iPhone {n} Pro", "Galaxy S{n} Ultra",
    "Samsung QLED {n} Zoll", "Gartenschere Profi {n}", "Hotel Kempinski {n} Nächte",
)  # fmt: skip
TIERS = ("Gold", "Silver", "Bronze", "Platinum", "PREMIUM", "BASIC", "BUSINESS", "STANDARD",
         "PLATINUM", "ENTERPRISE", "Free", "Pro", "Plus", "VIP", "STARTER", "KUNDENKARTE")  # fmt: skip


# GS1 prefixes of the home countries: DE 400-440, FR 300-379, GB 500-509, NL 870-879,
# AT 900-919, CH 760-769, US 000-139
_GS1 = ("4", "3", "50", "87", "90", "91", "76", "0", "1")


def _ean13(rng: random.Random) -> str:
    prefix = rng.choice(_GS1)
    body = [int(c) for c in prefix] + [rng.randrange(10) for _ in range(12 - len(prefix))]
    check = (10 - sum(d * (3 if i % 2 else 1) for i, d in enumerate(body)) % 10) % 10
    return "".join(map(str, body)) + str(check)


def faker_negatives(fake: Faker, rng: random.Random) -> dict[str, Callable[[], str]]:
    def moment() -> datetime:
        return datetime(2022, 1, 1) + timedelta(seconds=rng.randrange(4 * 365 * 86400))

    def timestamp() -> str:
        m = moment()
        return rng.choice(
            (m.strftime("%Y-%m-%dT%H:%M:%SZ"), m.strftime("%Y-%m-%d %H:%M:%S"),
             m.strftime("%Y-%m-%dT%H:%M:%S.%f+01:00"), m.strftime("%d.%m.%Y %H:%M"),
             m.strftime("%Y-%m-%d %H:00"), m.strftime("%a, %d %b %Y %H:%M:%S GMT"),
             str(int(m.timestamp())), str(int(m.timestamp() * 1000)))
        )  # fmt: skip

    return {
        "product": lambda: rng.choice(PRODUCTS).format(
            n=rng.choice((1, 2, 3, 6, 12, 15, 24, 55, 185, 500)), size=rng.choice("SML")
        ),
        "city": fake.city,
        "tier": lambda: rng.choice(TIERS),
        "amount": lambda: rng.choice(
            (
                f"{rng.uniform(0.5, 999):.2f}",
                f"{rng.uniform(0.5, 99999):,.2f} EUR",
                f"€{rng.randint(1, 500)}",
                f"{rng.uniform(0.5, 9999):.2f}".replace(".", ","),
                f"{rng.randint(1, 10**7)}",
            )
        ),
        "timestamp": timestamp,
        "token": lambda: f"mzp1_{rng.getrandbits(128):032x}",
        "h3_cell": lambda: h3.latlng_to_cell(
            rng.uniform(-60, 70), rng.uniform(-180, 180), rng.choice((6, 7, 8, 9, 10))
        ),
        "order_id": lambda: rng.choice(
            (
                f"ORD-{rng.randint(2019, 2025)}-{rng.randint(0, 999999):06d}",
                f"#{rng.randint(1000, 999999)}",
                f"C{rng.randint(0, 9999999):07d}",
                f"INV/{rng.randint(2019, 2025)}/{rng.randint(1, 9999):04d}",
                f"KD-{rng.randint(10000, 99999)}",
            )
        ),
        "page_path": lambda: "/" + "/".join(fake.words(rng.randint(1, 3))),
        "count": lambda: str(rng.randint(0, 100000)),
        "percent": lambda: f"{rng.uniform(0, 100):.1f}%",
        "version": lambda: f"v{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 30)}",
        "ean13": lambda: _ean13(rng),
        "company": fake.company,
        "job": fake.job,
        "month": lambda: moment().strftime(rng.choice(("%Y-%m", "%m/%Y"))),
    }


def build(n: int, seed: int) -> tuple[pd.DataFrame, dict[str, str]]:
    """One row per sample: locale, label (kind or None), source, embedded, text."""
    rows: list[tuple[str, str | None, str, bool, str]] = []
    for offset, locale in enumerate(FAKER_LOCALES):
        fake = Faker(locale)
        fake.seed_instance(seed + offset)
        rng = random.Random(seed + offset)
        lang = locale[:2]
        for kind, make in faker_positives(fake, locale, rng).items():
            for i in range(n):
                value = make()
                embedded = i % 2 == 1
                if embedded and kind == "bic":  # in a note a BIC comes with its label
                    value = rng.choice(("BIC ", "BIC: ", "SWIFT ")) + value
                text = rng.choice(TEMPLATES[lang]).format(value) if embedded else value
                rows.append((locale, kind, kind, embedded, text))
        negatives = faker_negatives(fake, rng)
        per_category = max(1, 12 * n // len(negatives))
        for category, make in negatives.items():
            for _ in range(per_category):
                rows.append((locale, None, category, False, make()))
    table, notes = presidio_samples()
    rows.extend((locale, kind, source, False, text) for locale, kind, source, text in table)
    frame = pd.DataFrame(rows, columns=["locale", "label", "source", "embedded", "text"])
    return frame, notes


def score(samples: pd.DataFrame, flags: dict[str, np.ndarray]) -> dict[str, dict[str, object]]:
    """Per locale and kind: recall on its positives, false-positive rate on the negatives."""
    out: dict[str, dict[str, object]] = {}
    negative = samples["label"].isna().to_numpy()
    for locale, at in samples.groupby("locale").indices.items():
        per_kind: dict[str, object] = {}
        neg = at[negative[at]]
        for kind in DETECTORS:
            pos = at[(samples["label"].to_numpy()[at] == kind)]
            flagged = flags[kind]
            tp = int(flagged[pos].sum())
            fp = int(flagged[neg].sum())
            per_kind[kind] = {
                "n": len(pos),
                "recall": round(tp / len(pos), 4) if len(pos) else None,
                "fp": fp,
                "fp_rate": round(fp / len(neg), 5) if len(neg) else 0.0,
                "precision": round(tp / (tp + fp), 4) if tp + fp else None,
            }
        out[str(locale)] = per_kind
    return out


def misses(scores: dict[str, dict[str, object]]) -> list[str]:
    found = []
    for locale, per_kind in scores.items():
        for kind, s in per_kind.items():
            assert isinstance(s, dict)
            target = TARGET[kind]
            if s["recall"] is not None and target is not None and s["recall"] < target:
                found.append(f"{locale} {kind}: recall {s['recall']} < {target}")
            if s["fp_rate"] > MAX_FP_RATE:
                found.append(f"{locale} {kind}: false positives {s['fp_rate']:.3%} > 0.1%")
    return found


def print_table(scores: dict[str, dict[str, object]]) -> None:
    locales = list(scores)
    print("recall per kind and locale (n positives in brackets; - = no positives)")
    print("| kind | target | " + " | ".join(locales) + " |")
    print("|---|---|" + "---|" * len(locales))
    for kind in DETECTORS:
        cells = []
        for locale in locales:
            s = scores[locale][kind]
            assert isinstance(s, dict)
            cells.append("-" if s["recall"] is None else f"{s['recall']:.3f} ({s['n']})")
        target = "none" if TARGET[kind] is None else f"{TARGET[kind]}"
        print(f"| {kind} | {target} | " + " | ".join(cells) + " |")
    print()
    print("false positives per kind and locale, % of the locale's non-PII values")
    print("| kind | " + " | ".join(locales) + " |")
    print("|---|" + "---|" * len(locales))
    for kind in DETECTORS:
        cells = [f"{scores[loc][kind]['fp_rate']:.3%}" for loc in locales]  # type: ignore[index]
        print(f"| {kind} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400, help="Faker positives per kind and locale")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the speed column")
    parser.add_argument("--misses", type=int, default=0, help="print up to N misses per kind")
    parser.add_argument("--no-fail", action="store_true", help="exit 0 even if a target is missed")
    args = parser.parse_args()

    samples, notes = build(args.n, args.seed)
    started = time.perf_counter()
    distinct = pd.Series(pd.unique(samples["text"]), dtype=object)
    by_distinct = flag_all(distinct)
    codes = pd.Index(distinct).get_indexer(samples["text"])
    flags = {kind: mask[codes] for kind, mask in by_distinct.items()}
    label_seconds = time.perf_counter() - started
    scores = score(samples, flags)
    print_table(scores)
    for kind, note in notes.items():
        print(f"note ({kind}): {note}")

    fp_sources: dict[str, dict[str, int]] = {}
    negative = samples["label"].isna().to_numpy()
    for kind in DETECTORS:
        wrong = flags[kind] & negative
        counts = samples.loc[wrong, "source"].value_counts()
        fp_sources[kind] = {str(k): int(v) for k, v in counts.items()}
        if len(counts):
            print(f"false positives for {kind}: {fp_sources[kind]}")
    if args.misses:
        for kind in DETECTORS:
            missed = samples[(samples["label"] == kind).to_numpy() & ~flags[kind]]
            for _, row in missed.head(args.misses).iterrows():
                print(f"missed {kind} [{row['locale']}]: {row['text']!r}")

    # speed: a column of --rows rows drawn from the samples (values repeat, as in real columns)
    rng = np.random.default_rng(args.seed)
    column = samples["text"].iloc[rng.integers(0, len(samples), args.rows)].reset_index(drop=True)
    started = time.perf_counter()
    detect(column)
    seconds = time.perf_counter() - started
    print(
        f"detectors (all {len(DETECTORS)} kinds): {len(column):,} rows "
        f"({column.nunique():,} distinct) in {seconds:.2f} s = {len(column) / seconds:,.0f} rows/s; "
        f"labelling {len(distinct):,} distinct samples took {label_seconds:.2f} s"
    )
    missed = misses(scores)
    for line in missed:
        print(f"TARGET MISSED: {line}")
    print(
        json.dumps(
            {
                "n_per_kind": args.n,
                "seed": args.seed,
                "samples": len(samples),
                "scores": scores,
                "false_positive_sources": fp_sources,
                "rows_per_s": round(len(column) / seconds),
                "targets_missed": missed,
                "notes": notes,
            },
            sort_keys=True,
        )
    )
    if missed and not args.no_fail:
        sys.exit(1)


if __name__ == "__main__":
    main()
