"""Which tests share a pytest-xdist worker: ``make test`` runs ``-n 2 --dist loadgroup``.

Loaded with ``-p tests.parallel_groups``; without ``--dist loadgroup`` it does nothing, so a
serial run is exactly as before. Each test belongs to a group, and a group runs on one worker,
its tests in their usual order:

- its file, by default: a file's module- and session-scoped fixtures are built once;
- ``airflow``: tests/dags share one Airflow home and metadata database per session, and check
  that nothing imported Airflow before that home was set up;
- ``audit``: tests/audit share the session's runs of the probe and example purposes;
- ``spark``: tests/engines/spark share one SparkSession (one JVM) per session, except a file
  there that talks to the PostgreSQL server (the JDBC reader's), which is ``postgres``;
- ``postgres``: every file that connects to the PostgreSQL test server. They create and drop
  schemas named after purposes (``churn_analysis``, ...) in the one shared database ``test``,
  so two of them at once would drop each other's tables.

xdist's own ``loadgroup`` reads ``xdist_group`` marks by renaming node ids, which pytest 9
ignores (every test then runs wherever it lands), so the scheduler here groups by node id
itself. Groups that take longest start first (measured serially on the 2-core machine: airflow
about 85 s, audit 40 s, the dbt and README files 15 to 30 s), so the slowest unit never starts
last while the other worker idles.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Text that only a file talking to the local PostgreSQL server contains.
_POSTGRES = ("127.0.0.1:5432", "MINIMIZER_TEST_PG_URL", "MINIMIZER_TEST_POSTGRES")
_BY_FOLDER = {"tests/dags/": "airflow", "tests/audit/": "audit", "tests/engines/spark/": "spark"}
_SLOWEST_FIRST = (
    "airflow",
    "spark",
    "postgres",
    "audit",
    "tests/test_catalog.py",
    "tests/test_readme.py",
    "tests/synth/test_synth_events.py",
)


# Folder groups that a file talking to the PostgreSQL server leaves for "postgres" (the JDBC
# tests of the Spark engine: the server's schemas matter more than sharing the JVM).
_YIELD_TO_POSTGRES = ("spark",)


def group_of(relative: str, source: str) -> str:
    """The group of a test file, from its path below the project root and its text."""
    postgres = any(marker in source for marker in _POSTGRES)
    for folder, name in _BY_FOLDER.items():
        if relative.startswith(folder) and not (postgres and name in _YIELD_TO_POSTGRES):
            return name
    if postgres:
        return "postgres"
    return relative


@cache
def group_of_file(relative: str) -> str:
    path = ROOT / relative
    source = path.read_text(errors="replace") if path.suffix == ".py" and path.is_file() else ""
    return group_of(relative, source)


def group_of_node(nodeid: str) -> str:
    """The group of a test by its node id (``tests/x/test_y.py::test_z[param]``)."""
    return group_of_file(nodeid.split("::", 1)[0])


def _enabled(config: pytest.Config) -> bool:
    # In a worker xdist sets dist to "no" and keeps the choice in option.loadgroup.
    return config.getvalue("dist") == "loadgroup" or bool(getattr(config.option, "loadgroup", 0))


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    if not _enabled(config):
        return None
    from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

    class GroupScheduling(LoadScopeScheduling):  # type: ignore[misc]
        """xdist's scope scheduling (whole groups to one worker), with the groups above."""

        def _split_scope(self, nodeid: str) -> str:
            return group_of_node(nodeid)

    return GroupScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The slowest groups first (workers collect; the scheduler keeps their order)."""
    if not _enabled(config):
        return
    rank = {name: i for i, name in enumerate(_SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(group_of_node(item.nodeid), len(rank)))  # stable
