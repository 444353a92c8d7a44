"""Packages import their public names on first use (minimizer._lazy), and only then."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

LAZY = [
    "minimizer",
    "minimizer.audit",
    "minimizer.gate",
    "minimizer.io",
    "minimizer.io.sources",
    "minimizer.pii",
    "minimizer.synth",
]


@pytest.mark.parametrize("name", LAZY)
def test_every_listed_name_resolves_and_is_in_dir(name):
    package = importlib.import_module(name)
    for public in package.__all__:
        assert getattr(package, public) is not None
        assert public in dir(package)


def test_an_unknown_name_is_an_attribute_error_naming_it():
    import minimizer

    with pytest.raises(AttributeError, match="no_such_name"):
        minimizer.no_such_name  # noqa: B018


def test_from_import_still_works():
    from minimizer import PolicyError, load_policy
    from minimizer.errors import PolicyError as Direct

    assert PolicyError is Direct
    assert callable(load_policy)


def test_the_command_line_and_the_policy_loader_import_no_data_stack():
    # What `minimizer --help` and `minimizer policy check` pay for: no pandas, Arrow, DuckDB,
    # SQLAlchemy, H3 or Great Expectations.
    code = (
        "import sys, minimizer.cli, minimizer.policy; "
        "heavy = ['pandas', 'pyarrow', 'duckdb', 'sqlalchemy', 'h3ronpy', 'great_expectations'];"
        "print(','.join(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
