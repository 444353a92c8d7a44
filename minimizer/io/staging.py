"""Staging folders of runs, and the removal of those whose run died.

A run stages its minimised output in a folder of its own under the system temporary
directory and removes it when it ends. A run killed with SIGKILL (or by the OOM killer)
cannot, and its staged Parquet would stay behind. So each folder holds an owner file that its
run keeps locked (``flock``) for as long as the process lives; the kernel drops the lock when
the process dies, however it dies. Every new run first removes the folders whose lock is free.

A folder whose owner file is still empty is being created (the pid is written once the lock is
held) and is left alone unless it is older than ``_CREATING_GRACE``. Folders without an owner
file are not minimizer's to judge and are never touched.

A run split into Airflow tasks spans several processes: each task holds its run folder's lock
while it works in it (`held`), and the extract of the purpose's next run removes the folders
of its earlier runs whose lock is free (`remove_stale` with the purpose's folder as root). The
purpose DAGs run one at a time (``max_active_runs=1``), so such a folder's run is over.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

try:  # POSIX; on Windows a folder of a killed run stays, as before
    import fcntl
except ImportError:  # pragma: no cover
    # a module variable set to None where fcntl does not exist; callers check for None.
    fcntl = None  # type: ignore[assignment]

__all__ = ["PREFIX", "Staging", "held", "open_staging", "remove_stale"]

log = logging.getLogger("minimizer.run")

PREFIX = "minimizer-"
OWNER = ".minimizer-owner"
_CREATING_GRACE = 3600.0  # seconds
_HOLD_TIMEOUT = 600.0  # seconds a task waits for an earlier attempt of it to let go


@dataclass
class Staging:
    """A run's staging folder, locked by this process until :meth:`close`."""

    path: Path
    _fd: int | None = field(default=None, repr=False)

    def close(self) -> None:
        """Remove the folder, then let go of the lock."""
        shutil.rmtree(self.path, ignore_errors=True)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _lock(fd: int) -> bool:
    if fcntl is None:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def remove_stale(
    root: Path | None = None, *, pattern: str = f"{PREFIX}*", spare: Path | None = None
) -> int:
    """Remove the staging folders under ``root`` (those named like ``pattern``) whose run is
    dead, never ``spare`` (the caller's own); how many went."""
    if fcntl is None:
        return 0
    base = Path(root or tempfile.gettempdir())
    removed = 0
    for owner in sorted(base.glob(f"{pattern}/{OWNER}")):
        if spare is not None and owner.parent == spare:
            continue
        try:
            fd = os.open(owner, os.O_RDWR)
        except OSError:
            continue
        try:
            if not _lock(fd):
                continue  # its run is alive
            fresh = time.time() - os.fstat(fd).st_mtime < _CREATING_GRACE
            if os.fstat(fd).st_size == 0 and fresh:
                continue  # being created: the pid is written once the lock is held
            shutil.rmtree(owner.parent, ignore_errors=True)
            removed += 1
        finally:
            os.close(fd)
    if removed:
        log.warning("removed %d staging folder(s) left behind by dead runs", removed)
    return removed


def open_staging(purpose: str, root: Path | None = None) -> Staging:
    """A new locked staging folder for a run of ``purpose``, after removing dead runs' ones."""
    base = Path(root or tempfile.gettempdir())
    remove_stale(base)
    path = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{purpose}-", dir=base))
    fd = os.open(path / OWNER, os.O_RDWR | os.O_CREAT, 0o600)
    while not _lock(fd):  # a sweeper looking at the new file holds it for an instant
        time.sleep(0.01)
    os.write(fd, f"{os.getpid()}\n".encode())
    return Staging(path, fd)


@contextmanager
def held(path: Path) -> Iterator[Path]:
    """Hold the lock of a run folder that outlives this process (one Airflow task of a run):
    while it is held, no sweep removes the folder. Created owner-only if missing."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path / OWNER, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        waited = 0.0
        while not _lock(fd):  # an earlier attempt of this task still winding down
            if waited > _HOLD_TIMEOUT:
                raise TimeoutError("the run's staging folder is held by another process")
            time.sleep(0.05)
            waited += 0.05
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield path
    finally:
        os.close(fd)
