"""Errors raised by minimizer: one tree of plain exception classes.

So a caller can tell a wrong policy from wrong data, and a retry from a lost cause::

    MinimizerError
    ├── PolicyError          the policy (or a CLI argument) is wrong: found at load time
    │                        carries file, line, YAML path and what is allowed
    ├── KeyMaterialError     no usable key material (missing, too short, unknown version)
    └── DataError            the data is wrong: carries table, column, check, reason, count
        ├── SourceError      a source is missing, unreadable or lacks a column the policy names
        ├── GuaranteeError   a privacy guarantee cannot be met (k-anonymity, cell size, ...)
        ├── GateError        the leak gate found a failing expectation
        └── WarehouseError   the warehouse cannot be opened, read or written
            └── WarehouseLockedError   another writer holds it

(The rights package adds its errors in :mod:`minimizer.rights.errors`.)

Every error is a plain class: hashable and equal by identity like any exception, and it pickles
whole (Airflow and process pools ship exceptions between processes). A :class:`Reason` names
why; it is a ``StrEnum``, so ``exc.reason == "missing_column"`` and JSON keep working, and an
unknown reason string is refused where the error is built. ``transient`` says whether a retry
may cure it; :func:`is_transient` is the one place retries are decided.

No error ever carries a raw data value or a frame: only names, counts and positions. That is
what lets the CLI, Airflow task logs and audit records quote errors verbatim.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

__all__ = [
    "TRANSIENT_TYPES",
    "DataError",
    "GateError",
    "GuaranteeError",
    "KeyMaterialError",
    "MinimizerError",
    "PolicyError",
    "PolicyProblem",
    "Reason",
    "SourceError",
    "WarehouseError",
    "WarehouseLockedError",
    "as_reason",
    "is_transient",
]


class Reason(StrEnum):
    """Why an error was raised: a stable code for logs, audit rows, tests and retries."""

    # generic defaults of the error classes
    INVALID_DATA = "invalid_data"
    SOURCE = "source"
    GUARANTEE_NOT_MET = "guarantee_not_met"
    GATE_FAILED = "gate_failed"
    WAREHOUSE = "warehouse"
    ERASURE = "erasure"
    REKEY = "rekey"
    # sources and staging
    MISSING_SOURCE = "missing_source"
    MISSING_TABLE = "missing_table"
    MISSING_COLUMN = "missing_column"
    MISSING = "missing"
    UNREADABLE = "unreadable"
    UNREADABLE_FILE = "unreadable_file"
    UNSTAGEABLE = "unstageable"
    NOT_STAGED = "not_staged"
    INVALID_TYPE = "invalid_type"
    UNPARSEABLE = "unparseable"
    FUTURE_DATED = "future_dated"
    UNKNOWN_VALUE = "unknown_value"
    INVALID_H3_CELL = "invalid_h3_cell"
    SUBJECTS_MISALIGNED = "subjects_misaligned"
    MISALIGNED_OWN_VALUES = "misaligned_own_values"
    # guarantees
    K_UNREACHABLE = "k_unreachable"
    L_UNREACHABLE = "l_unreachable"
    ALL_SUPPRESSED = "all_suppressed"
    LATTICE_TOO_LARGE = "lattice_too_large"
    UNSEEN_COMBINATION = "unseen_combination"
    SELF_CHECK_FAILED = "self_check_failed"
    UNICITY_ABOVE_MAX = "unicity_above_max"
    BUDGET_EXCEEDED = "budget_exceeded"
    # gate and audit
    GATE_ERROR = "gate_error"
    NO_CANARY_RECORD = "no_canary_record"
    VERIFY_FAILED = "verify_failed"
    # warehouse
    LOCKED = "locked"
    UNREACHABLE = "unreachable"
    LOAD_FAILED = "load_failed"
    AUDIT_FAILED = "audit_failed"
    DELETE_FAILED = "delete_failed"
    QUERY_FAILED = "query_failed"
    TRANSACTION_FAILED = "transaction_failed"
    INVALID_AUDIT = "invalid_audit"
    INVALID_IDENTIFIER = "invalid_identifier"
    INVALID_LOAD = "invalid_load"
    OUT_OF_RANGE = "out_of_range"
    RESERVED_NAME = "reserved_name"
    SCHEMA_MISMATCH = "schema_mismatch"
    UNSUPPORTED_TYPE = "unsupported_type"
    # data-subject rights and sealed values
    EMPTY_ID = "empty_id"
    EMPTY_REQUEST = "empty_request"
    ERASED_DURING_RUN = "erased_during_run"
    ERASED_SUBJECT = "erased_subject"
    SUBJECT_NOT_FOUND = "subject_not_found"
    UNMAPPED_TOKENS = "unmapped_tokens"
    MALFORMED = "malformed"
    SHREDDED = "shredded"
    STALE_WRAP = "stale_wrap"
    TAMPERED = "tampered"
    UNKNOWN_KEY = "unknown_key"
    UNWRAP_FAILED = "unwrap_failed"
    # engines (Spark): the runtime they need, and a job that failed on the cluster
    JAVA_MISSING = "java_missing"
    JOB_FAILED = "job_failed"

    @property
    def transient(self) -> bool:
        """True where a retry may cure it: the system was busy or away, not the data wrong."""
        return self in _TRANSIENT_REASONS


# A source file not there *yet* (the upstream export is late) or being written, a locked DuckDB
# file, an unreachable database: all may pass on a retry. Everything else fails again.
_TRANSIENT_REASONS = frozenset(
    {
        Reason.UNREADABLE,
        Reason.MISSING_SOURCE,
        Reason.LOCKED,
        Reason.UNREACHABLE,
        Reason.LOAD_FAILED,
        Reason.AUDIT_FAILED,
    }
)
# Exceptions from outside minimizer that a retry may cure (the system, not the code or the
# data); the rest, from a ValueError on odd data to an ImportError, would fail again.
TRANSIENT_TYPES: tuple[type[BaseException], ...] = (OSError, TimeoutError, MemoryError)


def _rebuild(cls: type[MinimizerError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    """Unpickle an error without calling its constructor (whose arguments are keywords)."""
    exc = cls.__new__(cls)
    exc.args = args
    exc.__dict__.update(state)
    return exc


class MinimizerError(Exception):
    """Base of every error minimizer raises on purpose.

    ``exit_code`` is what the CLI exits with; ``transient`` whether a retry may cure it (a
    subclass, or an instance whose :class:`Reason` is transient, says so).
    """

    exit_code: ClassVar[int] = 2
    transient: bool = False

    def __reduce__(self) -> tuple[Any, ...]:
        # The default pickles ``cls(*self.args)``, which fits no constructor here: the state
        # is in the instance dict, so rebuild from that.
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


def is_transient(exc: BaseException) -> bool:
    """Whether a retry may cure ``exc``: what the Airflow tasks decide retries by."""
    if isinstance(exc, MinimizerError):
        return exc.transient
    return isinstance(exc, TRANSIENT_TYPES)


def as_reason(value: Reason | str) -> Reason:
    """The :class:`Reason` of a code; an unknown code is a bug at the raise site."""
    try:
        return Reason(value)
    except ValueError:
        raise ValueError(
            f"unknown error reason {value!r}: add it to minimizer.errors.Reason"
        ) from None


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


class DataError(MinimizerError):
    """The data does not satisfy what the policy requires. Counts and names only, no values.

    A subclass sets ``default_reason`` (and ``default_check``) instead of repeating fields.
    """

    default_reason: ClassVar[Reason] = Reason.INVALID_DATA
    default_check: ClassVar[str | None] = None

    def __init__(
        self,
        message: str,
        *,
        table: str | None = None,
        column: str | None = None,
        check: str | None = None,
        reason: Reason | str | None = None,
        count: int | None = None,
        positions: Iterable[int] = (),
    ) -> None:
        self.message = message
        self.table = table
        self.column = column
        self.check = self.default_check if check is None else check
        self.reason = self.default_reason if reason is None else as_reason(reason)
        self.count = count
        self.positions = list(positions)
        if self.reason.transient:
            self.transient = True
        super().__init__(str(self))

    def _context(self) -> tuple[tuple[str, object], ...]:
        return (
            ("table", self.table),
            ("column", self.column),
            ("check", self.check),
            ("reason", self.reason),
            ("count", self.count),
        )

    def __str__(self) -> str:
        ctx = ", ".join(f"{k}={v}" for k, v in self._context() if v is not None)
        return f"{self.message} [{ctx}]"


class SourceError(DataError):
    """A source is unreadable, missing, or lacks a column the policy names."""

    default_reason = Reason.SOURCE


class GuaranteeError(DataError):
    """A privacy guarantee cannot be met; the run fails closed and loads nothing."""

    default_reason = Reason.GUARANTEE_NOT_MET
    exit_code = 3


class GateError(DataError):
    """The leak gate failed. ``failures`` lists every failing expectation (names and counts)."""

    default_reason = Reason.GATE_FAILED
    exit_code = 3

    def __init__(
        self,
        message: str,
        *,
        failures: Sequence[Mapping[str, object]] = (),
        **context: Any,
    ) -> None:
        self.failures: list[dict[str, object]] = [dict(f) for f in failures]
        super().__init__(message, **context)


class WarehouseError(DataError):
    """The warehouse cannot be opened, read or written. Names and counts only, never values:
    the database's own message can quote data, so only its type (``cause``) is kept."""

    default_reason = Reason.WAREHOUSE

    def __init__(
        self,
        message: str,
        *,
        schema: str | None = None,
        cause: str | None = None,
        statement: str | None = None,  # which statement failed: "retention delete", ...
        detail: str | None = None,  # the driver's own message, only when it can hold no value
        **context: Any,
    ) -> None:
        self.schema = schema
        self.cause = cause
        self.statement = statement
        self.detail = detail
        super().__init__(message, **context)

    def _context(self) -> tuple[tuple[str, object], ...]:
        return (
            ("schema", self.schema),
            ("table", self.table),
            ("column", self.column),
            ("check", self.check),
            ("statement", self.statement),
            ("reason", self.reason),
            ("count", self.count),
            ("cause", self.cause),
        )

    def __str__(self) -> str:
        said = f": {self.detail}" if self.detail else ""
        ctx = ", ".join(f"{k}={v}" for k, v in self._context() if v is not None)
        return f"{self.message}{said} [{ctx}]"


class WarehouseLockedError(WarehouseError):
    """Another process or writer holds the warehouse (a DuckDB file takes one writer)."""

    default_reason = Reason.LOCKED
    transient = True
