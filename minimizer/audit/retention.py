"""Retention of run artefacts: gate results and Data Docs, rejected rows, published reports.

Every run writes ``<artifacts>/gate/<run_id>/`` (about 4 MB with GX's Data Docs assets), maybe
``<artifacts>/rejected/<run_id>/`` and ``<artifacts>/reports/<purpose>/<run_id>.json``. Without
a limit they pile up. ``--keep-artifacts 30d`` (or ``MINIMIZER_KEEP_ARTIFACTS``) deletes those
of runs older than that at the end of each run. ``runs.jsonl`` and the warehouse's audit table
are the record of the runs and are never pruned here.

The age of a run comes from its id (``YYYYmmddTHHMMSSZ-…``), else from the file's time.

>>> parse_keep("30d"), parse_keep("12h"), parse_keep("off")
(datetime.timedelta(days=30), datetime.timedelta(seconds=43200), None)
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from minimizer.errors import MinimizerError

__all__ = ["ENV_KEEP", "PruneResult", "keep_from_env", "parse_keep", "prune_artifacts"]

log = logging.getLogger("minimizer.artifacts")

ENV_KEEP = "MINIMIZER_KEEP_ARTIFACTS"
_UNITS = {"d": "days", "h": "hours", "w": "weeks"}
_ID = re.compile(r"^(\d{8}T\d{6}Z)")
# Folders holding one entry (folder or file) per run, named by the run id.
_PER_RUN = ("gate", "rejected")


@dataclass(frozen=True)
class PruneResult:
    removed: int
    bytes_freed: int


def parse_keep(text: str) -> timedelta | None:
    """``30d``, ``12h``, ``2w``; ``off``/``never``/``0`` keeps everything (None)."""
    spelled = text.strip().lower()
    if spelled in ("", "off", "never", "0", "forever"):
        return None
    match = re.fullmatch(r"(\d+)\s*([dhw])", spelled)
    if not match:
        raise MinimizerError(
            f"artefact retention {text!r} is not understood: use a number and a unit, "
            "d (days), h (hours) or w (weeks), e.g. 30d; or off"
        )
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


def keep_from_env() -> timedelta | None:
    return parse_keep(os.environ.get(ENV_KEEP, "off"))


def _started(entry: Path) -> datetime:
    match = _ID.match(entry.name)
    if match:
        return datetime.strptime(match[1], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return datetime.fromtimestamp(entry.stat().st_mtime, UTC)


def _size(entry: Path) -> int:
    if entry.is_file():
        return entry.stat().st_size
    return sum(f.stat().st_size for f in entry.rglob("*") if f.is_file())


def _entries(artifacts: Path) -> list[Path]:
    found = [e for sub in _PER_RUN for e in (artifacts / sub).glob("*")]
    return found + list((artifacts / "reports").glob("*/*.json"))


def prune_artifacts(
    artifacts: Path, keep: timedelta, *, now: datetime | None = None, spare: str | None = None
) -> PruneResult:
    """Delete the artefacts of runs started before ``now - keep``; never those of ``spare``
    (the run that just finished, whatever its clock says)."""
    cutoff = (now or datetime.now(UTC)) - keep
    removed = freed = 0
    for entry in _entries(artifacts):
        if (spare and entry.name.startswith(spare)) or _started(entry) >= cutoff:
            continue
        freed += _size(entry)
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed += 1
    if removed:
        log.info("artefacts of %d old run(s) removed (%d bytes)", removed, freed)
    return PruneResult(removed, freed)
