"""A command's wall time, CPU time and its own peak RSS, as a fresh child process.

Linux charges a process, at ``exec``, the peak RSS of the memory it had before; a child forked
(or vforked) from a big benchmark process would report the benchmark's memory as its own. So
the command runs under a small trampoline Python process that forks and execs it and reports
the rusage of that grandchild alone (``wait4``): its peak RSS is the command's own, as
``/usr/bin/time -v`` would report it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Measured", "run_measured"]

_TRAMPOLINE = """
import json, os, sys, time
out, argv = sys.argv[1], sys.argv[2:]
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execv(argv[0], argv)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - t0
with open(out, "w") as fh:
    json.dump({"wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
               "rss_kib": usage.ru_maxrss, "code": os.waitstatus_to_exitcode(status)}, fh)
"""


@dataclass(frozen=True)
class Measured:
    wall_s: float
    cpu_s: float  # user + system
    peak_rss_mib: float
    output: str  # stdout and stderr, for errors and for a last JSON line


def run_measured(argv: Sequence[str], env: Mapping[str, str]) -> Measured:
    """Run ``argv`` (an executable's path first) and measure it; raise if it fails."""
    with tempfile.NamedTemporaryFile(suffix=".json") as figures, tempfile.TemporaryFile() as log:
        subprocess.run(
            [sys.executable, "-c", _TRAMPOLINE, figures.name, *argv],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            check=False,
        )
        log.seek(0)
        output = log.read().decode(errors="replace")
        doc = json.loads(figures.read() or b"{}")
    if doc.get("code") != 0:
        raise RuntimeError(f"{os.path.basename(argv[0])} failed:\n{output[-3000:]}")
    return Measured(doc["wall"], doc["cpu"], doc["rss_kib"] / 1024, output)
