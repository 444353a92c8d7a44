"""Where a data subject lives in the warehouse, derived from the purpose policies.

The policy is the single source of truth: in every source with a ``key`` (the column naming the
data subject), the output columns that pseudonymise the key hold the subject's token of that
purpose, and the ``encrypt`` columns whose subject is the key hold values sealed under the
subject's data key (matched on the key id they start with). Tables no policy names (a policy
removed, a source renamed) are found in the warehouse catalogue and searched in every text
column, so erasure and re-keying reach every table of a purpose schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from minimizer.errors import PolicyError, PolicyProblem
from minimizer.policy import Policy, load_policy
from minimizer.transforms.encrypt import Encrypt
from minimizer.transforms.pseudonymise import Pseudonymise

__all__ = [
    "SubjectColumn",
    "aggregate_tables",
    "load_policies",
    "pseudonym_columns",
    "subject_columns",
]

# Why erasure and re-keying leave an aggregate table alone (said in their output).
NO_SUBJECT = "aggregate counts: no row, token or sealed value of any subject; nothing to delete"


@dataclass(frozen=True)
class SubjectColumn:
    """A warehouse column (schema = purpose, table = source) holding a subject reference."""

    schema: str
    table: str
    column: str
    kind: Literal["token", "sealed"]
    source_column: str = ""
    # Rotating pseudonyms (``rotate: day``...): the subject has one token per period, and the
    # published column derived from the same time column bounds the periods present.
    rotate: str = "never"
    time_output: str | None = None
    # The purpose's retention: bounds the periods of a rotating token when no time is published.
    retention_days: float | None = None

    @property
    def name(self) -> str:
        return f"{self.schema}.{self.table}"


def load_policies(directory: Path) -> list[Policy]:
    """Every policy of a folder; all problems of all files at once."""
    files = sorted(Path(directory).glob("*.yaml"))
    if not files:
        raise PolicyError.single(str(directory), "no purpose policy (*.yaml) in this folder")
    policies: list[Policy] = []
    problems: list[PolicyProblem] = []
    for file in files:
        try:
            policies.append(load_policy(file))
        except PolicyError as exc:
            problems.extend(exc.problems)
    if problems:
        raise PolicyError(problems)
    return policies


def subject_columns(policies: list[Policy]) -> list[SubjectColumn]:
    """Columns that name the subject of each row: tokens and sealed values of the key."""
    found = []
    for policy in policies:
        for name, spec in policy.sources.items():
            # An aggregate source publishes counts: its subject column is counted, not loaded.
            if spec.key is None or spec.aggregate is not None:
                continue
            for out, t in spec.outputs().items():
                if isinstance(t, Pseudonymise) and t.source_of(out) == spec.key:
                    found.append(_token_column(policy, name, out, t))
                elif isinstance(t, Encrypt) and t.subject == spec.key:
                    found.append(
                        SubjectColumn(
                            policy.purpose,
                            name,
                            out,
                            "sealed",
                            spec.key,
                            retention_days=policy.retention_days,
                        )
                    )
    return found


def pseudonym_columns(policies: list[Policy]) -> list[SubjectColumn]:
    """Every token column, with the source column it was made from (for re-keying)."""
    return [
        _token_column(policy, name, out, t)
        for policy in policies
        for name, spec in policy.sources.items()
        for out, t in spec.outputs().items()
        if isinstance(t, Pseudonymise) and spec.aggregate is None
    ]


def aggregate_tables(policies: list[Policy]) -> dict[str, str]:
    """schema.table of every aggregate source -> why it holds no subject (for the output)."""
    return {
        f"{policy.purpose}.{name}": NO_SUBJECT
        for policy in policies
        for name, spec in policy.sources.items()
        if spec.aggregate is not None
    }


def _token_column(policy: Policy, name: str, out: str, t: Pseudonymise) -> SubjectColumn:
    rotate = getattr(t, "rotate", "never")
    time = getattr(t, "time", None)
    published = None
    if rotate != "never" and time:
        outputs = policy.sources[name].outputs().items()
        published = next(
            (o for o, u in outputs if time in u.inputs(o) and not isinstance(u, Pseudonymise)),
            None,
        )
    return SubjectColumn(
        policy.purpose,
        name,
        out,
        "token",
        t.source_of(out),
        rotate,
        published,
        policy.retention_days,
    )
