"""The gate as a run feature: a canary observer while staging, a fail-closed check before load.

Registered in ``minimizer.service.FEATURES`` after the guarantees, so it validates what they
leave. On any failed expectation it raises :class:`~minimizer.errors.GateError` (exit code 3):
the load never starts, the warehouse keeps its last good state, and the message names table,
column, expectation and counts, never a value.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from minimizer.errors import GateError, MinimizerError
from minimizer.gate.canary import SCRATCH_KEY, CanaryObserver, CanaryRecord, CrmIndex, merged
from minimizer.gate.rules import identifier_plan
from minimizer.pipeline import ChunkObserver, Hooks, RunReport
from minimizer.policy import Policy, SourceSpec

if TYPE_CHECKING:
    from minimizer.gate.validate import GateOutcome
    from minimizer.keys import KeyRing
    from minimizer.service import RunSetting

__all__ = ["gate_directory", "gate_feature", "gate_hooks", "run_gate"]

log = logging.getLogger("minimizer.gate")
_SHOWN = 5  # failures spelled out in the message; all are in GateError.failures


def gate_directory(artifacts: Path, run_id: str) -> Path:
    return artifacts / "gate" / run_id


def _record(report: RunReport, table: str) -> CanaryRecord:
    path = report.sources[table].scratch.get(SCRATCH_KEY)
    if path is None:
        raise GateError(
            f"no canary record for {table!r}: the gate's observer did not see it staged",
            table=table,
            check="canary",
            reason="no_canary_record",
        )
    return CanaryRecord.load(Path(path))


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
) -> GateOutcome:
    """Validate the run's staged tables; record the outcome in ``report.gate``; raise on failure."""
    from minimizer.gate.validate import validate_tables

    # every table is compared with the raw identifiers of all sources (and the CRM's); the
    # files are rewritten so any later reader of a record sees the same
    records = merged({table: _record(report, table) for table in policy.sources})
    for table, record in records.items():
        record.save(Path(report.sources[table].scratch[SCRATCH_KEY]).parent)
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


def gate_hooks(
    policy: Policy, keyring: KeyRing, artifacts: Path | None, crm: str | None = None
) -> Hooks:
    """The observer that collects the canary's raw digests, and the check. With ``crm`` (the
    CRM database), the canary also reads the identifying columns of all its customers."""
    secret = keyring.secret_for("canary")
    index: list[CrmIndex | None] = []  # the CRM is read once per run, when the first source stages

    def observers(name: str, spec: SourceSpec) -> Sequence[ChunkObserver]:
        if not index:
            index.append(CrmIndex.read(crm, secret) if crm is not None else None)
        return [CanaryObserver(identifier_plan(policy, name), secret, crm=index[0])]

    def check(checked: Policy, report: RunReport) -> None:
        run_gate(checked, report, keyring, artifacts)

    return Hooks(observers=observers, checks=(check,))


def gate_feature(setting: RunSetting) -> Hooks:
    """The entry in ``minimizer.service.FEATURES``."""
    sources = getattr(setting, "sources", None)
    crm = sources.crm if sources is not None else None
    return gate_hooks(setting.policy, setting.keyring, setting.artifacts, crm)
