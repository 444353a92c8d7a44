"""Compiled candidate patterns, one per PII kind, and their cheap RE2 hints.

A pattern finds *candidate* spans; a validator in :mod:`minimizer.pii.validators` then decides.
Every pattern's group 1 is the whole span, so ``Series.str.extractall(p)[0]`` yields spans.
A hint is a much simpler RE2 expression that every span of the kind must contain; it runs in
Arrow's C++ engine over all values and lets the Python regex see only the few that matter.

Digits are spelled ``[0-9]`` (``\\d`` would accept any Unicode digit the validators cannot read).
Patterns see *normalised* text (:mod:`minimizer.pii.normalisation`): NBSP is a space, full-width
``＠`` is ``@``, ``%40`` is decoded, dashes are ``-``. Separators are written once for that text.
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import groupby

from minimizer.pii.tables import (
    DE_STREET_SUFFIXES,
    DE_STREET_SUFFIXES_STRONG,
    EN_STREET_SUFFIXES,
    FR_STREET_TYPES,
    FR_STREET_TYPES_AMBIGUOUS,
    IBAN_LENGTHS,
    MONTHS,
    NL_STREET_SUFFIXES,
    TYPE_FIRST_STREET_TYPES,
)

__all__ = [
    "ADDRESS",
    "ADDRESS_HINT",
    "ADVERTISING_ID",
    "ADVERTISING_ID_HINT",
    "BIC",
    "BIC_HINT",
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
    "MAC",
    "MAC_HINT",
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
# Obfuscated forms people write to dodge harvesters: max(at)web.de, max [at] gmx [dot] de,
# max{at}web(punkt)de, and "max at gmx dot de" when the dot is spelled out too.
_LOCAL = r"(?<![\w.%+-])[\w.%+-]+"
_LABEL = r"[^\W_][\w-]*"
_TLD = r"[^\W\d_]{2,}"
_OPEN, _CLOSE = r"[(\[{<]", r"[)\]}>]"
# "max @ web.de": one space either side of a plain "@" is still an address
_AT = rf"(?:[ ]?@[ ]?|[ ]?{_OPEN}[ ]?(?i:at|@|ät|arobase)[ ]?{_CLOSE}[ ]?)"
_DOT = rf"(?:\.|[ ]?{_OPEN}[ ]?(?i:dot|punkt|point|\.)[ ]?{_CLOSE}[ ]?)"
_SPELLED = r"[ ](?i:dot|punkt|point)[ ]"
# Letters spaced out to dodge a harvester: "m a x @ w e b . d e" (one character, one space;
# at most 64 characters a part, so a run of spaced letters is scanned in bounded time).
_SPACED_CHAR = r"[\w.+-]"
_SPACED_LABEL = r"[^\W_](?:[ ][\w-]){0,62}"
_SPACED = (
    rf"(?<![\w.%+-]){_SPACED_CHAR}(?:[ ]{_SPACED_CHAR}){{1,63}}[ ]@[ ]"
    rf"{_SPACED_LABEL}(?:[ ]\.[ ]{_SPACED_LABEL}){{0,4}}[ ]\.[ ][^\W\d_](?:[ ][^\W\d_]){{1,23}}"
    r"(?![\w-])(?![ ][\w-](?![\w-]))"  # the spaced run ends here (a word may follow)
)
EMAIL = _whole(
    rf"{_LOCAL}{_AT}{_LABEL}(?:{_DOT}{_LABEL})*{_DOT}{_TLD}(?![\w-])"
    rf"|{_LOCAL}[ ](?i:at)[ ]{_LABEL}(?:{_SPELLED}{_LABEL})*{_SPELLED}{_TLD}(?![\w-])"
    rf"|{_SPACED}"
)
EMAIL_HINT = r"@|[(\[{<] ?(?i:at|ät|arobase) ?[)\]}>]|(?i: at \S+ (?:dot|punkt|point) )"


# --- IBAN -----------------------------------------------------------------------------------
def _iban_pattern() -> str:
    """One branch per IBAN length; between any two characters a separator may stand.

    People write ``DE89 3704 0044 0532 0130 00``, ``DE 89 3704 …``, ``de89-3704-…`` or with a
    double space; the branch counts the length's characters, whatever stands between them
    (at most two of space, dash or dot), so the whole number is one span and is scrubbed whole.
    """
    by_length = sorted(IBAN_LENGTHS.items(), key=lambda item: item[1])
    branches = []
    for length, group in groupby(by_length, key=lambda item: item[1]):
        countries = "|".join(code for code, _ in group)
        branches.append(rf"(?:{countries}){_SEP}[0-9]{_SEP}[0-9](?:{_SEP}[A-Z0-9]){{{length - 4}}}")
    return r"(?<![A-Za-z0-9])(?:" + "|".join(branches) + r")(?![A-Za-z0-9])"


_SEP = r"[ .-]{0,2}"
IBAN = _whole(_iban_pattern(), re.IGNORECASE | re.ASCII)
IBAN_HINT = r"[A-Za-z]{2}[ .-]{0,2}[0-9][ .-]{0,2}[0-9]"


# --- BIC ------------------------------------------------------------------------------------
# ISO 9362: bank (4 letters), country (2), location (2), optional branch (3). All capitals as
# printed. An 8-letter word ("BUSINESS") has the same shape, so the validator wants a digit, a
# branch, a label ("BIC", "SWIFT") in front, or the bank directory to know it.
# After a label the code may be in any case ("bic: cobadeffxxx"); alone it must be capitals.
_BIC_CODE = r"[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?"
BIC = _whole(
    r"(?:(?i:BIC|SWIFT|SWIFT-Code|SWIFT code|BIC-Code)[ ]?[:.]?[ ]?"
    rf"(?<![A-Za-z0-9])(?i:{_BIC_CODE})"
    rf"|(?<![A-Za-z0-9]){_BIC_CODE})(?![A-Za-z0-9])"
)
BIC_HINT = r"[A-Z]{6}[A-Z0-9]{2}"


# --- payment cards --------------------------------------------------------------------------
# 12-19 digits, unbroken or grouped by one kind of separator (space, dash, dot) in any group
# sizes after a first group of four: 4111 1111 1111 1111, 3782-822463-10005, 4111.1111.1111.1111.
CARD = _whole(
    r"(?<![A-Za-z0-9.,-])(?:"
    r"[0-9]{12,19}"
    r"|[0-9]{4}(?P<s1>[ .-])[0-9]{2,7}(?:(?P=s1)[0-9]{1,7}){1,4}"
    r")(?![A-Za-z0-9]|[.,-][0-9])"
)
CARD_HINT = r"[0-9]{4}"


# --- IP addresses ---------------------------------------------------------------------------
# No leading zeros, as in `ipaddress` ("01.2.3.4" is not an address there), except an octet
# zero-padded to three digits: logs and exports print "192.168.001.001", the same address.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9]|0[0-9]{2})"
IPV4 = _whole(rf"(?<![A-Za-z0-9.]){_OCTET}(?:\.{_OCTET}){{3}}(?![0-9]|\.[0-9])")
IPV4_HINT = r"[0-9]\.[0-9]+\.[0-9]+\.[0-9]"

# Candidates only: `ipaddress.IPv6Address` decides (full, compressed, IPv4-suffixed forms).
IPV6 = _whole(
    r"(?<![A-Za-z0-9:.])"
    r"(?:[0-9A-Fa-f]{0,4}:){2,8}(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9A-Fa-f]{0,4})"
    r"(?![A-Za-z0-9:]|\.[0-9])"
)
IPV6_HINT = r":[0-9A-Fa-f]{0,4}:"


# --- device and network ids -----------------------------------------------------------------
# MAC-48 in the three notations: 00:1a:2b:3c:4d:5e, 00-1A-2B-3C-4D-5E, 001a.2b3c.4d5e (Cisco)
_HEX2 = r"[0-9A-Fa-f]{2}"
MAC = _whole(
    rf"(?<![0-9A-Za-z:.-])(?:{_HEX2}(?P<ms>[:-])(?:{_HEX2}(?P=ms)){{4}}{_HEX2}"
    r"|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4})(?![0-9A-Za-z]|[:.-][0-9A-Fa-f])"
)
MAC_HINT = rf"{_HEX2}[:-]{_HEX2}[:-]{_HEX2}[:-]{_HEX2}|[0-9A-Fa-f]{{4}}\.[0-9A-Fa-f]{{4}}\."

# Mobile advertising ids (Apple IDFA, Google GAID) and other device UUIDs: 8-4-4-4-12 hex.
# The all-zero id is what a device reports when tracking is limited: nobody's id.
ADVERTISING_ID = _whole(
    r"(?<![0-9A-Za-z-])(?!0{8}-0{4}-0{4}-0{4}-0{12})"
    r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}(?![0-9A-Za-z-])"
)
ADVERTISING_ID_HINT = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-"


# --- street addresses -----------------------------------------------------------------------
# A German house number: 12, 12a, 12 a, 9/8, 3-2; a year (19xx, 20xx) is not one
# ("Spring 2024" is a product line, not "Spring" street).
_HOUSE_DE = (
    r"(?!(?:19|20)[0-9]{2}(?![0-9]))[0-9]{1,4}(?:[ ]?[A-Za-z](?!\w))?"
    r"(?:[ ]?[/-][ ]?[0-9]{1,4}[A-Za-z]?)?(?![0-9])"
)
# "-ring" closing an English gerund ("Offering 2", "Engineering 101") is not a street; German
# and Dutch "-ering" streets are ("Roggering 5", "Lisering 9")
_GERUNDS = (
    "offe", "enginee", "cate", "monito", "sha", "ca", "hi", "secu", "gathe", "orde", "filte",
    "rende", "cluste", "sco", "sto", "wi", "stee", "tie", "mento", "tuto", "wate", "cove",
    "mea", "bo", "du", "spa", "prepa", "compa", "colo", "sou", "majo", "fa", "sna", "ste",
)  # fmt: skip
_DE_SUFFIX = _alt(DE_STREET_SUFFIXES).replace(
    "ring", "".join(f"(?<!{g})" for g in _GERUNDS) + "ring"
)
_NL_SUFFIX = _alt(NL_STREET_SUFFIXES)
# Endings no product or place name has: these may be lower case and glued to the number
# ("hauptstraße 5", "Bahnhofstr.5").
_STRONG = _alt(DE_STREET_SUFFIXES_STRONG)
_CAP = r"[A-ZÄÖÜÀ-ÞŒ]"
# Words are at most 40 characters: an unbounded word would let a long run of word characters
# be rescanned from every start position (quadratic time).
_STREET_FORMS = (
    # German street word ending in a street type: Hauptstraße 12, Hans Jürgen-Wulf-Platz 254
    rf"(?<![\w-])(?:{_CAP}[\w'.-]{{0,40}}[ ]){{0,2}}(?={_CAP})[\w'.-]{{0,40}}?(?i:{_DE_SUFFIX})[ ]{{1,2}}{_HOUSE_DE}",
    # ... and the unmistakable ones in any case, glued or not: hauptstraße 5, Bahnhofstr.5
    rf"(?<![\w.'-])(?:{_CAP}[\w'.-]{{0,40}}[ ]){{0,2}}(?:[^\W\d_][\w'.-]{{0,40}}?)?(?i:{_STRONG})"
    rf"[ ]{{0,2}}{_HOUSE_DE}",
    # Dutch: Kerkstraat 12, Isadreef 851, Elizebaan 3, 's-Gravendamseweg 15
    rf"(?<![\w'-])(?:'?s-)?(?:{_CAP}[\w'.-]{{0,40}}[ ]){{0,2}}(?={_CAP})[\w'.-]{{0,40}}?(?i:{_NL_SUFFIX})[ ]{{1,2}}{_HOUSE_DE}",
    # German preposition streets: Am Markt 3a, An der Alster 5, Unter den Linden 77, and the
    # Berlin "Alt Reinickendorf 86", "Alter Wall 79"
    r"(?<![\w-])(?:Am|Im|Zum|Zur|Beim|Alt|Alte|Alter|Altes|Obere|Untere|Oberer|Unterer"
    r"|(?:An|In|Auf|Unter|Hinter|Vor|Über|Bei)[ ](?i:der|den|dem))"
    rf"[ ](?:{_CAP}[\w'.-]{{0,40}}[ ]){{0,2}}{_CAP}[\w'.-]{{0,40}}[ ]{_HOUSE_DE}",
    # German type first, then an article: Platz der Republik 1, Straße des 17. Juni 135,
    # Allee der Kosmonauten 28, Weg am Hang 3
    r"(?<![\w-])(?:Platz|Straße|Strasse|Allee|Weg|Ring|Markt|Ufer|Damm|Brücke|Promenade"
    r"|Chaussee|Gasse|Pfad|Steig|Hof)[ ](?:der|des|den|dem|am|an[ ]der|an[ ]den|im|zum|zur"
    r"|vom|vor[ ]dem|hinter[ ]dem|unter[ ]den|auf[ ]der|bei[ ]der)[ ]"
    rf"(?:(?:{_CAP}[\w'.-]{{0,40}}|[0-9]{{1,2}}\.)[ ]){{0,3}}{_CAP}[\w'.-]{{0,40}}[ ]{_HOUSE_DE}",
    # Dutch article streets: De Lindeboom 105, De Zwarte Ruiter 193
    rf"(?<![\w-])(?:De|Het)[ ](?:{_CAP}[\w'.-]{{0,40}}[ ]){{0,2}}{_CAP}[a-zà-ÿ'-]{{1,40}}[ ]{_HOUSE_DE}",
    # type first: Via Franscini 54, Piazza Indipendenza 112, Avenue d'Ouchy 5, Laan van Zuid 3
    rf"(?<![\w-])(?:{_alt(TYPE_FIRST_STREET_TYPES)})[ ]"
    r"(?:(?:de|del|della|delle|dei|degli|dalla|di|da|du|des|de[ ]la|van|von)[ ]|d'|l')?"
    rf"(?:{_CAP}[\w'.-]{{0,40}}[ ]){{0,3}}{_CAP}[\w'.-]{{0,40}}[ ]{_HOUSE_DE}",
    # post boxes: Packstation 123, Postfach 1234, P.O. Box 255, Postbus 12, Boîte postale 7
    r"(?<!\w)(?i:Packstation|Postfiliale|Postfach|Postbus|Boîte[ ]postale|P\.?[ ]?O\.?[ ]?Box)"
    r"[ ]?(?:Nr\.?[ ]?)?[0-9]{2,6}(?![0-9])",
    # English: 221B Baker Street, 1600 Pennsylvania Avenue NW, 787 Randall Junction Apt. 470
    r"(?<![\w.,/-])[0-9]{1,6}[A-Za-z]?(?:-[0-9]{1,4})?[ ]"
    r"(?:(?:N|S|E|W|NE|NW|SE|SW|North|South|East|West)\.?[ ])?"
    rf"(?:(?:{_CAP}[\w'.-]{{0,40}}|[0-9]{{1,3}}(?:st|nd|rd|th))[ ]){{1,4}}"
    rf"(?i:{_alt(EN_STREET_SUFFIXES)})\.?(?!\w)"
    r"(?:[ ](?:N|S|E|W|NE|NW|SE|SW)(?!\w))?"
    r"(?:,?[ ](?:Apt\.?|Apartment|Suite|Ste\.?|Unit|\#)[ ]?[0-9A-Za-z-]+)?",
    # English flats without a house number: Flat 4, Smith Road; Studio 12\nO'Neill Isle
    r"(?<!\w)(?:Flat|Studio|Apartment|Apt\.?|Unit|Suite)[ ][0-9]{1,4}[A-Za-z]?,?\s+"
    rf"(?:{_CAP}[\w'.-]{{0,40}}[ ]){{1,4}}(?i:{_alt(EN_STREET_SUFFIXES)})\.?(?!\w)",
    # French with number: 12 rue de la Paix, 9, chemin de Marchand, 3 bis avenue Foch,
    # 34 Place Charles de Gaulle, 40 rue des six frères Ruellan
    r"(?<![\w.,/-])[0-9]{1,4}(?:[ ]?(?:bis|ter|quater|[A-Za-z](?!\w)))?,?[ ]"
    rf"(?:(?i:{_alt(FR_STREET_TYPES)})|{_alt(FR_STREET_TYPES_AMBIGUOUS)}"
    rf"|{_alt([t.capitalize() for t in FR_STREET_TYPES_AMBIGUOUS])})[ ]"
    rf"(?:(?:de[ ]la|de[ ]l'|du|des|de|d'|la|le|les|l')[ ]?)?(?:[a-zà-ÿ][\w'-]{{0,20}}[ ]){{0,2}}"
    rf"{_CAP}[\w'-]{{0,40}}(?:[ ](?:(?:de|du|des|la|le|d')[ ]?)?{_CAP}[\w'-]{{0,40}}){{0,3}}",
    # French street without number: rue de la Paix, boulevard Suzanne Maillet
    rf"(?<![\w-])(?:[Rr]ue|[Bb]oulevard|[Cc]hemin|[Ii]mpasse|[Aa]llée|[Qq]uai|avenue)[ ]"
    rf"(?:(?:de[ ]la|de[ ]l'|du|des|de|d'|la|le|les|l')[ ]?)?{_CAP}[\w'-]{{0,40}}(?:[ ]{_CAP}[\w'-]{{0,40}}){{0,3}}",
)
ADDRESS = _whole("|".join(f"(?:{form})" for form in _STREET_FORMS))
# The RE2 hint is the street vocabulary alone (the full pattern is too large for RE2's DFA):
# a street type, a post-box word, or a German preposition before a capitalised word.
ADDRESS_HINT = (
    rf"(?i:{_alt(DE_STREET_SUFFIXES + DE_STREET_SUFFIXES_STRONG + NL_STREET_SUFFIXES)})"
    r"|(?i:packstation|postfiliale|postfach|postbus|boîte postale|p\.? ?o\.? ?box)"
    rf"|(?i: (?:{_alt(EN_STREET_SUFFIXES)})\b)"
    rf"|(?i:\b(?:{_alt(FR_STREET_TYPES + FR_STREET_TYPES_AMBIGUOUS)}) )"
    r"|(?:Am|Im|Zum|Zur|Beim|An|In|Auf|Unter|Hinter|Vor|Über|Bei|Alt|Alte|Alter|Altes"
    r"|Obere|Untere|Oberer|Unterer|De|Het) "
    rf"|(?:{_alt(TYPE_FIRST_STREET_TYPES)}) "
)


# --- dates (day precision) ------------------------------------------------------------------
_YEAR = r"(?:19[0-9]{2}|20[0-9]{2}|18[0-9]{2})"
_MONTH = _alt(list(MONTHS))
_DAY2 = r"(?:0[1-9]|[12][0-9]|3[01])"
_MON2 = r"(?:0[1-9]|1[0-2])"
# a time of day after the date makes it a timestamp, not a birthday:
# "2024-03-01 14:00", "…T14:00", "12.03.2024, 14:23", "Tue, 12 Mar 2024 14:23:11 GMT"
_NO_TIME = r"(?![ T]?,?[ ]?(?:um[ ]|at[ ]|à[ ])?[0-9]{1,2}[:h][0-9]{2})"
DATE = _whole(
    r"(?<![0-9./-])(?:"
    rf"{_YEAR}(?P<s1>[-/.])[0-9]{{1,2}}(?P=s1)[0-9]{{1,2}}"  # 1987-03-14
    rf"|[0-9]{{1,2}}(?P<s2>[-/.])[0-9]{{1,2}}(?P=s2){_YEAR}"  # 14.03.1987, 03/14/1987
    rf"|{_DAY2}(?P<s3>[./])[0-9]{{2}}(?P=s3)[0-9]{{2}}"  # 14.03.87, 03/14/87
    rf"|{_DAY2}{_MON2}(?:19|20)[0-9]{{2}}"  # 14031987
    rf")(?![0-9]|[./-][0-9]){_NO_TIME}"
    rf"|(?<!\w)[0-9]{{1,2}}(?:er|st|nd|rd|th|\.)?[ ](?i:{_MONTH})\.?,?[ ]{_YEAR}(?![0-9]){_NO_TIME}"
    rf"|(?<!\w)(?i:{_MONTH})\.?[ ][0-9]{{1,2}}(?:st|nd|rd|th)?,?[ ]{_YEAR}(?![0-9]){_NO_TIME}"
)
DATE_HINT = r"[0-9]{2}"


# --- precise coordinates --------------------------------------------------------------------
@lru_cache(maxsize=16)
def coordinates(max_decimals: int) -> re.Pattern[str]:
    """A position finer than ``max_decimals`` decimals of a degree, in the forms people write.

    - decimal degrees: ``52.520008``, ``-13.4049`` (alone or in pairs);
    - decimal comma, as a pair: ``52,5200 13,4050``, ``52,52001;13,40495``;
    - degrees, minutes, seconds: ``52°31'12"N 13°24'18"E`` (a whole second is ~30 m, finer
      than 3 decimals, so DMS with seconds counts while ``max_decimals`` is below 4; decimal
      seconds always count).
    - degrees and decimal minutes: ``N 52° 31.2' E 13° 24.3'`` (see ``dm_minutes``).
    """
    fine = max_decimals + 1
    dms_seconds = r"[0-9]{1,2}(?:[.,][0-9]+)?" if max_decimals < 4 else r"[0-9]{1,2}[.,][0-9]+"
    # degrees and decimal minutes, as GPS receivers and geocaching print them: a tenth of a
    # minute is ~185 m, within a factor of two of the 3-decimal floor (~110 m), and a pair
    # written with hemispheres is a position someone took; each further decimal is ten times
    # finer, so the minutes need max_decimals - 2 decimals (at least one)
    dm_minutes = rf"[0-9]{{1,2}}[.,][0-9]{{{max(1, max_decimals - 2)},}}"
    return _whole(
        rf"(?<![A-Za-z0-9.,])-?[0-9]{{1,3}}\.[0-9]{{{fine},}}(?![0-9]|\.[0-9])"
        rf"|(?<![A-Za-z0-9.,])-?[0-9]{{1,2}},[0-9]{{{fine},}}(?:[ ]*[;/][ ]*|[ ]+)"
        rf"-?[0-9]{{1,3}},[0-9]{{{fine},}}(?![0-9]|,[0-9])"
        rf"|(?<![0-9])[0-9]{{1,3}}[ ]?°[ ]?[0-9]{{1,2}}[ ]?'[ ]?{dms_seconds}[ ]?(?:\"|'')"
        r"(?:[ ]?[NSEWO](?![A-Za-z]))?"
        rf"|(?<![A-Za-z0-9])(?:[NSEWO][ ]?)?(?<![0-9])[0-9]{{1,3}}[ ]?°[ ]?{dm_minutes}[ ]?'"
        r"(?![ ]?[0-9])(?:[ ]?[NSEWO](?![A-Za-z]))?"
    )


def coordinates_hint(max_decimals: int) -> str:
    return rf"[0-9][.,][0-9]{{{max_decimals + 1}}}|°"
