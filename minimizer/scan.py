"""``minimizer scan``: what every source column is, from a bounded sample, without a value.

Like AWS Glue's Detect PII or a Google DLP inspect job: per column, the PII kinds the
detectors find and the share of sampled rows holding each, the number of distinct values, and
the data category (:mod:`minimizer.categories`) from the name, the content and, with a policy,
the policy's own word. The result holds names, kinds, counts and shares only, never a value.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy as sa
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.pool import NullPool

from minimizer.categories import (
    Category,
    ColumnCategory,
    NameMatch,
    categorise,
    precise_floats,
)
from minimizer.errors import SourceError
from minimizer.io.sources import EventSource, TableSource
from minimizer.pii import DEFAULT_MAX_DECIMALS, detect

if TYPE_CHECKING:
    from minimizer.plan import SourcePlan
    from minimizer.policy import Policy

__all__ = [
    "DISTINCT_BOUND",
    "SAMPLE_ROWS",
    "ColumnProfile",
    "SourceScan",
    "content_category",
    "policy_sources",
    "print_categories",
    "print_scan",
    "profile_column",
    "scan_sources",
]

SAMPLE_ROWS = 10_000
DISTINCT_BOUND = 10_000
# A kind held by at least this share of a column's values says what the column is.
_MAJORITY = 0.3
# Kinds of the detectors that are not direct identifiers; any other kind is one.
_KIND_CATEGORY = {
    "precise_coordinates": NameMatch(Category.precise_location, "point"),
    "birth_date": NameMatch(Category.time, "date"),  # any calendar date matches it
}
# Free text: long values with spaces, most of them different.
_TEXT_LENGTH, _TEXT_SPACES, _TEXT_DISTINCT = 25, 0.5, 0.2
# An identifier: nearly every value different, short, no spaces (order numbers, tokens, ids).
_UNIQUE_SHARE, _UNIQUE_MIN_ROWS = 0.95, 50


@dataclass(frozen=True)
class ColumnProfile:
    """One source column: counts and kinds over the sample, and its category."""

    column: str
    sampled: int
    non_null: int
    distinct: int
    distinct_capped: bool
    kinds: Mapping[str, float]  # kind -> share of the non-null sampled values holding it
    category: ColumnCategory

    def to_json(self) -> dict[str, Any]:
        return {
            **self.category.to_json(),
            "sampled": self.sampled,
            "non_null": self.non_null,
            "distinct": self.distinct,
            "distinct_capped": self.distinct_capped,
            "kinds": {k: round(v, 4) for k, v in self.kinds.items()},
        }


@dataclass(frozen=True)
class SourceScan:
    source: str
    kind: str  # table | events
    columns: list[ColumnProfile] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "kind": self.kind,
            "columns": [c.to_json() for c in self.columns],
        }


def content_category(
    values: pd.Series, kinds: Mapping[str, float], distinct: int
) -> tuple[NameMatch | None, str]:
    """What the content says the column is, and why (kinds and counts, never a value)."""
    present = values.dropna()
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return NameMatch(Category.time, "time"), "content: timestamps"
    if pd.api.types.is_bool_dtype(values.dtype) or present.empty:
        return None, ""
    if pd.api.types.is_float_dtype(values.dtype):
        # Exact positions stored as numbers (REAL pos_a): no text for a detector to read.
        share = float(precise_floats(present.to_numpy(dtype=float), DEFAULT_MAX_DECIMALS).mean())
        if share >= _MAJORITY:
            return NameMatch(Category.precise_location, "point"), (
                f"content: coordinate-like numbers {share:.0%}"
            )
    textual = pd.api.types.is_string_dtype(values.dtype) or values.dtype == object
    text = present.astype("str") if textual else None
    spaced = text.str.contains(" ", regex=False) if text is not None else None
    if text is not None and spaced is not None:
        long_spaced = text.str.len().mean() >= _TEXT_LENGTH and spaced.mean() >= _TEXT_SPACES
        if long_spaced and distinct >= _TEXT_DISTINCT * len(present):
            return NameMatch(Category.free_text, "text"), "content: free text"
    ranked = sorted(kinds.items(), key=lambda kv: -kv[1])
    if ranked and ranked[0][1] >= _MAJORITY:
        kind, share = ranked[0]
        match = _KIND_CATEGORY.get(kind, NameMatch(Category.direct_identifier, kind))
        return match, f"content: {kind} {share:.0%}"
    unique = len(present) >= _UNIQUE_MIN_ROWS and distinct >= _UNIQUE_SHARE * len(present)
    if unique and spaced is not None and not spaced.any():
        return NameMatch(Category.direct_identifier, "identifier"), "content: unique per row"
    return None, ""


def profile_column(
    values: pd.Series,
    *,
    declared: Category | None = None,
    key: str | None = None,
    time: str | None = None,
) -> ColumnProfile:
    """Profile one sampled column: detectors, distinct count, and the combined category."""
    name = str(values.name)
    present = values.dropna()
    # A timestamp's text form holds no PII (the detectors would read its digits as numbers).
    stamps = pd.api.types.is_datetime64_any_dtype(values.dtype)
    found = detect(present) if len(present) and not stamps else {}
    kinds = {k: n / len(present) for k, n in found.items() if n}
    distinct = int(present.nunique())
    capped = distinct > DISTINCT_BOUND
    content, why = content_category(values, kinds, distinct)
    category = categorise(
        name, declared=declared, key=key, time=time, content=content, content_basis=why
    )
    return ColumnProfile(
        name, len(values), len(present), min(distinct, DISTINCT_BOUND), capped, kinds, category
    )


def _crm_tables(crm: str) -> list[str]:
    """Table names of the CRM, read from its catalogue (read-only)."""
    if crm.startswith(("postgresql:", "postgresql+", "postgres:")):
        url = sa.make_url(crm).set(drivername="postgresql+psycopg")
        engine = sa.create_engine(url, poolclass=NullPool)
    else:
        path = Path(crm)
        if not path.is_file():
            return []
        uri = f"{path.resolve().as_uri()}?mode=ro"
        engine = sa.create_engine(
            "sqlite://", creator=lambda: sqlite3.connect(uri, uri=True), poolclass=NullPool
        )
    try:
        return sorted(sa.inspect(engine).get_table_names())
    except sa.exc.SQLAlchemyError as exc:
        cause = type(getattr(exc, "orig", None) or exc).__name__
        raise SourceError(f"CRM unreadable ({cause})", reason="unreadable") from None
    finally:
        engine.dispose()


def _sample(source: TableSource | EventSource, rows: int) -> pd.DataFrame:
    # The first chunk is the sample: bounded memory whatever the source's size.
    return next(iter(source.chunks(source.columns(), chunk_rows=rows)))


def _scan_one(
    name: str,
    kind: str,
    source: TableSource | EventSource,
    rows: int,
    roles: Mapping[str, Any] | None,
) -> SourceScan:
    frame = _sample(source, rows)
    spec = roles or {}
    declared: Mapping[str, Category] = spec.get("categories", {})
    columns = [
        profile_column(
            frame[col], declared=declared.get(col), key=spec.get("key"), time=spec.get("time")
        )
        for col in frame.columns
    ]
    return SourceScan(name, kind, columns)


def policy_sources(policy: Policy) -> list[tuple[str, str, str, Mapping[str, Any]]]:
    """A policy's sources as :func:`scan_sources` takes them, with its roles and categories."""
    return [
        (
            name,
            spec.kind,
            spec.table or name,
            {"key": spec.key, "time": spec.time, "categories": spec.categories},
        )
        for name, spec in policy.sources.items()
    ]


def scan_sources(
    directory: Path,
    crm_url: str | None = None,
    *,
    sample_rows: int = SAMPLE_ROWS,
    sources: Iterable[tuple[str, str, str, Mapping[str, Any]]] | None = None,
) -> list[SourceScan]:
    """Scan every CRM table and the events, or only ``sources`` given as (name, kind, table,
    roles) with roles ``{"key", "time", "categories"}`` from a policy."""
    if sample_rows < 1:
        raise ValueError("sample_rows must be positive")
    crm = crm_url or str(directory / "crm.sqlite")
    if sources is None:
        listed: list[tuple[str, str, str, Mapping[str, Any]]] = [
            (t, "table", t, {}) for t in _crm_tables(crm)
        ]
        if (directory / "events").is_dir():
            listed.append(("events", "events", "events", {}))
    else:
        listed = list(sources)
    if not listed:
        raise SourceError(
            "no sources found: expected crm.sqlite and/or events/ in the folder, or --crm-url",
            reason="missing_source",
        )
    scans = []
    for name, kind, table, roles in listed:
        source = EventSource(directory / "events") if kind == "events" else TableSource(crm, table)
        scans.append(_scan_one(name, kind, source, sample_rows, roles))
    return scans


_STYLE = {
    Category.direct_identifier: "red",
    Category.precise_location: "red",
    Category.sensitive: "magenta",
    Category.free_text: "yellow",
    Category.quasi_identifier: "cyan",
}


def print_scan(console: Console, scans: list[SourceScan]) -> None:
    """One table per source. Names, kinds, shares and counts only."""
    for scan in scans:
        sampled = scan.columns[0].sampled if scan.columns else 0
        table = Table(title=f"{scan.source} ({scan.kind}, {sampled:,} rows sampled)")
        for head in ("column", "category", "why", "kinds (share of rows)", "distinct"):
            table.add_column(head)
        for c in scan.columns:
            ranked = sorted(c.kinds.items(), key=lambda kv: -kv[1])
            distinct = f">={c.distinct:,}" if c.distinct_capped else f"{c.distinct:,}"
            table.add_row(
                escape(c.column),
                _styled(c.category.category),
                escape(", ".join(c.category.basis)) or "—",
                ", ".join(f"{k} {v:.0%}" for k, v in ranked) or "—",
                distinct,
            )
        console.print(table)


def _styled(category: Category) -> str:
    return f"[{_STYLE.get(category, 'green')}]{category.value}[/]"


def print_categories(console: Console, plans: Iterable[SourcePlan]) -> None:
    """The data category of every source column of a plan, and what becomes of it."""
    for sp in plans:
        table = Table(title=f"data categories: {sp.source}", title_justify="left")
        for head in ("source column", "category", "why", "becomes"):
            table.add_column(head)
        becomes: dict[str, list[str]] = {}
        for c in sp.columns:
            for col in c.source_columns:
                becomes.setdefault(col, []).append(c.output or "dropped")
        for col, cat in sp.categories.items():
            table.add_row(
                escape(col),
                _styled(cat.category),
                escape(", ".join(cat.basis)) or "—",
                escape(", ".join(dict.fromkeys(becomes.get(col, ["dropped"])))),
            )
        console.print(table)
