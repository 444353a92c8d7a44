"""The processing records as one static HTML page: inline CSS, no script, no remote resource.

Every text is escaped; the page shows names, counts and the policy's own words only.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from minimizer.audit.record import ProcessingRecord

__all__ = ["render"]

_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; color: #222; }
h1 { font-size: 1.6rem; } h2 { border-bottom: 2px solid #1565c0; padding-bottom: .2rem; }
h3 { margin-top: 1.6rem; color: #1565c0; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f1f4f8; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.pass { color: #2e7d32; font-weight: 600; } .fail { color: #c62828; font-weight: 600; }
.muted { color: #777; } code { font-size: 12px; } img { max-width: 100%; border: 1px solid #eee; }
nav a { margin-right: 1rem; } section.purpose { margin-top: 2.5rem; }
"""


def _e(value: object) -> str:
    return escape("" if value is None else str(value))


def _table(head: Sequence[str], rows: Iterable[Sequence[object]], num: Sequence[int] = ()) -> str:
    cells = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = []
    for row in rows:
        tds = "".join(
            f'<td class="num">{_e(v)}</td>' if i in num else f"<td>{v}</td>"
            for i, v in enumerate(row)
        )
        body.append(f"<tr>{tds}</tr>")
    if not body:
        return '<p class="muted">none</p>'
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _link(target: str | None, base: Path, text: str) -> str:
    if not target:
        return '<span class="muted">—</span>'
    href = os.path.relpath(target, base)
    return f'<a href="{_e(href)}">{_e(text)}</a>'


def _facts(r: ProcessingRecord) -> str:
    sha = r.policy_sha256[:12] if r.policy_sha256 else None
    rows = [
        ("Purpose", _e(r.description) or '<span class="muted">no policy file found</span>'),
        ("Legal basis (Art. 6(1))", _e(r.legal_basis)),
        ("Owner", _e(r.owner)),
        ("Retention", _e(f"{r.retention_days:g} days") if r.retention_days else ""),
        ("Schedule", _e(r.schedule)),
        ("Policy", f"<code>{_e(r.policy_file)}</code> sha256 <code>{_e(sha)}</code>"),
    ]
    return _table(("", ""), rows)


def _categories(r: ProcessingRecord) -> str:
    names = sorted(set(r.categories_in) | set(r.categories_out))
    rows = [
        (
            _e(n),
            _e(", ".join(r.categories_in.get(n, [])) or "—"),
            _e(", ".join(r.categories_out.get(n, [])) or "— (not published)"),
        )
        for n in names
    ]
    return _table(("category", "read from the sources", "published (treatment)"), rows)


def _transformations(r: ProcessingRecord) -> str:
    parts = []
    for source in r.sources:
        rows = [
            (
                _e(", ".join(t["from"])),
                _e(t["output"] or "—"),
                f'<span class="{"fail" if t["action"] == "drop" else ""}">{_e(t["treatment"])}'
                "</span>",
                _e(t["description"]),
            )
            for t in source["transformations"]
        ]
        parts.append(f"<h4>{_e(source['source'])} ({_e(source['kind'])})</h4>")
        parts.append(_table(("source column(s)", "output", "treatment", "what happens"), rows))
    return "".join(parts)


def _measured(r: ProcessingRecord) -> str:
    if not r.measured:
        return '<p class="muted">No loaded run yet: nothing measured.</p>'
    parts = [f"<p>Figures of the last loaded run <code>{_e(r.measured['run_id'])}</code>.</p>"]
    titles = {
        "guarantees": "enforced (guarantees engine)",
        "gate": "re-checked independently by the gate",
        "measures": "measured while staging",
    }
    for key, title in titles.items():
        figures: Mapping[str, Any] = r.measured.get(key) or {}
        parts.append(f"<h4>{_e(title)}</h4>")
        parts.append(_table(("figure", "value"), ((_e(k), _e(v)) for k, v in figures.items())))
    return "".join(parts)


def _status(gate: Mapping[str, Any]) -> str:
    if not gate["ran"]:
        return '<span class="muted">not run</span>'
    if gate["success"]:
        return '<span class="pass">passed</span>'
    return '<span class="fail">failed</span>'


def _history(r: ProcessingRecord, base: Path) -> str:
    rows = []
    for run in reversed(r.runs):
        gate = run["gate"]
        failures = "<br>".join(
            _e(f"{f['table']}.{f['column'] or '*'}: {f['expectation']} ({f['unexpected_count']})")
            for f in gate["failures"]
        )
        rows.append(
            (
                f"<code>{_e(run['run_id'])}</code>",
                _e(run["status"]),
                _e(run["started_at"]),
                run["rows_in"],
                run["rows_out"],
                _status(gate),
                f"{gate['evaluated'] - gate['failed']}/{gate['evaluated']}",
                failures or '<span class="muted">—</span>',
                _link(gate["data_docs"], base, "gate results"),
            )
        )
    head = (
        "run",
        "status",
        "started (UTC)",
        "rows in",
        "rows out",
        "gate",
        "passed",
        "failed expectations (table.column: expectation (rows))",
        "results",
    )
    return _table(head, rows, num=(3, 4))


def _purpose(r: ProcessingRecord, images: Mapping[str, Path], base: Path) -> str:
    figures = "".join(
        f'<img src="{_e(os.path.relpath(images[k], base))}" alt="{_e(alt)}">'
        for k, alt in (("rows", "rows in and out per run"), ("gate", "gate results per run"))
        if k in images
    )
    declared = "".join(f"<li>{_e(line)}</li>" for line in r.guarantees)
    return f"""
<section class="purpose" id="purpose-{_e(r.purpose)}">
<h2>Processing record: {_e(r.purpose)}</h2>
<h3>Purpose and legal basis</h3>{_facts(r)}
<h3>Categories of personal data</h3>{_categories(r)}
<h3>Transformation of each column</h3>{_transformations(r)}
<h3>Retention</h3>
<p>Rows older than {_e(f"{r.retention_days:g}" if r.retention_days else "?")} days, by their
event time, are deleted at every load; the gate refuses any row older than the cutoff.</p>
<h3>Guarantees</h3><ul>{declared or '<li class="muted">none declared</li>'}</ul>
{_measured(r)}
<h3>Gate results over time</h3>{figures}{_history(r, base)}
</section>"""


def render(
    records: Sequence[ProcessingRecord], images: Mapping[str, Mapping[str, Path]], out: Path
) -> str:
    """The whole page; image paths are made relative to ``out`` (the page's folder)."""
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    nav = "".join(f'<a href="#purpose-{_e(r.purpose)}">{_e(r.purpose)}</a>' for r in records)
    runs = sum(len(r.runs) for r in records)
    body = "".join(_purpose(r, images.get(r.purpose, {}), out) for r in records)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>minimizer: records of processing activities</title><style>{_CSS}</style></head>
<body>
<header><h1>Records of processing activities</h1>
<p>Generated {_e(generated)} by <code>minimizer audit report</code> from {len(records)} purpose
policies and {runs} runs. Derived from the policies and the audit records only: names, counts
and the policies' own words, never a data value.</p>
<nav>{nav}</nav></header>
{body}
</body></html>
"""
