"""The processing records as one static HTML page: inline CSS, no script, no remote resource.

Rendered with Jinja2 and autoescape on: every text from a policy or a run is escaped by the
template engine, never by hand. The page shows names, counts, dates and the policies' own
words only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import DictLoader, Environment, StrictUndefined, select_autoescape

from minimizer.audit.record import ProcessingRecord

__all__ = ["render"]

_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; color: #222; }
h1 { font-size: 1.6rem; } h2 { border-bottom: 2px solid #1565c0; padding-bottom: .2rem; }
h3 { margin-top: 1.6rem; color: #1565c0; } h4 { margin-bottom: .3rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f1f4f8; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.pass { color: #2e7d32; font-weight: 600; } .fail { color: #c62828; font-weight: 600; }
.muted { color: #777; } code { font-size: 12px; } img { max-width: 100%; border: 1px solid #eee; }
li.warning { color: #8a4b00; } li.warning::marker { content: "⚠ "; }
nav a { margin-right: 1rem; } section.purpose { margin-top: 2.5rem; }
details summary { cursor: pointer; color: #555; }
"""

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>minimizer: records of processing activities</title><style>{{ css|safe }}</style></head>
<body>
<header><h1>Records of processing activities</h1>
<p>Generated {{ generated }} by <code>minimizer audit report</code> from {{ records|length }}
purpose policies and {{ runs }} runs. Derived from the policies and the audit records only:
names, counts and the policies' own words, never a data value.</p>
<nav>{% for r in records %}<a href="#purpose-{{ r.purpose }}">{{ r.purpose }}</a>{% endfor %}</nav>
</header>
{% for r in records %}{% include "purpose.html" %}{% endfor %}
</body></html>
"""

_PURPOSE = """
{% set img = images.get(r.purpose, {}) %}
<section class="purpose" id="purpose-{{ r.purpose }}">
<h2>Processing record: {{ r.purpose }}</h2>
<h3>Purpose and legal basis</h3>
<table><tbody>
<tr><td>Purpose</td><td>{% if r.description %}{{ r.description }}{% else %}<span class="muted">no policy file found</span>{% endif %}</td></tr>
<tr><td>Legal basis (Art. 6(1))</td><td>{{ r.legal_basis }}</td></tr>
<tr><td>Owner</td><td>{{ r.owner }}</td></tr>
<tr><td>Retention</td><td>{% if r.retention_days %}{{ "%g"|format(r.retention_days) }} days{% endif %}</td></tr>
<tr><td>Schedule</td><td>{{ r.schedule or "" }}</td></tr>
<tr><td>Policy</td><td><code>{{ r.policy_file or "" }}</code> sha256 <code>{{ (r.policy_sha256 or "")[:12] }}</code></td></tr>
</tbody></table>

<h3>Categories of personal data</h3>
{% set names = (r.categories_in.keys()|list + r.categories_out.keys()|list)|unique|sort %}
{% if names %}<table><thead><tr><th>category</th><th>read from the sources</th><th>published (treatment)</th></tr></thead><tbody>
{% for n in names %}<tr><td>{{ n }}</td><td>{{ r.categories_in.get(n, [])|join(", ") or "—" }}</td>
<td>{{ r.categories_out.get(n, [])|join(", ") or "— (not published)" }}</td></tr>{% endfor %}
</tbody></table>{% else %}<p class="muted">none</p>{% endif %}

<h3>Transformation of each column</h3>
{% for source in r.sources %}<h4>{{ source.source }} ({{ source.kind }})</h4>
<table><thead><tr><th>source column(s)</th><th>output</th><th>treatment</th><th>what happens</th></tr></thead><tbody>
{% for t in source.transformations %}<tr><td>{{ t["from"]|join(", ") }}</td><td>{{ t.output or "—" }}</td>
<td><span class="{{ 'fail' if t.action == 'drop' else '' }}">{{ t.treatment }}</span></td><td>{{ t.description }}</td></tr>{% endfor %}
</tbody></table>{% endfor %}

<h3>Retention</h3>
{% if r.retention_days %}<p>Rows older than {{ "%g"|format(r.retention_days) }} days, by their
event time, are deleted at every load; the gate refuses any row older than the cutoff.</p>
{% else %}<p class="muted">No policy: retention unknown.</p>{% endif %}

<h3>Guarantees</h3>
<ul>{% for line in r.guarantees %}<li>{{ line }}</li>{% else %}<li class="muted">none declared</li>{% endfor %}</ul>
{% if r.measured %}<p>What the last loaded run <code>{{ r.measured.run_id }}</code> did, in words
(warnings marked ⚠):</p>
{% for title, found in r.findings.items() %}<h4>{{ title }}</h4>
<ul>{% for f in found %}<li class="{{ 'warning' if f.warning else '' }}">{% if f.warning %}<strong>warning:</strong> {% endif %}{{ f.text }}</li>{% endfor %}</ul>
{% endfor %}
{% if img.get("risk") %}<img src="{{ rel(img.risk) }}" alt="suppressed rows, uniqueness and unicity per run, over time">{% endif %}
<details><summary>all figures of that run, as recorded</summary>
{% for key, title in figure_titles %}<h4>{{ title }}</h4>
{% set figures = r.measured.get(key) or {} %}
{% if figures %}<table><thead><tr><th>figure</th><th>value</th></tr></thead><tbody>
{% for k, v in figures.items() %}<tr><td><code>{{ k }}</code></td><td>{{ v }}</td></tr>{% endfor %}
</tbody></table>{% else %}<p class="muted">none</p>{% endif %}{% endfor %}
</details>
{% else %}<p class="muted">No loaded run yet: nothing measured.</p>{% endif %}

<h3>Erasures (GDPR Art. 17)</h3>
{% set e = r.erasures %}
{% if e.get('subjects') %}<p>{{ e.subjects }} subject erasure(s) deleted rows of this purpose, from
{{ e.first }} to {{ e.last }}; {{ e.keys_destroyed }} subject key(s) destroyed.
{% if e.longest_days is not none %}The longest time from request to deletion was {{ e.longest_days }} day(s). {% endif %}
Erased subjects are kept out of every later load. No erasure id or subject is shown.</p>
<table><thead><tr><th>table</th><th>rows deleted</th></tr></thead><tbody>
{% for table, n in e.rows_deleted.items() %}<tr><td>{{ table }}</td><td class="num">{{ "{:,}".format(n) }}</td></tr>{% endfor %}
</tbody></table>
<table><thead><tr><th>month</th><th>erasures</th></tr></thead><tbody>
{% for month, n in e.by_month.items() %}<tr><td>{{ month }}</td><td class="num">{{ n }}</td></tr>{% endfor %}
</tbody></table>
{% else %}<p class="muted">No erasure deleted rows of this purpose{% if e.get('recorded') %} ({{ e.recorded }} erasure(s) recorded in the warehouse in all){% endif %}.</p>{% endif %}

<h3>Key rotations</h3>
{% if r.rotations %}<table><thead><tr><th>date</th><th>event</th><th>from version(s)</th><th>to version</th><th>rows</th><th>rows deleted (unmappable)</th></tr></thead><tbody>
{% for k in r.rotations %}<tr><td>{{ k.date }}</td><td>{{ k.event }}</td><td>{{ k.from_versions|join(", ") }}</td><td>{{ k.to_version }}</td>
<td class="num">{{ "{:,}".format(k.rows) }}</td><td class="num">{{ k.deleted_unmapped }}</td></tr>{% endfor %}
</tbody></table>{% else %}<p class="muted">No key rotation recorded for this purpose.</p>{% endif %}

<h3>Gate results over time</h3>
{% if img.get("rows") %}<img src="{{ rel(img.rows) }}" alt="rows read and loaded per run, over time">{% endif %}
{% if img.get("gate") %}<img src="{{ rel(img.gate) }}" alt="gate results per run, over time">{% endif %}
{% if r.runs %}<table><thead><tr><th>run</th><th>status</th><th>started (UTC)</th><th>rows in</th><th>rows out</th>
<th>gate</th><th>passed</th><th>failed expectations (table.column: expectation (rows))</th><th>results</th></tr></thead><tbody>
{% for run in r.runs|reverse %}{% set gate = run.gate %}<tr>
<td><code>{{ run.run_id }}</code></td><td>{{ run.status }}</td><td>{{ run.started_at }}</td>
<td class="num">{{ run.rows_in }}</td><td class="num">{{ run.rows_out }}</td>
<td>{% if not gate.ran %}<span class="muted">not run</span>{% elif gate.success %}<span class="pass">passed</span>{% else %}<span class="fail">failed</span>{% endif %}</td>
<td>{{ gate.evaluated - gate.failed }}/{{ gate.evaluated }}</td>
<td>{% for f in gate.failures %}{{ f.table }}.{{ f.column or "*" }}: {{ f.expectation }} ({{ f.unexpected_count }}){% if not loop.last %}<br>{% endif %}{% else %}<span class="muted">—</span>{% endfor %}</td>
<td>{% if gate.data_docs %}<a href="{{ rel(gate.data_docs) }}">gate results</a>{% else %}<span class="muted">—</span>{% endif %}</td>
</tr>{% endfor %}</tbody></table>{% else %}<p class="muted">none</p>{% endif %}
</section>
"""

_FIGURE_TITLES = (
    ("guarantees", "enforced (guarantees engine)"),
    ("gate", "re-checked independently by the gate"),
    ("measures", "measured while staging"),
)

_ENV = Environment(
    loader=DictLoader({"page.html": _PAGE, "purpose.html": _PURPOSE}),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(
    records: Sequence[ProcessingRecord], images: Mapping[str, Mapping[str, Path]], out: Path
) -> str:
    """The whole page; image and link paths are made relative to ``out`` (the page's folder)."""

    def rel(target: str | Path) -> str:
        return os.path.relpath(target, out)

    return _ENV.get_template("page.html").render(
        css=_CSS,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        records=records,
        runs=sum(len(r.runs) for r in records),
        images=images,
        rel=rel,
        figure_titles=_FIGURE_TITLES,
    )
