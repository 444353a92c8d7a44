"""The bodies of a purpose DAG's tasks: the steps of :mod:`minimizer.flow`, one task per group.

========  =====================================================================================
task      steps of the flow
========  =====================================================================================
extract   `flow.suppression_set`, then `flow.extract` of every source into raw Parquet chunks
minimise  `flow.minimise` of every source, from those chunks, with the same named observers
gate      `flow.check`: enforce_guarantees, run_gate, assert_no_new_erasures, aggregate_outputs
load      `flow.load`: the one warehouse transaction (tables, retention deletes, audit row)
publish   the final audit row, the report, and `flow.record` (runs.jsonl, artefact pruning)
cleanup   however the run ended: an unfinished run recorded as failed, the staging deleted
========  =====================================================================================

Each task gets the ``run`` dict (policy file, Airflow run id, data interval, as-of), the path
of the `RunState` saved by the task before it, and an `Environment` resolved inside the task.
It continues the run from that state, saves its own beside it in the run's staging directory
and returns the new path, which is all that travels through XCom: never a frame, a value, a
URL or a key.

Tasks are idempotent. A task repeated (a retry, a cleared task) starts again from the same
input state and rewrites only its own output; loads replace tables or ranges, and the audit
row is keyed by the run id. A task holds its run directory's lock while it works; the extract
of a purpose's next run removes the directories of its earlier runs that nobody holds (a
worker killed before its cleanup ran). A failed task saves ``failed.json``.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from minimizer import flow
from minimizer.errors import MinimizerError
from minimizer.flow import RunState
from minimizer.io.staging import held, remove_stale
from minimizer.io.warehouse import Warehouse, open_warehouse
from minimizer.keys import KeyRing
from minimizer.orchestration.environment import Environment, SetupError
from minimizer.orchestration.staged import RawWriter, StagedSource
from minimizer.pipeline import RunStatus, Sources, mark_failed, start_run
from minimizer.policy import Policy, load_policy

__all__ = [
    "RAW",
    "STEPS",
    "Run",
    "cleanup",
    "extract",
    "gate",
    "load",
    "minimise",
    "publish",
    "run_dir",
]

log = logging.getLogger("minimizer.airflow")

# States a run leaves in its staging directory, most advanced first.
_PROGRESS = ("publish", "load", "gate", "minimise", "extract")
_FAILED = "failed"
RAW = "raw"  # holds raw personal data: deleted once minimised, and when the run ends
MINIMISED = "minimised"
CHECKED = "checked"


@dataclass(frozen=True)
class Run:
    """One DAG run, as the tasks see it. ``interval`` None means: the whole retention window;
    ``as_of`` None means: when the extract runs (the state keeps it for the later tasks)."""

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


def _save(state: RunState, path: Path) -> str:
    return _write_private(path, state.to_json())


def _write_private(path: Path, text: str) -> str:
    """Written whole or not at all, readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)
    return str(path)


def _fresh(directory: Path) -> Path:
    """An empty owner-only directory: a repeated task never sees a failed attempt's files."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, mode=0o700)
    return directory


def _policy(run: Run, state: RunState | None = None) -> Policy:
    policy = load_policy(run.policy)
    if state is not None and policy.sha256 != state.report.policy_sha256:
        raise SetupError(
            f"policy {run.policy.name} changed while run {state.report.run_id} was in "
            "progress; clear the whole DAG run to start it again"
        )
    return policy


def _sources(env: Environment) -> Sources:
    return Sources(crm=env.crm, events=env.events)


def _flow(
    policy: Policy,
    keyring: KeyRing,
    warehouse: Warehouse | None,
    state: RunState,
    env: Environment,
    where: Path,
) -> flow.Run:
    return flow.Run(policy, keyring, warehouse, state, env.artifacts, where)


@contextmanager
def _step(
    step: str, run: Run, state_path: str, env: Environment
) -> Iterator[tuple[Policy, RunState, Path]]:
    """Continue a run from a saved state, holding its directory; a data or policy failure is
    saved as failed.json."""
    state = RunState.from_json(Path(state_path).read_text())
    where = run_dir(env, state.report.purpose, run.run_id)
    with held(where):
        try:
            yield _policy(run, state), state, where
        except MinimizerError as exc:
            mark_failed(state.report, exc)
            _save(state, where / f"{_FAILED}.json")
            raise
    log.info("%s done for run %s of %s", step, state.report.run_id, state.report.purpose)


def _write_raw(directory: Path, source: str, chunks: Iterable[pd.DataFrame]) -> None:
    writer = RawWriter(directory, source)
    for chunk in chunks:
        writer.write(chunk)


def extract(run: Run, env: Environment) -> str:
    """Start the run and stage the policy-named columns of every source, raw."""
    policy = _policy(run)
    ring = env.keyring()
    report, _ = start_run(policy, ring, run.as_of)
    state = RunState(report=report)
    where = run_dir(env, policy.purpose, run.run_id)
    # Earlier runs of this purpose whose cleanup never ran (a killed worker): one run of a
    # purpose at a time (max_active_runs=1), so a directory nobody holds is a dead run's.
    remove_stale(where.parent, pattern="*", spare=where)
    with held(where):
        raw = _fresh(where / RAW)
        try:
            with open_warehouse(env.warehouse, **env.warehouse_options) as wh:
                steps = _flow(policy, ring, wh, state, env, where)
                # A repeated extract quarantines its future-dated rows afresh, not twice.
                shutil.rmtree(steps.quarantine, ignore_errors=True)
                suppressed = flow.suppression_set(steps)
                sources = _sources(env)
                for name in policy.sources:
                    handle = flow.open_source_report(steps, sources, name)
                    chunks = flow.extract(steps, name, handle, suppressed, interval=run.interval)
                    _write_raw(raw / name, name, chunks)
        except BaseException as exc:
            # A half-written extract is raw data nobody will read: remove it now.
            shutil.rmtree(raw, ignore_errors=True)
            if isinstance(exc, MinimizerError):
                mark_failed(report, exc)
                _save(state, where / f"{_FAILED}.json")
            raise
        for name, rep in report.sources.items():
            log.info("extracted %s: %d rows (%d erased left out)", name, rep.rows_in, rep.excluded)
        return _save(state, where / "extract.json")


def minimise(run: Run, state_path: str, env: Environment) -> str:
    """Transform the staged raw chunks; the raw chunks go as soon as this has succeeded."""
    with _step("minimise", run, state_path, env) as (policy, state, where):
        done = where / "minimise.json"
        if done.exists() and not (where / RAW).exists():
            # An attempt that finished but was not marked done: its output stands.
            log.info("minimise already done for run %s; its raw input is gone", run.run_id)
            return str(done)
        steps = _flow(policy, env.keyring(), None, state, env, where)
        crm = flow.canary_index(steps, env.crm)
        out = _fresh(where / MINIMISED)
        for name, spec in policy.sources.items():
            chunks = StagedSource(where / RAW / name, name).chunks(spec.inputs())
            flow.minimise(steps, name, chunks, flow.observers(steps, name, crm), out)
        for name, rep in state.report.sources.items():
            log.info("minimised %s: %d rows (%d rejected)", name, rep.rows_out, rep.rejected)
        saved = _save(state, done)
        shutil.rmtree(where / RAW, ignore_errors=True)
    return saved


def gate(run: Run, state_path: str, env: Environment) -> str:
    """The steps over the staged files (guarantees, the leak gate, erasures since the extract,
    aggregates), on fresh copies of the minimised files. Raises: nothing loads."""
    with _step("gate", run, state_path, env) as (policy, state, where):
        checked = _fresh(where / CHECKED)
        for name, rep in state.report.sources.items():
            source = where / MINIMISED / f"{name}.parquet"
            rep.staged = Path(shutil.copy2(source, checked / source.name))
        with open_warehouse(env.warehouse, **env.warehouse_options) as wh:
            flow.check(_flow(policy, env.keyring(), wh, state, env, where))
        return _save(state, where / "gate.json")


def load(run: Run, state_path: str, env: Environment) -> str:
    """One warehouse transaction: the purpose's tables (or the run's range), retention and
    the audit row; the recorded row counts are the tables' counts after it."""
    with _step("load", run, state_path, env) as (policy, state, where):
        with open_warehouse(env.warehouse, **env.warehouse_options) as wh:
            flow.load(_flow(policy, env.keyring(), wh, state, env, where), run.interval)
        for name, rows in state.report.loaded_rows.items():
            log.info("loaded %s.%s: %d rows in the table", policy.purpose, name, rows)
        return _save(state, where / "load.json")


def publish(run: Run, state_path: str, env: Environment) -> str:
    """The audit artefacts: the final audit row, the report and the run's record."""
    from minimizer.audit.retention import keep_from_env

    with _step("publish", run, state_path, env) as (policy, state, where):
        report = state.report
        report.finished_at = datetime.now(UTC)
        published = env.artifacts / "reports" / policy.purpose / f"{report.run_id}.json"
        _write_private(published, report.to_json())
        with open_warehouse(env.warehouse, **env.warehouse_options) as wh:
            wh.record_audit({**report.audit_row(), "status": report.status})
        flow.record(env.artifacts, report, keep_from_env())
        _save(state, where / "publish.json")
        log.info("published %s", published)
        return str(published)


def cleanup(run: Run, env: Environment, purpose: str) -> dict[str, Any]:
    """However the run ended: record it if it did not publish, then delete its staging."""
    from minimizer.audit.retention import keep_from_env

    where = run_dir(env, purpose, run.run_id)
    recorded = None
    if where.is_dir() and not (where / "publish.json").exists():
        last = next(
            (where / f"{n}.json" for n in (_FAILED, *_PROGRESS) if (where / f"{n}.json").exists()),
            None,
        )
        if last is not None:
            report = RunState.from_json(last.read_text()).report
            if report.status != "failed":
                report.status, report.error = RunStatus.FAILED, "a task failed; see its Airflow log"
                report.finished_at = datetime.now(UTC)
            flow.record(env.artifacts, report, keep_from_env())
            recorded = report.status
    if where.is_dir():
        from minimizer.orchestration.lineage import emit_staged_run

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


# The tasks that continue a run from the state of the task before them, in order.
STEPS = {
    "minimise": minimise,
    "gate": gate,
    "load": load,
    "publish": publish,
}
