"""The leak gate's cost beside the minimisation's, on the same rows.

    .venv/bin/python bench/gate_vs_minimise.py [--rows 1000000] [--chunk 250000] [--crm 0]

Workload (events, as bench/throughput.py): 1,000,000 events of 50,000 people, pseudonymised,
coarsened to H3 cells, truncated to the hour, pages kept. Optionally (``--crm N``) a CRM table
of N customers whose customer_id and e-mail are pseudonymised and phone and IBAN masked.

Timed, per workload, in one process (GX imported beforehand and timed on its own):

- minimisation: the pipeline's staging of the source (read, minimise on every core, write
  Parquet), without the gate's observer;
- gate, observer: the canary observer's own time while the same staging runs with it;
- gate, validate: GX validating the staged Parquet file itself (every row, through its SQL
  datasource on a DuckDB view of the file) with the policy's suite, the first validation in a
  process and the median of later ones;
- gate, artefacts: results JSON, suites and the offline Data Docs site (fixed, not per row).

The ratio the target refers to (issue 9: the gate takes at most the minimisation's time) is
(observer + validate) / minimisation; the ratio with the artefacts is printed too. The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from minimizer.flow import ALL, Run, RunState, extract, minimise, observers
from minimizer.gate import run_gate
from minimizer.gate.canary import CrmIndex
from minimizer.io.sources import EventSource, TableSource
from minimizer.keys import KeyRing
from minimizer.minimise import ChunkObserver
from minimizer.parallel import default_workers
from minimizer.pipeline import RunReport, SourceReport, start_run
from minimizer.policy import Policy

AS_OF = datetime(2026, 12, 1, tzinfo=UTC)
EVENTS = {
    "kind": "events",
    "key": "customer_id",
    "time": "ts",
    "columns": {
        "visitor": {"pseudonymise": True, "source": "customer_id"},
        "hour": {"generalise": "hour", "source": "ts"},
        "cell": {"coarsen": "h3", "lat": "lat", "lon": "lon", "resolution": 8},
        "page": "keep",
    },
}
CRM = {
    "key": "customer_id",
    "columns": {
        "customer_id": "pseudonymise",
        "email": "pseudonymise",
        "phone": {"mask": "last", "n": 2},
        "iban": {"mask": "last", "n": 4},
        "loyalty_tier": "keep",
    },
}


def policy(name: str, spec: dict[str, Any]) -> Policy:
    return Policy.model_validate(
        {
            "purpose": "gate_bench",
            "description": "Benchmark of the leak gate.",
            "legal_basis": "legitimate_interest",
            "owner": "bench",
            "retention": "3650d",
            "sources": {name: spec},
        }
    )


def write_events(root: Path, total: int, chunk: int, subjects: int) -> None:
    from throughput import event_chunk  # the same events as bench/throughput.py (same folder)

    rng = np.random.default_rng(0)
    for i, start in enumerate(range(0, total, chunk)):
        part = root / f"date=2026-11-{i + 1:02d}"
        part.mkdir(parents=True)
        frame = event_chunk(rng, min(chunk, total - start), subjects)
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), part / "part-0.parquet")


def write_crm(path: Path, rows: int) -> None:
    from throughput import crm_table

    frame = crm_table(np.random.default_rng(1), rows)
    with sqlite3.connect(path) as con:
        con.execute(
            "CREATE TABLE customers (customer_id TEXT, email TEXT, phone TEXT, iban TEXT, "
            "loyalty_tier TEXT)"
        )
        con.executemany(
            "INSERT INTO customers VALUES (?, ?, ?, ?, ?)", frame.itertuples(index=False)
        )


class Timed:
    """An observer whose own time is measured (it runs in the main process, in order)."""

    def __init__(self, inner: ChunkObserver, clock: list[float]) -> None:
        self.inner, self.clock = inner, clock

    def observe(self, raw: Any, published: Any) -> None:
        t0 = time.perf_counter()
        self.inner.observe(raw, published)
        self.clock[0] += time.perf_counter() - t0

    def finish(self, report: SourceReport) -> None:
        t0 = time.perf_counter()
        self.inner.finish(report)
        self.clock[0] += time.perf_counter() - t0


def stage(
    pol: Policy,
    name: str,
    handle: Any,
    watch: Callable[[Run], Mapping[str, Sequence[ChunkObserver]]],
    work: Path,
    ring: KeyRing,
    workers: int,
) -> tuple[RunReport, float]:
    """The flow's extract and minimise steps of one source, timed (``watch`` picks observers)."""
    report, _ = start_run(pol, ring, AS_OF)
    work.mkdir(parents=True, exist_ok=True)
    run = Run(pol, ring, None, RunState(report=report), work / "artifacts", work, ALL, workers)
    report.sources[name] = SourceReport(source=name)
    t0 = time.perf_counter()
    chunks = extract(run, name, handle, {}, interval=None)
    minimise(run, name, chunks, watch(run), work)
    return report, time.perf_counter() - t0


def _none(run: Run) -> Mapping[str, Sequence[ChunkObserver]]:
    return {}


def measure(
    label: str,
    pol: Policy,
    name: str,
    handle: Any,
    tmp: Path,
    ring: KeyRing,
    workers: int,
    repeat: int,
    crm_url: str | None = None,
) -> dict[str, Any]:
    """Medians of ``repeat`` runs of each step (the machine is shared: single runs vary 2x).
    With ``crm_url`` the canary also reads the CRM's identifying columns (timed as gate work)."""
    # Warm-up: worker processes start once per process; neither side should pay for that.
    stage(pol, name, handle, _none, tmp / f"{label}-warm", ring, workers)
    minimise = median(
        stage(pol, name, handle, _none, tmp / f"{label}-{i}", ring, workers)[1]
        for i in range(repeat)
    )
    observer_times = []
    for i in range(repeat):
        clock = [0.0]
        t0 = time.perf_counter()
        crm = CrmIndex.read(crm_url, ring.secret_for("canary")) if crm_url else None
        clock[0] += time.perf_counter() - t0

        def gate_only(
            run: Run, c: list[float] = clock, crm: CrmIndex | None = crm
        ) -> Mapping[str, Sequence[ChunkObserver]]:
            watched = observers(run, name, crm)["run_gate"]
            return {"run_gate": [Timed(o, c) for o in watched]}

        report, _ = stage(pol, name, handle, gate_only, tmp / f"g{i}", ring, workers)
        observer_times.append(clock[0])
    observer = median(observer_times)
    first = run_gate(pol, report, ring, tmp / "artifacts")  # with the artefacts
    validate = median(run_gate(pol, report, ring, None).seconds["validate"] for _ in range(repeat))
    artefacts = first.seconds.get("artifacts", 0.0)
    figures = {
        "rows": report.sources[name].rows_out,
        "expectations": report.gate["evaluated"],
        "minimise_s": round(minimise, 3),
        "observer_s": round(observer, 3),
        "validate_first_s": first.seconds["validate"],
        "validate_s": round(validate, 3),
        "artefacts_s": artefacts,
        "rows_validated": report.gate["tables"][name]["rows"],
        "ratio": round((observer + validate) / minimise, 3),
        "ratio_first": round((observer + first.seconds["validate"]) / minimise, 3),
        "ratio_with_artefacts": round((observer + validate + artefacts) / minimise, 3),
    }
    f = figures
    print(f"\n{label}: {f['rows']:,} rows, {f['expectations']} expectations, {workers} worker(s)")
    print(f"  minimisation (staging)               {minimise:7.2f} s")
    print(f"  gate: canary observer                {observer:7.2f} s")
    print(f"  gate: read + validate                {validate:7.2f} s")
    print(f"  gate: read + validate, first in process {f['validate_first_s']:4.2f} s")
    print(f"  gate: artefacts (JSON, Data Docs)    {artefacts:7.2f} s")
    print(f"  rows GX validated (staged file)      {f['rows_validated']:,}")
    print(f"  ratio (observer + validate) / minimisation   {f['ratio']:.2f}  (target <= 1.00)")
    print(f"  ratio, first validation in a process         {f['ratio_first']:.2f}")
    print(f"  ratio with the artefacts                     {f['ratio_with_artefacts']:.2f}")
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--chunk", type=int, default=250_000)
    ap.add_argument("--subjects", type=int, default=50_000)
    ap.add_argument("--crm", type=int, default=0, help="also a CRM table of this many rows")
    ap.add_argument("--workers", type=int, default=default_workers())
    ap.add_argument("--repeat", type=int, default=3, help="runs per step; medians reported")
    args = ap.parse_args()

    t0 = time.perf_counter()
    import great_expectations  # noqa: F401  (once per process; not part of any run's cost)

    import_s = time.perf_counter() - t0
    print(f"importing Great Expectations: {import_s:.2f} s (once per process)")
    ring = KeyRing.new()
    results: dict[str, Any] = {"gx_import_s": round(import_s, 2), "workers": args.workers}
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        write_events(tmp / "events", args.rows, args.chunk, args.subjects)
        if args.crm:
            write_crm(tmp / "crm.sqlite", args.crm)
        handle = EventSource(tmp / "events")
        results["events"] = measure(
            "events",
            policy("events", EVENTS),
            "events",
            handle,
            tmp,
            ring,
            args.workers,
            args.repeat,
            str(tmp / "crm.sqlite") if args.crm else None,
        )
        if args.crm:
            handle = TableSource(tmp / "crm.sqlite", "customers")
            results["crm"] = measure(
                "crm",
                policy("customers", CRM),
                "customers",
                handle,
                tmp,
                ring,
                args.workers,
                args.repeat,
            )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
