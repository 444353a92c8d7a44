"""Errors of the data-subject-rights features, in the one tree of :mod:`minimizer.errors`::

    MinimizerError
    ├── RequestFileError     an erasure request file is malformed (file and line, never the id)
    └── DataError
        ├── SubjectKeyError  a sealed value cannot be revealed or sealed: reason code, counts
        ├── ErasureError     an erasure cannot be completed as asked; nothing was erased
        └── RekeyError       tokens of an old key version cannot be re-keyed; nothing changed

Subject ids are personal data: no message ever quotes one, only counts, files and lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from minimizer.errors import DataError, MinimizerError, Reason

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

    def __init__(self, problems: Sequence[RequestProblem]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"malformed erasure request file ({len(self.problems)} problem(s)); "
            f"nothing was erased:\n{lines}"
        )


class SubjectKeyError(DataError):
    """A subject data key is destroyed, unknown or does not open the value.

    The reason is required; positions (of the values asked about, never the values) are shown
    up to ten.
    """

    _SHOWN = 10

    def __init__(
        self,
        message: str,
        *,
        reason: Reason | str,
        count: int = 1,
        positions: Iterable[int] = (),
        **context: Any,
    ) -> None:
        super().__init__(message, reason=reason, count=count, positions=positions, **context)

    def __str__(self) -> str:
        where = f", positions={self.positions[: self._SHOWN]}" if self.positions else ""
        return f"{self.message} [reason={self.reason}, count={self.count}{where}]"


class ErasureError(DataError):
    default_reason = Reason.ERASURE


class RekeyError(DataError):
    """``details`` maps each table still holding old tokens to its row count."""

    default_reason = Reason.REKEY

    def __init__(
        self, message: str, *, details: Mapping[str, int] | None = None, **context: Any
    ) -> None:
        self.details: dict[str, int] = dict(details or {})
        super().__init__(message, **context)
