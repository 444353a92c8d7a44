"""``make demo``: synthetic sources, every example purpose, one embedded warehouse.

Needs no server: a SQLite CRM, Parquet events and a DuckDB warehouse under ``demo/``.
"""

from __future__ import annotations

import os
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

from minimizer.audit.cli import demo_report
from minimizer.io.warehouse import open_warehouse
from minimizer.keys import KeyRing, load_keyring
from minimizer.policy import load_policy
from minimizer.report import print_plan, print_run
from minimizer.service import default_artifacts, run_policy_file

__all__ = ["main"]

DEMO = Path("demo")
SOURCES = DEMO / "sources"
WAREHOUSE = DEMO / "warehouse.duckdb"
# Apart from the warehouse, as in production; demo/ is git-ignored.
KEY_FILE = DEMO / "keys" / "keys.json"
SYNTH = {"customers": 2000, "days": 14, "seed": 7}


def _ensure_key(console: Console) -> None:
    if "MINIMIZER_MASTER_KEY" in os.environ or "MINIMIZER_KEY_FILE" in os.environ:
        return
    if not KEY_FILE.exists():
        KeyRing.new().save(KEY_FILE)
        console.print(f"created a demo key ring at {KEY_FILE} (mode 0600)")
    os.environ["MINIMIZER_KEY_FILE"] = str(KEY_FILE)


def _ensure_sources(console: Console) -> None:
    if (SOURCES / "crm.sqlite").exists() and (SOURCES / "events").exists():
        console.print(f"using the synthetic sources in {SOURCES}/")
        return
    from minimizer.synth import generate

    console.print(f"generating synthetic sources into {SOURCES}/ ({SYNTH})")
    summary = generate(SOURCES, **SYNTH)
    console.print(summary)


def main() -> None:
    console = Console()
    _ensure_key(console)
    _ensure_sources(console)
    ring = load_keyring()
    policies = sorted(Path("configs/purposes").glob("*.yaml"))
    reports = []
    for file in policies:
        console.print(Rule(f"purpose {file.stem}"))
        print_plan(console, load_policy(file))
        report = run_policy_file(
            file, sources=SOURCES, warehouse=str(WAREHOUSE), keyring=ring, console=console
        )
        print_run(console, report)
        reports.append(report)
    console.print(Rule("summary"))
    for r in reports:
        rows = ", ".join(
            f"{s} {v.rows_in:,}→{r.loaded_rows.get(s, 0):,}" for s, v in r.sources.items()
        )
        console.print(f"[green]✔[/] {r.purpose}: {rows}", highlight=False)
    console.print(Rule("query the minimised warehouse"))
    with open_warehouse(str(WAREHOUSE)) as wh:
        sample = wh.query(
            "SELECT loyalty_tier, age_band, count(*) AS customers "
            "FROM churn_analysis.customers GROUP BY ALL ORDER BY customers DESC LIMIT 5"
        )
        console.print(sample.to_string(index=False))
    console.print(
        "\nTry it yourself:\n"
        f"  .venv/bin/python -c \"import duckdb; print(duckdb.connect('{WAREHOUSE}', read_only=True)"
        ".sql('DESCRIBE churn_analysis.customers'))\"\n"
        f"  .venv/bin/minimizer plan configs/purposes/footfall_heatmap.yaml --sources {SOURCES}",
        highlight=False,
    )
    # -- for auditors (minimizer.audit): processing records, gate results and Data Docs --
    console.print(Rule("for auditors"))
    demo_report(console, str(WAREHOUSE), DEMO / "report", default_artifacts(str(WAREHOUSE)))


if __name__ == "__main__":
    main()
