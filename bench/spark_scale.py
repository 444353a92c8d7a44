"""The Spark engine beside the single-process engine, and how it scales on this machine.

    .venv/bin/python bench/spark_scale.py [--events 20000000] [--per-day 1000000]
        [--grid-events 2000000] [--partitions 2,8,32,200] [--no-grid]

One events source (pseudonymise customer_id, hour of the timestamp, H3 cell at resolution 8,
keep page, drop ip and user agent: bench/throughput.py's workload), read from day-partitioned
Parquet written by bench/workloads.py, staged by each engine as a run stages it (extract,
minimise, the staged Parquet file; no guarantees, no gate, no load):

1. **Same run**: ``--events`` events through the single-process engine
   (``minimizer.flow.stage_sources``, its worker threads) and through the Spark engine on
   ``local[2]`` (``SparkEngine``), each in a fresh process. Events/s exclude the JVM's start.
2. **Memory**: the peak RSS of each process tree: for Spark the driver JVM (which in local mode
   also runs the tasks), its Python workers and the Python driver, sampled every 50 ms; the
   JVM's own high-water mark (VmHWM) too.
3. **Scaling**, on ``--grid-events``: local[2] with ``--partitions`` shuffle partitions (the
   engine sorts each source into read order, so this is how many kernel tasks run); local[1]
   for one core; 1 executor with 2 cores and 2 executors with 1 core (``local-cluster``: real
   executor JVMs, as on a cluster).

The last line is one JSON object with the figures. The machine is shared: run it small.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from workloads import EVENTS_SOURCE

ROOT = Path(__file__).resolve().parents[1]

POLICY = {
    "purpose": "bench_spark",
    "description": "Spark scaling bench",
    "legal_basis": "legitimate_interest",
    "owner": "bench",
    "retention": "2y",
    "sources": {
        "events": EVENTS_SOURCE,
    },
}


# -- memory ---------------------------------------------------------------------------------
class TreeRss:
    """Peak RSS of this process and all its descendants (the JVM, Python workers), sampled."""

    def __init__(self, every: float = 0.05) -> None:
        import psutil

        self._me = psutil.Process()
        self._every = every
        self.peak_mb = 0.0
        self.peak_jvm_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            total = jvm = 0
            for proc in [self._me, *self._me.children(recursive=True)]:
                try:
                    rss = proc.memory_info().rss
                    total += rss
                    if proc.name() == "java":
                        jvm += rss
                except psutil.Error:
                    continue
            self.peak_mb = max(self.peak_mb, total / 2**20)
            self.peak_jvm_mb = max(self.peak_jvm_mb, jvm / 2**20)
            self._stop.wait(self._every)

    @contextmanager
    def sampling(self) -> Iterator[TreeRss]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join()


def jvm_high_water_mb() -> float | None:
    """VmHWM of the py4j gateway's JVM: its peak RSS as the kernel counted it."""
    from pyspark import SparkContext

    gateway = SparkContext._gateway
    proc = getattr(gateway, "proc", None) if gateway is not None else None
    if proc is None:
        return None
    try:
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


# -- one measured run (a child process) ------------------------------------------------------
def _run(work: Path) -> Any:
    from datetime import UTC, datetime

    from minimizer import flow
    from minimizer.keys import KeyRing
    from minimizer.pipeline import start_run
    from minimizer.policy import Policy

    policy = Policy.model_validate(POLICY)
    ring = KeyRing(masters={1: bytes(range(32))}, current=1)
    report, _ = start_run(policy, ring, datetime(2026, 12, 1, tzinfo=UTC))
    work.mkdir(parents=True, exist_ok=True)
    state = flow.RunState(report=report)
    return flow.Run(policy, ring, None, state, work / "artifacts", work, flow.BARE)


def child(args: argparse.Namespace) -> dict[str, Any]:
    from minimizer.pipeline import Sources

    events = Path(args.events_dir)
    sources = Sources(crm=str(events.parent / "no-crm.sqlite"), events=events)
    run = _run(Path(args.work))
    meter = TreeRss()
    figures: dict[str, Any] = {"engine": args.child, "master": args.master}
    with meter.sampling():
        if args.child == "local":
            from minimizer import flow

            t0 = time.perf_counter()
            flow.stage_sources(run, sources, interval=None, progress=None)
            wall = time.perf_counter() - t0
            figures["workers"] = run.workers
        else:
            from minimizer.engines.spark.engine import SparkEngine
            from minimizer.engines.spark.session import spark_session

            conf: dict[str, str] = {}
            if args.partitions:
                # The engine sorts each source into read order: a shuffle into this many
                # partitions, each a Python task of the kernel.
                conf["spark.sql.shuffle.partitions"] = str(args.partitions)
            if args.master.startswith("local-cluster"):
                conf["spark.executor.memory"] = "1g"
            t0 = time.perf_counter()
            spark = spark_session(args.master, conf)
            figures["startup_s"] = round(time.perf_counter() - t0, 1)
            figures["input_partitions"] = spark.read.parquet(str(events)).rdd.getNumPartitions()
            figures["partitions"] = int(spark.conf.get("spark.sql.shuffle.partitions") or 0)
            figures["slots"] = spark.sparkContext.defaultParallelism
            t0 = time.perf_counter()
            SparkEngine(spark=spark)(run, sources, interval=None, progress=None)
            wall = time.perf_counter() - t0
            figures["jvm_vmhwm_mb"] = jvm_high_water_mb()
            spark.stop()
    rows = run.report.sources["events"].rows_out
    figures.update(
        events=rows,
        wall_s=round(wall, 2),
        events_per_s=round(rows / wall),
        peak_rss_tree_mb=round(meter.peak_mb),
        peak_rss_jvm_mb=round(meter.peak_jvm_mb),
    )
    return figures


def measure(events: Path, work: Path, engine: str, master: str = "", partitions: int = 0) -> Any:
    cmd = [sys.executable, __file__, "--child", engine, "--events-dir", str(events)]
    cmd += ["--work", str(work), "--master", master, "--partitions", str(partitions)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:  # keep the other figures; say which configuration failed
        print(f"  {engine} {master} p={partitions} FAILED:\n{(done.stdout + done.stderr)[-1500:]}")
        return {"engine": engine, "master": master, "partitions": partitions, "failed": True}
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    label = f"{engine} {master} p={figures.get('partitions', '-')}".strip()
    print(
        f"  {label:<34} {figures['events_per_s']:>12,} events/s  "
        f"{figures['wall_s']:>7.1f} s  peak RSS {figures['peak_rss_tree_mb']:>6,} MiB",
        flush=True,
    )
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=20_000_000)
    ap.add_argument("--per-day", type=int, default=1_000_000)
    ap.add_argument("--subjects", type=int, default=200_000)
    ap.add_argument("--grid-events", type=int, default=2_000_000)
    ap.add_argument("--partitions", default="2,8,32,200", help="shuffle partitions to try")
    ap.add_argument("--no-grid", action="store_true")
    ap.add_argument("--child", choices=["local", "spark"], help=argparse.SUPPRESS)
    ap.add_argument("--events-dir", help=argparse.SUPPRESS)
    ap.add_argument("--work", help=argparse.SUPPRESS)
    ap.add_argument("--master", default="local[2]", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        args.partitions = int(args.partitions)
        print(json.dumps(child(args)))
        return

    from workloads import write_events

    figures: dict[str, Any] = {"events": args.events, "cores": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "events"
        print(f"writing {args.events:,} synthetic events (not timed) ...", flush=True)
        write_events(big, args.events, args.per_day, args.subjects)
        print("same run:", flush=True)
        local = measure(big, Path(tmp) / "w1", "local")
        spark = measure(big, Path(tmp) / "w2", "spark", "local[2]")
        figures["same_run"] = {"single_process": local, "spark_local_2": spark}
        if not spark.get("failed"):
            figures["spark_vs_single"] = round(spark["events_per_s"] / local["events_per_s"], 2)
        if not args.no_grid:
            small = Path(tmp) / "grid"
            per_day = max(1, min(args.per_day, args.grid_events // 8))
            write_events(small, args.grid_events, per_day, args.subjects)
            print(f"scaling, {args.grid_events:,} events:", flush=True)
            grid = [measure(small, Path(tmp) / "g0", "local")]
            for parts in (int(p) for p in args.partitions.split(",")):
                grid.append(measure(small, Path(tmp) / f"gp{parts}", "spark", "local[2]", parts))
            grid.append(measure(small, Path(tmp) / "g1", "spark", "local[1]"))
            grid.append(measure(small, Path(tmp) / "ge1", "spark", "local-cluster[1,2,1024]"))
            grid.append(measure(small, Path(tmp) / "ge2", "spark", "local-cluster[2,1,1024]"))
            figures["grid_events"] = args.grid_events
            figures["grid"] = grid
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
