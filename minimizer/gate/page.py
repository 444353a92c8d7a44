"""``<artifacts>/gate/<run_id>/index.html``: the run's gate outcome as one static page.

GX's own Data Docs index fills its tables with JavaScript from public CDNs, so offline it shows
nothing. This page needs neither: per table, the outcome, the failing expectations (names and
counts) and links to GX's server-rendered validation and suite pages.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

__all__ = ["write_page"]

_CSS = (
    "body{font:14px/1.45 system-ui,sans-serif;margin:2rem;color:#222}"
    "table{border-collapse:collapse;margin:.5rem 0 1.5rem}"
    "th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}th{background:#f1f4f8}"
    ".pass{color:#2e7d32;font-weight:600}.fail{color:#c62828;font-weight:600}"
)


def _link(page: Path | None, base: Path, text: str) -> str:
    if page is None:
        return "—"
    return f'<a href="{escape(str(page.relative_to(base)))}">{escape(text)}</a>'


def write_page(directory: Path, purpose: str, summary: dict[str, Any]) -> Path:
    """Write the page next to ``data_docs/`` and return its path."""
    docs = directory / "data_docs"
    rows = []
    for table, counts in summary["tables"].items():
        validation = next(
            iter(sorted((docs / "validations" / purpose / table).rglob("*.html"))), None
        )
        suite = docs / "expectations" / purpose / f"{table}.html"
        ok = counts["failed"] == 0
        rows.append(
            f"<tr><td>{escape(table)}</td>"
            f'<td class="{"pass" if ok else "fail"}">{"passed" if ok else "failed"}</td>'
            f"<td>{counts['evaluated'] - counts['failed']}/{counts['evaluated']}</td>"
            f"<td>{_link(validation, directory, 'validation result')}</td>"
            f"<td>{_link(suite if suite.exists() else None, directory, 'suite')}</td></tr>"
        )
    failures = "".join(
        f"<tr><td>{escape(str(f['table']))}</td><td>{escape(str(f['column'] or '—'))}</td>"
        f"<td>{escape(str(f['expectation']))}</td><td>{escape(str(f.get('unexpected_count')))}"
        f"</td><td>{escape(str(f.get('element_count', '')))}</td></tr>"
        for f in summary["failures"]
    )
    head = "<tr><th>table</th><th>column</th><th>expectation</th><th>rows</th><th>of</th></tr>"
    failed = f"<table>{head}{failures}</table>" if failures else "<p>none</p>"
    verdict = "passed" if summary["success"] else "failed: nothing was loaded"
    html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Leak gate: {escape(purpose)}</title>
<style>{_CSS}</style></head><body>
<h1>Leak gate of {escape(purpose)}</h1>
<p class="{"pass" if summary["success"] else "fail"}">The gate {escape(verdict)}.</p>
<h2>Tables</h2>
<table><tr><th>table</th><th>outcome</th><th>passed</th><th>GX Data Docs</th><th></th></tr>
{"".join(rows)}</table>
<h2>Failed expectations</h2>
{failed}
<p>Counts only: the results hold no data value (see docs/gate.md). Raw JSON: <code>results/</code>,
suites: <code>suites/</code>, outcome: <code>gate.json</code>.</p>
</body></html>
"""
    page = directory / "index.html"
    page.write_text(html)
    return page
