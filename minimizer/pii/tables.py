"""Mapping tables the PII patterns and validators are built from.

Differences between countries and languages live here as data, not as branches in code:
adding a country's IBAN length or a language's month names is a one-line change.
"""

from __future__ import annotations

from types import MappingProxyType

__all__ = [
    "DE_STREET_SUFFIXES",
    "EN_STREET_SUFFIXES",
    "FR_STREET_TYPES",
    "FR_STREET_TYPES_AMBIGUOUS",
    "IBAN_LENGTHS",
    "MONTHS",
]

# SWIFT IBAN registry: total IBAN length per ISO 3166 country code.
IBAN_LENGTHS = MappingProxyType(
    {
        "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
        "BH": 22, "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24,
        "DE": 22, "DJ": 27, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
        "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27,
        "GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
        "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20,
        "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20,
        "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24,
        "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
        "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
        "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
        "YE": 30,
    }
)  # fmt: skip

# Month names and common abbreviations (en, de, fr), lower case, to month number.
MONTHS = MappingProxyType(
    {
        # English
        "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3,
        "april": 4, "apr": 4, "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7,
        "august": 8, "aug": 8, "september": 9, "sep": 9, "sept": 9, "october": 10,
        "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
        # German
        "januar": 1, "jänner": 1, "februar": 2, "märz": 3, "maerz": 3, "mär": 3,
        "mai": 5, "juni": 6, "juli": 7, "oktober": 10, "okt": 10, "dezember": 12, "dez": 12,
        # French
        "janvier": 1, "janv": 1, "février": 2, "fevrier": 2, "févr": 2, "fevr": 2,
        "mars": 3, "avril": 4, "avr": 4, "juin": 6, "juillet": 7, "juil": 7, "août": 8,
        "aout": 8, "septembre": 9, "octobre": 10, "novembre": 11, "décembre": 12,
        "decembre": 12, "déc": 12,
    }
)  # fmt: skip

# German street-type endings, matched case-insensitively at the end of the street word:
# "Hauptstraße", "Losekannstr.", "Rose-Marie-Haering-Platz", "Berliner Allee". Endings that
# close common English words before a number ("-tor": "Monitor 24", "-wall": "Firewall 2",
# "-anger": "Ranger 3") are left out on purpose.
DE_STREET_SUFFIXES = (
    "straße", "strasse", "str.", "weg", "gasse", "platz", "ring", "allee", "damm", "ufer",
    "chaussee", "pfad", "steig", "stieg", "markt", "graben", "kamp", "promenade", "zeile",
    "twiete", "berg", "hof", "feld", "garten", "brücke", "kai",
)  # fmt: skip

# USPS standard street suffixes (Publication 28, appendix C1), full forms and abbreviations.
EN_STREET_SUFFIXES = (
    "Alley", "Annex", "Arcade", "Avenue", "Bayou", "Beach", "Bend", "Bluff", "Bluffs",
    "Bottom", "Boulevard", "Branch", "Bridge", "Brook", "Brooks", "Burg", "Burgs", "Bypass",
    "Camp", "Canyon", "Cape", "Causeway", "Center", "Centers", "Circle", "Circles", "Cliff",
    "Cliffs", "Club", "Common", "Commons", "Corner", "Corners", "Course", "Court", "Courts",
    "Cove", "Coves", "Creek", "Crescent", "Crest", "Crossing", "Crossroad", "Crossroads",
    "Curve", "Dale", "Dam", "Divide", "Drive", "Drives", "Estate", "Estates", "Expressway",
    "Extension", "Extensions", "Fall", "Falls", "Ferry", "Field", "Fields", "Flat", "Flats",
    "Ford", "Fords", "Forest", "Forge", "Forges", "Fork", "Forks", "Fort", "Freeway",
    "Garden", "Gardens", "Gateway", "Glen", "Glens", "Green", "Greens", "Grove", "Groves",
    "Harbor", "Harbors", "Haven", "Heights", "Highway", "Hill", "Hills", "Hollow", "Inlet",
    "Island", "Islands", "Isle", "Junction", "Junctions", "Key", "Keys", "Knoll", "Knolls",
    "Lake", "Lakes", "Land", "Landing", "Lane", "Light", "Lights", "Loaf", "Lock", "Locks",
    "Lodge", "Loop", "Mall", "Manor", "Manors", "Meadow", "Meadows", "Mews", "Mill", "Mills",
    "Mission", "Motorway", "Mount", "Mountain", "Mountains", "Neck", "Orchard", "Oval",
    "Overpass", "Park", "Parks", "Parkway", "Parkways", "Pass", "Passage", "Path", "Pike",
    "Pine", "Pines", "Place", "Plain", "Plains", "Plaza", "Point", "Points", "Port", "Ports",
    "Prairie", "Radial", "Ramp", "Ranch", "Rapid", "Rapids", "Rest", "Ridge", "Ridges",
    "River", "Road", "Roads", "Route", "Row", "Rue", "Run", "Shoal", "Shoals", "Shore",
    "Shores", "Skyway", "Spring", "Springs", "Spur", "Spurs", "Square", "Squares", "Station",
    "Stravenue", "Stream", "Street", "Streets", "Summit", "Terrace", "Throughway", "Trace",
    "Track", "Trafficway", "Trail", "Trailer", "Tunnel", "Turnpike", "Underpass", "Union",
    "Unions", "Valley", "Valleys", "Via", "Viaduct", "View", "Views", "Village", "Villages",
    "Ville", "Vista", "Walk", "Walks", "Wall", "Way", "Ways", "Well", "Wells",
    # abbreviations
    "Aly", "Ave", "Av", "Blvd", "Br", "Brg", "Cir", "Ct", "Cres", "Cv", "Dr", "Expy", "Fwy",
    "Hwy", "Ln", "Pkwy", "Pl", "Plz", "Rd", "Sq", "St", "Ter", "Trl", "Tpke", "Xing",
)  # fmt: skip

# French street types, matched case-insensitively ("12 rue de la Paix", "12 Rue de la Paix").
FR_STREET_TYPES = (
    "rue", "avenue", "av.", "boulevard", "bd", "chemin", "impasse", "allée", "quai", "cité",
    "résidence", "rond-point", "chaussée", "faubourg", "sentier", "montée", "hameau",
    "lieu-dit",
)  # fmt: skip

# French types that are also English words ("place", "route", ...): lower case only.
FR_STREET_TYPES_AMBIGUOUS = (
    "place", "route", "cours", "square", "passage", "voie", "villa", "promenade",
    "esplanade",
)  # fmt: skip
