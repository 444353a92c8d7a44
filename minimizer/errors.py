"""Errors raised by minimizer.

Two families under one base, so a caller can tell a wrong policy from wrong data::

    MinimizerError
    ├── PolicyError          the policy (or a CLI argument) is wrong: found at load time
    │                        carries file, line, YAML path and what is allowed
    ├── KeyMaterialError     no usable key material (missing, too short, unknown version)
    └── DataError            the data is wrong: carries table, column, check, reason code, count
        ├── SourceError      a source is missing, unreadable or lacks a column the policy names
        ├── GuaranteeError   a privacy guarantee cannot be met (k-anonymity, cell size, ...)
        └── GateError        the leak gate found a failing expectation

No error ever carries a raw data value or a frame: only names, counts and positions. That is
what lets the CLI, Airflow task logs and audit records quote errors verbatim.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = [
    "DataError",
    "GateError",
    "GuaranteeError",
    "KeyMaterialError",
    "MinimizerError",
    "PolicyError",
    "PolicyProblem",
    "SourceError",
]


class MinimizerError(Exception):
    """Base of every error minimizer raises on purpose."""

    exit_code = 2


@dataclass(frozen=True)
class PolicyProblem:
    """One thing wrong with a policy, located precisely."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        at = f" at '{self.path}'" if self.path else ""
        return f"{where}{at}: {self.message}"


class PolicyError(MinimizerError):
    """The policy is wrong. Collects every problem found, not just the first."""

    exit_code = 2

    def __init__(self, problems: Sequence[PolicyProblem]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid policy ({len(self.problems)} problem(s)):\n{lines}")

    @classmethod
    def single(
        cls, file: str, message: str, *, line: int | None = None, path: str = ""
    ) -> PolicyError:
        return cls([PolicyProblem(file=file, line=line, path=path, message=message)])


class KeyMaterialError(MinimizerError):
    """Key material is missing, too short or of an unknown version. Never quotes the key."""

    exit_code = 2


@dataclass
class DataError(MinimizerError):
    """The data does not satisfy what the policy requires. Counts and names only, no values."""

    message: str
    table: str | None = None
    column: str | None = None
    check: str | None = None
    reason: str = "invalid_data"
    count: int | None = None
    positions: list[int] = field(default_factory=list)

    exit_code = 2

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        ctx = [
            f"{k}={v}"
            for k, v in (
                ("table", self.table),
                ("column", self.column),
                ("check", self.check),
                ("reason", self.reason),
                ("count", self.count),
            )
            if v is not None
        ]
        return f"{self.message} [{', '.join(ctx)}]"


@dataclass
class SourceError(DataError):
    """A source is unreadable, missing, or lacks a column the policy names."""

    reason: str = "source"


@dataclass
class GuaranteeError(DataError):
    """A privacy guarantee cannot be met; the run fails closed and loads nothing."""

    reason: str = "guarantee_not_met"
    exit_code = 3


@dataclass
class GateError(DataError):
    """The leak gate failed. ``failures`` lists every failing expectation (names and counts)."""

    reason: str = "gate_failed"
    failures: list[dict[str, object]] = field(default_factory=list)
    exit_code = 3
