"""Precision and recall of the PII detectors on a labelled Faker set (de_DE, en_US, fr_FR).

Positives are Faker's own values (email, phone_number, iban, credit_card_number, ipv4, ipv6,
street_address, date_of_birth, latitude/longitude), alone and embedded in short sentences, in
the formats people write them (spaced IBANs, grouped card numbers, local date formats).
Negatives are realistic non-PII analytic values. Every detector runs over every sample: a
phone detector firing on an IBAN sample counts as a false positive for "phone".

    .venv/bin/python bench/pii_eval.py --n 400 --seed 7

The last line printed is one JSON object with every figure. Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import h3
import numpy as np
import pandas as pd
from faker import Faker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minimizer.pii import DETECTORS, detect, scrub_text

LOCALES = ("de_DE", "en_US", "fr_FR")

TEMPLATES = {
    "de_DE": (
        "Bitte an {} schicken.",
        "Kontakt laut Kunde: {}",
        "Kundin hat {} angegeben, Rückruf morgen",
        "Neue Angabe ({}) nach Telefonat übernommen",
    ),
    "en_US": (
        "Please send it to {}.",
        "Contact per customer: {}",
        "Customer gave {} on the phone, call back tomorrow",
        "Updated ({}) after the chat",
    ),
    "fr_FR": (
        "Merci d'envoyer à {}.",
        "Contact selon le client : {}",
        "La cliente a indiqué {} au téléphone, rappel demain",
        "Nouvelle info ({}) après l'appel",
    ),
}

MONTH_NAMES = {
    "de_DE": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    "en_US": "January February March April May June July August September October November December",
    "fr_FR": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
}
DATE_FORMATS = {"de_DE": "%d.%m.%Y", "en_US": "%m/%d/%Y", "fr_FR": "%d/%m/%Y"}


def _grouped(digits: str, sep: str) -> str:
    return sep.join(digits[i : i + 4] for i in range(0, len(digits), 4))


def _birth_date(fake: Faker, locale: str, rng: random.Random) -> str:
    day = fake.date_of_birth()
    month = MONTH_NAMES[locale].split()[day.month - 1]
    forms = (
        day.isoformat(),
        day.strftime(DATE_FORMATS[locale]),
        f"{day.day}. {month} {day.year}"
        if locale == "de_DE"
        else f"{month} {day.day}, {day.year}"
        if locale == "en_US"
        else f"{day.day} {month} {day.year}",
    )
    return rng.choice(forms)


def positives(fake: Faker, locale: str, rng: random.Random) -> dict[str, Callable[[], str]]:
    """Generators per detector kind; each value in the format people write it."""
    return {
        "email": fake.email,
        "phone": fake.phone_number,
        "iban": lambda: rng.choice((lambda s: s, lambda s: _grouped(s, " ")))(fake.iban()),
        "card": lambda: rng.choice(
            (lambda s: s, lambda s: _grouped(s, " "), lambda s: _grouped(s, "-"))
        )(fake.credit_card_number()),
        "ipv4": fake.ipv4,
        "ipv6": fake.ipv6,
        "street_address": fake.street_address,
        "birth_date": lambda: _birth_date(fake, locale, rng),
        "precise_coordinates": lambda: rng.choice(
            (f"{fake.latitude()}, {fake.longitude()}", str(fake.latitude()))
        ),
    }


PRODUCTS = {
    "de_DE": (
        "Bio Vollmilch {n}L", "USB-C Kabel {n}m", "Espresso Bohnen {n}kg", "Laufschuh Modell {n}",
        "Winterjacke Gr. {size}", "Gartenschere Profi", "Kaffeevollautomat EQ.{n}",
        "Geschirrspültabs {n}er Pack", "Rucksack {n}L Wandern", "Fahrradschloss Stufe {n}",
    ),
    "en_US": (
        "Organic Whole Milk {n} gal", "USB-C Cable {n} ft", "Espresso Beans {n} lb",
        "Running Shoe Model {n}", "Winter Jacket Size {size}", "Wireless Mouse M{n}",
        "Dishwasher Pods {n} Count", "Hiking Backpack {n}L", "Bike Lock Level {n}",
        "Cotton T-Shirt {n}-Pack",
    ),
    "fr_FR": (
        "Lait entier bio {n}L", "Câble USB-C {n}m", "Café en grains {n}kg",
        "Chaussure de course modèle {n}", "Veste d'hiver taille {size}", "Souris sans fil M{n}",
        "Tablettes lave-vaisselle x{n}", "Sac à dos {n}L randonnée", "Antivol vélo niveau {n}",
        "T-shirt coton lot de {n}",
    ),
}  # fmt: skip
PAGES = {
    "de_DE": ("Startseite", "Warenkorb", "Kasse – Zahlung", "Mein Konto", "Suche", "Angebote"),
    "en_US": ("Home", "Cart", "Checkout – Payment", "My Account", "Search", "Deals"),
    "fr_FR": ("Accueil", "Panier", "Paiement", "Mon compte", "Recherche", "Promotions"),
}


def _ean13(rng: random.Random) -> str:
    body = [rng.choice((4, 4, 3, 5))] + [rng.randrange(10) for _ in range(11)]
    check = (10 - sum(d * (3 if i % 2 else 1) for i, d in enumerate(body)) % 10) % 10
    return "".join(map(str, body)) + str(check)


def negatives(fake: Faker, locale: str, rng: random.Random) -> dict[str, Callable[[], str]]:
    """Generators per negative category: what analytic columns really hold."""

    def product() -> str:
        return rng.choice(PRODUCTS[locale]).format(
            n=rng.choice((1, 2, 3, 6, 12, 24, 185, 500)), size=rng.choice("SML")
        )

    def month() -> str:
        day = fake.date_between(date(2022, 1, 1), date(2025, 12, 31))
        return rng.choice((day.strftime("%Y-%m"), day.strftime("%m/%Y")))

    def hour_bucket() -> str:
        moment = fake.date_time_between(datetime(2023, 1, 1), datetime(2025, 12, 31))
        return moment.strftime("%Y-%m-%d %H:00")

    def path() -> str:
        return "/" + "/".join(fake.words(rng.randint(1, 3))) + rng.choice(("", "?page=2", "/"))

    return {
        "product": product,
        "amount": lambda: rng.choice(
            (
                f"{rng.uniform(0.5, 999):.2f}",
                f"{rng.uniform(0.5, 9999):,.2f} EUR",
                f"€{rng.randint(1, 500)}",
            )
        ),
        "order_id": lambda: rng.choice(
            (
                f"ORD-{rng.randint(2019, 2025)}-{rng.randint(0, 999999):06d}",
                f"#{rng.randint(1000, 999999)}",
            )
        ),
        "uuid": fake.uuid4,
        "h3_cell": lambda: h3.latlng_to_cell(
            float(fake.latitude()), float(fake.longitude()), rng.choice((7, 8, 9))
        ),
        "token": lambda: rng.choice(
            (f"pz1:v1:{fake.pystr(22, 22)}", f"mzp{rng.randint(1, 3)}_{fake.hexify('^' * 32)}")
        ),
        "month": month,
        "postcode_prefix": lambda: fake.postcode()[: rng.choice((2, 3))],
        "page_path": path,
        "page_name": lambda: rng.choice(PAGES[locale]),
        "hour_bucket": hour_bucket,
        "word": fake.word,
        "sentence": fake.sentence,
        "city": fake.city,
        "company": fake.company,
        "count": lambda: str(rng.randint(0, 100000)),
        "percent": lambda: f"{rng.uniform(0, 100):.1f}%",
        "age_band": lambda: f"{rng.randrange(10, 90, 10)}-{rng.randrange(10, 90, 10) + 9}",
        "duration": lambda: (
            f"{rng.randint(0, 2):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
        ),
        "version": lambda: f"v{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 30)}",
        "ean13": lambda: _ean13(rng),
        "ratio": lambda: f"{rng.random():.4f}",
    }


def build(n: int, seed: int) -> pd.DataFrame:
    """One row per sample: locale, label (kind or None), source, embedded, text."""
    rows = []
    for offset, locale in enumerate(LOCALES):
        fake = Faker(locale)
        fake.seed_instance(seed + offset)
        rng = random.Random(seed + offset)
        for kind, make in positives(fake, locale, rng).items():
            for i in range(n):
                value = make()
                embedded = i % 2 == 1
                text = rng.choice(TEMPLATES[locale]).format(value) if embedded else value
                rows.append((locale, kind, kind, embedded, text))
        categories = negatives(fake, locale, rng)
        per_category = max(1, n * len(DETECTORS) // len(categories))
        for category, make in categories.items():
            for _ in range(per_category):
                rows.append((locale, None, category, False, make()))
    return pd.DataFrame(rows, columns=["locale", "label", "source", "embedded", "text"])


def score(samples: pd.DataFrame, flags: pd.DataFrame) -> dict[str, dict[str, float | int]]:
    out: dict[str, dict[str, float | int]] = {}
    for kind in DETECTORS:
        truth = (samples["label"] == kind).to_numpy()
        said = flags[kind].to_numpy()
        tp, fp, fn = (
            int((truth & said).sum()),
            int((~truth & said).sum()),
            int((truth & ~said).sum()),
        )
        out[kind] = {
            "precision": round(tp / (tp + fp), 4) if tp + fp else 1.0,
            "recall": round(tp / (tp + fn), 4) if tp + fn else 1.0,
            "tp": tp,
            "fp": fp,
            "fn": fn,
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400, help="positives per kind per locale")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--misses", type=int, default=0, help="print up to N misses per kind")
    args = parser.parse_args()

    samples = build(args.n, args.seed)
    flags = pd.DataFrame({kind: d(samples["text"]).to_numpy() for kind, d in DETECTORS.items()})

    report: dict[str, object] = {"n_per_kind": args.n, "seed": args.seed, "rows": len(samples)}
    per_locale = {}
    for locale in LOCALES:
        at = (samples["locale"] == locale).to_numpy()
        per_locale[locale] = score(
            samples[at].reset_index(drop=True), flags[at].reset_index(drop=True)
        )
    overall = score(samples, flags)
    report["per_locale"] = per_locale
    report["overall"] = overall
    embedded = samples["embedded"].to_numpy()
    alone_scores, embedded_scores = (
        score(samples[rows].reset_index(drop=True), flags[rows].reset_index(drop=True))
        for rows in (~embedded, embedded)
    )
    report["recall_alone_vs_embedded"] = {
        kind: {"alone": alone_scores[kind]["recall"], "embedded": embedded_scores[kind]["recall"]}
        for kind in DETECTORS
    }

    header = f"{'kind':<20}" + "".join(f"{loc:>16}" for loc in (*LOCALES, "overall"))
    print("precision / recall per kind and locale")
    print(header)
    for kind in DETECTORS:
        cells = [per_locale[loc][kind] for loc in LOCALES] + [overall[kind]]
        print(f"{kind:<20}" + "".join(f"{c['precision']:>8.3f}/{c['recall']:.3f}" for c in cells))

    # where the false positives come from, so a low precision can be read, not guessed
    fp_sources: dict[str, dict[str, int]] = {}
    for kind in DETECTORS:
        wrong = flags[kind].to_numpy() & (samples["label"] != kind).to_numpy()
        counts = samples.loc[wrong, "source"].value_counts()
        fp_sources[kind] = {str(k): int(v) for k, v in counts.items()}
        if len(counts):
            print(f"false positives for {kind}: {fp_sources[kind]}")
    report["false_positive_sources"] = fp_sources
    if args.misses:
        for kind in DETECTORS:
            missed = samples[(samples["label"] == kind).to_numpy() & ~flags[kind].to_numpy()]
            for text in missed["text"].head(args.misses):
                print(f"missed {kind}: {text}")

    # throughput on an analytic-looking column: 200k rows drawn from the samples (repeats)
    rng = np.random.default_rng(args.seed)
    column = samples["text"].iloc[rng.integers(0, len(samples), 200_000)].reset_index(drop=True)
    started = time.perf_counter()
    detect(column)
    detect_seconds = time.perf_counter() - started
    started = time.perf_counter()
    scrub_text(samples["text"])
    scrub_seconds = time.perf_counter() - started
    report["detect_all_kinds_rows_per_s"] = round(len(column) / detect_seconds)
    report["detect_rows"] = len(column)
    report["detect_unique_values"] = int(column.nunique())
    report["scrub_unique_texts_per_s"] = round(len(samples) / scrub_seconds)
    print(
        f"detect (all kinds): {len(column):,} rows ({column.nunique():,} distinct) in "
        f"{detect_seconds:.2f} s; scrub_text: {len(samples):,} distinct texts in {scrub_seconds:.2f} s"
    )
    print(json.dumps(report, sort_keys=True))


if __name__ == "__main__":
    main()
