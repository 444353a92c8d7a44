"""Compiled candidate patterns, one per PII kind, and their cheap RE2 hints.

A pattern finds *candidate* spans; a validator in :mod:`minimizer.pii.validators` then decides.
Every pattern's group 1 is the whole span, so ``Series.str.extractall(p)[0]`` yields spans.
A hint is a much simpler RE2 expression that every span of the kind must contain; it runs in
Arrow's C++ engine over all values and lets the Python regex see only the few that matter.

Digits are spelled ``[0-9]`` (``\\d`` would accept any Unicode digit the validators cannot read).
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import groupby

from minimizer.pii.tables import (
    DE_STREET_SUFFIXES,
    EN_STREET_SUFFIXES,
    FR_STREET_TYPES,
    FR_STREET_TYPES_AMBIGUOUS,
    IBAN_LENGTHS,
    MONTHS,
)

__all__ = [
    "ADDRESS",
    "ADDRESS_HINT",
    "CARD",
    "CARD_HINT",
    "DATE",
    "DATE_HINT",
    "EMAIL",
    "EMAIL_HINT",
    "IBAN",
    "IBAN_HINT",
    "IPV4",
    "IPV4_HINT",
    "IPV6",
    "IPV6_HINT",
    "PHONE",
    "PHONE_HINT",
    "coordinates",
    "coordinates_hint",
]


def _alt(words: tuple[str, ...] | list[str]) -> str:
    """Alternation of literal words, longest first so a longer word wins over its prefix."""
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


def _whole(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(f"({pattern})", flags)


# --- e-mail ---------------------------------------------------------------------------------
# Deliberately loose (no RFC 5322 subtleties): a leak gate prefers recall.
# The lookbehind makes a match start where a local part starts: without it, every position
# of a long dotted run would rescan the run for an "@" (quadratic time).
EMAIL = _whole(r"(?<![\w.%+-])[\w.%+-]+@[^\W_][\w-]*(?:\.[^\W_][\w-]*)*\.[^\W\d_]{2,}")
EMAIL_HINT = r"@"


# --- IBAN -----------------------------------------------------------------------------------
def _iban_pattern() -> str:
    """One branch per IBAN length: compact, or in groups of four as printed on statements."""
    by_length = sorted(IBAN_LENGTHS.items(), key=lambda item: item[1])
    branches = []
    for length, group in groupby(by_length, key=lambda item: item[1]):
        countries = "|".join(code for code, _ in group)
        rest = length - 4
        spaced = rf"(?:[ ][A-Z0-9]{{4}}){{{rest // 4}}}"
        if rest % 4:
            spaced += rf"[ ][A-Z0-9]{{{rest % 4}}}"
        branches.append(rf"(?:{countries})[0-9]{{2}}(?:[A-Z0-9]{{{rest}}}|{spaced})")
    return r"(?<![A-Za-z0-9])(?:" + "|".join(branches) + r")(?![A-Za-z0-9])"


IBAN = _whole(_iban_pattern(), re.IGNORECASE | re.ASCII)
IBAN_HINT = r"[A-Za-z]{2}[0-9]{2}"


# --- payment cards --------------------------------------------------------------------------
# 12-19 digits, unbroken or in the groupings cards are printed in
# (4-4-4[-4[-3]] and 4-4-4-1..7, 4-6-5, 4-6-4); the separator is the same throughout.
CARD = _whole(
    r"(?<![A-Za-z0-9.,-])(?:"
    r"[0-9]{12,19}"
    r"|[0-9]{4}(?P<s1>[ -])[0-9]{4}(?P=s1)[0-9]{4}(?:(?P=s1)[0-9]{1,7}(?:(?P=s1)[0-9]{3})?)?"
    r"|[0-9]{4}(?P<s2>[ -])[0-9]{6}(?P=s2)[0-9]{4,5}"
    r")(?![A-Za-z0-9]|[.,][0-9])"
)
CARD_HINT = r"[0-9]{4}"


# --- IP addresses ---------------------------------------------------------------------------
# No leading zeros, as in `ipaddress` ("01.2.3.4" is not an address there).
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
IPV4 = _whole(rf"(?<![A-Za-z0-9.]){_OCTET}(?:\.{_OCTET}){{3}}(?![0-9]|\.[0-9])")
IPV4_HINT = r"[0-9]\.[0-9]+\.[0-9]+\.[0-9]"

# Candidates only: `ipaddress.IPv6Address` decides (full, compressed, IPv4-suffixed forms).
IPV6 = _whole(
    r"(?<![A-Za-z0-9:.])"
    r"(?:[0-9A-Fa-f]{0,4}:){2,8}(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9A-Fa-f]{0,4})"
    r"(?![A-Za-z0-9:]|\.[0-9])"
)
IPV6_HINT = r":[0-9A-Fa-f]{0,4}:"


# --- phone numbers --------------------------------------------------------------------------
_PHONE_FORMS = (
    # North American: 958-868-3449, (783)703-8836, 881.428.6570, +1-303-228-9218, 9588683449
    r"(?:(?:\+1|001)[ .-]?)?(?:\([2-9][0-9]{2}\)[ ]?|[2-9][0-9]{2}[ .-]?)[2-9][0-9]{2}[ .-]?[0-9]{4}",
    # international: +49 30 1234567, +49(0)5868 344978, +33 (0)3 44 41 58 68, 0049 30 123456.
    # One way to read each character (a digit, one separator before a digit, or a bracketed
    # group), so a long digit run followed by a letter fails in linear time, not exponential.
    r"(?:\+|00)[1-9](?:[0-9]|[ ./-](?=[0-9(])|\([0-9]{1,5}\))+",
    # French national: 01 23 45 67 89, 01.23.45.67.89, 0123456789 (one separator throughout)
    r"0[1-9](?P<fs>[ .-]?)[0-9]{2}(?:(?P=fs)[0-9]{2}){3}",
    # German (and similar) national: 030 12345678, (03740) 68124, 0171-1234567, 030/123456;
    # "00..." is an international prefix unless the brackets say it is an area code
    r"(?:\(0[0-9]{1,5}\)|0[1-9][0-9]{1,4})(?:[ /-]?[0-9]){4,12}",
)
PHONE = _whole(
    r"(?<![\w+.,/-])(?:"
    + "|".join(_PHONE_FORMS)
    + r")(?:[ ]?(?:x|ext\.?|Durchwahl|poste)[ ]?[0-9]{1,6})?(?![0-9A-Za-z]|[.,/-][0-9])"
)
PHONE_HINT = r"[0-9][ ./()-]{0,2}[0-9]"  # digits at most one separator (or " (") apart


# --- street addresses -----------------------------------------------------------------------
# A German house number: 12, 12a, 12 a, 9/8, 3-2; a year (19xx, 20xx) is not one
# ("Spring 2024" is a product line, not "Spring" street).
_HOUSE_DE = (
    r"(?!(?:19|20)[0-9]{2}(?![0-9]))[0-9]{1,4}(?:[ ]?[A-Za-z](?!\w))?"
    r"(?:[ ]?[/-][ ]?[0-9]{1,4}[A-Za-z]?)?(?![0-9])"
)
# "-ring" after a vowel is an English gerund ("Offering 2", "Engineering 101"), not a street
_DE_SUFFIX = _alt(DE_STREET_SUFFIXES).replace("ring", "(?<![aeiou])ring")
_CAP = r"[A-ZÄÖÜÀ-ÞŒ]"
_STREET_FORMS = (
    # German street word ending in a street type: Hauptstraße 12, Hans Jürgen-Wulf-Platz 254
    rf"(?<![\w-])(?:{_CAP}[\w'.-]*[ ]){{0,2}}(?={_CAP})[\w'.-]*?(?i:{_DE_SUFFIX})[ ]{{1,2}}{_HOUSE_DE}",
    # German preposition streets: Am Markt 3a, An der Alster 5, Unter den Linden 77
    r"(?<![\w-])(?:Am|Im|Zum|Zur|Beim|(?:An|In|Auf|Unter|Hinter|Vor|Über|Bei)[ ](?:der|den|dem))"
    rf"[ ](?:{_CAP}[\w'.-]*[ ]){{0,2}}{_CAP}[\w'.-]*[ ]{_HOUSE_DE}",
    # English: 221B Baker Street, 1600 Pennsylvania Avenue NW, 787 Randall Junction Apt. 470
    r"(?<![\w.,/-])[0-9]{1,6}[A-Za-z]?(?:-[0-9]{1,4})?[ ]"
    r"(?:(?:N|S|E|W|NE|NW|SE|SW|North|South|East|West)\.?[ ])?"
    rf"(?:(?:{_CAP}[\w'.-]*|[0-9]{{1,3}}(?:st|nd|rd|th))[ ]){{1,4}}"
    rf"(?i:{_alt(EN_STREET_SUFFIXES)})\.?(?!\w)"
    r"(?:[ ](?:N|S|E|W|NE|NW|SE|SW)(?!\w))?"
    r"(?:,?[ ](?:Apt\.?|Apartment|Suite|Ste\.?|Unit|\#)[ ]?[0-9A-Za-z-]+)?",
    # French with number: 12 rue de la Paix, 9, chemin de Marchand, 3 bis avenue Foch
    r"(?<![\w.,/-])[0-9]{1,4}(?:[ ]?(?:bis|ter|quater|[A-Za-z](?!\w)))?,?[ ]"
    rf"(?:(?i:{_alt(FR_STREET_TYPES)})|{_alt(FR_STREET_TYPES_AMBIGUOUS)})[ ]"
    rf"(?:(?:de[ ]la|de[ ]l'|du|des|de|d'|la|le|les|l')[ ]?)?{_CAP}[\w'-]*(?:[ ]{_CAP}[\w'-]*){{0,3}}",
    # French street without number: rue de la Paix, boulevard Suzanne Maillet
    rf"(?<![\w-])(?:[Rr]ue|[Bb]oulevard|[Cc]hemin|[Ii]mpasse|[Aa]llée|[Qq]uai|avenue)[ ]"
    rf"(?:(?:de[ ]la|de[ ]l'|du|des|de|d'|la|le|les|l')[ ]?)?{_CAP}[\w'-]*(?:[ ]{_CAP}[\w'-]*){{0,3}}",
)
ADDRESS = _whole("|".join(f"(?:{form})" for form in _STREET_FORMS))
ADDRESS_HINT = r"[0-9]|(?i:rue|boulevard|chemin|impasse|allée|quai|avenue)[ ]"


# --- dates (day precision) ------------------------------------------------------------------
_YEAR = r"(?:18|19|20)[0-9]{2}"
_MONTH = _alt(list(MONTHS))
DATE = _whole(
    r"(?<![0-9./-])(?:"
    rf"{_YEAR}(?P<s1>[-/.])[0-9]{{1,2}}(?P=s1)[0-9]{{1,2}}"  # 1987-03-14
    rf"|[0-9]{{1,2}}(?P<s2>[-/.])[0-9]{{1,2}}(?P=s2){_YEAR}"  # 14.03.1987, 03/14/1987
    r")(?![0-9]|[./-][0-9])(?![ T][0-9]{1,2}:[0-9]{2})"  # not an hour bucket "2024-03-01 14:00"
    rf"|(?<!\w)[0-9]{{1,2}}(?:er|\.)?[ ](?i:{_MONTH})\.?,?[ ]{_YEAR}(?![0-9])"  # 14. März 1987
    rf"|(?<!\w)(?i:{_MONTH})\.?[ ][0-9]{{1,2}}(?:st|nd|rd|th)?,?[ ]{_YEAR}(?![0-9])"  # March 14, 1987
)
DATE_HINT = r"(?:18|19|20)[0-9]{2}"


# --- precise coordinates --------------------------------------------------------------------
@lru_cache(maxsize=16)
def coordinates(max_decimals: int) -> re.Pattern[str]:
    """A decimal degree with more than ``max_decimals`` decimals: 52.520008, -13.4049."""
    return _whole(
        rf"(?<![A-Za-z0-9.])-?[0-9]{{1,3}}\.[0-9]{{{max_decimals + 1},}}(?![0-9]|\.[0-9])"
    )


def coordinates_hint(max_decimals: int) -> str:
    return rf"[0-9]\.[0-9]{{{max_decimals + 1}}}"
