"""Held-out probes of the red team: realistic DE/EU/US forms and tricks beyond issue 9's list.

Each probe is (id, kind, planted text, core): the core is the personal value inside the text;
it (and its normalised forms) must never reach any artefact. All values are fake.
"""

from __future__ import annotations

import base64
import hashlib
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Probe:
    id: str
    kind: str
    text: str
    core: str


def _p(id_: str, kind: str, text: str, core: str | None = None) -> Probe:
    return Probe(id_, kind, text, core if core is not None else text)


PROBES: list[Probe] = [
    # phones
    _p("phone_de_intl_0", "phone", "Tel +49 (0)30 1234567 abends", "+49 (0)30 1234567"),
    _p("phone_de_0049", "phone", "Rückruf 0049 30 1234567", "0049 30 1234567"),
    _p("phone_de_slash", "phone", "erreichbar 030/1234567", "030/1234567"),
    _p("phone_de_paren", "phone", "Tel. (030) 123 45 67", "(030) 123 45 67"),
    _p("phone_fr", "phone", "mobile +33 6 12 34 56 78", "+33 6 12 34 56 78"),
    _p("phone_nl", "phone", "bel +31 6 12345678", "+31 6 12345678"),
    _p("phone_uk", "phone", "call 07700 900123 today", "07700 900123"),
    _p("phone_de_ext", "phone", "Durchwahl 030 123456-78", "030 123456-78"),
    _p("phone_de_mobile_plain", "phone", "Handy 01761234567", "01761234567"),
    _p("phone_ch", "phone", "Tel. +41 44 668 18 00", "+41 44 668 18 00"),
    _p("phone_at_mobile", "phone", "Handy 0664 1234567", "0664 1234567"),
    _p("phone_us", "phone", "call (212) 555-0147", "(212) 555-0147"),
    _p("phone_shy", "phone", "Tel 030\u00ad1234\u00ad5678", "03012345678"),
    # IBAN / BIC
    _p("iban_at_lower", "iban", "at61 1904 3002 3457 3201"),
    _p("iban_ch_lower", "iban", "ch93 0076 2011 6238 5295 7"),
    _p("iban_fr", "iban", "FR14 2004 1010 0505 0001 3M02 606"),
    _p("iban_nl_lower", "iban", "nl91abna0417164300"),
    _p("iban_gb", "iban", "GB29 NWBK 6016 1331 9268 19"),
    _p("iban_glued_label", "iban", "IBAN:DE89370400440532013000", "DE89370400440532013000"),
    _p(
        "iban_split_two",
        "iban",
        "Konto DE89 3704 0044 / 0532 0130 00 bitte",
        "DE89 3704 0044 / 0532 0130 00",
    ),
    _p("iban_letter_o", "iban", "DE89 37O4 OO44 O532 O13O OO"),
    _p("bic_commerz", "bic", "BIC COBADEFFXXX", "COBADEFFXXX"),
    _p("bic_lower", "bic", "bic: cobadeffxxx", "cobadeffxxx"),
    # national ids
    _p("steuer_id_spaces", "national_id", "Steuer-ID 65 929 970 489", "65 929 970 489"),
    _p("rvnr", "national_id", "RV-Nr. 65 170839 J 003", "65 170839 J 003"),
    _p("perso", "national_id", "Ausweis T220001293", "T220001293"),
    _p("reisepass", "national_id", "Reisepass C01X00T478", "C01X00T478"),
    _p("fuehrerschein", "national_id", "Führerschein B072RRE2I55", "B072RRE2I55"),
    _p("ahv", "national_id", "AHV 756.1234.5678.97", "756.1234.5678.97"),
    _p("nir_spaces", "national_id", "NIR 1 85 05 78 006 084 91", "1 85 05 78 006 084 91"),
    _p("bsn", "national_id", "BSN 111222333", "111222333"),
    _p("nino", "national_id", "NI QQ 12 34 56 C", "QQ 12 34 56 C"),
    _p("ssn", "national_id", "SSN 123-45-6789", "123-45-6789"),
    # e-mails
    _p("email_sentence_end", "email", "Schreiben Sie an max@mustermann.de.", "max@mustermann.de"),
    _p("email_upper", "email", "MAX@WEB.DE"),
    _p("email_plus_tag", "email", "max+shop@web.de"),
    _p("email_idn", "email", "müller@bücher.de"),
    _p("email_at_dot_paren", "email", "max(at)web(dot)de"),
    _p("email_at_dot_words", "email", "max at web dot de"),
    _p("email_spaced", "email", "m a x @ w e b . d e"),
    _p("email_base64", "email", "bWF4QHdlYi5kZQ==", "bWF4QHdlYi5kZQ=="),
    _p("email_html_entity", "email", "max&#64;web.de"),
    _p("email_commat", "email", "max&commat;web.de"),
    _p("email_cyrillic_a", "email", "m\u0430x@web.de"),
    _p("email_rtl_mark", "email", "max\u200f@web.de"),
    _p("email_shy", "email", "max\u00ad@web\u00ad.de"),
    _p("email_url_double", "email", "max%2540web.de"),
    # addresses
    _p("addr_strasse_12a", "street_address", "Lieferung Hauptstraße 12a", "Hauptstraße 12a"),
    _p("addr_str_glued", "street_address", "wohnt Hauptstr.12", "Hauptstr.12"),
    _p("addr_allee", "street_address", "Karl-Marx-Allee 5"),
    _p("addr_unter_den_linden", "street_address", "Unter den Linden 1"),
    _p("addr_am_ring", "street_address", "Am Ring 3"),
    _p("addr_platz", "street_address", "Platz der Republik 1"),
    _p("addr_co", "street_address", "c/o Meier, Gartenweg 7", "Gartenweg 7"),
    _p("addr_postfach", "street_address", "Postfach 10 20 30"),
    _p("addr_fr_bis", "street_address", "3 bis rue de la Paix"),
    _p("addr_fr_avenue", "street_address", "12 avenue des Champs-Élysées"),
    _p("addr_fr_bd", "street_address", "45 boulevard Haussmann"),
    _p("addr_nl", "street_address", "Kerkstraat 12"),
    _p("addr_uk_postcode", "street_address", "London SW1A 1AA", "SW1A 1AA"),
    _p("addr_plz_city", "street_address", "10117 Berlin"),
    # birth dates
    _p("dob_geb_short", "birth_date", "geb. 12.3.1985", "12.3.1985"),
    _p("dob_star", "birth_date", "*12.03.1985", "12.03.1985"),
    _p("dob_de_month", "birth_date", "geboren 12. März 1985", "12. März 1985"),
    _p("dob_en_month", "birth_date", "born March 12, 1985", "March 12, 1985"),
    _p("dob_slash_iso", "birth_date", "DOB 1985/03/12", "1985/03/12"),
    # network / device
    _p("ipv4_leading_zero", "ipv4", "IP 192.168.001.001", "192.168.001.001"),
    _p("ipv6_compressed", "ipv6", "from fe80::1ff:fe23:4567:890a", "fe80::1ff:fe23:4567:890a"),
    _p("ipv6_mapped", "ipv6", "from ::ffff:1.2.3.4", "::ffff:1.2.3.4"),
    _p("mac_dash", "mac_address", "MAC 00-1A-2B-3C-4D-5E", "00-1A-2B-3C-4D-5E"),
    _p("mac_cisco", "mac_address", "MAC 001a.2b3c.4d5e", "001a.2b3c.4d5e"),
    _p("idfa_upper", "device_id", "6D92078A-8246-4BA4-AE5B-76104861E7DC"),
    _p("gaid_lower", "device_id", "38400000-8cf0-11bd-b23e-10b96e40000d"),
    # cards
    _p("card_dashes", "card", "Karte 4111-1111-1111-1111", "4111-1111-1111-1111"),
    _p("card_dots", "card", "Karte 4111.1111.1111.1111", "4111.1111.1111.1111"),
    _p("card_mc_spaces", "card", "MC 5500 0000 0000 0004", "5500 0000 0000 0004"),
    _p("card_amex", "card", "Amex 3782 822463 10005", "3782 822463 10005"),
    # coordinates
    _p("geo_decimal", "precise_coordinates", "52.520008, 13.404954"),
    _p("geo_dm", "precise_coordinates", "N 52° 31.2' E 13° 24.3'"),
    _p("geo_dms", "precise_coordinates", "52°31'12.0\"N 13°24'17.8\"E"),
    # tricks
    _p(
        "json_blob",
        "email",
        '{"contact": {"mail": "max@web.de", "tel": "+4930123456"}}',
        "max@web.de",
    ),
    _p("url_encoded_email", "email", "mailto%3Amax%40web.de", "max@web.de"),
    # more everyday German forms
    _p("phone_de_din_spaced", "phone", "Tel.: 0 30 / 12 34 56 78", "0 30 / 12 34 56 78"),
    _p("email_spaces_around_at", "email", "Mail: max @ web.de", "max @ web.de"),
    _p("steuernummer", "national_id", "St.-Nr. 21/815/08150", "21/815/08150"),
    _p("kfz_kennzeichen", "national_id", "Kennzeichen B-MW 1234", "B-MW 1234"),
    _p("kvnr", "national_id", "KVNR A123456780", "A123456780"),
]


# -- the row's own subject, written another way (built per row from the CRM) ----------------
HOMOGLYPHS = str.maketrans({"a": "\u0430", "e": "\u0435", "o": "\u043e", "i": "\u0456"})
TRANSLIT = str.maketrans({"ä": "a", "ö": "o", "ü": "u", "ß": "s", "é": "e", "è": "e", "ç": "c"})


@dataclass(frozen=True)
class RowProbe:
    id: str
    kind: str
    make: Callable[[pd.DataFrame], pd.Series]
    core: Callable[[pd.DataFrame], pd.Series]


def _last(f: pd.DataFrame) -> pd.Series:
    return f["last_name"]


def _r(
    id_: str,
    make: Callable[[pd.DataFrame], pd.Series],
    core: Callable[[pd.DataFrame], pd.Series] = _last,
    kind: str = "own_name",
) -> RowProbe:
    return RowProbe(id_, kind, make, core)


ROW_PROBES: list[RowProbe] = [
    _r("name_title_dr", lambda f: "Termin mit Dr. " + f["last_name"] + " vereinbart"),
    _r("name_title_frau", lambda f: "Frau " + f["last_name"] + " ruft zurück"),
    _r(
        "name_upper",
        lambda f: "KUNDE " + f["last_name"].str.upper(),
        lambda f: f["last_name"].str.upper(),
    ),
    _r("name_initial", lambda f: "Brief an " + f["first_name"].str[0] + ". " + f["last_name"]),
    _r("name_reversed", lambda f: f["last_name"] + ", " + f["first_name"] + " (Stammkunde)"),
    _r(
        "name_apostrophe",
        lambda f: f["last_name"] + "'s Paket kam beschädigt an",
    ),
    _r(
        "name_spaced",
        lambda f: "Name: " + f["last_name"].map(" ".join),
        lambda f: f["last_name"].map(" ".join),
    ),
    _r(
        "name_soft_hyphen",
        lambda f: "Paket für " + f["last_name"].map(lambda s: s[:2] + "\u00ad" + s[2:]),
        lambda f: f["last_name"].map(lambda s: s[:2] + "\u00ad" + s[2:]),
    ),
    _r(
        "name_rtl_mark",
        lambda f: "Paket für " + f["last_name"].map(lambda s: s[:2] + "\u200f" + s[2:]),
        lambda f: f["last_name"].map(lambda s: s[:2] + "\u200f" + s[2:]),
    ),
    _r(
        "name_homoglyph",
        lambda f: "Paket für " + f["last_name"].str.translate(HOMOGLYPHS),
        lambda f: f["last_name"].str.translate(HOMOGLYPHS),
    ),
    _r(
        "name_html_entity",
        lambda f: (
            "Paket f&uuml;r " + f["first_name"] + " " + f["last_name"].str.replace("a", "&#97;")
        ),
        lambda f: f["last_name"].str.replace("a", "&#97;"),
    ),
    _r(
        "name_translit_plain",
        lambda f: "Paket für " + f["last_name"].str.lower().str.translate(TRANSLIT),
        lambda f: f["last_name"].str.lower().str.translate(TRANSLIT),
    ),
    _r(
        "name_full_lower_glued",
        lambda f: "kunde:" + (f["first_name"] + f["last_name"]).str.lower(),
        lambda f: (f["first_name"] + f["last_name"]).str.lower(),
    ),
    _r(
        "email_of_row_base64",
        lambda f: "ref " + f["email"].map(lambda s: base64.b64encode(s.encode()).decode()),
        lambda f: f["email"].map(lambda s: base64.b64encode(s.encode()).decode()),
        kind="email",
    ),
    _r(
        "email_of_row_urlenc",
        lambda f: "ref " + f["email"].map(urllib.parse.quote),
        lambda f: f["email"].map(urllib.parse.quote),
        kind="email",
    ),
    _r(
        "email_of_row_html",
        lambda f: "an " + f["email"].str.replace("@", "&#64;"),
        lambda f: f["email"].str.replace("@", "&#64;"),
        kind="email",
    ),
    _r(
        "email_of_row_sha256",
        lambda f: f["email"].map(lambda s: hashlib.sha256(s.strip().lower().encode()).hexdigest()),
        lambda f: f["email"].map(lambda s: hashlib.sha256(s.strip().lower().encode()).hexdigest()),
        kind="hashed_email",
    ),
    _r("id_in_channel", lambda f: f["customer_id"], lambda f: f["customer_id"], kind="raw_id"),
    _r(
        "id_lower",
        lambda f: "kd " + f["customer_id"].str.lower(),
        lambda f: f["customer_id"].str.lower(),
        kind="raw_id",
    ),
    _r(
        "id_dashed",
        lambda f: "Kd-Nr. " + f["customer_id"].str[:4] + "-" + f["customer_id"].str[4:],
        lambda f: f["customer_id"].str[:4] + "-" + f["customer_id"].str[4:],
        kind="raw_id",
    ),
    _r(
        "phone_of_row_digits",
        lambda f: "tel " + f["phone"].fillna("").str.replace(r"\D", "", regex=True),
        lambda f: f["phone"].fillna("").str.replace(r"\D", "", regex=True),
        kind="raw_phone",
    ),
    _r(
        "street_of_row",
        lambda f: "Lieferadresse " + f["street_address"].fillna(""),
        lambda f: f["street_address"].fillna(""),
        kind="raw_address",
    ),
    _r(
        "iban_of_row_lower_spaced",
        lambda f: (
            f["iban"]
            .fillna("")
            .str.lower()
            .map(lambda s: " ".join(s[i : i + 4] for i in range(0, len(s), 4)))
        ),
        lambda f: f["iban"].fillna("").str.lower(),
        kind="iban",
    ),
]
