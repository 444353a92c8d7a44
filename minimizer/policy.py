"""Purpose policies: the single source of truth for what a purpose may see.

A policy is YAML under ``configs/purposes/<purpose>.yaml``; the file name is the purpose id. It is
validated once, here, into frozen models; every problem is reported with file, line, YAML path
and what is allowed. See docs/policy.md for the format.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from minimizer.categories import (
    FLOORS,
    Category,
    ColumnCategory,
    Refusal,
    categorise,
    refusals,
    visible_limit,
)
from minimizer.errors import PolicyError, PolicyProblem
from minimizer.transforms import REGISTRY, Transform, allowed_forms, lookup
from minimizer.transforms.hierarchy import HierarchyLevel

__all__ = [
    "MAX_DURATION",
    "RESERVED_SCHEMAS",
    "RESERVED_SCHEMA_PREFIXES",
    "RESERVED_TABLES",
    "RESERVED_TABLE_PREFIXES",
    "AggregateSpec",
    "Allowance",
    "Budget",
    "DifferentialPrivacy",
    "Guarantees",
    "KAnonymity",
    "LegalBasis",
    "LocationGuarantee",
    "MaxUnicity",
    "Policy",
    "SourceSpec",
    "disclosure_problems",
    "load_policy",
    "parse_duration",
    "policy_json_schema",
    "reserved_name",
]

IDENT = r"^[a-z][a-z0-9_]{0,62}$"
_DURATION = re.compile(r"^\s*(\d{1,12})\s*([hdwy])\s*$")
_UNIT_HOURS = {"h": 1, "d": 24, "w": 24 * 7, "y": 24 * 365}
# Longer than any retention law asks for, and far inside what dates can represent.
MAX_DURATION = timedelta(days=100 * 365)

# Names minimizer itself uses in a warehouse or a CRM. A purpose is a schema and a source is a
# table, so neither may take one of these (issue 10: a purpose `minimizer_audit` with a source
# `suppressed_subjects` overwrote the suppression list). The one list, for the policy check and
# for the warehouse loaders (``reserved_name``); tests/test_policy.py checks that the names
# minimizer/io and minimizer/rights write are in it, so the two cannot drift apart.
RESERVED_SCHEMAS = frozenset(
    {"minimizer_audit", "main", "public", "information_schema", "pg_catalog", "pg_toast",
     "temp", "system", "memory"}
)  # fmt: skip
RESERVED_SCHEMA_PREFIXES = ("minimizer_", "pg_")
RESERVED_TABLES = frozenset(
    {"runs", "erasures", "suppressed_subjects", "erasure_requests", "loaded_tables"}
)
RESERVED_TABLE_PREFIXES = ("minimizer_", "mz_")


def reserved_name(kind: Literal["schema", "table"], name: str) -> str | None:
    """Why ``name`` may not be used as a schema (purpose) or table (source), or None."""
    names, prefixes = (
        (RESERVED_SCHEMAS, RESERVED_SCHEMA_PREFIXES)
        if kind == "schema"
        else (RESERVED_TABLES, RESERVED_TABLE_PREFIXES)
    )
    lowered = name.lower()
    if lowered in names:
        return f"{name!r} is a name minimizer or the warehouse reserves for its own {kind}s"
    hit = next((p for p in prefixes if lowered.startswith(p)), None)
    if hit:
        return f"{kind} names starting with {hit!r} are reserved for minimizer and the warehouse"
    return None


class LegalBasis(StrEnum):
    """GDPR Art. 6(1) (a)-(f)."""

    consent = "consent"
    contract = "contract"
    legal_obligation = "legal_obligation"
    vital_interests = "vital_interests"
    public_task = "public_task"
    legitimate_interest = "legitimate_interest"


def parse_duration(value: object) -> timedelta:
    """'400d', '36h', '12w', '2y' (a year is 365 days)."""
    if isinstance(value, timedelta):
        return value
    allowed = "a duration such as '400d', '36h', '12w' or '2y', from 1h up to 100y (36500d)"
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(allowed)
    # Compared as hours before any timedelta exists: 99999999999y would overflow it.
    hours = int(match.group(1)) * _UNIT_HOURS[match.group(2)]
    if hours < 1 or hours > MAX_DURATION.total_seconds() // 3600:
        raise ValueError(allowed)
    return timedelta(hours=hours)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def _parse_action(value: object) -> Transform:
    """``keep`` | ``{generalise: month}`` | ``{coarsen: h3, lat: lat, lon: lon, resolution: 8}``."""
    if isinstance(value, Transform):
        return value
    if isinstance(value, str):
        return lookup(value, None).model_validate({})
    if not isinstance(value, dict):
        raise ValueError(f"an action: one of {', '.join(allowed_forms())}")
    words = [k for k in value if any(k == action for action, _ in REGISTRY)]
    if len(words) > 1:
        # `{generalise: prefix, keep: 2}`: a parameter may share its name with an action word.
        words = [w for w in words if (w, value[w]) in REGISTRY]
    if len(words) != 1:
        raise ValueError(f"exactly one action word; allowed: {', '.join(allowed_forms())}")
    action = words[0]
    method = value[action]
    params = {k: v for k, v in value.items() if k != action}
    if method in (None, True, {}):
        cls, data = lookup(action, None), params
    else:
        cls, data = lookup(action, str(method)), {**params, "method": method}
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        # Re-raised as one readable line per parameter; pydantic locates it at the column.
        details = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or action}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False)
        )
        raise ValueError(details) from None


Action = Annotated[Transform, BeforeValidator(_parse_action)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


_REASON_LETTERS = 12
_REASON_WORDS = 2


class Allowance(_Model):
    """A reasoned exception: this output column may publish what the check would refuse."""

    publishes: Literal["direct_identifier", "precise_location", "exact_birth_date"]
    reason: str = Field(description="why, and who agreed: listed in the processing record")

    @field_validator("reason")
    @classmethod
    def _reason_given(cls, reason: str) -> str:
        # What a reviewer can read: NFKC, without format characters (zero-width space, marks)
        # that str.strip() keeps, so "\t\u200b" or "." is no reason.
        text = unicodedata.normalize("NFKC", reason)
        text = "".join(c for c in text if unicodedata.category(c) != "Cf").strip()
        letters = sum(c.isalpha() for c in text)
        words = [w for w in re.split(r"\W+", text) if sum(c.isalpha() for c in w) >= 2]
        if letters < _REASON_LETTERS or len(words) < _REASON_WORDS:
            raise ValueError(
                f"a reason is required: at least {_REASON_WORDS} words and {_REASON_LETTERS} "
                "letters saying why this column may be published, and who agreed"
            )
        return text


# South, west, north, east in degrees: a box of the public cell grid.
BBox = tuple[
    Annotated[float, Field(ge=-90, le=90)],
    Annotated[float, Field(ge=-180, le=180)],
    Annotated[float, Field(ge=-90, le=90)],
    Annotated[float, Field(ge=-180, le=180)],
]


class DifferentialPrivacy(_Model):
    """Calibrated noise on an aggregate's counts (OpenDP), over fixed public partitions: every
    cell of ``grid`` at the cell column's resolution times every hour of the run's interval."""

    epsilon: float = Field(gt=0, le=10, description="privacy loss of one release, per subject-day")
    delta: float = Field(
        0.0, ge=0, le=1e-4, description="0: Laplace noise (pure ε); above 0: Gaussian noise"
    )
    max_groups_per_day: int = Field(
        ge=1, le=1000, description="most groups one subject contributes to per day"
    )
    max_events_per_group: int = Field(
        1, ge=1, le=1000, description="most events one subject adds to one group"
    )
    grid: tuple[BBox, ...] = Field(
        min_length=1, description="public boxes [south, west, north, east]: the cells released"
    )

    @field_validator("grid")
    @classmethod
    def _boxes(cls, grid: tuple[BBox, ...]) -> tuple[BBox, ...]:
        if any(s >= n or w >= e for s, w, n, e in grid):
            raise ValueError(
                "each box is [south, west, north, east] with south < north, west < east"
            )
        return grid


class AggregateSpec(_Model):
    """Publish counts instead of rows: the source's table becomes one row per group."""

    by: tuple[Annotated[str, Field(pattern=IDENT)], ...] = Field(
        min_length=1, description="output columns to group by (e.g. cell, hour)"
    )
    subject: str = Field(description="output column counted as the subject; never published")
    measures: tuple[Literal["events", "distinct_subjects"], ...] = Field(
        ("events", "distinct_subjects"), min_length=1
    )
    min_distinct_subjects: int = Field(ge=1, description="smaller groups are withheld")
    small_groups: Literal["withhold", "remainder"] = Field(
        "withhold", description="remainder: pool withheld groups into one row with null keys"
    )
    dp: DifferentialPrivacy | None = None

    @model_validator(mode="after")
    def _consistent(self) -> AggregateSpec:
        found: list[str] = []
        if len(set(self.by)) != len(self.by):
            found.append("by: names a column twice")
        if self.subject in self.by:
            found.append("subject: is counted, it cannot also be a group-by column")
        if self.dp is not None and self.small_groups == "remainder":
            found.append(
                "small_groups: remainder pools groups by their true counts, which differential "
                "privacy cannot release; use withhold with dp"
            )
        if found:
            raise ValueError("; ".join(found))
        return self


class SourceSpec(_Model):
    """One source of the purpose: a CRM table or a day-partitioned event set."""

    kind: Literal["table", "events"] = "table"
    table: str | None = Field(None, description="name in the source; defaults to the source's key")
    key: str | None = Field(None, description="column that identifies the data subject")
    time: str | None = Field(None, description="event-time column: retention and partitions")
    on_invalid: Literal["reject", "fail"] = Field(
        "fail", description="unparseable values: reject the row to staging, or fail the run"
    )
    future_tolerance: Duration = Field(
        timedelta(days=1), description="how far past the run's as-of an event time may lie"
    )
    on_future: Literal["quarantine", "fail"] = Field(
        "quarantine", description="rows dated beyond as-of + tolerance: quarantine, or fail"
    )
    identifying: tuple[str, ...] = Field(
        (), description="source columns that identify the subject (scrubbed from free text)"
    )
    columns: dict[Annotated[str, Field(pattern=IDENT)], Action]
    categories: dict[str, Category] = Field(
        default_factory=dict,
        description="source column -> data category; stricter than the name's, never looser",
    )
    allow: dict[str, Allowance] = Field(
        default_factory=dict,
        description="output column -> a reasoned exception to the disclosure check",
    )
    aggregate: AggregateSpec | None = Field(
        None, description="publish only group counts of this source (minimizer.aggregate)"
    )

    def inputs(self) -> list[str]:
        """Every source column this purpose reads, in policy order, without repeats."""
        cols = [c for out, t in self.columns.items() for c in t.inputs(out)]
        extra = [c for c in (self.key, self.time, *self.identifying) if c]
        return list(dict.fromkeys(cols + extra))

    def outputs(self) -> dict[str, Transform]:
        return {out: t for out, t in self.columns.items() if t.action != "drop"}

    def category_of(self, column: str) -> ColumnCategory:
        """A source column's data category from the policy (its word and roles) and the name."""
        return categorise(
            column, declared=self.categories.get(column), key=self.key, time=self.time
        )

    def column_categories(self, extra: Iterable[str] = ()) -> dict[str, ColumnCategory]:
        """Categories of every column read, and of ``extra`` (e.g. drifted) columns."""
        names = dict.fromkeys([*self.inputs(), *extra])
        return {c: self.category_of(c) for c in names}


class KAnonymity(_Model):
    source: str
    k: int = Field(ge=2)
    quasi_identifiers: tuple[str, ...] = Field(min_length=1)
    max_suppression: float = Field(0.0, ge=0.0, le=1.0)
    method: Literal["full_domain", "mondrian"] = "full_domain"
    sensitive: tuple[str, ...] = Field((), description="attributes that need l-diversity")
    l_diversity: int | None = Field(None, ge=2)


class LocationGuarantee(_Model):
    source: str
    cell: str = Field(description="output column holding the H3 cell")
    bucket: str = Field(description="output column holding the time bucket")
    subject: str = Field(description="output column holding the subject's pseudonym")
    min_distinct_subjects_per_cell: int = Field(ge=2)
    min_resolution: int = Field(0, ge=0, le=15)
    anchors: Literal["keep", "drop", "coarsen"] = "keep"
    anchors_resolution: int | None = Field(None, ge=0, le=15)


class RiskMeasure(_Model):
    unicity_points: int = Field(4, ge=1, le=20)
    unicity_samples: int = Field(1000, ge=10)


class MaxUnicity(_Model):
    """A bound on how unique the published traces are: of the published subjects (tokens),
    at most ``max`` may be singled out by ``points`` random points of their own trace. The
    run measures it on what would be published and fails closed above it."""

    source: str
    subject: str = Field(description="output column holding the published token")
    place: str = Field(description="output column holding the place (e.g. the H3 cell)")
    time: str = Field(description="output column holding the time bucket")
    points: int = Field(4, ge=1, le=20)
    max: float = Field(ge=0.0, le=1.0)
    samples: int = Field(2000, ge=100, le=100_000)
    max_points_per_day: int | None = Field(
        None,
        ge=1,
        le=1000,
        description="keep at most this many (place, time) points per token and day",
    )


class Budget(_Model):
    """The purpose's privacy budget: the ε all its releases may spend within any ``period``."""

    epsilon: float = Field(gt=0, le=100)
    period: Duration = Field(description="a sliding window, e.g. 30d")


class Guarantees(_Model):
    k_anonymity: KAnonymity | None = None
    location: LocationGuarantee | None = None
    risk: RiskMeasure = RiskMeasure()
    max_unicity: MaxUnicity | None = None


# -- checks across fields: each finding is (YAML path, message), so it lands on its own line ---

Finding = tuple[tuple[Any, ...], str]


class _Located(ValueError):
    """Findings of a model validator, kept apart so the loader can place each one."""

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        super().__init__("; ".join(msg for _, msg in findings))


def _hint(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _guarantee_columns(g: Guarantees) -> list[tuple[str, str, tuple[Any, ...], str]]:
    """(guarantee, source, YAML path, output column) for every column a guarantee names."""
    named: list[tuple[str, str, tuple[Any, ...], str]] = []
    if g.k_anonymity:
        k = g.k_anonymity
        for field_ in ("quasi_identifiers", "sensitive"):
            for i, col in enumerate(getattr(k, field_)):
                named.append(
                    ("k_anonymity", k.source, ("guarantees", "k_anonymity", field_, i), col)
                )
    if g.location:
        loc = g.location
        for field_ in ("cell", "bucket", "subject"):
            path = ("guarantees", "location", field_)
            named.append(("location", loc.source, path, getattr(loc, field_)))
    if g.max_unicity:
        mu = g.max_unicity
        for field_ in ("subject", "place", "time"):
            path = ("guarantees", "max_unicity", field_)
            named.append(("max_unicity", mu.source, path, getattr(mu, field_)))
    return named


def _structure_findings(
    purpose: str | None,
    sources: Mapping[str, SourceSpec],
    guarantees: Guarantees | None,
    known_sources: Iterable[str],
) -> list[Finding]:
    """Reserved names, sources that publish nothing, guarantees that name what is not there."""
    found: list[Finding] = []
    if purpose and (why := reserved_name("schema", purpose)):
        found.append((("purpose",), f"{why}; choose another purpose id (and file name)"))
    for name, spec in sources.items():
        if why := reserved_name("table", name):
            found.append((("sources", name), f"{why}; rename the source"))
        own = (spec.table or "").rpartition(".")[2]
        if own in RESERVED_TABLES:
            found.append((("sources", name, "table"), f"{reserved_name('table', own)}"))
        if not spec.outputs():
            msg = f"source {name!r} publishes no column; remove it instead"
            found.append((("sources", name, "columns"), msg))
    found += _aggregate_findings(sources, guarantees)
    known = set(known_sources)
    for gname, source, path, col in _guarantee_columns(guarantees or Guarantees()):
        if source not in known:
            msg = (
                f"guarantees.{gname}.source {source!r} is not a source{_hint(source, known)}; "
                f"sources: {sorted(known)}"
            )
            found.append((("guarantees", gname, "source"), msg))
        elif source in sources and col not in (outputs := sources[source].outputs()):
            # (an invalid source is reported as such; its columns are not guessed at)
            found.append(
                (
                    path,
                    f"guarantees.{gname} names {[col]}, which source {source!r} does not "
                    f"publish{_hint(col, outputs)}; its output columns: {sorted(outputs)}",
                )
            )
    return list(dict.fromkeys(found))


def _aggregate_findings(
    sources: Mapping[str, SourceSpec], guarantees: Guarantees | None
) -> list[Finding]:
    """An aggregate names published columns; with dp, it groups by one H3 cell column and one
    hourly bucket of the source's time (the public partitions); no row-level guarantee applies
    to a source that publishes no rows."""
    from minimizer.transforms.coarsen import Coarsen
    from minimizer.transforms.truncate_time import TruncateTime

    found: list[Finding] = []
    row_guarantees = {
        name: g.source
        for name, g in (
            ("k_anonymity", guarantees.k_anonymity if guarantees else None),
            ("location", guarantees.location if guarantees else None),
            ("max_unicity", guarantees.max_unicity if guarantees else None),
        )
        if g is not None
    }
    for name, spec in sources.items():
        agg = spec.aggregate
        if agg is None:
            continue
        at = ("sources", name, "aggregate")
        outputs = spec.outputs()
        for field_, cols in (("by", agg.by), ("subject", (agg.subject,))):
            for i, col in enumerate(cols):
                if col not in outputs:
                    where = (*at, field_, i) if field_ == "by" else (*at, field_)
                    msg = (
                        f"aggregate.{field_} names {col!r}, which source {name!r} does not "
                        f"publish{_hint(col, outputs)}; its output columns: {sorted(outputs)}"
                    )
                    found.append((where, msg))
        for gname, source in row_guarantees.items():
            if source == name:
                msg = (
                    f"source {name!r} publishes an aggregate, not rows: guarantees.{gname} "
                    "cannot apply to it (the aggregate's min_distinct_subjects bounds its groups)"
                )
                found.append((("guarantees", gname, "source"), msg))
        if agg.dp is None:
            continue
        kinds = [outputs.get(c) for c in agg.by]
        cells = [c for c, t in zip(agg.by, kinds, strict=True) if isinstance(t, Coarsen)]
        hours = [
            c
            for c, t in zip(agg.by, kinds, strict=True)
            if isinstance(t, TruncateTime) and t.method == "hour" and t.source_of(c) == spec.time
        ]
        h3_cell = bool(cells) and getattr(outputs[cells[0]], "method", "") == "h3"
        if len(agg.by) != 2 or len(cells) != 1 or not h3_cell or len(hours) != 1:
            msg = (
                "aggregate with dp groups by exactly two columns: one {coarsen: h3} cell and one "
                "{generalise: hour} of the source's time; they span the public partitions "
                "(grid cells x hours of the interval)"
            )
            found.append(((*at, "by"), msg))
        found += _dp_subject_findings(name, spec, agg.subject)
    return found


# Rotations no faster than the privacy unit (one subject on one day): a token that rotates
# within a day makes one person several units a day, each bounded and charged on its own.
_DP_ROTATIONS: tuple[str, ...] = ("never", "day", "week", "month")


def _dp_subject_findings(name: str, spec: SourceSpec, subject: str) -> list[Finding]:
    """A dp aggregate's subject token must stay one token per person and day of the source's
    time: contributions are bounded per (token, day), and the ledger charges ε per person-day."""
    from minimizer.transforms.pseudonymise import Pseudonymise

    action = spec.outputs().get(subject)
    if not isinstance(action, Pseudonymise) or action.rotate == "never":
        return []
    at = ("sources", name, "columns", subject)
    if action.rotate not in _DP_ROTATIONS:
        msg = (
            f"aggregate with dp counts {subject!r} as the subject, but it rotates every "
            f"{action.rotate}: one person would be several privacy units a day, each bounded "
            f"and charged on its own; allowed with dp: rotate: {', '.join(_DP_ROTATIONS)}"
        )
        return [((*at, "rotate"), msg)]
    if action.time != spec.time:
        msg = (
            f"aggregate with dp counts {subject!r} as the subject, but it rotates by "
            f"{action.time!r}, not by the source's time {spec.time!r}: one person could hold "
            f"several tokens on one day of the release; rotate by time: {spec.time}"
        )
        return [((*at, "time"), msg)]
    return []


_ALLOWED = {
    "direct_identifier": "pseudonymise, encrypt or drop it, or show at most {limit} "
    "character(s) with mask or prefix",
    "precise_location": (
        f"{{coarsen: h3, resolution: <= {FLOORS['h3']}}}, {{coarsen: geohash, length: <= "
        f"{FLOORS['geohash']}}}, {{coarsen: grid, decimals: <= {FLOORS['grid']}}}, or drop"
    ),
    "exact_birth_date": "{generalise: age_band}, {generalise: year} or {generalise: quarter}; "
    "{generalise: month} only for a k_anonymity quasi-identifier",
}


def _refusal_message(group: list[Refusal]) -> str:
    first = group[0]
    cols = [r.category for r in group]
    names = " and ".join(repr(c.column) for c in cols)
    what = "birth_date" if first.code == "exact_birth_date" else cols[0].category.value
    basis = ", ".join(dict.fromkeys(b for c in cols for b in c.basis)) or "name"
    allowed = _ALLOWED[first.code].replace("{limit}", str(visible_limit(cols[0].kind)))
    words = what.replace("_", " ")
    is_a = f"is {'an' if words[0] in 'aeiou' else 'a'} {words}" if len(cols) == 1 else ""
    is_a = is_a or f"are {words}s"
    return (
        f"{first.message}: {names} {is_a} (by {basis}); allowed: {allowed}; or state an exception "
        f"under the source's allow: {{{first.output}: {{publishes: {first.code}, reason: ...}}}}"
    )


def _source_disclosure(name: str, spec: SourceSpec, protected: Iterable[str]) -> list[Finding]:
    at = ("sources", name)
    found: list[Finding] = []
    read = spec.inputs()
    for column in spec.categories:
        if column not in read:
            msg = f"declares a category for {column!r}, which this source does not read"
            found.append(((*at, "categories", column), msg + _hint(column, read)))
    cats = spec.column_categories()
    groups: dict[tuple[str, str], list[Refusal]] = {}
    for r in refusals(spec.outputs(), cats, protected):
        groups.setdefault((r.output, r.code), []).append(r)
    used: set[tuple[str, str]] = set()
    for (out, code), group in groups.items():
        allowed = spec.allow.get(out)
        if allowed is not None and allowed.publishes == code:
            used.add((out, code))
        else:
            found.append(((*at, "columns", out), _refusal_message(group)))
    outputs = spec.outputs()
    for out, allowance in spec.allow.items():
        if out not in outputs:
            msg = f"allows {out!r}, which this source does not publish{_hint(out, outputs)}"
            found.append(((*at, "allow", out), msg))
        elif (out, allowance.publishes) not in used:
            what = allowance.publishes.replace("_", " ")
            msg = f"nothing to allow: {out!r} does not publish a {what}; remove the exception"
            found.append(((*at, "allow", out, "publishes"), msg))
    return found


def _disclosure_findings(
    sources: Mapping[str, SourceSpec], guarantees: Guarantees | None
) -> list[Finding]:
    """Outputs that publish a direct identifier, a precise location or an exact birth date
    unchanged or nearly so, unless the source allows it with a reason (docs/policy.md)."""
    k = guarantees.k_anonymity if guarantees else None
    found: list[Finding] = []
    for name, spec in sources.items():
        protected = k.quasi_identifiers if k and k.source == name else ()
        found += _source_disclosure(name, spec, protected)
    return found


def disclosure_problems(policy: Policy) -> list[PolicyProblem]:
    """The disclosure check of a policy built in memory (:func:`load_policy` runs it already)."""
    return [
        PolicyProblem(policy.file, policy.line_of(path), ".".join(map(str, path)), message)
        for path, message in _disclosure_findings(policy.sources, policy.guarantees)
    ]


class Policy(_Model):
    purpose: str = Field(pattern=IDENT)
    description: str = Field(min_length=1)
    legal_basis: LegalBasis
    owner: str = Field(min_length=1)
    retention: Duration
    schedule: str | None = Field("@daily", description="Airflow schedule of the purpose's DAG")
    engine: Literal["local", "spark"] = Field(
        "local", description="where the DAG extracts and minimises: this process, or Spark"
    )
    sources: dict[Annotated[str, Field(pattern=IDENT)], SourceSpec] = Field(min_length=1)
    guarantees: Guarantees = Guarantees()
    budget: Budget | None = Field(None, description="ε per period over all dp releases")
    # Set by the loader, not by the YAML.
    file: str = Field("<memory>", exclude=True)
    sha256: str = Field("", exclude=True)
    _lines: dict[tuple[Any, ...], int] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _structure(self) -> Policy:
        found = _structure_findings(self.purpose, self.sources, self.guarantees, self.sources)
        dp = [n for n, s in self.sources.items() if s.aggregate and s.aggregate.dp]
        if dp and self.budget is None:
            msg = (
                "a source releases with dp: set budget: {epsilon: ..., period: ...} for the purpose"
            )
            found.append((("sources", dp[0], "aggregate", "dp"), msg))
        if self.budget is not None and not dp:
            found.append((("budget",), "budget: no source releases with dp; remove it"))
        if found:
            raise _Located(found)
        return self

    def line_of(self, path: tuple[Any, ...]) -> int | None:
        """The line of a YAML path in the policy file (None for a policy built in memory)."""
        return self._lines.get(path)

    @property
    def retention_days(self) -> float:
        return self.retention.total_seconds() / 86400

    def exceptions(self) -> list[dict[str, str]]:
        """Every reasoned exception to the disclosure check, for the processing record."""
        return [
            {"source": name, "column": out, "publishes": a.publishes, "reason": a.reason}
            for name, spec in self.sources.items()
            for out, a in spec.allow.items()
        ]


# -- loading, with line numbers ------------------------------------------------------------


class _PolicyLoader(yaml.SafeLoader):
    """SafeLoader that records every mapping key given twice, with both lines.

    PyYAML keeps the last of two equal keys silently: a reviewer reading the first would see
    a mask while the run keeps raw names.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[str, int, int]] = []
        self.merges: list[int] = []

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        # A merge key (<<) hides columns from a reviewer reading the column lines, and of two
        # merged mappings the first wins silently: it is refused (load_policy), never merged.
        kept = []
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.merges.append(key_node.start_mark.line + 1)
            else:
                kept.append((key_node, value_node))
        node.value = kept

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[object, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(
                key_node, yaml.ScalarNode
            ):
                continue
            key = self.construct_object(key_node, deep=False)
            line = key_node.start_mark.line + 1
            if key in seen:
                self.duplicates.append((str(key), seen[key], line))
            else:
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _parse(text: str) -> tuple[yaml.Node | None, Any, list[tuple[str, int, int]], list[int]]:
    loader = _PolicyLoader(text)
    try:
        node = loader.get_single_node()
        doc = loader.construct_document(node) if node is not None else None
        return node, doc, loader.duplicates, sorted(set(loader.merges))
    finally:
        loader.dispose()


def _line_map(node: yaml.Node, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], int]:
    """YAML path -> 1-based line, for keys and values, so errors can point at the file."""
    lines = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = (*path, key.value)
            lines.update(_line_map(value, sub))
            # With a key given twice, the last one is what counts (and both are reported).
            lines[sub] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines.update(_line_map(item, (*path, i)))
    return lines


def _locate(loc: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> tuple[str, int | None]:
    # pydantic adds union/validator names to loc; keep the parts that exist in the document.
    parts: list[Any] = []
    for part in loc:
        if (*parts, part) in lines:
            parts.append(part)
    return ".".join(str(p) for p in parts), lines.get(tuple(parts))


def _field_names() -> set[str]:
    """Every field a policy may spell: of the policy models and of every action's parameters."""
    models: list[type[BaseModel]] = [
        Policy, SourceSpec, Allowance, Guarantees, KAnonymity, LocationGuarantee, RiskMeasure,
        AggregateSpec, DifferentialPrivacy, Budget, MaxUnicity, *REGISTRY.values(),
    ]  # fmt: skip
    names = {name for model in models for name in model.model_fields}
    return names - {"file", "sha256", "method"}


def _problem_message(err: dict[str, Any]) -> str:
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        field_ = str(err["loc"][-1])
        return f"unknown field '{field_}'{_hint(field_, _field_names())}"
    if err["type"] == "missing":
        return f"required field '{err['loc'][-1]}' is missing"
    if err["type"] == "enum":
        return f"{msg}"
    return msg


def _valid_parts(doc: Mapping[str, Any]) -> tuple[dict[str, SourceSpec], Guarantees | None]:
    """The sources and guarantees that validate on their own, to check them while other parts
    of the policy are wrong: every problem is reported in one pass."""
    sources: dict[str, SourceSpec] = {}
    raw = doc.get("sources")
    for name, spec in raw.items() if isinstance(raw, dict) else ():
        try:
            sources[str(name)] = SourceSpec.model_validate(spec)
        except (ValidationError, ValueError, TypeError):
            continue
    try:
        guarantees = Guarantees.model_validate(doc.get("guarantees") or {})
    except (ValidationError, ValueError, TypeError):
        guarantees = None
    return sources, guarantees


def _duplicate_findings(
    duplicates: Iterable[tuple[str, int, int]], lines: Mapping[tuple[Any, ...], int]
) -> list[Finding]:
    found: list[Finding] = []
    for key, first, second in duplicates:
        # The line map holds the last occurrence of each key path: that names the mapping.
        path = next((p for p, n in lines.items() if n == second and p and p[-1] == key), (key,))
        msg = (
            f"key {key!r} is given twice (lines {first} and {second}): a reviewer reads one, "
            "the run would use the last; keep one"
        )
        found.append((path, msg))
    return found


def load_policy(path: str | Path) -> Policy:
    """Read and validate one policy file. Raises PolicyError listing every problem."""
    path = Path(path)
    file = str(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise PolicyError.single(file, f"cannot read the policy ({exc.strerror})") from None
    try:
        node, doc, duplicates, merges = _parse(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(exc, "problem", None) or "unreadable"
        raise PolicyError.single(file, f"not valid YAML: {problem}", line=line) from None
    if not isinstance(doc, dict) or node is None:
        raise PolicyError.single(file, "a policy is a YAML mapping (purpose, sources, ...)")
    lines = _line_map(node)
    problems: list[PolicyProblem] = []

    def place(findings: Iterable[Finding]) -> None:
        for where, message in findings:
            dotted, line = _locate(where, lines)
            problems.append(PolicyProblem(file, line, dotted, message))

    place(_duplicate_findings(duplicates, lines))
    for line in merges:
        msg = "YAML merge keys (<<) are not allowed in a policy: write the columns out"
        problems.append(PolicyProblem(file, line, "<<", msg))
    stem = path.stem
    doc.setdefault("purpose", stem)
    if doc["purpose"] != stem:
        msg = f"purpose {doc['purpose']!r} must equal the file name {stem!r} (the purpose id)"
        place([(("purpose",), msg)])
    policy: Policy | None = None
    try:
        policy = Policy.model_validate(
            {**doc, "file": file, "sha256": hashlib.sha256(text.encode()).hexdigest()}
        )
    except ValidationError as exc:
        for err in exc.errors(include_url=False, include_input=False):
            cause = (err.get("ctx") or {}).get("error")
            if isinstance(cause, _Located):
                place(cause.findings)
                continue
            where, line = _locate(tuple(err["loc"]), lines)
            problems.append(PolicyProblem(file, line, where, _problem_message(dict(err))))
    sources: Mapping[str, SourceSpec]
    guarantees: Guarantees | None
    if policy is not None:
        sources, guarantees = policy.sources, policy.guarantees
    else:
        sources, guarantees = _valid_parts(doc)
        raw_sources = doc.get("sources")
        known = list(raw_sources) if isinstance(raw_sources, dict) else []
        purpose = doc.get("purpose") if isinstance(doc.get("purpose"), str) else None
        place(_structure_findings(purpose, sources, guarantees, known))
    if policy is not None:
        # Before the disclosure check: what a hierarchy level reveals is read off its file.
        problems += _bind_files(policy, path.parent, lines)
    place(_disclosure_findings(sources, guarantees))
    # In file order, so a reader can walk the file top to bottom.
    unique = sorted(dict.fromkeys(problems), key=lambda p: p.line or 0)
    if unique:
        raise PolicyError(unique)
    assert policy is not None  # no problem means it validated
    policy._lines = lines
    return policy


def _bind_files(
    policy: Policy, base: Path, lines: dict[tuple[Any, ...], int]
) -> list[PolicyProblem]:
    problems = []
    for sname, spec in policy.sources.items():
        for out, transform in spec.columns.items():
            if isinstance(transform, HierarchyLevel):
                try:
                    transform.bind(base)
                except (OSError, ValueError) as exc:
                    key = ("sources", sname, "columns", out)
                    msg = f"hierarchy file: {exc}"
                    problems.append(PolicyProblem(policy.file, lines.get(key), ".".join(key), msg))
    return problems


def policy_json_schema() -> dict[str, Any]:
    """JSON Schema of a policy file, with every column action spelled out."""
    schema = Policy.model_json_schema(mode="validation")
    actions: list[dict[str, Any]] = [
        {"const": action} for action, method in sorted(REGISTRY, key=str) if method is None
    ]
    for (action, method), cls in sorted(REGISTRY.items(), key=str):
        sub = cls.model_json_schema()
        props = {k: v for k, v in sub.get("properties", {}).items() if k != "method"}
        props[action] = {"const": method} if method else {"type": ["null", "boolean", "object"]}
        actions.append(
            {
                "type": "object",
                "title": f"{action}: {method}" if method else action,
                "properties": props,
                "required": [action, *[r for r in sub.get("required", []) if r != "method"]],
                "additionalProperties": False,
            }
        )
    schema.setdefault("$defs", {})["Action"] = {"oneOf": actions}
    source = schema["$defs"]["SourceSpec"]["properties"]["columns"]
    source["additionalProperties"] = {"$ref": "#/$defs/Action"}
    for name in ("file", "sha256"):
        schema["properties"].pop(name, None)
    return schema
