"""Purpose policies: the single source of truth for what a purpose may see.

A policy is YAML under ``configs/purposes/<purpose>.yaml``; the file name is the purpose id. It is
validated once, here, into frozen models; every problem is reported with file, line, YAML path
and what is allowed. See docs/policy.md for the format.
"""

from __future__ import annotations

import hashlib
import re
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
    ValidationError,
    field_validator,
    model_validator,
)

from minimizer.errors import PolicyError, PolicyProblem
from minimizer.transforms import REGISTRY, Transform, allowed_forms, lookup
from minimizer.transforms.hierarchy import HierarchyLevel

__all__ = [
    "Guarantees",
    "KAnonymity",
    "LegalBasis",
    "LocationGuarantee",
    "Policy",
    "SourceSpec",
    "load_policy",
    "parse_duration",
    "policy_json_schema",
]

IDENT = r"^[a-z][a-z0-9_]{0,62}$"
_DURATION = re.compile(r"^\s*(\d+)\s*([hdwy])\s*$")
_UNIT_HOURS = {"h": 1, "d": 24, "w": 24 * 7, "y": 24 * 365}


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
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError("a duration such as '400d', '36h', '12w' or '2y'")
    return timedelta(hours=int(match.group(1)) * _UNIT_HOURS[match.group(2)])


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


class SourceSpec(_Model):
    """One source of the purpose: a CRM table or a day-partitioned event set."""

    kind: Literal["table", "events"] = "table"
    table: str | None = Field(None, description="name in the source; defaults to the source's key")
    key: str | None = Field(None, description="column that identifies the data subject")
    time: str | None = Field(None, description="event-time column: retention and partitions")
    on_invalid: Literal["reject", "fail"] = Field(
        "fail", description="unparseable values: reject the row to staging, or fail the run"
    )
    identifying: tuple[str, ...] = Field(
        (), description="source columns that identify the subject (scrubbed from free text)"
    )
    columns: dict[Annotated[str, Field(pattern=IDENT)], Action]

    def inputs(self) -> list[str]:
        """Every source column this purpose reads, in policy order, without repeats."""
        cols = [c for out, t in self.columns.items() for c in t.inputs(out)]
        extra = [c for c in (self.key, self.time, *self.identifying) if c]
        return list(dict.fromkeys(cols + extra))

    def outputs(self) -> dict[str, Transform]:
        return {out: t for out, t in self.columns.items() if t.action != "drop"}


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


class Guarantees(_Model):
    k_anonymity: KAnonymity | None = None
    location: LocationGuarantee | None = None
    risk: RiskMeasure = RiskMeasure()


class Policy(_Model):
    purpose: str = Field(pattern=IDENT)
    description: str = Field(min_length=1)
    legal_basis: LegalBasis
    owner: str = Field(min_length=1)
    retention: Duration
    schedule: str | None = Field("@daily", description="Airflow schedule of the purpose's DAG")
    sources: dict[Annotated[str, Field(pattern=IDENT)], SourceSpec] = Field(min_length=1)
    guarantees: Guarantees = Guarantees()
    # Set by the loader, not by the YAML.
    file: str = Field("<memory>", exclude=True)
    sha256: str = Field("", exclude=True)

    @field_validator("sources")
    @classmethod
    def _sources_have_outputs(cls, sources: dict[str, SourceSpec]) -> dict[str, SourceSpec]:
        for name, spec in sources.items():
            if not spec.outputs():
                raise ValueError(f"source {name!r} publishes no column; remove it instead")
        return sources

    @model_validator(mode="after")
    def _guarantees_refer_to_outputs(self) -> Policy:
        g = self.guarantees
        checks: list[tuple[str, str, tuple[str, ...]]] = []
        if g.k_anonymity:
            checks.append(("k_anonymity", g.k_anonymity.source, g.k_anonymity.quasi_identifiers))
            checks.append(("k_anonymity", g.k_anonymity.source, g.k_anonymity.sensitive))
        if g.location:
            loc = g.location
            checks.append(("location", loc.source, (loc.cell, loc.bucket, loc.subject)))
        for name, source, cols in checks:
            if source not in self.sources:
                raise ValueError(
                    f"guarantees.{name}.source {source!r} is not a source; "
                    f"sources: {sorted(self.sources)}"
                )
            outputs = self.sources[source].outputs()
            missing = [c for c in cols if c not in outputs]
            if missing:
                raise ValueError(
                    f"guarantees.{name} names {missing}, which source {source!r} does not "
                    f"publish; its output columns: {sorted(outputs)}"
                )
        return self

    @property
    def retention_days(self) -> float:
        return self.retention.total_seconds() / 86400


# -- loading, with line numbers ------------------------------------------------------------


def _line_map(node: yaml.Node, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], int]:
    """YAML path -> 1-based line, for keys and values, so errors can point at the file."""
    lines = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = (*path, key.value)
            lines.update(_line_map(value, sub))
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


def _problem_message(err: dict[str, Any]) -> str:
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        return f"unknown field '{err['loc'][-1]}'"
    if err["type"] == "missing":
        return f"required field '{err['loc'][-1]}' is missing"
    if err["type"] == "enum":
        return f"{msg}"
    return msg


def load_policy(path: str | Path) -> Policy:
    """Read and validate one policy file. Raises PolicyError listing every problem."""
    path = Path(path)
    file = str(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise PolicyError.single(file, f"cannot read the policy ({exc.strerror})") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(exc, "problem", None) or "unreadable"
        raise PolicyError.single(file, f"not valid YAML: {problem}", line=line) from None
    if not isinstance(doc, dict) or node is None:
        raise PolicyError.single(file, "a policy is a YAML mapping (purpose, sources, ...)")
    lines = _line_map(node)
    stem = path.stem
    doc.setdefault("purpose", stem)
    if doc["purpose"] != stem:
        raise PolicyError.single(
            file,
            f"purpose {doc['purpose']!r} must equal the file name {stem!r} (the purpose id)",
            line=lines.get(("purpose",)),
            path="purpose",
        )
    try:
        policy = Policy.model_validate(
            {**doc, "file": file, "sha256": hashlib.sha256(text.encode()).hexdigest()}
        )
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False, include_input=False):
            where, line = _locate(tuple(err["loc"]), lines)
            problems.append(PolicyProblem(file, line, where, _problem_message(dict(err))))
        raise PolicyError(problems) from None
    _bind_files(policy, path.parent, lines)
    return policy


def _bind_files(policy: Policy, base: Path, lines: dict[tuple[Any, ...], int]) -> None:
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
    if problems:
        raise PolicyError(problems)


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
