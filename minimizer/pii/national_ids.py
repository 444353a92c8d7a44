"""National identity, social-security and tax numbers, and VAT ids, of the home countries.

Each form is a candidate pattern plus a checksum validator, run once per distinct candidate:

====================  =====================================  ===============================
form                  written as                             validator
====================  =====================================  ===============================
DE Steuer-ID          ``12 345 678 901``, ``12345678901``    ``stdnum.de.idnr``
DE Rentenvers.-Nr.    ``12 120385 M 123``                    own: weights 2121 5712 1212
DE Personalausweis    ``L01X00T471``, ``T220001293``         own: ICAO 9303 7-3-1
DE Steuernummer       ``21/815/08150``, ``St.-Nr. 2181508150``  ``stdnum.de.stnr`` (format)
DE KVNR               ``KVNR A123456780`` (labelled)         own: letter + 9 digits, mod 10
DE Führerschein       ``Führerschein B072RRE2I55`` (label)   own: 9-8-…-1 mod 11 (X = 10)
DE Kfz-Kennzeichen    ``B-MW 1234``                          own: district code list
AT SV-Nummer          ``1237 010180``                        ``stdnum.at.vnr`` + birth date
CH AHV-Nummer         ``756.1234.5678.97``                   ``stdnum.ch.ssn``
FR NIR                ``2 95 10 99 126 111 93``              ``stdnum.fr.nir``
NL BSN                ``111222333``, ``1112.22.333``         ``stdnum.nl.bsn``
GB NINO               ``AB 12 34 56 C``                      own: HMRC prefix/suffix rules
US SSN                ``536-90-4399``                        ``stdnum.us.ssn``
====================  =====================================  ===============================

``python-stdnum`` has no Rentenversicherungsnummer, Personalausweis, NINO, KVNR or
Führerschein module, so those are implemented here from their published rules.

A KVNR (a letter and nine digits) and a Führerschein number (eleven capitals and digits) have
the shape of many order and article numbers, and one in ten such numbers passes their check
digit: they count only behind a label ("KVNR", "Führerschein", ...). A Steuernummer is taken
unlabelled in its slash form (``21/815/08150``), which dates and paths do not have.

VAT ids of DE, AT, CH, FR, NL and GB are accepted on their country format (``DE123456789``,
``ATU12345678``, ``CHE-123.456.789 MWST``, ``FR12 345678901``, ``NL123456789B01``,
``GB123 4567 89``): a country prefix and that many digits is nothing else, and a mistyped
check digit is still someone's number. Other EU VAT ids are looser in shape and must pass
``stdnum.eu.vat``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

import numpy as np
import pandas as pd
from stdnum.at import vnr
from stdnum.ch import ssn as ahv
from stdnum.de import idnr, stnr
from stdnum.eu import vat as eu_vat
from stdnum.fr import nir
from stdnum.nl import bsn
from stdnum.us import ssn

from minimizer.pii.hints import re2_hint
from minimizer.pii.kfz import PLATE, plate_valid
from minimizer.pii.registry import PatternDetector, accept_all
from minimizer.pii.text import Mask

__all__ = [
    "NATIONAL_ID_FORMS",
    "VAT_FORMS",
    "ausweis_valid",
    "fuehrerschein_valid",
    "kvnr_valid",
    "nino_valid",
    "rvnr_valid",
    "svnr_valid",
]

# not glued to a word, a number or a decimal; nothing id-like may follow
_BEFORE = r"(?<![\w.,/+-])"
_AFTER = r"(?![\w]|[.,/-][0-9A-Za-z])"
_S = r"[ ./-]?"  # one optional separator


def _form(
    name: str, body: str, hint: str | None, validate: Callable[[pd.Series], Mask]
) -> PatternDetector:
    """A form whose RE2 hint is its own pattern's RE2 form, unless it is given one."""
    pattern = re.compile(f"({_BEFORE}(?:{body}){_AFTER})")
    return PatternDetector(
        name, "[ID]", pattern, re2_hint(pattern) if hint is None else hint, validate
    )


def _compact(span: str) -> str:
    return re.sub(r"[ ./-]", "", span).upper()


def _by_distinct(check: Callable[[str], bool]) -> Callable[[pd.Series], Mask]:
    """A validator that calls ``check`` once per distinct candidate span."""

    def validate(spans: pd.Series) -> Mask:
        if spans.empty:
            return np.zeros(0, dtype=bool)
        codes, uniques = pd.factorize(spans)
        verdict = np.fromiter((check(s) for s in uniques), dtype=bool, count=len(uniques))
        return np.asarray(verdict[codes], dtype=bool)

    return validate


def _stdnum(module: object) -> Callable[[pd.Series], Mask]:
    # every stdnum format module has is_valid(); stdnum ships no stubs for the modules.
    is_valid = module.is_valid  # type: ignore[attr-defined]
    return _by_distinct(lambda span: bool(is_valid(_compact(span))))


# --- own implementations --------------------------------------------------------------------
_RVNR_WEIGHTS = (2, 1, 2, 5, 7, 1, 2, 1, 2, 1, 2, 1)


def rvnr_valid(span: str) -> bool:
    """German Rentenversicherungsnummer: area, DDMMYY, initial, serial, check digit.

    The initial becomes its two-digit alphabet position; the 12 digits are weighted
    2,1,2,5,7,1,2,1,2,1,2,1, the digit sums of the products added, and the sum mod 10 is the
    check digit. Day 1-31 (+50 when the serial ran out: 51-81), month 1-12.
    """
    number = _compact(span)
    if not re.fullmatch(r"[0-9]{8}[A-Z][0-9]{3}", number):
        return False
    day, month = int(number[2:4]), int(number[4:6])
    if not (1 <= day % 50 <= 31 and day < 82 and 1 <= month <= 12):
        return False
    digits = number[:8] + f"{ord(number[8]) - ord('A') + 1:02d}" + number[9:11]
    total = sum(sum(divmod(int(d) * w, 10)) for d, w in zip(digits, _RVNR_WEIGHTS, strict=True))
    return total % 10 == int(number[11])


_ICAO_WEIGHTS = (7, 3, 1)


def _icao_value(char: str) -> int:
    return int(char) if char.isdigit() else ord(char) - ord("A") + 10


def ausweis_valid(span: str) -> bool:
    """German identity card / passport serial (9 characters) and its ICAO 9303 check digit."""
    number = _compact(span)
    if len(number) != 10 or not number[-1].isdigit() or not number[0].isalpha():
        return False
    total = sum(_icao_value(c) * _ICAO_WEIGHTS[i % 3] for i, c in enumerate(number[:9]))
    return total % 10 == int(number[9])


_NINO_BAD_PREFIXES = frozenset({"BG", "GB", "KN", "NK", "NT", "TN"})


def nino_valid(span: str) -> bool:
    """UK National Insurance number: HMRC's letters for the prefix, A-D (or none) as suffix.

    Written compactly (``AB123456C``) the HMRC prefix rules apply and a suffix letter is
    needed. Written in the spaced form
    people and forms use (``AB 12 34 56 C``, ``ZZ 579032 T``) the shape alone is distinctive,
    and placeholder prefixes and suffixes are accepted too: they stand for a person's number.
    """
    compact = _compact(span)
    prefix, suffix = compact[:2], compact[8:]
    if prefix in _NINO_BAD_PREFIXES:
        return False
    if " " in span:
        return True
    # written compactly it needs HMRC's prefix letters and a suffix letter; "ZZ" (the
    # placeholder prefix) and suffixes beyond A-D stand in payroll files for a person's number
    return prefix[0] not in "DFIQUV" and prefix[1] not in "DFIOQUV" and len(suffix) == 1


def svnr_valid(span: str) -> bool:
    """Austrian SV-Nummer: stdnum's check digit, and a birth date DDMMYY that is a real day.

    The check digit alone passes one ten-digit number in eleven, and epoch seconds
    (``1709301234``) are ten-digit numbers: with the date part a calendar day (day 1-31 of
    its month, month 1-12) about one epoch second in 300 remains, not one in 11.
    """
    number = _compact(span)
    if not vnr.is_valid(number):
        return False
    day, month, year = int(number[4:6]), int(number[6:8]), int(number[8:10])
    if not 1 <= month <= 12:
        return False
    leap = year % 4 == 0  # "00" is 2000, a leap year; 1900 is nobody's birth year any more
    return 1 <= day <= (31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[month - 1]


def kvnr_valid(span: str) -> bool:
    """Krankenversichertennummer: a letter (A=01 … Z=26) and nine digits, the last a check digit.

    The letter's two digits and the next eight are weighted 1,2,1,2,…; the digit sums of the
    products are added, and the sum mod 10 is the check digit (GKV-Spitzenverband, §290 SGB V).
    """
    number = _compact(span)[-10:]
    if not re.fullmatch(r"[A-Z][0-9]{9}", number):
        return False
    digits = f"{ord(number[0]) - ord('A') + 1:02d}" + number[1:9]
    total = sum(sum(divmod(int(d) * (1 + i % 2), 10)) for i, d in enumerate(digits))
    return total % 10 == int(number[9])


def fuehrerschein_valid(span: str) -> bool:
    """German driving licence number: authority (4), serial (5), check character, issue (1).

    Digits count as their value, letters A=10 … Z=35; the first nine are weighted 9 … 1 and
    the sum mod 11 is the check character (10 is written X).
    """
    number = _compact(span)[-11:]
    if not re.fullmatch(r"[A-Z0-9]{9}[0-9X][0-9]", number):
        return False
    total = sum(_icao_value(c) * (9 - i) for i, c in enumerate(number[:9]))
    check = total % 11
    return number[9] == ("X" if check == 10 else str(check))


def _slashed_stnr(span: str) -> bool:
    return bool(stnr.is_valid(span.replace("/", "")))


def _labelled_stnr(span: str) -> bool:
    digits = re.sub(r"[^0-9]", "", span)
    return len(digits) in (10, 11, 13) and bool(stnr.is_valid(digits))


def _us_ssn(span: str) -> bool:
    return bool(ssn.is_valid(_compact(span)))


# --- national ids ---------------------------------------------------------------------------
def _labels(*words: str) -> str:
    """Literal labels as written, in lower case, in capitals and capitalised.

    Spelt out rather than ``(?i:…)``: the labelled forms' hints are these labels, and RE2
    runs a literal alternation at next to no cost, a case-insensitive one (with "ü") at many
    times that.
    """
    variants = {v for w in words for v in (w, w.lower(), w.upper(), w[0].upper() + w[1:])}
    return "(?:" + "|".join(re.escape(v) for v in sorted(variants, key=len, reverse=True)) + ")"


_STNR_LABEL = _labels(
    "St.-Nr",
    "St.Nr",
    "St-Nr",
    "StNr",
    "St. Nr",
    "St.- Nr",
    "Steuernummer",
    "Steuer-Nr",
    "Steuer-Nummer",
    "Steuernr",
)
_KVNR_LABEL = _labels(
    "KVNR",
    "KV-Nr",
    "KVNr",
    "KV-Nummer",
    "Krankenversichertennummer",
    "Krankenversicherungsnummer",
    "Versichertennummer",
    "Versicherten-Nr",
    "Versichertennr",
    "Vers.-Nr",
    "Vers.Nr",
    "eGK-Nr",
    "eGK",
)
_FS_LABEL = _labels(
    "Führerschein",
    "Führerscheinnummer",
    "Führerschein-Nr",
    "Führerscheinnr",
    "Führerschein-Nummer",
    "Fuehrerschein",
    "Fuehrerscheinnummer",
    "Fuehrerschein-Nr",
    "FS-Nr",
    "FSNr",
    "Fahrerlaubnis",
    "Fahrerlaubnisnummer",
    "driving licence",
    "driving license",
    "driving licence no",
    "driving license no",
    "driving licence number",
    "driving license number",
)
_KFZ_LABEL = _labels(
    "Kfz-Kennzeichen",
    "Kfz-Kz",
    "Kfz-Kennz",
    "amtl. Kennzeichen",
    "amtliches Kennzeichen",
    "Kennzeichen",
    "Kennz",
    "Nummernschild",
    "Kfz",
    "license plate",
    "licence plate",
    "number plate",
)
# the slash form's hint: a digit pair, a slash and three digits (every slash form has them)
NATIONAL_ID_FORMS: tuple[PatternDetector, ...] = (
    _form("de_rvnr", r"[0-9]{2}[ ]?[0-9]{6}[ ]?[A-Z][ ]?[0-9]{2}[ ]?[0-9]",
          None, _by_distinct(rvnr_valid)),
    _form("ch_ahv", rf"756{_S}[0-9]{{4}}{_S}[0-9]{{4}}{_S}[0-9]{{2}}", None, _stdnum(ahv)),
    _form("fr_nir",
          r"[12378][ ]?[0-9]{2}[ ]?[0-9]{2}[ ]?(?:[0-9]{2}|2[AB])[ ]?[0-9]{3}[ ]?[0-9]{3}"
          r"[ ]?[0-9]{2}", None, _stdnum(nir)),
    _form("de_idnr", rf"[1-9][0-9](?:{_S}[0-9]){{9}}", None, _stdnum(idnr)),
    _form("at_svnr", rf"[1-9][0-9]{{3}}{_S}[0-9]{{2}}[ .]?[0-9]{{2}}[ .]?[0-9]{{2}}",
          None, _by_distinct(svnr_valid)),
    # Steuernummer in the regional slash forms: 21/815/08150, 181/815/08155, 133/8150/8159,
    # 93815/08152; or any of its forms behind a label (013 815 08153, 2181508150, 13 digits)
    _form("de_stnr_slash", r"[0-9]{2,3}/[0-9]{3,4}/[0-9]{4,5}|[0-9]{5}/[0-9]{5}",
          r"[0-9]{2}/[0-9]{3}", _by_distinct(_slashed_stnr)),
    _form("de_stnr_label",
          rf"{_STNR_LABEL}\.?:?[ ]?[0-9][0-9 /]{{8,16}}[0-9]", _STNR_LABEL,
          _by_distinct(_labelled_stnr)),
    _form("de_kvnr",
          rf"{_KVNR_LABEL}\.?:?[ ]?[A-Za-z][ ]?[0-9]{{9}}", _KVNR_LABEL,
          _by_distinct(kvnr_valid)),
    _form("de_fuehrerschein",
          rf"{_FS_LABEL}\.?:?[ ]?[A-Z0-9]{{9}}[0-9X][0-9]", _FS_LABEL,
          _by_distinct(fuehrerschein_valid)),
    _form("de_kfz", PLATE.replace("[ -]", "-", 1), r"[A-ZÄÖÜ]-[A-Z]", _by_distinct(plate_valid)),
    _form("de_kfz_label",
          rf"{_KFZ_LABEL}\.?:?[ ]?{PLATE}", _KFZ_LABEL, accept_all),
    _form("us_ssn", r"[0-9]{3}(?P<s>[- ])[0-9]{2}(?P=s)[0-9]{4}", r"[0-9]{3}[- ][0-9]{2}[- ]",
          _by_distinct(_us_ssn)),
    _form("nl_bsn", r"[0-9]{9}|[0-9]{4}\.[0-9]{2}\.[0-9]{3}", None, _stdnum(bsn)),
    _form("gb_nino", r"[A-Z]{2}[ ]?[0-9]{2}[ ]?[0-9]{2}[ ]?[0-9]{2}(?:[ ]?[A-Z])?",
          None, _by_distinct(nino_valid)),
    _form("de_ausweis", r"[CFGHJKLMNPRTVWXYZ][CFGHJKLMNPRTVWXYZ0-9]{8}[0-9]",
          None, _by_distinct(ausweis_valid)),
)  # fmt: skip


# --- VAT ids --------------------------------------------------------------------------------
@lru_cache(maxsize=65536)
def _eu_vat(span: str) -> bool:
    try:
        return bool(eu_vat.is_valid(_compact(span)))
    except Exception:
        return False


_OTHER_EU = "BE|BG|CY|CZ|DK|EE|EL|ES|FI|HR|HU|IE|IT|LT|LU|LV|MT|PL|PT|RO|SE|SI|SK"
VAT_FORMS: tuple[PatternDetector, ...] = (
    _form("vat_home",
          r"DE[ ]?[0-9]{9}|ATU[ ]?[0-9]{8}"
          r"|CHE[ .-]?[0-9]{3}[ .]?[0-9]{3}[ .]?[0-9]{3}(?:[ ]?(?:MWST|TVA|IVA))?"
          r"|FR[ ]?[0-9A-Za-z]{2}[ ]?[0-9]{9}|NL[ ]?[0-9]{9}[ ]?B[ ]?[0-9]{2}"
          r"|GB[ ]?(?:[0-9]{3}[ ]?[0-9]{4}[ ]?[0-9]{2}(?:[ ]?[0-9]{3})?|GD[0-9]{3}|HA[0-9]{3})",
          None, accept_all),
    _form("vat_eu", rf"(?:{_OTHER_EU})[ ]?[0-9A-Z]{{8,12}}", None, _by_distinct(_eu_vat)),
)  # fmt: skip
