"""The run of one purpose split into phases that can run in separate processes.

``run_purpose`` streams each source straight through the transforms in one call. An
orchestrator runs the same steps as separate tasks, each continuing from the saved
`RunReport` of the one before:

1. `extract`: the policy-named columns of each source, inside the run's window and without
   erased subjects (``hooks.exclude``), to raw Parquet chunks under ``raw/<source>/``;
2. `minimise`: the staged chunks through the transforms and observers into
   ``minimised/<source>.parquet`` (rows that do not parse go to the quarantine);
3. `check`: a fresh copy of the minimised files in ``checked/``, then ``hooks.checks``
   (guarantees, then the gate), which may rewrite those copies or raise;
4. `load`: the warehouse transaction of ``run_purpose`` (tables, retention, audit row);
5. `enforce_retention`: retention applied again over the purpose's tables, counted.

Every phase is built from the pieces of :mod:`minimizer.pipeline`, so both ways of running
give the same tables. Each phase can be repeated: it rewrites only its own output directory.
"""

from __future__ import annotations

import dataclasses
import shutil
from datetime import datetime
from pathlib import Path

import pandas as pd

from minimizer.io.warehouse import Warehouse
from minimizer.keys import KeyRing
from minimizer.orchestration.staged import RawWriter, StagedSource
from minimizer.pipeline import (
    Hooks,
    RunReport,
    SourceReport,
    Sources,
    Stager,
    load_run,
    open_source,
    run_checks,
    source_window,
    time_output,
)
from minimizer.policy import Policy
from minimizer.retention import retention_unit
from minimizer.transforms import TransformContext

__all__ = ["RAW", "check", "enforce_retention", "extract", "load", "minimise"]

Interval = tuple[datetime, datetime] | None
RAW = "raw"  # holds raw personal data: deleted when the run ends
_MINIMISED = "minimised"
_CHECKED = "checked"


def _fresh(directory: Path) -> Path:
    """An empty owner-only directory: a repeated phase never sees a failed attempt's files."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, mode=0o700)
    return directory


def extract(
    policy: Policy,
    report: RunReport,
    sources: Sources,
    run_dir: Path,
    *,
    interval: Interval,
    hooks: Hooks,
) -> None:
    """Stage the raw input of every source; fills rows in, erased, dropped and drift."""
    raw = _fresh(run_dir / RAW)
    try:
        for name, spec in policy.sources.items():
            handle, plan = open_source(policy, sources, name)
            since, until = source_window(spec, report.retention_cutoff, interval)
            rep = SourceReport(source=name, dropped=plan.dropped, drift=plan.drift)
            writer = RawWriter(raw / name, name)
            chunks = (
                handle.chunks(spec.inputs())
                if spec.time is None
                else handle.chunks(spec.inputs(), time_column=spec.time, since=since, until=until)
            )
            for chunk in chunks:
                rep.rows_in += len(chunk)
                if hooks.exclude is not None:
                    keep = hooks.exclude(name, spec, chunk)
                    rep.excluded += int((~keep).sum())
                    chunk = chunk.loc[keep].reset_index(drop=True)
                writer.write(chunk)
            if writer.parts == 0:  # sources yield one empty frame; never leave a gap
                writer.write(pd.DataFrame({c: pd.Series(dtype="str") for c in spec.inputs()}))
            report.sources[name] = rep
    except BaseException:
        # A half-written extract is raw data nobody will read: remove it now.
        shutil.rmtree(raw, ignore_errors=True)
        raise


def minimise(
    policy: Policy,
    report: RunReport,
    keyring: KeyRing,
    run_dir: Path,
    *,
    quarantine: Path,
    hooks: Hooks,
) -> None:
    """Transform the staged raw chunks; observers see them as in ``run_purpose``."""
    key = keyring.purpose_key(policy.purpose, report.key_version)
    ctx = TransformContext(policy.purpose, report.as_of, key)
    out = _fresh(run_dir / _MINIMISED)
    # Erased subjects were left out by the extract already.
    stager = Stager(ctx, out, quarantine, dataclasses.replace(hooks, exclude=None), None)
    for name, spec in policy.sources.items():
        extracted = report.sources[name]
        staged = StagedSource(run_dir / RAW / name, name)
        rep = stager.stage(name, spec, staged, report.retention_cutoff, None)  # type: ignore[arg-type]
        rep.rows_in, rep.excluded = extracted.rows_in, extracted.excluded
        rep.dropped, rep.drift = extracted.dropped, extracted.drift
        report.sources[name] = rep


def check(policy: Policy, report: RunReport, run_dir: Path, *, hooks: Hooks) -> None:
    """Run the checks over copies of the minimised files, so a retry starts from scratch."""
    checked = _fresh(run_dir / _CHECKED)
    for name, rep in report.sources.items():
        source = run_dir / _MINIMISED / f"{name}.parquet"
        rep.staged = Path(shutil.copy2(source, checked / source.name))
    run_checks(policy, report, hooks)


def load(policy: Policy, report: RunReport, warehouse: Warehouse, *, interval: Interval) -> None:
    """The single warehouse transaction; rerunning it replaces the same tables or ranges."""
    load_run(policy, report, warehouse, interval)


def enforce_retention(policy: Policy, report: RunReport, warehouse: Warehouse) -> dict[str, int]:
    """Delete rows older than the run's cutoff from every table with a time column.

    The load already deleted them in its transaction; this pass repeats it on its own (rows
    that reached a table some other way, a load without retention) and counts what went.
    """
    deleted: dict[str, int] = {}
    existing = set(warehouse.tables())
    for name, spec in policy.sources.items():
        column = time_output(spec)
        if column is not None and (policy.purpose, name) in existing:
            rep = report.sources.get(name)
            unit = retention_unit(spec, column, rep.measures if rep is not None else {})
            deleted[name] = warehouse.apply_retention(
                policy.purpose, name, column, report.retention_cutoff, unit
            )
    report.guarantees["retention_enforced"] = {
        "cutoff": report.retention_cutoff.isoformat(),
        "deleted_after_load": deleted,
    }
    return deleted
