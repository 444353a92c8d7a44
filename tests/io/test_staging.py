"""A run killed with SIGKILL leaves its staging folder behind; the next run removes it, and
never the folder of a run that is alive."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from minimizer.io.staging import OWNER, open_staging, remove_stale

HOLD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from minimizer.io.staging import open_staging
    staging = open_staging("churn_analysis", Path(sys.argv[1]))
    (staging.path / "customers.parquet").write_bytes(b"staged rows")
    print(staging.path, flush=True)
    time.sleep(120)
    """
)


def holder(root: Path) -> tuple[subprocess.Popen[str], Path]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(root)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    return proc, Path(proc.stdout.readline().strip())


def test_the_next_run_removes_the_staging_of_a_killed_run_and_keeps_a_live_one(tmp_path):
    killed, dead_dir = holder(tmp_path)
    alive, live_dir = holder(tmp_path)
    try:
        assert (dead_dir / "customers.parquet").exists() and (dead_dir / OWNER).exists()
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait()
        assert dead_dir.exists()  # nothing could clean up
        mine = open_staging("footfall_heatmap", tmp_path)
        assert not dead_dir.exists()
        assert (live_dir / "customers.parquet").exists()  # a live run's folder stays
        assert remove_stale(tmp_path) == 0  # and so does this run's own
        mine.close()
        assert not mine.path.exists()
    finally:
        alive.kill()
        alive.wait()
    assert remove_stale(tmp_path) == 1 and not live_dir.exists()


def test_folders_that_are_not_minimizer_staging_are_never_touched(tmp_path):
    foreign = tmp_path / "minimizer-someone-else"
    foreign.mkdir()
    (foreign / "data.parquet").write_bytes(b"not ours to judge")
    creating = tmp_path / "minimizer-churn_analysis-new"
    creating.mkdir()
    (creating / OWNER).touch()  # owner file not yet written: a run being created
    assert remove_stale(tmp_path) == 0
    assert (foreign / "data.parquet").exists() and creating.exists()
