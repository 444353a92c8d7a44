"""Data categories of source columns, and how much of a column each action publishes.

Every source column gets one :class:`Category`. It comes from three places, and the strictest
word wins (a policy can make a column stricter, never looser; to publish anyway it states an
exception with a reason, see docs/policy.md):

- the policy: a source's ``categories: {notes: free_text}``, and its roles (``key`` is a direct
  identifier, ``time`` is time);
- the column name, through a dictionary in English and German (:data:`NAMES`);
- a content profile (``minimizer scan``): the PII detectors over a bounded sample, and the
  number of distinct values.

>>> by_name("Vorname").category.value, by_name("home_lat").category.value
('direct_identifier', 'precise_location')
>>> by_name("email_verified") is None
True
>>> by_name("geburtsdatum").kind
'birth_date'

The second half, :func:`refusals`, decides whether an action publishes a column of a category
"unchanged or nearly so": by what the action reveals (:func:`reveals`, one entry per transform
class) against the category of each input column, never by a list of column names.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, TypeVar, cast

from minimizer.transforms import Transform
from minimizer.transforms.age_band import AgeBand
from minimizer.transforms.coarsen import Coarsen
from minimizer.transforms.encrypt import Encrypt
from minimizer.transforms.hierarchy import HierarchyLevel
from minimizer.transforms.mask import Mask
from minimizer.transforms.numeric_bucket import NumericBucket
from minimizer.transforms.passthrough import Drop, Keep
from minimizer.transforms.prefix import Prefix
from minimizer.transforms.pseudonymise import Pseudonymise
from minimizer.transforms.scrub import Scrub
from minimizer.transforms.truncate_time import TruncateTime

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "FLOAT32_TOLERANCE",
    "FLOORS",
    "NAMES",
    "REFUSAL_CODES",
    "REVEALS",
    "Category",
    "ColumnCategory",
    "Refusal",
    "Reveal",
    "by_name",
    "categorise",
    "precise_floats",
    "refusals",
    "reveals",
    "stricter",
    "visible_limit",
]


class Category(StrEnum):
    """What a source column is. Ordered from the strictest to the loosest in :data:`ORDER`."""

    direct_identifier = "direct_identifier"  # names one person: name, e-mail, phone, device id
    quasi_identifier = "quasi_identifier"  # identifies in combination: postcode, birth date
    sensitive = "sensitive"  # special category, GDPR Art. 9 (and Art. 10)
    free_text = "free_text"  # anything may be written in it
    precise_location = "precise_location"  # a point: latitude, longitude, GPS
    time = "time"  # when something happened
    other = "other"


ORDER: tuple[Category, ...] = (
    Category.direct_identifier,
    Category.precise_location,
    Category.sensitive,
    Category.free_text,
    Category.quasi_identifier,
    Category.time,
    Category.other,
)


def stricter(a: Category, b: Category) -> Category:
    return a if ORDER.index(a) <= ORDER.index(b) else b


@dataclass(frozen=True)
class NameMatch:
    category: Category
    kind: str  # finer label: 'name', 'email', 'birth_date', 'latitude', ...


def _entries(category: Category, kind: str, words: str) -> dict[str, NameMatch]:
    return dict.fromkeys(words.split(), NameMatch(category, kind))


_D, _Q, _S = Category.direct_identifier, Category.quasi_identifier, Category.sensitive
_F, _L, _T = Category.free_text, Category.precise_location, Category.time

# Normalised name parts (lower case, ASCII, '_' between parts) -> category. A phrase of several
# parts ("first_name") is matched before its single parts; the longest match wins.
NAMES: dict[str, NameMatch] = {
    **_entries(_D, "name", "first_name firstname vorname given_name givenname forename "
               "last_name lastname nachname surname family_name familyname familienname "
               "full_name fullname maiden_name geburtsname middle_name customer_name "
               "contact_name kundenname display_name nickname nick_name"),
    **_entries(_D, "email", "email e_mail mail email_address emailadresse mailadresse"),
    **_entries(_D, "phone", "phone telephone telefon tel mobile mobil handy fax phone_number "
               "telefonnummer handynummer mobilnummer mobile_number msisdn"),
    **_entries(_D, "iban", "iban bank_account kontonummer account_number"),
    **_entries(_D, "bic", "bic swift"),
    **_entries(_D, "card", "card_number credit_card kreditkarte kartennummer pan"),
    **_entries(_D, "national_id", "steuer_id steuerid steueridentifikationsnummer tax_id tin "
               "svnr sv_nummer sozialversicherungsnummer ssn social_security passport "
               "passport_number reisepass personalausweis ausweis ausweisnummer id_card "
               "national_id idnr driver_license fuehrerschein license_plate kennzeichen"),
    **_entries(_D, "device_id", "device_id deviceid idfa gaid aaid advertising_id ad_id "
               "mac mac_address imei udid cookie cookie_id"),
    **_entries(_D, "ip", "ip ip_address ipaddress ipv4 ipv6"),
    **_entries(_D, "online_handle", "twitter twitter_handle instagram instagram_handle "
               "facebook linkedin tiktok handle username user_name login screen_name"),
    **_entries(_D, "url", "url profile_url website homepage"),
    **_entries(_D, "subject_id", "customer_id user_id client_id member_id account_id "
               "person_id patient_id employee_id kunden_id kundennummer customer_number "
               "visitor_id session_id"),
    **_entries(_D, "address", "street strasse street_address address adresse anschrift "
               "address_line house_number hausnummer"),
    **_entries(_Q, "birth_date", "birth_date birthdate date_of_birth dob birthday "
               "geburtsdatum geburtstag"),
    **_entries(_Q, "postcode", "postcode post_code postal_code zip zipcode zip_code plz "
               "postleitzahl"),
    **_entries(_Q, "place", "city town ort stadt wohnort region state bundesland county "
               "country land"),
    **_entries(_Q, "demographic", "gender geschlecht sex age alter nationality "
               "staatsangehoerigkeit occupation beruf job_title employer arbeitgeber "
               "marital_status familienstand income einkommen salary gehalt education "
               "birth_year geburtsjahr"),
    **_entries(_S, "special_category", "religion religious konfession church kirche health "
               "gesundheit diagnosis diagnose disease krankheit medical medication "
               "medikament disability behinderung pregnancy schwangerschaft ethnicity ethnic "
               "ethnic_origin ethnie race sexual_orientation sexuality political politics "
               "partei trade_union union_member gewerkschaft biometric fingerprint genetic "
               "dna blood_type blutgruppe criminal_record vorstrafen"),
    **_entries(_F, "text", "notes note notiz notizen comment comments kommentar bemerkung "
               "bemerkungen description beschreibung text message nachricht remarks "
               "freitext free_text body memo payment_reference verwendungszweck"),
    **_entries(_L, "latitude", "lat latitude breitengrad"),
    **_entries(_L, "longitude", "lon lng longitude laengengrad"),
    **_entries(_L, "point", "gps coordinates coords koordinaten geo geolocation latlon latlng"),
    **_entries(_T, "time", "date ts time timestamp datetime datum zeit created_at updated_at "
               "hour day week month quarter year"),
}  # fmt: skip
# The whole name only ("name", not "product_name").
_WHOLE = {"name": NameMatch(_D, "name")}
# A part that says the column is about an identifier, not the identifier ("email_verified").
_NEUTRAL_LAST = frozenset(
    {"verified", "confirmed", "consent", "optin", "opt_in", "optout", "opt_out", "count",
     "flag", "type", "status", "valid", "bounced", "present", "provided", "known", "length",
     "len", "allowed", "preference"}
)  # fmt: skip
_NEUTRAL_FIRST = frozenset({"has", "is", "n", "num", "count", "number_of"})

_FOLD = str.maketrans({"ß": "ss", "ä": "ae", "ö": "oe", "ü": "ue"})


def _parts(column: str) -> list[str]:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", column)
    folded = unicodedata.normalize("NFKD", spaced.lower().translate(_FOLD))
    ascii_ = folded.encode("ascii", "ignore").decode()
    return [p for p in re.split(r"[^a-z0-9]+", ascii_) if p]


def by_name(column: str) -> NameMatch | None:
    """The category a column's name suggests, or None when the name says nothing."""
    parts = _parts(column)
    if not parts:
        return None
    joined = "_".join(parts)
    if joined in _WHOLE:
        return _WHOLE[joined]
    match = _longest_match(parts)
    # "email_verified" is about an e-mail, not one; "health_status" is still about health.
    about = parts[-1] in _NEUTRAL_LAST or "_".join(parts[-2:]) in _NEUTRAL_LAST
    about |= parts[0] in _NEUTRAL_FIRST and len(parts) > 1
    if about and match is not None and match.category is _D:
        return None
    return match


def _longest_match(parts: list[str]) -> NameMatch | None:
    found: list[tuple[int, NameMatch]] = []
    for size in range(len(parts), 0, -1):
        for start in range(len(parts) - size + 1):
            gram = parts[start : start + size]
            for spelled in ("_".join(gram), "".join(gram)):
                if spelled in NAMES:
                    found.append((size, NAMES[spelled]))
    if not found:
        return None
    # A column named for text is text, whatever the text is about ("note_email").
    if any(m.category is _F for _, m in found):
        return next(m for _, m in found if m.category is _F)
    longest = max(size for size, _ in found)
    best = [m for size, m in found if size == longest]
    return min(best, key=lambda m: ORDER.index(m.category))


@dataclass(frozen=True)
class ColumnCategory:
    """A source column's category, its finer kind, and where each word came from."""

    column: str
    category: Category
    kind: str | None = None
    basis: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "column": self.column,
            "category": self.category.value,
            "kind": self.kind,
            "basis": list(self.basis),
        }


def categorise(
    column: str,
    *,
    declared: Category | None = None,
    key: str | None = None,
    time: str | None = None,
    content: NameMatch | None = None,
    content_basis: str = "content",
) -> ColumnCategory:
    """Combine the policy's word, the role, the name and the content: the strictest wins."""
    votes: list[tuple[NameMatch, str]] = []
    if declared is not None:
        votes.append((NameMatch(declared, ""), "policy"))
    if column == key:
        votes.append((NameMatch(_D, "subject_id"), "policy: key"))
    if column == time:
        votes.append((NameMatch(_T, "time"), "policy: time"))
    named = by_name(column)
    if named is not None:
        votes.append((named, "name"))
    if content is not None:
        votes.append((content, content_basis))
    if not votes:
        return ColumnCategory(column, Category.other, None, ())
    winner = min((m.category for m, _ in votes), key=ORDER.index)
    kinds = [m.kind for m, _ in votes if m.kind]
    # A birth date stays a birth date whatever else is said of it: its rule is about precision.
    kind = (
        "birth_date"
        if "birth_date" in kinds
        else next((m.kind for m, _ in votes if m.category is winner and m.kind), None)
    )
    basis = tuple(dict.fromkeys(why for m, why in votes if m.category is winner))
    return ColumnCategory(column, winner, kind, basis)


# -- numbers that are a position whatever the column is called ------------------------------

# A float that differs from itself rounded by more than this has more decimals than allowed
# (float64 resolves 1e-13 at 180°, so 0.1 + 0.2 is not taken for 17 decimals; a float32
# resolves 1.5e-5, so its columns are read with FLOAT32_TOLERANCE).
_DECIMAL_TOLERANCE = 1e-9
FLOAT32_TOLERANCE = 2e-5


def precise_floats(
    values: npt.NDArray[np.float64], max_decimals: int, tolerance: float = _DECIMAL_TOLERANCE
) -> npt.NDArray[np.bool_]:
    """Numbers that could be a latitude or longitude (|v| <= 180) with more than
    ``max_decimals`` decimals: alone or as one of a pair of columns, a precise position
    whatever the column's name. Fails closed: a score of 0.8731 is flagged too."""
    import numpy as np

    finite = np.isfinite(values)
    v = np.where(finite, values, 0.0)
    fine = np.abs(v - np.round(v, max_decimals)) > tolerance
    return np.asarray(finite & (np.abs(v) <= 180.0) & fine, dtype=bool)


# -- what an action reveals of its inputs --------------------------------------------------


@dataclass(frozen=True)
class Reveal:
    """How much of its input columns an action publishes.

    ``exact``: the value as it is. ``chars``: that many characters of it. ``period``: a time
    truncated to that unit. ``area``: a point coarsened to (scheme, size). ``width``: numbers
    in buckets that wide (the narrowest). ``text``: free text with detected spans replaced.
    ``nothing``: no value of the input (a keyed token, a sealed value, a band, a drop).
    """

    exact: bool = False
    chars: int | None = None
    tail: bool = False  # the characters are the last ones (a mask of the end)
    period: str | None = None
    area: tuple[str, int] | None = None
    width: float | None = None
    text: bool = False
    nothing: bool = False
    # The inputs are a point whatever their names say (coarsen's lat and lon).
    points: bool = False
    # Why it counts as exact when that is not the action's name (a hierarchy level that keeps
    # the leaves apart): added to the refusal so the author sees what was measured.
    via: str | None = None
    # The input must be a number: a numeric bucket (a date in it is refused, not parsed late).
    numeric: bool = False


def _bucket_width(t: NumericBucket) -> float:
    if t.width is not None:
        return float(t.width)
    edges = sorted(t.edges or ())
    gaps = [b - a for a, b in itertools.pairwise(edges)]
    return float(min(gaps)) if gaps else float("inf")


# A hierarchy level publishes the value when it keeps more than this share of its leaves
# distinct (distinct outputs / distinct leaves), or maps more than this share onto themselves.
HIERARCHY_MAX_DISTINCT = 0.5


def _hierarchy_reveal(t: HierarchyLevel) -> Reveal:
    """Measured from the file (bound at policy load): a level that still tells most leaves
    apart is the value itself, whatever its number. Unbound (a policy built in memory): by
    level, level 0 being the leaf."""
    import numpy as np  # only when a policy uses a hierarchy

    if t.level == 0:
        return Reveal(exact=True)
    try:
        h = t.hierarchy
    except RuntimeError:
        return Reveal(nothing=True)
    n = h.n_leaves
    codes = h.level_codes(t.level)[:n]
    distinct = len(np.unique(codes))
    same = int((h.level_labels(t.level)[codes] == np.asarray(h.leaves, dtype=object)).sum())
    if n and max(distinct, same) > HIERARCHY_MAX_DISTINCT * n:
        via = (
            f"level {t.level} of {t.file.name} keeps {distinct} of {n} values distinct and "
            f"{same} unchanged; a level may keep at most {HIERARCHY_MAX_DISTINCT:.0%} of them "
            "distinct"
        )
        return Reveal(exact=True, via=via)
    return Reveal(nothing=True)


def _coarsen_area(t: Coarsen) -> tuple[str, int]:
    size = {"h3": t.resolution, "geohash": t.length, "grid": t.decimals}[t.method]
    return (t.method, int(size or 0))


_TransformT = TypeVar("_TransformT", bound=Transform)


def _rule(
    cls: type[_TransformT], reveal: Callable[[_TransformT], Reveal]
) -> tuple[type[Transform], Callable[[Transform], Reveal]]:
    """One entry of REVEALS, typed by its class. The cast is sound: reveals() calls an entry
    only with an instance of its class (it looks the class up in the instance's MRO)."""
    return cls, cast("Callable[[Transform], Reveal]", reveal)


# One entry per transform class: a mapping table, so a new transform must say what it reveals
# (tests/test_categories.py checks that every registered transform has one).
REVEALS: dict[type[Transform], Callable[[Transform], Reveal]] = dict(
    [
        _rule(Keep, lambda t: Reveal(exact=True)),
        _rule(Drop, lambda t: Reveal(nothing=True)),
        _rule(Pseudonymise, lambda t: Reveal(nothing=True)),
        _rule(Encrypt, lambda t: Reveal(nothing=True)),
        _rule(AgeBand, lambda t: Reveal(nothing=True)),
        _rule(Scrub, lambda t: Reveal(text=True)),
        _rule(Mask, lambda t: Reveal(chars=t.n, tail=t.method == "last")),
        _rule(Prefix, lambda t: Reveal(chars=t.keep)),
        _rule(TruncateTime, lambda t: Reveal(period=t.method)),
        _rule(NumericBucket, lambda t: Reveal(width=_bucket_width(t), numeric=True)),
        _rule(Coarsen, lambda t: Reveal(area=_coarsen_area(t), points=True)),
        # Level 0 of a hierarchy is the leaf: the value itself; above, measured from the file.
        _rule(HierarchyLevel, _hierarchy_reveal),
    ]
)


def reveals(transform: Transform) -> Reveal:
    """What ``transform`` publishes of its inputs; an unknown transform counts as exact."""
    for cls in type(transform).__mro__:
        if cls in REVEALS:
            return REVEALS[cls](transform)
    return Reveal(exact=True)


# -- the refusals -----------------------------------------------------------------------------

REFUSAL_CODES = ("direct_identifier", "precise_location", "exact_birth_date")

# The finest an action may publish a precise location at (documented in docs/policy.md).
FLOORS: dict[str, int] = {"h3": 9, "geohash": 6, "grid": 2}
# A coordinate: at most this many characters (e.g. "52.52"), buckets at least this wide (°).
_COORD_CHARS, _COORD_WIDTH = 5, 0.01
# Typical length of a direct identifier of each kind: a mask or prefix may show a third of it,
# and never more than 4 characters.
TYPICAL_LENGTH: dict[str, int] = {
    "name": 7, "email": 22, "phone": 13, "iban": 22, "bic": 11, "card": 16, "ip": 13,
    "national_id": 11, "device_id": 36, "online_handle": 10, "url": 40, "address": 20,
    "subject_id": 10,
}  # fmt: skip
_MAX_VISIBLE = 4
_UNITS_FINER_THAN_MONTH = frozenset({"hour", "day", "week"})


@dataclass(frozen=True)
class Refusal:
    """One input of one output column published too precisely. Names only, no values."""

    output: str
    column: str
    code: str  # one of REFUSAL_CODES
    message: str
    category: ColumnCategory  # of the input, as the check saw it


def visible_limit(kind: str | None) -> int:
    typical = TYPICAL_LENGTH.get(kind or "", 12)
    return min(_MAX_VISIBLE, typical // 3)


def _direct(r: Reveal, col: ColumnCategory) -> str | None:
    if r.exact:
        return "publishes a direct identifier unchanged"
    if r.text:
        return "scrub only replaces the spans it detects; the rest of the identifier is published"
    limit = visible_limit(col.kind)
    if r.chars is not None and r.chars > limit:
        return (
            f"shows {r.chars} character(s) of a direct identifier, where at most {limit} may "
            f"show (a third of a typical {col.kind or 'identifier'}, never more than "
            f"{_MAX_VISIBLE})"
        )
    return None


def _location(r: Reveal) -> str | None:
    if r.exact or r.text:
        return "publishes exact coordinates"
    if r.area is not None:
        scheme, size = r.area
        floor = FLOORS[scheme]
        if size > floor:
            word = {"h3": "resolution", "geohash": "length", "grid": "decimals"}[scheme]
            return f"{scheme} {word} {size} is finer than the floor; at most {word} {floor}"
    if r.chars is not None and r.chars > _COORD_CHARS:
        return f"shows {r.chars} characters of a coordinate; at most {_COORD_CHARS}"
    if r.width is not None and r.width < _COORD_WIDTH:
        return f"buckets narrower than {_COORD_WIDTH}° (about 1.1 km) publish the point"
    return None


def _birth_date(r: Reveal, protected: bool) -> str | None:
    if r.numeric:
        # Caught here, not when the run meets the first date it cannot read as a number.
        return "a numeric bucket cannot read a date; generalise it by date instead"
    if r.exact or r.text:
        return "publishes an exact birth date"
    if r.period in _UNITS_FINER_THAN_MONTH or (r.chars is not None and r.chars > 7):
        return "publishes an exact birth date (day precision)"
    if r.tail and r.chars:
        # The end of '1985-03-12' is the day and month: with an age band, the birthday.
        return "shows the end of a birth date (day and month)"
    month = r.period == "month" or (r.chars is not None and r.chars > 4)
    if month and not protected:
        return (
            "publishes the month of birth, which only a k-anonymity guarantee over this "
            "column may do"
        )
    return None


def refusals(
    columns: Mapping[str, Transform],
    categories: Mapping[str, ColumnCategory],
    protected: Iterable[str] = (),
) -> list[Refusal]:
    """Every (output, input) that publishes a direct identifier, a precise location or an
    exact birth date unchanged or nearly so. ``protected``: outputs under k-anonymity."""
    guarded = set(protected)
    found: list[Refusal] = []
    for out, transform in columns.items():
        r = reveals(transform)
        if r.nothing:
            continue
        for column in transform.inputs(out):
            col = categories.get(column) or ColumnCategory(column, Category.other)
            if r.points and col.category is not Category.precise_location:
                col = ColumnCategory(column, Category.precise_location, "point", ("coarsen",))
            checks: list[tuple[str, str | None]] = []
            if col.category is Category.direct_identifier:
                checks.append(("direct_identifier", _direct(r, col)))
            if col.category is Category.precise_location:
                checks.append(("precise_location", _location(r)))
            if col.kind == "birth_date":
                checks.append(("exact_birth_date", _birth_date(r, out in guarded)))
            found += [
                Refusal(out, column, code, f"{why} ({r.via})" if r.via else why, col)
                for code, why in checks
                if why
            ]
    return found
