"""The ``run_gate`` step of a run (:mod:`minimizer.flow`): fail closed before the load.

It runs after the guarantees, so it validates what they leave, over the canary records that
the ``CanaryObserver`` (:mod:`minimizer.gate.canary`) wrote while the sources were staged. On
any failed expectation it raises :class:`~minimizer.errors.GateError` (exit code 3):
the load never starts, the warehouse keeps its last good state, and the message names table,
column, expectation and counts, never a value.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from minimizer.errors import GateError, MinimizerError
from minimizer.gate.canary import CanaryRecord, merged
from minimizer.policy import Policy
from minimizer.report import RunReport

if TYPE_CHECKING:
    from minimizer.gate.validate import GateOutcome
    from minimizer.keys import KeyRing

__all__ = ["gate_directory", "run_gate"]

log = logging.getLogger("minimizer.gate")
_SHOWN = 5  # failures spelled out in the message; all are in GateError.failures


def gate_directory(artifacts: Path, run_id: str) -> Path:
    return artifacts / "gate" / run_id


def _record(report: RunReport, table: str) -> CanaryRecord:
    path = report.sources[table].canary
    if path is None:
        raise GateError(
            f"no canary record for {table!r}: the gate's observer did not see it staged",
            table=table,
            check="canary",
            reason="no_canary_record",
        )
    return CanaryRecord.load(path)


def _message(failures: Sequence[dict[str, object]]) -> str:
    lines = [
        f"{f['table']}.{f['column'] or '*'}: {f['expectation']} "
        f"(unexpected_count={f.get('unexpected_count')}"
        + (f", element_count={f['element_count']}" if "element_count" in f else "")
        + (f", error={f['error']}" if "error" in f else "")
        + ")"
        for f in failures[:_SHOWN]
    ]
    more = f"; and {len(failures) - _SHOWN} more" if len(failures) > _SHOWN else ""
    return f"leak gate failed, nothing loaded: {len(failures)} expectation(s) failed: " + (
        "; ".join(lines) + more
    )


def run_gate(
    policy: Policy,
    report: RunReport,
    keyring: KeyRing,
    artifacts: Path | None,
    *,
    work: Path | None = None,
) -> GateOutcome:
    """Validate the run's staged tables; record the outcome in ``report.gate``; raise on failure.
    ``work``: where the gate's scratch database goes (the run's staging, swept if it dies)."""
    from minimizer.gate.validate import validate_tables

    # every table is compared with the raw identifiers of all sources (and the CRM's); the
    # files are rewritten so any later reader of a record sees the same
    records = merged({table: _record(report, table) for table in policy.sources})
    for table, record in records.items():
        saved = report.sources[table].canary
        assert saved is not None  # _record refused a table without one
        record.save(saved.parent)
    staged = {t: r.staged for t, r in report.sources.items() if r.staged and r.staged.exists()}
    missing = [table for table in policy.sources if table not in staged]
    if missing:
        raise GateError(
            f"nothing staged to check for {missing}",
            table=missing[0],
            check="leak_gate",
            reason="not_staged",
            count=len(missing),
        )
    try:
        outcome = validate_tables(
            policy,
            staged,
            records,
            secret=keyring.secret_for("canary", report.key_version),
            retention_cutoff=report.retention_cutoff,
            run_id=report.run_id,
            directory=gate_directory(artifacts, report.run_id) if artifacts else None,
            work=work,
        )
    except MinimizerError:
        raise
    except Exception as exc:  # GX or I/O failed outside an expectation: fail closed, no value
        raise GateError(
            f"the leak gate could not run ({type(exc).__name__}); nothing loaded",
            check="leak_gate",
            reason="gate_error",
        ) from None
    report.gate = outcome.summary()
    where = f"; artefacts in {outcome.directory}" if outcome.directory else ""
    if not outcome.success:
        first = outcome.failures[0]
        log.error("leak gate of %s failed%s", policy.purpose, where)
        raise GateError(
            _message(outcome.failures),
            table=str(first["table"]),
            column=first.get("column"),
            check="leak_gate",
            count=len(outcome.failures),
            failures=outcome.failures,
        )
    log.info(
        "leak gate of %s passed: %d expectation(s)%s",
        policy.purpose,
        report.gate["evaluated"],
        where,
    )
    return outcome
