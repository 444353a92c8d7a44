"""``make demo``: synthetic sources, every example purpose as its Airflow DAG, one warehouse.

Needs no server: a SQLite CRM, Parquet events and a DuckDB warehouse under ``demo/``, and an
embedded Airflow (SQLite metadata in ``demo/airflow``) that runs each purpose's DAG with
``dag.test()``, as ``airflow dags test`` does. ``python -m minimizer.demo airflow`` (``make
airflow``) serves the same Airflow's UI with ``airflow standalone``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.rule import Rule

from minimizer.audit.cli import demo_report
from minimizer.audit.explain import summary_collapsed
from minimizer.io.warehouse import open_warehouse
from minimizer.keys import KeyRing
from minimizer.orchestration.local import LocalAirflow
from minimizer.pipeline import RunReport
from minimizer.policy import load_policy
from minimizer.report import print_plan, print_run
from minimizer.service import default_artifacts

__all__ = ["main"]

DEMO = Path("demo")
SOURCES = DEMO / "sources"
WAREHOUSE = DEMO / "warehouse.duckdb"
# Apart from the warehouse, as in production; demo/ is git-ignored.
KEY_FILE = DEMO / "keys" / "keys.json"
SYNTH = {"customers": 2000, "days": 14, "seed": 7}


def _ensure_key(console: Console) -> None:
    # The embedded Airflow reads the key ring from KEY_FILE (LocalAirflow.environ).
    if not KEY_FILE.exists():
        KeyRing.new().save(KEY_FILE)
        console.print(f"created a demo key ring at {KEY_FILE} (mode 0600)")


def _ensure_sources(console: Console) -> None:
    if (SOURCES / "crm.sqlite").exists() and (SOURCES / "events").exists():
        console.print(f"using the synthetic sources in {SOURCES}/")
        return
    from minimizer.synth import generate

    console.print(f"generating synthetic sources into {SOURCES}/ ({SYNTH})")
    summary = generate(
        SOURCES, customers=SYNTH["customers"], days=SYNTH["days"], seed=SYNTH["seed"]
    )
    console.print(summary)


STEP_MARK = {"success": "[green]✔[/]", "failed": "[red]✘[/]", "upstream_failed": "[red]–[/]"}


def _run_dag(console: Console, dagbag: Any, purpose: str) -> RunReport:
    """One DAG run over the whole retention window; its tasks, then its published report."""
    dag = dagbag.get_dag(f"minimise_{purpose}")
    run = dag.test(run_conf={"full_refresh": True})
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    steps = "  ".join(
        f"{STEP_MARK.get(states.get(t.task_id, ''), '·')} {t.task_id}"
        for t in dag.topological_sort()
    )
    console.print(f"DAG {dag.dag_id}: {run.state}\n  {steps}", highlight=False)
    if str(run.state) != "success":
        console.print("[red]the DAG run failed; its task logs are above[/]")
        raise SystemExit(1)
    published = default_artifacts(str(WAREHOUSE)) / "reports" / purpose
    newest = max(published.glob("*.json"), key=lambda f: f.stat().st_mtime)
    return RunReport.from_json(newest.read_text())


# ``airflow standalone`` on a laptop: its defaults (32 task slots, 2 DAG parsers, files
# re-parsed every 30 s) are made for a server. These fit 2 cores; the user's own settings win.
# Figures before and after: docs/airflow.md.
LEAN = {
    "AIRFLOW__CORE__PARALLELISM": "2",
    "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "2",
    "AIRFLOW__CORE__MAX_ACTIVE_RUNS_PER_DAG": "1",
    "AIRFLOW__API__WORKERS": "1",
    "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "120",
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "300",
    "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
    "AIRFLOW__TRIGGERER__CAPACITY": "50",
}
# Ports the components of `airflow standalone` listen on besides the UI: (setting, default).
SERVICE_PORTS = {
    "the scheduler's log server": ("AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT", 8793),
    "the triggerer's log server": ("AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT", 8794),
}


def _in_use(port: int) -> bool:
    """Whether something listens on the port (any address): binding it fails then."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return True
    return False


def check_ports(ui: int, env: dict[str, str]) -> list[str]:
    """Problems with the ports `airflow standalone` needs, each with its fix (empty: fine)."""
    services = {name: int(env.get(var, default)) for name, (var, default) in SERVICE_PORTS.items()}
    problems = []
    for name, port in services.items():
        if ui == port:
            free = next(p for p in range(8080, 8100) if p not in services.values())
            problems.append(
                f"AIRFLOW_PORT={ui} is the port of {name}: the UI cannot share it; "
                f"use another one, e.g. make airflow AIRFLOW_PORT={free}"
            )
    if not problems:
        for name, port in {"the Airflow UI": ui, **services}.items():
            if _in_use(port):
                fix = (
                    "choose a free one with make airflow AIRFLOW_PORT=..."
                    if name == "the Airflow UI"
                    else "stop the other Airflow (or whatever holds it) first"
                )
                problems.append(f"port {port}, needed for {name}, is in use: {fix}")
    return problems


def _airflow(console: Console, local: LocalAirflow) -> None:
    """``make airflow``: the UI of the embedded Airflow, on this machine only."""
    for name, value in LEAN.items():
        os.environ.setdefault(name, value)
    local.migrate()
    console.print(
        f"Airflow UI: {local.url}  (user admin; password in {local.password_file}, written at "
        "first start)\nDAGs start paused: unpause one in the UI to schedule it. Ctrl-C stops.",
        highlight=False,
    )
    local.standalone()


QUERIES = (
    (
        "customers per age band and postcode area (k-anonymous: every group has >= 5)",
        "SELECT age_band, postcode_area, count(*) AS customers FROM churn_analysis.customers "
        "GROUP BY ALL ORDER BY customers DESC LIMIT 5",
    ),
    (
        "busiest H3 cells (res 6, one size; DP counts per cell-hour, noisy visitors >= 5)",
        "SELECT cell, sum(events) AS events, sum(distinct_subjects) AS visitor_hours, "
        "count(*) AS cell_hours FROM footfall_heatmap.events GROUP BY cell "
        "ORDER BY events DESC LIMIT 5",
    ),
)


def _print_risk(console: Console, report: RunReport) -> None:
    """The re-identification risk before and after, as the audit record holds it."""
    k = report.guarantees.get("k_anonymity")
    if k:
        console.print(
            f"    k-anonymity: smallest class {k['min_class_before']} → {k['min_class']}, "
            f"{k['suppressed']} suppressed, unique records "
            f"{k['unique_share_published_before']:.1%} → {k['unique_share_after']:.1%}",
            highlight=False,
        )
    loc = report.guarantees.get("location")
    # With max_unicity, its line below gives before and after on one basis (and after the cap).
    if loc and "max_unicity" not in report.guarantees:
        console.print(
            f"    unicity with {loc['unicity_points']} points: {loc['unicity_before']:.0%} of people "
            f"before → {loc['unicity_after']:.0%} of daily visitor tokens after; at least {loc['min_subjects']} distinct "
            "visitors per published cell-hour",
            highlight=False,
        )
    _print_movement(console, report)


def _print_movement(console: Console, report: RunReport) -> None:
    """Aggregates (unicity 0: no traces) with their DP error bound; bounded trace unicity."""
    for source, agg in (report.guarantees.get("aggregate") or {}).items():
        noise = (
            f"; ε {agg['epsilon']:g} per visitor-day (OpenDP), counts within "
            + ", ".join(f"±{m['error_95']:.0f} {n}" for n, m in agg["measures"].items())
            + f" at 95%; {agg['published_partitions']:,} of {agg['partitions']:,} cell-hours shown"
            + (
                f", {agg['republished_partitions']:,} re-published unchanged"
                if agg.get("republished_partitions")
                else ""
            )
            if "error_95" in agg
            else ""
        )
        console.print(
            f"    {source}: counts per {' × '.join(agg['by'])} only, unicity 0 (no traces){noise}",
            highlight=False,
        )
    ledger = report.guarantees.get("privacy_ledger")
    if ledger:
        # Every fresh release of a day spends again; an unchanged day re-published spends 0.
        fresh, again = len(ledger.get("days") or {}), len(ledger.get("republished") or {})
        console.print(
            f"    privacy budget: this run ε {ledger['epsilon_this_run']:g} ({fresh} day(s)"
            f" released afresh, {again} re-published at ε 0); ε {ledger['spent_in_window']:g}"
            f" of {ledger['budget_epsilon']:g} spent in {ledger['period_days']} days,"
            f" {ledger['left_in_window']:g} left",
            highlight=False,
        )
    mu = report.guarantees.get("max_unicity")
    if mu:
        console.print(
            f"    unicity with {mu['points']} points, basis {mu['basis']}: "
            f"{mu['unicity_before']:.1%} before → {mu['unicity_after']:.1%} after "
            f"(max {mu['max']:.0%})",
            highlight=False,
        )


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    console = Console()
    local = LocalAirflow.in_project(Path.cwd())
    if args[:1] == ["airflow"]:  # before any work: a port conflict would only show much later
        problems = check_ports(local.port, dict(os.environ))
        for problem in problems:
            console.print(f"[red]cannot start Airflow:[/] {problem}", highlight=False)
        if problems:
            raise SystemExit(2)
    _ensure_key(console)
    _ensure_sources(console)
    if args[:1] == ["airflow"]:
        _airflow(console, local)
        return
    os.environ.update(local.environ())
    # Task logs at INFO would drown the plans; warnings and failures still show.
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    console.print(f"embedded Airflow in {local.home} (SQLite metadata); DAGs in dags/")
    local.migrate()
    from airflow.dag_processing.dagbag import DagBag  # after the settings above

    dagbag = DagBag(dag_folder=str(local.root / "dags"))
    if dagbag.import_errors:
        console.print(f"[red]DAG import errors:[/] {sorted(dagbag.import_errors)}")
        raise SystemExit(1)
    reports = []
    for file in sorted(Path("configs/purposes").glob("*.yaml")):
        policy = load_policy(file)
        console.print(Rule(f"purpose {policy.purpose}"))
        print_plan(console, policy)
        report = _run_dag(console, dagbag, policy.purpose)
        print_run(console, report, policy, summary_collapsed(str(WAREHOUSE), policy))
        reports.append(report)
    console.print(Rule("summary"))
    for r in reports:
        rows = ", ".join(
            f"{s} {v.rows_in:,}→{r.loaded_rows.get(s, 0):,}" for s, v in r.sources.items()
        )
        console.print(f"[green]✔[/] {r.purpose}: {rows}", highlight=False)
        _print_risk(console, r)
    console.print(Rule("query the minimised warehouse"))
    with open_warehouse(str(WAREHOUSE)) as wh:
        for title, sql in QUERIES:
            console.print(f"[bold]{title}[/]\n  {sql}", highlight=False)
            console.print(wh.query(sql).to_string(index=False), highlight=False)
    console.print(
        "\nTry it yourself:\n"
        f"  .venv/bin/python -c \"import duckdb; print(duckdb.connect('{WAREHOUSE}', read_only=True)"
        ".sql('SELECT column_name, comment FROM duckdb_columns() "
        "WHERE table_name = \\'customers\\''))\"\n"
        f"  .venv/bin/minimizer plan configs/purposes/footfall_heatmap.yaml --sources {SOURCES}",
        highlight=False,
    )
    # -- for auditors (minimizer.audit): processing records, gate results and Data Docs --
    console.print(Rule("for auditors"))
    demo_report(console, str(WAREHOUSE), DEMO / "report", default_artifacts(str(WAREHOUSE)))


if __name__ == "__main__":
    main()
