"""Errors of the data-subject-rights features, all under :class:`MinimizerError`::

    MinimizerError
    ├── RequestFileError     an erasure request file is malformed (file and line, never the id)
    ├── SubjectKeyError      a sealed value cannot be revealed or sealed: reason code, counts
    └── DataError
        ├── ErasureError     an erasure cannot be completed as asked; nothing was erased
        └── RekeyError       tokens of an old key version cannot be re-keyed; nothing changed

Subject ids are personal data: no message ever quotes one, only counts, files and lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from minimizer.errors import DataError, MinimizerError

__all__ = ["ErasureError", "RekeyError", "RequestFileError", "RequestProblem", "SubjectKeyError"]


@dataclass(frozen=True)
class RequestProblem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class RequestFileError(MinimizerError):
    """Every problem of one or more request files, collected; nothing is erased."""

    exit_code = 2

    def __init__(self, problems: Sequence[RequestProblem]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"malformed erasure request file ({len(self.problems)} problem(s)); "
            f"nothing was erased:\n{lines}"
        )


class SubjectKeyError(MinimizerError):
    """A subject data key is destroyed, unknown or does not open the value."""

    exit_code = 2

    def __init__(self, message: str, *, reason: str, count: int = 1, positions: Sequence[int] = ()):
        self.reason = reason
        self.count = count
        self.positions = list(positions)
        where = f", positions={self.positions[:10]}" if self.positions else ""
        super().__init__(f"{message} [reason={reason}, count={count}{where}]")


@dataclass(eq=False)
class ErasureError(DataError):
    reason: str = "erasure"


@dataclass(eq=False)
class RekeyError(DataError):
    reason: str = "rekey"
    details: dict[str, int] = field(default_factory=dict)
