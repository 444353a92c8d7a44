"""Street addresses: the street-vocabulary forms, postcode lines, and bare "place + number".

The kind ``street_address`` is several forms (an :class:`~minimizer.pii.registry.AnyOf`):

=================  ===========================================  ==============================
form               written as                                   decided by
=================  ===========================================  ==============================
street             ``Hauptstraße 12``, ``12 rue de la Paix``,    the street vocabulary of
                   ``Platz der Republik 1``, ``Postfach 1234``   :data:`patterns.ADDRESS`
postcode line      ``10117 Berlin``, ``D-10117 Berlin``,         the line's position (whole
                   ``…, 1010 Wien``, ``1012 AB Amsterdam``       value, after a comma) or a
                                                                 country prefix; not a unit
uk postcode        ``SW1A 1AA``, ``London EC1A 1BB``             Royal Mail's letter rules
street + city      ``Bachloh 60, 4421 Aschach``                  the postcode after the number
bare line          ``Gralla 30``, ``Quadra 106`` (whole value)   not a vocabulary word
address cue        ``Anschrift: Kimpling 41``                    not a vocabulary word
=================  ===========================================  ==============================

Why the bare line: in Austrian and Swiss villages and in Dutch new-build quarters the street
is often a place name with no street word at all ("Gralla 30", "Spinatsch 94", "Carneool
88"); presidio-evaluator's people table is full of them. Such a value is an address only when
it is the *whole* value (an address column) or follows an address cue, and only when the word
before the number is not an everyday word: "Room 12", "Modell 12", "Engineering 101",
"Windows 11" are the n-th of something. Everyday words are Faker's lorem word lists of the home
languages plus the count and product nouns below (with English -ing/-er/-s forms of them).
Product names whose last word is a proper noun ("Hotel Kempinski 3") are still read as an
address: the gate then fails closed, a false alarm rather than a leak.
"""

from __future__ import annotations

import importlib
import re
from functools import lru_cache

import numpy as np
import pandas as pd

from minimizer.pii import patterns
from minimizer.pii.hints import re2_hint
from minimizer.pii.registry import PatternDetector, accept_all
from minimizer.pii.text import Mask
from minimizer.pii.validators import Validator

__all__ = ["ADDRESS_FORMS", "is_vocabulary_word"]


def _alt(words: tuple[str, ...]) -> str:
    """Alternation of literal words, longest first so a longer word wins over its prefix."""
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_CAP = r"[A-ZÄÖÜÀ-ÖØ-ÞŒ]"
_LOWER = r"[a-zß-öø-ÿœ]"
# a place-name word: capitalised, then lower case; hyphenated parts may be capitalised too
# ("Krummnussbaum", "Tjalling", "Rose-Marie"). Words of capitals ("QLED", "USB-C") are not.
_NAME = rf"{_CAP}{_LOWER}{{1,40}}(?:-{_CAP}?{_LOWER}{{1,40}}){{0,3}}"
_PARTICLE = r"(?:van|de|der|den|het|am|im|an|auf|bei|zum|zur|di|da|del|la|le|du|des|von|op|aan)"
# a house number: 5, 12a, 12 B, 3/2, 7-9; no leading zero ("Agent 007"), not a year
# ("Spring 2024"), and a letter only a-h, so "1L", "12m", "5kg" stay units of a product
_HOUSE = (
    r"(?!(?:19|20)[0-9]{2}(?![0-9]))[1-9][0-9]{0,3}(?:[ ]?[a-hA-H](?![\w]))?"
    r"(?:[ ]?[/-][ ]?[0-9]{1,4}[a-hA-H]?)?(?![\w])"
)
_PLACE = rf"(?:(?:{_NAME}|{_PARTICLE})[ -]){{0,3}}{_NAME}"

# postcodes: DE/FR five digits (never 00…), AT/CH/BE/LU/DK four, NL four and two letters
# (PostNL never issues the letter pairs SA, SD and SS)
# A four-digit number from 1950 to 2039 is read as a year ("2024 Sommer"), not a postcode:
# Swiss 1950-1999 and Austrian 2000-2039 codes count with their country prefix (CH-1950 Sion).
_PLZ = (
    r"(?:(?!00)[0-9]{5}|(?!(?:19[5-9]|20[0-3])[0-9](?![0-9]))[1-9][0-9]{3}"
    r"(?:[ ]?(?!SA|SD|SS)[A-Z]{2})?)"
)
_COUNTRY_PREFIX = r"(?:D|DE|A|AT|CH|F|FR|NL|B|BE|L|LU|FL|I|DK)-"
_CITY = (
    rf"{_NAME}(?:[ ](?:(?:am|an|der|dem|den|im|in|ob|bei|sur|sous|en|lès|les|le|la|de|du|des"
    rf"|aan|op|upon|on|a\.|a\.d\.|i\.)[ ])*(?:{_NAME}|\({_NAME}\)|{_CAP}\.)){{0,3}}"
)
# unit and count words after a number: "25000 Euro", "12000 Besucher", "1500 Meter"
_UNITS = (
    "Euro", "Eur", "Franken", "Pfund", "Dollar", "Stück", "Stk", "Punkte", "Meter", "Kilometer",
    "Kilo", "Gramm", "Liter", "Mal", "Jahre", "Tage", "Stunden", "Minuten", "Sekunden",
    "Einwohner", "Besucher", "Kunden", "Mitarbeiter", "Nutzer", "Follower", "Users", "Zeilen",
    "Downloads", "Views", "Klicks", "Bestellungen", "Orders", "Artikel", "Seiten", "Pages",
    "Points", "Miles", "Meilen", "Euros", "Francs", "Livres", "Personnes", "Habitants", "Inwoners",
    "Bezoekers", "Klanten", "Mensen", "Leute", "Personen", "People", "Exemplare", "Teilnehmer",
    "Kalorien", "Watt", "Volt", "Grad", "Prozent", "Bytes", "Zeichen", "Wörter", "Words",
    "Menschen", "Fans", "Zuschauer", "Gäste", "Stimmen", "Tickets", "Karten", "Likes", "Votes",
    "Mitglieder", "Abonnenten", "Schritte", "Kilometres", "Kilometers", "Pakete", "Sendungen",
)  # fmt: skip
_NOT_UNIT = rf"(?!(?:{_alt(_UNITS)})(?![\w]))"
# at the start of the value, after a comma or a colon (spaces after it stay outside the
# span), or after a postcode label ("PLZ 10117 Berlin", the label then inside the span)
_LINE_START = (
    r"(?:^[ ]{0,2}|(?<=[,;:(\n|])|(?<=[,;:(\n|][ ])|(?<=[,;:(\n|][ ]{2})"
    r"|(?<![\w])(?:PLZ(?:[ ]und[ ]Ort|[ ]/[ ]Ort)?|Postleitzahl|Postcode|Code[ ]postal)"
    r"[ ]?:?[ ]{1,2})"
)
_LINE_END = r"(?=[ ]?(?:$|[,;)\n|]|[.](?:[ ]|$)))"

_POSTCODE_LINE = re.compile(
    rf"((?:{_LINE_START}{_PLZ}[ ]{{1,2}}{_NOT_UNIT}{_CITY}{_LINE_END})"
    rf"|(?:(?<![\w-]){_COUNTRY_PREFIX}[0-9]{{4,5}}[ ]{{1,2}}{_CITY}(?![\w])))"
)
# Royal Mail: outward code (area, district, optional sub-district letter), inward code (digit
# and two letters, never C I K M O V). "GB29 NWBK", "M12" or "S23 Ultra" have no inward code.
_UK_POSTCODE = re.compile(
    r"((?<![A-Za-z0-9])(?:GIR[ ]?0AA|[A-PR-UWYZ](?:[0-9]{1,2}|[A-HK-Y][0-9]{1,2}"
    r"|[0-9][A-HJKPSTUW]|[A-HK-Y][0-9][ABEHMNPRVWXY])[ ]?[0-9][ABD-HJLNP-UW-Z]{2})(?![A-Za-z0-9]))"
)
_STREET_AND_CITY = re.compile(
    rf"((?<![\w-]){_PLACE}[ ]{{1,2}}{_HOUSE},?[ ]{{1,2}}(?:{_COUNTRY_PREFIX})?{_PLZ}[ ]{{1,2}}"
    rf"{_NOT_UNIT}{_CITY}(?![\w]))"
)
_BARE_LINE = re.compile(rf"(^[ ]*{_PLACE}[ ]{{1,2}}{_HOUSE}[ ]*$)")
_CUES = (
    "Adresse", "Anschrift", "Wohnort", "Wohnadresse", "Lieferadresse", "Rechnungsadresse",
    "Lieferanschrift", "Rechnungsanschrift", "Postanschrift", "Meldeadresse", "wohnhaft in",
    "wohnhaft", "wohnt in", "wohnt", "Address", "Home address", "Billing address",
    "Shipping address", "Adres", "Woonadres", "Bezorgadres", "Domicile", "Domicilié à",
    "Domiciliée à", "Adresse postale",
)  # fmt: skip
_CUE = re.compile(rf"((?<![\w])(?i:{_alt(_CUES)})[ ]?:?[ ]{{1,2}}{_PLACE}[ ]{{1,2}}{_HOUSE})")

# Count, product and place-in-a-building nouns: "<word> <number>" is the n-th of these.
_COUNT_NOUNS = """
modell model modèle typ type serie series série version gen generation génération profi pro
plus max mini ultra lite edition größe grösse gr size taille maat level stufe niveau teil part
partie deel nr no nummer number numéro seite page blatt kapitel chapter chapitre hoofdstuk
folge episode épisode aflevering staffel season saison band vol volume heft ausgabe issue
jahrgang klasse class classe klas gruppe group groupe groep team runde round tour ronde woche
week semaine tag day jour dag monat month mois maand jahr year jaar quartal quarter trimestre
kwartaal kw raum room salle kamer zimmer halle hall gate terminal gleis platform quai linie
line ligne lijn bus tram zug train flug flight kasse filiale store shop laden lager zone sektor
sector bereich etage stock floor windows office android python java release build patch update
sprint phase schritt step étape stap test probe sample charge batch lot los paket package pack
set box karton stück pieces grad degree punkte points tier rang rank platz gold silber silver
bronze platin platinum premium basic standard business enterprise starter kundenkarte firewall
ranger monitor router server node cluster pod worker thread core kern slot port channel kanal
tarif vertrag option variante variant artikel article item produkt product kategorie category
rubrik bestellung order auftrag rechnung invoice kunde customer ticket fall case vorgang antrag
position pos zeile row spalte column feld field tabelle table abschnitt section absatz
paragraph anlage appendix anhang figure abb abbildung fig bild image foto photo video track
titel song lied film movie spiel game match welt world akt act szene scene take kamera camera
cam tisch sitz seat reihe block sektion tribüne eingang entrance ausgang exit tor haus gebäude
building bau trakt flügel wing station haltestelle stop halt wagen car coach bahnsteig kurs
course cours lektion lesson modul module unit einheit übung exercise aufgabe task frage
question antwort answer beispiel example top liga league division spieltag matchday heat lauf
etappe stage bühne xbox playstation nintendo switch iphone ipad pixel galaxy note mate redmi
xperia macbook surface kindle echo covid apollo formel formula boeing airbus audi golf polo
passat clio corsa astra fiesta focus ligue bundesliga eredivisie premier kempinski hotel
server agent mission operation projekt project sprint termin appointment rendezvous slot
lager regal fach shelf bin gang aisle kasse checkout vlucht zaal
"""
# English and German abstract-noun endings, and English gerunds no village name has
# (Austrian and Bavarian "-ing" places keep theirs: Gunzing, Kimpling, Freising)
_SUFFIXES_OF_VOCABULARY = (
    "tion", "ment", "ness", "ship", "ity", "ismus", "ung", "heit", "keit",
    "ering", "oring", "ating", "izing", "ening", "eting",
)  # fmt: skip


@lru_cache(maxsize=1)
def _vocabulary() -> frozenset[str]:
    """Faker's lorem words of the home languages and the count nouns, case-folded."""
    words = set(_COUNT_NOUNS.split())
    for locale in ("en_US", "de_DE", "fr_FR", "nl_NL"):
        provider = importlib.import_module(f"faker.providers.lorem.{locale}").Provider
        words.update(w.casefold() for w in provider.word_list if len(w) >= 3)
    return frozenset(words)


def is_vocabulary_word(word: str) -> bool:
    """An everyday word (or its English -ing/-er/-s form), not a place name."""
    key = word.casefold()
    words = _vocabulary()
    if key in words or key.endswith(_SUFFIXES_OF_VOCABULARY):
        return True
    stems = []
    if key.endswith("ing"):  # offering, sharing, running (but not Gunzing: "gun")
        stems += [key[:-3], key[:-3] + "e"]
        if len(key) > 5 and key[-4] == key[-5]:
            stems.append(key[:-4])
    if key.endswith("er"):  # ranger, player
        stems += [key[:-1], key[:-2]]
    if key.endswith("s"):  # rooms, levels
        stems += [key[:-1]]
    return any(len(s) >= 3 and s in words for s in stems)


_PLACE_WORDS = re.compile(rf"((?:{_NAME}[ ]+)*?{_NAME})[ ]{{1,2}}[0-9][^ ]*[ ]*$")


@lru_cache(maxsize=1)
def _count_nouns() -> frozenset[str]:
    return frozenset(_COUNT_NOUNS.split())


def _not_vocabulary(spans: pd.Series) -> Mask:
    """The word before the house number is a place name, not an everyday word, and the
    place does not start with a count noun ("Team Anna 3", "Hotel Adlon 1")."""
    if spans.empty:
        return np.zeros(0, dtype=bool)
    codes, uniques = pd.factorize(spans)

    def place(span: str) -> bool:
        found = _PLACE_WORDS.search(span)
        if found is None:
            return False
        words = found.group(1).split()
        if words[0].casefold() in _count_nouns():
            return False
        return not any(is_vocabulary_word(part) for part in words[-1].split("-"))

    verdict = np.fromiter((place(s) for s in uniques), dtype=bool, count=len(uniques))
    flags: Mask = verdict[codes]
    return flags


def _form(
    name: str, pattern: re.Pattern[str], hint: str | None, validate: Validator = accept_all
) -> PatternDetector:
    hint = re2_hint(pattern) if hint is None else hint
    return PatternDetector(name, "[ADDRESS]", pattern, hint, validate)


# Hand-written RE2 hints, each a superset of its form: the forms' own RE2 versions, joined
# with the street vocabulary into the kind's one union pass, cost RE2 three times as much
# as these (measured on bench/pii_eval.py's values). tests/pii check the superset property.
_HINT_STREET_AND_CITY = r"[0-9a-hA-H],?[ ]{1,2}(?:[A-Z]{1,2}-)?[0-9]{4}"
_HINT_POSTCODE_LINE = rf"[0-9]{{4}}(?:[0-9]|[ ]?[A-Z]{{2}})?[ ]{{1,2}}{_CAP}"
_HINT_CUE = r"(?i:adres|address|anschrift|wohn|domicil)"
_HINT_BARE_LINE = (
    r"^[^0-9]*[ ][1-9][0-9]{0,3}[ ]?[a-hA-H]?(?:[ ]?[/-][ ]?[0-9]{1,4}[a-hA-H]?)?[ ]*$"
)

ADDRESS_FORMS: tuple[PatternDetector, ...] = (
    PatternDetector("street", "[ADDRESS]", patterns.ADDRESS, patterns.ADDRESS_HINT, accept_all),
    _form("street_and_city", _STREET_AND_CITY, _HINT_STREET_AND_CITY),
    _form("postcode_line", _POSTCODE_LINE, _HINT_POSTCODE_LINE),
    _form("uk_postcode", _UK_POSTCODE, None),
    _form("address_cue", _CUE, _HINT_CUE, _not_vocabulary),
    _form("bare_line", _BARE_LINE, _HINT_BARE_LINE, _not_vocabulary),
)
