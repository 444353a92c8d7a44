"""The rights code asks the warehouse, never a dialect: no module that erases, re-keys or
re-enforces looks up a target's SQL (``DIALECTS``, ``warehouse.kind``, placeholders), and the
column types of every audit table come from one table."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import minimizer.rights
from minimizer.io._catalog import REGISTRY, RUNS
from minimizer.io.drivers.sql import DIALECTS, LOGICAL_TYPES, TableSpec
from minimizer.rights.sql import RIGHTS_TABLES

RIGHTS = Path(minimizer.rights.__file__).parent
WAREHOUSE_WORK = [
    "catalogue",
    "erasure",
    "reenforce",
    "registry",
    "rekey",
    "sql",
    "suppression",
    "targets",
]
SQL_TYPES = {t for targets in LOGICAL_TYPES.values() for t in targets.values()}


@pytest.mark.parametrize("module", WAREHOUSE_WORK)
def test_no_rights_module_builds_sql_for_a_target(module: str) -> None:
    tree = ast.parse((RIGHTS / f"{module}.py").read_text(encoding="utf-8"))
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    names |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    names |= {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    assert not names & {"DIALECTS", "Dialect", "dialect", "param", "kind_of"}, module
    kinds = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Attribute)
        and n.attr == "kind"
        and getattr(n.value, "id", "") in ("warehouse", "wh")
    ]
    assert not kinds, f"{module} branches on the warehouse's kind"
    texts = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}
    # A table of types per target would hold its spellings and the targets' names as values.
    assert not texts & (SQL_TYPES | set(DIALECTS)), f"{module} holds a table per target"
    assert not any(isinstance(t, str) and ("%s" in t or " ? " in t) for t in texts), module


def test_every_audit_table_takes_its_types_from_the_one_table() -> None:
    specs: list[TableSpec] = [RUNS, REGISTRY, *RIGHTS_TABLES]
    assert {spec.name for spec in specs} == {
        "runs",
        "loaded_tables",
        "erasures",
        "suppressed_subjects",
    }
    for spec in specs:
        assert {kind for _, kind, _ in spec.columns} <= set(LOGICAL_TYPES), spec.name
        assert set(spec.key) <= set(spec.names) and all(text for _, _, text in spec.columns)
