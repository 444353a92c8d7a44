"""The HTML pages come from Jinja2 templates shipped in the package, with autoescape on: a text
cell holding markup shows it as text, it never runs (an attacker names a column or a policy)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from minimizer.audit.html import render
from minimizer.audit.record import ProcessingRecord
from minimizer.gate.page import write_page

SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
PACKAGE = Path(__file__).resolve().parents[2] / "minimizer"


def _record(text: str) -> ProcessingRecord:
    return ProcessingRecord(
        purpose="p",
        description=text,
        legal_basis=text,
        owner=text,
        retention_days=30,
        guarantees=[text],
        sources=[
            {
                "source": text,
                "kind": "table",
                "transformations": [
                    {
                        "from": [text],
                        "output": text,
                        "action": "keep",
                        "treatment": text,
                        "description": text,
                    }
                ],
            }
        ],
        categories_in={text: [text]},
        findings={text: [{"text": text, "warning": True}]},
        measured={"run_id": text, "guarantees": {text: text}},
        runs=[
            {
                "run_id": text,
                "status": text,
                "started_at": text,
                "rows_in": 1,
                "rows_out": 1,
                "gate": {
                    "ran": True,
                    "success": False,
                    "evaluated": 2,
                    "failed": 1,
                    "failures": [
                        {"table": text, "column": text, "expectation": text, "unexpected_count": 1}
                    ],
                    "data_docs": None,
                },
            }
        ],
        rotations=[
            {
                "date": text,
                "event": text,
                "from_versions": [1],
                "to_version": 2,
                "rows": 3,
                "deleted_unmapped": 0,
            }
        ],
    )


def test_a_script_in_any_text_cell_of_the_records_page_is_escaped(tmp_path: Path) -> None:
    html = render([_record(SCRIPT)], {}, tmp_path)
    assert "<script" not in html.lower()
    # Every text cell above holds the script: each shows it as text.
    assert html.count(ESCAPED) >= 15
    assert "Processing record: p" in html and "<style>" in html and "border-collapse" in html


def test_a_script_in_a_table_column_or_expectation_name_on_the_gate_page_is_escaped(
    tmp_path: Path,
) -> None:
    summary = {
        "success": False,
        "tables": {SCRIPT: {"evaluated": 3, "failed": 1}},
        "failures": [
            {
                "table": SCRIPT,
                "column": SCRIPT,
                "expectation": SCRIPT,
                "unexpected_count": 2,
                "element_count": 9,
            }
        ],
    }
    html = write_page(tmp_path, SCRIPT, summary).read_text()
    assert "<script" not in html.lower()
    assert html.count(ESCAPED) == 6  # title, heading, table, and the failure's three names
    assert "The gate failed: nothing was loaded." in html
    assert "<td>2/3</td>" in html and "<td>2</td><td>9</td>" in html


def test_the_gate_page_links_the_data_docs_pages_relative_to_itself(tmp_path: Path) -> None:
    docs = tmp_path / "data_docs"
    (docs / "validations" / "p" / "t" / "run").mkdir(parents=True)
    (docs / "validations" / "p" / "t" / "run" / "v.html").write_text("")
    (docs / "expectations" / "p").mkdir(parents=True)
    (docs / "expectations" / "p" / "t.html").write_text("")
    summary = {"success": True, "tables": {"t": {"evaluated": 4, "failed": 0}}, "failures": []}
    html = write_page(tmp_path, "p", summary).read_text()
    assert '<a href="data_docs/validations/p/t/run/v.html">validation result</a>' in html
    assert '<a href="data_docs/expectations/p/t.html">suite</a>' in html
    assert "The gate passed." in html and "<p>none</p>" in html


@pytest.mark.parametrize("module", ["audit/html.py", "gate/page.py"])
def test_no_html_is_built_in_python(module: str) -> None:
    # The markup lives in the templates; the modules pass names and counts only.
    source = (PACKAGE / module).read_text()
    assert not re.search(r"<(table|tr|td|html|body)\b", source)
    assert "escape(" not in source


def test_the_templates_ship_inside_the_package() -> None:
    for folder, names in (
        ("audit/templates", {"records.html.j2", "purpose.html.j2", "records.css"}),
        ("gate/templates", {"gate.html.j2", "gate.css"}),
    ):
        assert names <= {p.name for p in (PACKAGE / folder).iterdir()}
