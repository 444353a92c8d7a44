"""The bodies of a purpose DAG's tasks: plain functions of paths and small JSON-able dicts.

Each task gets the ``run`` dict (policy file, Airflow run id, data interval, as-of), the path
of the report saved by the task before it, and an `Environment` resolved inside the task. It
continues the run from that report, saves its own report beside it in the run's staging
directory and returns the new path, which is all that travels through XCom: never a frame, a
value, a URL or a key.

Tasks are idempotent. A task repeated (a retry, a cleared task) starts again from the same
input report and rewrites only its own output; loads replace tables or ranges, and the audit
row is keyed by the run id. A failed task saves ``failed.json``; `cleanup`, which runs however
the run ended, records an unfinished run in ``runs.jsonl`` and deletes the staging directory,
raw data included.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from minimizer.errors import MinimizerError
from minimizer.io.warehouse import Warehouse, open_warehouse
from minimizer.keys import KeyRing
from minimizer.orchestration import phases
from minimizer.orchestration.environment import Environment, SetupError
from minimizer.pipeline import Hooks, RunReport, Sources, mark_failed, start_run
from minimizer.policy import Policy, load_policy

__all__ = [
    "STEPS",
    "Run",
    "cleanup",
    "extract",
    "gate",
    "load",
    "minimise",
    "publish",
    "retention",
    "run_dir",
]

log = logging.getLogger("minimizer.airflow")

# Feature packages that register their hooks in service.FEATURES when imported.
_FEATURE_MODULES = ("minimizer.guarantees", "minimizer.gate")
# Reports a run leaves in its staging directory, most advanced first.
_PROGRESS = ("publish", "retention", "load", "gate", "minimise", "extract")
_FAILED = "failed"


@dataclass(frozen=True)
class Run:
    """One DAG run, as the tasks see it. ``interval`` None means: the whole retention window;
    ``as_of`` None means: when the extract runs (the report keeps it for the later tasks)."""

    policy: Path
    run_id: str
    interval: tuple[datetime, datetime] | None
    as_of: datetime | None = None

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Run:
        start, end = doc.get("start"), doc.get("end")
        interval = None
        if start and end and start != end and not doc.get("full_refresh"):
            interval = (datetime.fromisoformat(start), datetime.fromisoformat(end))
        as_of = doc.get("as_of")
        return cls(
            policy=Path(doc["policy"]),
            run_id=str(doc["run_id"]),
            interval=interval,
            as_of=None if as_of is None else datetime.fromisoformat(as_of).astimezone(UTC),
        )


def run_dir(env: Environment, purpose: str, run_id: str) -> Path:
    """The run's staging directory: the same in every task of the run, from names alone."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", run_id)
    return env.staging / purpose / safe


def _save(report: RunReport, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    try:
        text = report.to_json()
    except TypeError as exc:  # a feature left working data that cannot cross tasks
        raise SetupError(f"run report cannot be saved: {exc}") from None
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)
    return str(path)


def _policy(run: Run, report: RunReport | None = None) -> Policy:
    policy = load_policy(run.policy)
    if report is not None and policy.sha256 != report.policy_sha256:
        raise SetupError(
            f"policy {run.policy.name} changed while run {report.run_id} was in progress; "
            "clear the whole DAG run to start it again"
        )
    return policy


def _hooks(policy: Policy, keyring: KeyRing, warehouse: Warehouse, env: Environment) -> Hooks:
    from minimizer import service

    for name in _FEATURE_MODULES:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
    setting = service.RunSetting(policy, keyring, warehouse, env.artifacts, _sources(env))
    return service.build_hooks(setting)


@contextmanager
def _step(
    step: str, run: Run, report_path: str, env: Environment
) -> Iterator[tuple[Policy, RunReport, Path]]:
    """Continue a run from a saved report; a data or policy failure is saved as failed.json."""
    report = RunReport.from_json(Path(report_path).read_text())
    where = run_dir(env, report.purpose, run.run_id)
    try:
        yield _policy(run, report), report, where
    except MinimizerError as exc:
        mark_failed(report, exc)
        _save(report, where / f"{_FAILED}.json")
        raise
    log.info("%s done for run %s of %s", step, report.run_id, report.purpose)


def _sources(env: Environment) -> Sources:
    return Sources(crm=env.crm, events=env.events)


def extract(run: Run, env: Environment) -> str:
    """Start the run and stage the policy-named columns of every source, raw."""
    policy = _policy(run)
    ring = env.keyring()
    report, _ = start_run(policy, ring, run.as_of)
    where = run_dir(env, policy.purpose, run.run_id)
    try:
        with open_warehouse(env.warehouse, **env.warehouse_options) as wh:
            hooks = _hooks(policy, ring, wh, env)
            phases.extract(policy, report, _sources(env), where, interval=run.interval, hooks=hooks)
    except MinimizerError as exc:
        mark_failed(report, exc)
        _save(report, where / f"{_FAILED}.json")
        raise
    for name, rep in report.sources.items():
        log.info("extracted %s: %d rows (%d erased left out)", name, rep.rows_in, rep.excluded)
    return _save(report, where / "extract.json")


def minimise(run: Run, report_path: str, env: Environment) -> str:
    """Transform the staged raw chunks; the raw chunks go as soon as this has succeeded."""
    with _step("minimise", run, report_path, env) as (policy, report, where):
        done = where / "minimise.json"
        if done.exists() and not (where / phases.RAW).exists():
            # An attempt that finished but was not marked done: its output stands.
            log.info("minimise already done for run %s; its raw input is gone", report.run_id)
            return str(done)
        ring = env.keyring()
        with open_warehouse(env.warehouse, **env.warehouse_options) as wh:
            hooks = _hooks(policy, ring, wh, env)
            quarantine = env.artifacts / "rejected" / report.run_id
            phases.minimise(policy, report, ring, where, quarantine=quarantine, hooks=hooks)
        for name, rep in report.sources.items():
            log.info("minimised %s: %d rows (%d rejected)", name, rep.rows_out, rep.rejected)
        saved = _save(report, where / "minimise.json")
    shutil.rmtree(where / phases.RAW, ignore_errors=True)
    return saved


def gate(run: Run, report_path: str, env: Environment) -> str:
    """Guarantees, then the leak gate, over the minimised files. Raises: nothing loads."""
    with _step("gate", run, report_path, env) as (policy, report, where):
        ring = env.keyring()
        with open_warehouse(env.warehouse, **env.warehouse_options) as wh:
            hooks = _hooks(policy, ring, wh, env)
            phases.check(policy, report, where, hooks=hooks)
        log.info("%d check(s) passed", len(hooks.checks))
        return _save(report, where / "gate.json")


def load(run: Run, report_path: str, env: Environment) -> str:
    """One warehouse transaction: the purpose's tables (or the run's range), and the audit row."""
    with _step("load", run, report_path, env) as (policy, report, where):
        with open_warehouse(env.warehouse, **env.warehouse_options) as wh:
            phases.load(policy, report, wh, interval=run.interval)
        for name, rows in report.loaded_rows.items():
            log.info("loaded %s.%s: %d rows in the table", policy.purpose, name, rows)
        return _save(report, where / "load.json")


def retention(run: Run, report_path: str, env: Environment) -> str:
    """Delete rows older than the retention cutoff from every time-bearing table."""
    with _step("retention", run, report_path, env) as (policy, report, where):
        with open_warehouse(env.warehouse, **env.warehouse_options) as wh:
            deleted = phases.enforce_retention(policy, report, wh)
        log.info("retention cutoff %s: %s", report.retention_cutoff.date(), deleted or "no table")
        return _save(report, where / "retention.json")


def publish(run: Run, report_path: str, env: Environment) -> str:
    """The audit artefacts: the final audit row, the report and a line in runs.jsonl."""
    with _step("publish", run, report_path, env) as (policy, report, where):
        report.finished_at = datetime.now(UTC)
        published = env.artifacts / "reports" / policy.purpose / f"{report.run_id}.json"
        _save(report, published)
        with open_warehouse(env.warehouse, **env.warehouse_options) as wh:
            wh.record_audit({**report.audit_row(), "status": report.status})
        _record(env.artifacts, report)
        _save(report, where / "publish.json")
        log.info("published %s", published)
        return str(published)


def cleanup(run: Run, env: Environment, purpose: str) -> dict[str, Any]:
    """However the run ended: record it if it did not publish, then delete its staging."""
    where = run_dir(env, purpose, run.run_id)
    recorded = None
    if where.is_dir() and not (where / "publish.json").exists():
        last = next(
            (where / f"{n}.json" for n in (_FAILED, *_PROGRESS) if (where / f"{n}.json").exists()),
            None,
        )
        if last is not None:
            report = RunReport.from_json(last.read_text())
            if report.status != "failed":
                report.status, report.error = "failed", "a task failed; see its Airflow log"
                report.finished_at = datetime.now(UTC)
            _record(env.artifacts, report)
            recorded = report.status
    if where.is_dir():
        from minimizer.lineage.airflow import emit_staged_run

        # OpenLineage START and COMPLETE/FAIL through the provider, however the run ended.
        emit_staged_run(run.policy, where, warehouse=env.warehouse, sources=_sources(env))
    files = 0
    if where.is_dir():
        files = sum(1 for p in where.rglob("*") if p.is_file())
        shutil.rmtree(where)
    with suppress(OSError):
        where.parent.rmdir()  # the purpose's directory, once no run of it is left
    log.info("staging of run %s removed (%d file(s))", run.run_id, files)
    return {"removed_files": files, "recorded": recorded}


def _record(artifacts: Path, report: RunReport) -> None:
    # The same line as service's run log: failed runs load nothing, so they are kept here.
    artifacts.mkdir(parents=True, exist_ok=True)
    with (artifacts / "runs.jsonl").open("a") as fh:
        fh.write(json.dumps(report.audit_row(), sort_keys=True, default=str) + "\n")


# The tasks that continue a run from the report of the task before them, in order.
STEPS = {
    "minimise": minimise,
    "gate": gate,
    "load": load,
    "retention": retention,
    "publish": publish,
}
