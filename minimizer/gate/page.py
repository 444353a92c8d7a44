"""``<artifacts>/gate/<run_id>/index.html``: the run's gate outcome as one static page; and
GX's Data Docs made to work offline.

GX's own Data Docs index fills its tables with JavaScript from public CDNs, so offline it shows
nothing. This page needs neither: per table, the outcome, the failing expectations (names and
counts) and links to GX's server-rendered validation and suite pages.

GX's pages load Bootstrap, Font Awesome, jQuery, bootstrap-table, datepicker and Vega from
CDNs; offline they render unstyled and the Status column (Font Awesome icons) is empty.
:func:`make_offline` removes every remote ``<link>`` and ``<script>`` and links a small
stylesheet of our own instead (layout, tables, and the status icons as characters). GX copies
its own static folder (4 MB of fonts and images) into every site; it is kept once per artefacts
folder, ``<artifacts>/gate/_assets/gx-static/``, and each run's ``data_docs/static`` is a
relative link to it.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

__all__ = ["OFFLINE_CSS", "make_offline", "write_page"]

# Bootstrap's classes that GX's pages use, and Font Awesome's icons as characters.
OFFLINE_CSS = """/* minimizer: Data Docs without CDN assets (written by minimizer.gate.page) */
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#222;background:#fff}
a{color:#1565c0}
.container,.container-fluid{padding:0 1rem}
.row{display:flex;flex-wrap:wrap;margin:0 -.5rem}
[class*="col-"]{padding:0 .5rem;box-sizing:border-box;flex:1 1 100%;min-width:0}
@media (min-width:768px){.col-md-2{flex:0 0 16.6%}.col-md-3{flex:0 0 25%}
.col-md-9{flex:0 0 75%}.col-md-10{flex:0 0 83.3%}.col-md-12{flex:0 0 100%}}
.navbar{display:flex;align-items:center;gap:1rem;padding:.5rem 1rem;
border-bottom:1px solid #ddd;background:#f8f9fb}
.navbar img{max-height:2rem}
.card{border:1px solid #d9dee5;border-radius:4px;margin:0 0 1rem}
.card-header{background:#f1f4f8;padding:.5rem .75rem;border-bottom:1px solid #d9dee5}
.card-body{padding:.5rem .75rem;overflow-x:auto}
table{border-collapse:collapse;width:100%;margin:.25rem 0 1rem}
th,td{border-top:1px solid #dde2e8;padding:.3rem .5rem;text-align:left;vertical-align:top}
thead th{border-bottom:2px solid #cfd6de}
.table-sm td,.table-sm th{padding:.2rem .4rem}
.badge{display:inline-block;padding:.1rem .4rem;border-radius:3px;background:#e3e7ec;
font-size:85%}
.text-success{color:#2e7d32}.text-danger{color:#c62828}.text-warning{color:#b26a00}
.text-muted{color:#6b7280}.text-right{text-align:right}.text-center{text-align:center}
.d-none,.hide,.invisible{display:none}
.fas,.fa,.far{font-style:normal;font-weight:700}
.fa-check-circle::before{content:"\\2714"}.fa-times::before{content:"\\2718"}
.fa-question-circle::before{content:"?"}.fa-exclamation-triangle::before{content:"\\26A0"}
.fa-comment::before{content:"\\1F4AC"}
code,pre{font-family:ui-monospace,monospace;font-size:90%;white-space:pre-wrap}
ul.nav{list-style:none;padding-left:0}
"""
_STYLESHEET = "minimizer-offline.css"
_REMOTE = re.compile(
    r"""<link\b[^>]*\bhref=["']https?://[^"']*["'][^>]*>"""
    r"""|<script\b[^>]*\bsrc=["']https?://[^"']*["'][^>]*>\s*</script>"""
    r"""|<img\b[^>]*\bsrc=["']https?://[^"']*["'][^>]*>""",
    re.IGNORECASE,
)
_OWN_STYLES = re.compile(r"""href=["']((?:\.\.?/)*)static/styles/""")


def _shared_static(docs: Path, assets: Path) -> None:
    """``docs/static`` as a relative link to the one copy in ``assets``."""
    shared = assets / "gx-static"
    local = docs / "static"
    if local.is_dir() and not local.is_symlink():
        if shared.exists():
            shutil.rmtree(local)
        else:
            assets.mkdir(parents=True, exist_ok=True)
            shutil.move(str(local), str(shared))
    (shared / "styles").mkdir(parents=True, exist_ok=True)
    sheet = shared / "styles" / _STYLESHEET
    if not sheet.exists() or sheet.read_text() != OFFLINE_CSS:
        sheet.write_text(OFFLINE_CSS)
    if not local.exists():
        local.symlink_to(os.path.relpath(shared, docs), target_is_directory=True)


def make_offline(docs: Path, assets: Path) -> None:
    """Every page of the Data Docs site ``docs`` without a remote asset (see the module)."""
    _shared_static(docs, assets)
    for page in docs.rglob("*.html"):
        if "static" in page.relative_to(docs).parts[:1]:
            continue
        html = _REMOTE.sub("", page.read_text())
        found = _OWN_STYLES.search(html)
        prefix = found.group(1) if found else os.path.relpath(docs, page.parent) + "/"
        prefix = "" if prefix == "./" else prefix
        link = f'<link rel="stylesheet" href="{prefix}static/styles/{_STYLESHEET}">'
        html = html.replace("</head>", f"{link}\n</head>", 1)
        page.write_text(html)


# The page's template ships in the package (minimizer/gate/templates/); autoescape is on, so
# a table, column or purpose name is escaped by the engine, never by hand.
_ENV = Environment(
    loader=PackageLoader("minimizer.gate", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def _href(page: Path | None, base: Path) -> str | None:
    return None if page is None else str(page.relative_to(base))


def write_page(directory: Path, purpose: str, summary: dict[str, Any]) -> Path:
    """Write the page next to ``data_docs/`` and return its path."""
    docs = directory / "data_docs"
    tables = []
    for table, counts in summary["tables"].items():
        validation = next(
            iter(sorted((docs / "validations" / purpose / table).rglob("*.html"))), None
        )
        suite = docs / "expectations" / purpose / f"{table}.html"
        tables.append(
            {
                "table": table,
                "ok": counts["failed"] == 0,
                "passed": counts["evaluated"] - counts["failed"],
                "evaluated": counts["evaluated"],
                "validation": _href(validation, directory),
                "suite": _href(suite if suite.exists() else None, directory),
            }
        )
    html = _ENV.get_template("gate.html.j2").render(
        purpose=purpose,
        success=bool(summary["success"]),
        tables=tables,
        failures=summary["failures"],
    )
    page = directory / "index.html"
    page.write_text(html)
    return page
