"""Free-text staff notes: about 30% quote the customer's own PII in a natural sentence.

Notes are written in the language of the country the customer lives in. They exist so that the
"free text is dropped unless scrubbed" rule and the PII detectors have something real to catch.
"""

from __future__ import annotations

import numpy as np

from minimizer.synth.cities import CITIES, COUNTRIES
from minimizer.synth.identities import Identities
from minimizer.synth.population import Population

__all__ = ["PII_SHARE", "draw_notes"]

PII_SHARE = 0.30

# Templates that need an IBAN appear only in languages whose customers have one.
_PII: dict[str, tuple[str, ...]] = {
    "en": (
        "Called {first} {last} on {phone} about a late parcel, very friendly.",
        "{first} {last} asked us to send invoices to {email} from now on.",
        "Prefers contact by email ({email}), not by phone.",
        "Please call back {first} on {phone} after 6pm.",
        "Delivery to {street}, {postcode} {city} failed twice; {first} will pick up in store.",
        "Spoke to {first} {last}: confirmed new mobile number {phone}.",
    ),
    "de": (
        "{first} {last} bittet um Rückruf unter {phone}.",
        "Rechnungen bitte ab sofort an {email} senden.",
        "Erstattung auf IBAN {iban} veranlasst.",
        "{first} {last} hat die Bankverbindung geändert: {iban}.",
        "Lieferung an {street}, {postcode} {city} zweimal gescheitert.",
        "Telefonisch erreicht unter {phone}, {first} war sehr freundlich.",
    ),
    "fr": (
        "{first} {last} demande à être rappelé(e) au {phone}.",
        "Merci d'envoyer les factures à {email}.",
        "Remboursement effectué sur l'IBAN {iban}.",
        "{first} {last} : nouvelle adresse e-mail {email}.",
        "Livraison au {street}, {postcode} {city} impossible, {first} passera en magasin.",
        "Joint(e) au {phone}, a confirmé le changement de RIB {iban}.",
    ),
}
_HARMLESS: dict[str, tuple[str, ...]] = {
    "en": (
        "Prefers evening delivery.",
        "Asked about the loyalty programme.",
        "Interested in the spring collection.",
        "Leave parcels with the neighbour.",
        "Complained about packaging, resolved.",
        "Wants paper invoices.",
        "Invited to the VIP evening.",
        "Returned one item, size too small.",
    ),
    "de": (
        "Lieferung bevorzugt abends.",
        "Fragt nach dem Treueprogramm.",
        "Paket bitte beim Nachbarn abgeben.",
        "Reklamation wegen Verpackung, erledigt.",
        "Möchte Rechnungen in Papierform.",
        "Interessiert an der Frühjahrskollektion.",
    ),
    "fr": (
        "Préfère une livraison en soirée.",
        "Demande des informations sur le programme de fidélité.",
        "Laisser le colis chez le gardien.",
        "Réclamation emballage, résolue.",
        "Souhaite des factures papier.",
        "Intéressé(e) par la nouvelle collection.",
    ),
}


def draw_notes(
    rng: np.random.Generator, people: Population, ids: Identities
) -> tuple[list[str], np.ndarray]:
    """One note per customer and, as ground truth, whether it quotes the customer's PII."""
    n = len(people)
    has_pii = rng.random(n) < PII_SHARE
    pick = rng.integers(0, 1 << 30, size=n)
    language = [COUNTRIES[c.country].language for c in CITIES]
    notes: list[str] = []
    for k, city in enumerate(people.city.tolist()):
        lang = language[city]
        templates = _PII[lang] if has_pii[k] else _HARMLESS[lang]
        notes.append(
            templates[pick[k] % len(templates)].format(
                first=ids.first_name[k],
                last=ids.last_name[k],
                email=ids.email[k],
                phone=ids.phone[k],
                iban=ids.iban[k],
                street=ids.street_address[k],
                postcode=people.postcode[k],
                city=CITIES[city].name,
            )
        )
    return notes, has_pii
