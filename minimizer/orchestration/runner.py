"""Airflow's side of a task: the run from the task context, the environment, and failures.

The DAG files call `call` (or `call_cleanup`) inside each task, so they hold wiring only.

Failures are of two kinds. A failing guarantee or gate, bad data, a wrong policy, missing key
material or a bug will fail again on a retry: the task fails at once (``AirflowFailException``)
with one log line per failing check, naming table, column and check. A locked DuckDB file, an
unreachable database or a full disk may pass on a retry: Airflow retries those. Messages of minimizer errors
never carry values. Any other exception's message might (a driver quoting a row), so only its
type and stack are logged, and it is re-raised without its message.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping
from typing import Any, NoReturn

from minimizer.errors import DataError, GateError, MinimizerError, is_transient

__all__ = ["TRANSIENT_REASONS", "TRANSIENT_TYPES", "call", "call_cleanup", "run_info"]

log = logging.getLogger("minimizer.airflow")

# Reason codes of errors that a retry may cure; every other minimizer error fails at once.
TRANSIENT_REASONS = frozenset(
    {"unreadable", "missing_source", "locked", "unreachable", "load_failed", "audit_failed"}
)
# Other exceptions a retry may cure (the system, not the code or the data); the rest, from a
# ValueError on odd data to an ImportError, would fail again: they fail at once.
TRANSIENT_TYPES: tuple[type[BaseException], ...] = (OSError, TimeoutError, MemoryError)
_BEFORE_COMMIT = ("extract", "minimise", "gate", "load")
_FAILURE_KEYS = ("table", "column", "check", "expectation", "reason", "count")


def _iso(moment: Any) -> str | None:
    return None if moment is None else moment.isoformat()


def run_info(policy_file: str, context: Mapping[str, Any]) -> dict[str, Any]:
    """The run as the tasks see it, from the Airflow context: JSON-able, no secrets.

    The data interval says which events a run loads; the run's as-of (retention cutoff, ages)
    is when its extract runs, as for the CLI: a backfill never reloads expired rows.
    """
    params = context.get("params") or {}
    return {
        "policy": policy_file,
        "run_id": context["run_id"],
        "start": _iso(context.get("data_interval_start")),
        "end": _iso(context.get("data_interval_end")),
        "full_refresh": bool(params.get("full_refresh", False)),
    }


def _describe(exc: MinimizerError) -> list[str]:
    """One line per failing check: names and counts only."""
    if isinstance(exc, GateError) and exc.failures:
        return [
            "gate check failed: "
            + " ".join(f"{k}={f[k]}" for k in _FAILURE_KEYS if f.get(k) is not None)
            for f in exc.failures
        ]
    if isinstance(exc, DataError):
        parts = {k: getattr(exc, k, None) for k in _FAILURE_KEYS}
        return [
            f"{type(exc).__name__}: "
            + " ".join(f"{k}={v}" for k, v in parts.items() if v is not None)
        ]
    return [f"{type(exc).__name__}: {exc}"]


def _fail(exc: Exception, step: str, purpose: str) -> NoReturn:
    from airflow.sdk.exceptions import AirflowException, AirflowFailException

    closed = "; nothing was loaded" if step in _BEFORE_COMMIT else ""
    if isinstance(exc, MinimizerError):
        for line in _describe(exc):
            log.error("%s of %s failed closed%s: %s", step, purpose, closed, line)
        message = f"{step} of {purpose} failed{closed}: {type(exc).__name__}: {exc}"
        if is_transient(exc):
            raise AirflowException(message) from None
        raise AirflowFailException(message) from None
    log.error(
        "%s of %s failed%s: %s (message withheld: it may quote source data)\n%s",
        step,
        purpose,
        closed,
        type(exc).__name__,
        "".join(traceback.format_tb(exc.__traceback__)),
    )
    message = f"{step} of {purpose} failed{closed}: {type(exc).__name__}"
    if isinstance(exc, TRANSIENT_TYPES):
        raise AirflowException(message) from None
    raise AirflowFailException(message) from None


def call(
    step: str,
    policy_file: str,
    purpose: str,
    context: Mapping[str, Any],
    report: str | None = None,
) -> str:
    """Run one task body; returns the path of the report it saved (all that goes to XCom)."""
    from minimizer.orchestration import tasks
    from minimizer.orchestration.environment import from_airflow

    try:
        run = tasks.Run.from_dict(run_info(policy_file, context))
        env = from_airflow()
        if report is None:
            return tasks.extract(run, env)
        return tasks.STEPS[step](run, report, env)
    except Exception as exc:
        _fail(exc, step, purpose)


def call_cleanup(policy_file: str, purpose: str, context: Mapping[str, Any]) -> dict[str, Any]:
    """Delete the run's staging however the run ended (a teardown task)."""
    from minimizer.orchestration import tasks
    from minimizer.orchestration.environment import from_airflow

    try:
        run = tasks.Run.from_dict(run_info(policy_file, context))
        return tasks.cleanup(run, from_airflow(), purpose)
    except Exception as exc:
        _fail(exc, "cleanup", purpose)
