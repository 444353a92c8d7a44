"""tests/parallel_groups.py: which tests may run side by side under pytest-xdist."""

from __future__ import annotations

from pathlib import Path

from tests.parallel_groups import group_of, group_of_node

ROOT = Path(__file__).resolve().parents[1]


def test_a_file_is_its_own_group_unless_it_shares_state():
    assert group_of("tests/pii/test_pii_detect.py", "import re") == "tests/pii/test_pii_detect.py"
    assert group_of("tests/dags/test_tasks.py", "") == "airflow"
    assert group_of("tests/audit/test_report.py", "") == "audit"
    pg = 'PG = os.environ.get("MINIMIZER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")'
    assert group_of("tests/io/test_warehouse.py", pg) == "postgres"
    # the Airflow tests stay together even where they use the server (a database of their own)
    assert group_of("tests/dags/test_dag_runs.py", pg) == "airflow"


def test_every_test_file_that_talks_to_the_postgres_server_is_in_the_postgres_group():
    # The shared database 'test' holds schemas named after purposes: two files at once would
    # drop each other's tables. A file reaching the server some other way must be listed.
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        source = path.read_text()
        relative = path.relative_to(ROOT).as_posix()
        if "psycopg.connect" in source or "postgresql://postgres@" in source:
            assert group_of(relative, source) in ("postgres", "airflow"), relative


def test_a_node_id_is_grouped_by_its_file():
    assert group_of_node("tests/test_readme.py::test_x") == "tests/test_readme.py"
    assert group_of_node("tests/dags/test_tasks.py::test_y[a@b]") == "airflow"
    assert group_of_node("tests/test_pipeline_postgres.py::test_z") == "postgres"
