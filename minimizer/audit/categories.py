"""Categories of personal data (GDPR Art. 30(1)(c)) of a column, from its name and role.

A mapping table, not branches: the first category one of whose name parts appears among the
column's name parts wins. The policy's role comes first (its key identifies the subject; its
time column dates events). A heuristic for the record's overview: the transformation of every
column, from the plan, is what binds.

>>> category("customer_id", key="customer_id")
'identifiers'
>>> category("first_name"), category("lat"), category("score")
('names', 'location', 'other')
"""

from __future__ import annotations

import re

__all__ = ["CATEGORIES", "category"]

CATEGORIES: tuple[tuple[str, frozenset[str]], ...] = (
    ("names", frozenset({"name", "firstname", "lastname", "surname", "forename"})),
    ("contact details", frozenset({"email", "mail", "phone", "mobile", "tel", "fax"})),
    ("addresses", frozenset({"address", "street", "postcode", "zip", "zipcode"})),
    ("financial data", frozenset({"iban", "bic", "card", "amount", "payment", "price"})),
    (
        "online identifiers",
        frozenset({"ip", "device", "handle", "url", "session", "agent", "cookie"}),
    ),
    ("location", frozenset({"lat", "lon", "lng", "city", "cell", "geohash", "region"})),
    ("demographics", frozenset({"birth", "age", "gender", "income"})),
    ("free text", frozenset({"notes", "note", "comment", "comments", "description", "text"})),
    ("interests and behaviour", frozenset({"interests", "page", "channel", "tier", "segment"})),
    ("time", frozenset({"date", "ts", "time", "month", "hour", "quarter", "year", "day"})),
    ("identifiers", frozenset({"id", "visitor", "customer", "ref", "reference"})),
)


def _parts(column: str) -> set[str]:
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", column)
    return {p for p in re.split(r"[^a-z0-9]+", spaced.lower()) if p}


def category(column: str, *, key: str | None = None, time: str | None = None) -> str:
    if column == key:
        return "identifiers"
    if column == time:
        return "time"
    parts = _parts(column)
    for name, words in CATEGORIES:
        if parts & words:
            return name
    return "other"
