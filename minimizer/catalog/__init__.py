"""``minimizer catalog``: a data dictionary per purpose (Markdown and HTML) and a dbt
``sources.yml``, generated from the purpose policies (see docs/catalog.md).

>>> sorted(FILES)
['html', 'markdown', 'sources']
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader
from markupsafe import Markup

from minimizer.catalog.dbt import dbt_sources, dbt_sources_yaml
from minimizer.catalog.model import ColumnEntry, JoinKey, PurposeEntry, TableEntry, describe_purpose
from minimizer.errors import PolicyError, PolicyProblem
from minimizer.io.warehouse import Warehouse
from minimizer.policy import Policy, load_policy

__all__ = [
    "FILES",
    "ColumnEntry",
    "JoinKey",
    "PurposeEntry",
    "TableEntry",
    "dbt_sources",
    "dbt_sources_yaml",
    "describe_purpose",
    "load_policy_dir",
    "render_html",
    "render_markdown",
    "write_catalog",
]

FILES = {"markdown": "{purpose}.md", "html": "{purpose}.html", "sources": "dbt/sources.yml"}


def _md(text: object) -> str:
    # A table cell ends at '|', a line break ends the row; markup characters stay literal.
    return re.sub(r"([|\\`*_<>\[\]])", r"\\\1", str(text)).replace("\n", " ")


def _env(autoescape: bool) -> Environment:
    env = Environment(
        loader=PackageLoader("minimizer.catalog", "templates"),
        # Every value is escaped in HTML; Markdown escapes its own markup with the md filter.
        autoescape=autoescape,
        keep_trailing_newline=True,
        trim_blocks=False,
    )
    env.filters["md"] = _md
    return env


def _context(purpose: PurposeEntry) -> dict[str, Any]:
    doc = dataclasses.asdict(purpose)
    doc["policy_file_name"] = Path(purpose.policy_file).name
    return {"p": _Obj(doc)}


class _Obj(dict[str, Any]):
    """Attribute access over the dataclass dict, for the templates."""

    def __getattr__(self, name: str) -> Any:
        value = self[name]
        if isinstance(value, dict):
            return _Obj(value)
        if isinstance(value, list | tuple):
            return [_Obj(v) if isinstance(v, dict) else v for v in value]
        return value


def render_markdown(purpose: PurposeEntry) -> str:
    return _env(False).get_template("purpose.md.j2").render(**_context(purpose))


def render_html(purpose: PurposeEntry) -> Markup:
    return Markup(_env(True).get_template("purpose.html.j2").render(**_context(purpose)))


def load_policy_dir(folder: Path) -> list[Policy]:
    """Every ``*.yaml`` purpose policy of a folder; none at all is an error, not an empty
    catalog (the command was probably run from the wrong folder)."""
    files = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))
    if not files:
        where = str(folder)
        raise PolicyError(
            [PolicyProblem(where, None, "", "no purpose policy (*.yaml) in this folder")]
        )
    return [load_policy(f) for f in files]


def write_catalog(
    policies: Sequence[Policy], out: Path, warehouse: Warehouse | None = None
) -> list[Path]:
    """Write every purpose's dictionary and one dbt sources.yml; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    entries = [describe_purpose(p, warehouse) for p in policies]
    written = []
    for entry in entries:
        for kind, render in (("markdown", render_markdown), ("html", render_html)):
            path = out / FILES[kind].format(purpose=entry.purpose)
            path.write_text(str(render(entry)))
            written.append(path)
    sources = out / FILES["sources"]
    sources.parent.mkdir(parents=True, exist_ok=True)
    sources.write_text(dbt_sources_yaml(entries))
    written.append(sources)
    return written
