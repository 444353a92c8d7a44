"""End to end: `minimizer run` beside the DuckDB SQL an engineer would write instead.

    .venv/bin/python bench/e2e.py [--events 5000000] [--subjects 50000] [--repeat 3]
    .venv/bin/python bench/e2e.py --events 50000000 --repeat 1   # the memory goal (< 2 GiB)

One input: N events as day-partitioned Parquet (``date=YYYY-MM-DD/part-0.parquet``, one million
events a day, 50,000 people; bench/throughput.py's generator, each event inside its folder's
day). Four commands, each a fresh subprocess writing a fresh DuckDB file, run alternating,
``--repeat`` times each:

- ``minimizer run`` of the events purpose: pseudonymise customer_id, the hour, H3 res 8 of
  lat/lon, keep the page; no guarantees (the leak gate always runs: it has no off switch);
- the same purpose with its guarantees (at least 5 people per cell and hour, home and work
  anchors dropped) and the gate;
- the DuckDB SQL an engineer would write instead: sha256 of a pepper and the id,
  date_trunc('hour'), lat/lon rounded to 2 decimals, the page;
- a plain Parquet -> DuckDB load of the same five columns, no transform.

Times are wall clock of the whole process (start-up included: it is what a user waits for);
CPU is user + system of the process; peak RSS is the command's own (bench/measure.py). The last
line is one JSON object.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import sys
import tempfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import Measured, run_measured
from workloads import write_events

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
MINIMIZER = str(Path(PYTHON).with_name("minimizer"))
PER_DAY = 1_000_000
PEPPER = "bench-pepper-not-a-secret"
MEMORY_GOAL_MIB = 2048

POLICY = """\
purpose: {purpose}
description: End-to-end benchmark of the events purpose.
legal_basis: legitimate_interest
owner: bench@example.com
retention: 3650d
sources:
  events:
    kind: events
    key: customer_id
    time: ts
    on_invalid: reject
    columns:
      customer_id: pseudonymise
      hour: {{generalise: hour, source: ts}}
      cell: {{coarsen: h3, lat: lat, lon: lon, resolution: 8}}
      page: keep
"""
GUARANTEES = """\
guarantees:
  location:
    source: events
    cell: cell
    bucket: hour
    subject: customer_id
    min_distinct_subjects_per_cell: 5
    min_resolution: 5
    anchors: drop
"""

SQL_MINIMISE = """\
CREATE TABLE events AS
SELECT sha256('{pepper}' || customer_id) AS customer_id,
       date_trunc('hour', ts) AS hour,
       round(lat, 2) AS lat, round(lon, 2) AS lon,
       page
FROM read_parquet('{glob}', hive_partitioning = true)
"""
SQL_LOAD = """\
CREATE TABLE events AS
SELECT customer_id, ts, lat, lon, page
FROM read_parquet('{glob}', hive_partitioning = true)
"""
DUCKDB_SCRIPT = "import duckdb, sys; duckdb.connect(sys.argv[1]).execute(sys.argv[2]).close()"


@dataclass(frozen=True)
class Command:
    label: str
    argv: list[str]
    pythonpath: str | None = None  # another copy of the package, for a before/after run


def commands(work: Path, sources: Path, baseline: Path | None = None) -> list[Command]:
    plain = work / "e2e_events.yaml"
    plain.write_text(POLICY.format(purpose=plain.stem))
    guarded = work / "e2e_events_guaranteed.yaml"
    guarded.write_text(POLICY.format(purpose=guarded.stem) + GUARANTEES)
    glob = str(sources / "events" / "*" / "*.parquet")

    def run(policy: Path, name: str) -> list[str]:
        wh = work / f"{name}.duckdb"
        return [MINIMIZER, "run", str(policy), "--sources", str(sources), "--warehouse", str(wh)]

    def duck(sql: str, name: str) -> list[str]:
        return [PYTHON, "-c", DUCKDB_SCRIPT, str(work / f"{name}.duckdb"), sql]

    done = [
        Command("minimizer run", run(plain, "run")),
        Command("minimizer run, guarantees + gate", run(guarded, "guarded")),
        Command("DuckDB SQL minimise", duck(SQL_MINIMISE.format(pepper=PEPPER, glob=glob), "sql")),
        Command("DuckDB load only", duck(SQL_LOAD.format(glob=glob), "load")),
    ]
    if baseline is not None:
        done += [Command(f"{c.label} [baseline]", c.argv, str(baseline)) for c in done[:2]]
    return done


def first_day(events: int) -> date:
    """Every day in the past: a run quarantines rows dated after its as-of (now), and then
    fewer events would go through `minimizer run` than through the SQL."""
    return date.today() - timedelta(days=-(-events // PER_DAY) + 1)


def timed(command: Command, env: dict[str, str], work: Path) -> Measured:
    """One fresh run, every DuckDB file removed first."""
    for old in work.glob("*.duckdb*"):
        old.unlink()
    if command.pythonpath is not None:
        env = {**env, "PYTHONPATH": command.pythonpath}
    return run_measured(command.argv, env)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=5_000_000)
    ap.add_argument("--subjects", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", nargs="*", help="labels to run (default: all four)")
    ap.add_argument(
        "--baseline",
        type=Path,
        help="a folder holding another copy of the minimizer package (e.g. from git archive):"
        " adds its two minimizer rows to the same alternating run",
    )
    args = ap.parse_args()

    env = {
        **os.environ,
        "MINIMIZER_MASTER_KEY": base64.b64encode(bytes(range(32))).decode(),
        "MINIMIZER_KEY_VERSION": "1",
    }
    env.pop("MINIMIZER_KEY_FILE", None)
    with tempfile.TemporaryDirectory(prefix="minimizer-e2e-") as tmp:
        work = Path(tmp)
        sources = work / "sources"
        print(f"writing {args.events:,} events, {args.subjects:,} people (not timed) ...")
        write_events(
            sources / "events", args.events, PER_DAY, args.subjects, first_day(args.events)
        )
        todo = [
            c
            for c in commands(work, sources, args.baseline)
            if not args.only or c.label in args.only
        ]
        walls: dict[str, list[float]] = {c.label: [] for c in todo}
        cpus: dict[str, list[float]] = {c.label: [] for c in todo}
        rss: dict[str, float] = {c.label: 0.0 for c in todo}
        for rep in range(args.repeat):
            for command in todo:  # alternating: one of each per round
                m = timed(command, env, work)
                walls[command.label].append(m.wall_s)
                cpus[command.label].append(m.cpu_s)
                rss[command.label] = max(rss[command.label], m.peak_rss_mib)
                print(
                    f"  round {rep + 1}: {command.label:<34} {m.wall_s:7.2f} s"
                    f"  cpu {m.cpu_s:7.2f} s  {m.peak_rss_mib:7,.0f} MiB",
                    flush=True,
                )

    median = {label: statistics.median(times) for label, times in walls.items()}
    cpu = {label: statistics.median(times) for label, times in cpus.items()}
    sql = median.get("DuckDB SQL minimise")
    load = median.get("DuckDB load only")
    print(f"\n{args.events:,} events, {args.subjects:,} people, medians of {args.repeat},")
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the end\n")
    print("| | median time | events/s | × DuckDB SQL | × load | CPU (user+sys) | peak RSS |")
    print("|---|---|---|---|---|---|---|")
    for label, seconds in median.items():
        ratio = f"{seconds / sql:.2f}" if sql else "-"
        to_load = f"{seconds / load:.2f}" if load else "-"
        print(
            f"| {label} | {seconds:.2f} s | {args.events / seconds / 1e6:.2f} M | {ratio} "
            f"| {to_load} | {cpu[label]:.1f} s | {rss[label]:,.0f} MiB |"
        )
    # Issue 14's memory goal: the whole run, guarantees and gate included, under 2 GiB.
    print()
    for label, peak in rss.items():
        if label.startswith("minimizer run"):
            verdict = "under" if peak < MEMORY_GOAL_MIB else "OVER"
            print(f"peak RSS, {label}: {peak:,.0f} MiB, {verdict} the 2 GiB goal")
    figures = {
        "events": args.events,
        "memory_goal_mib": MEMORY_GOAL_MIB,
        "subjects": args.subjects,
        "repeat": args.repeat,
        "median_s": {k: round(v, 3) for k, v in median.items()},
        "runs_s": {k: [round(x, 3) for x in v] for k, v in walls.items()},
        "median_cpu_s": {k: round(v, 3) for k, v in cpu.items()},
        "peak_rss_mib": {k: round(v) for k, v in rss.items()},
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
