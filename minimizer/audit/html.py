"""The processing records as one static HTML page: inline CSS, no script, no remote resource.

Rendered with Jinja2 from ``templates/records.html.j2`` (and ``purpose.html.j2``, one section
per purpose; ``records.css``) with autoescape on: every text from a policy or a run is escaped
by the template engine, never by hand. The page shows names, counts, dates and the policies' own
words only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined

from minimizer.audit.record import ProcessingRecord

__all__ = ["render"]

_FIGURE_TITLES = (
    ("guarantees", "enforced (guarantees engine)"),
    ("gate", "re-checked independently by the gate"),
    ("measures", "measured while staging"),
)

# The templates ship in the package (minimizer/audit/templates/). Autoescape is on for every
# template whatever its name: a policy's words or a run's names can hold "<".
_ENV = Environment(
    loader=PackageLoader("minimizer.audit", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def render(
    records: Sequence[ProcessingRecord], images: Mapping[str, Mapping[str, Path]], out: Path
) -> str:
    """The whole page; image and link paths are made relative to ``out`` (the page's folder)."""

    def rel(target: str | Path) -> str:
        return os.path.relpath(target, out)

    return _ENV.get_template("records.html.j2").render(
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        records=records,
        runs=sum(len(r.runs) for r in records),
        images=images,
        rel=rel,
        figure_titles=_FIGURE_TITLES,
    )
