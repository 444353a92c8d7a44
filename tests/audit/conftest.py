"""Fixtures of the audit's tests: runs of the probe purpose (passing and failing) to report on."""

from __future__ import annotations

import contextlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import TEST_MASTER_B64
from tests.gate.isolation import _no_network, _test_key
from tests.gate.probe import policy_text, probe_sources, run_cli, write_policy

__all__ = ["AuditRuns", "ExampleRuns", "_no_network", "_test_key", "audit_runs", "example_runs"]


@dataclass(frozen=True)
class AuditRuns:
    sources: Path
    warehouse: Path
    artifacts: Path
    policies: Path
    codes: tuple[int, ...]


@pytest.fixture(scope="session")
def audit_runs(tmp_path_factory: pytest.TempPathFactory, synth_sources: Path) -> AuditRuns:
    """Three runs of the probe purpose: passed, failed at the gate (notes kept), passed."""
    root = tmp_path_factory.mktemp("audit")
    sources = probe_sources(synth_sources, root / "sources")
    good = write_policy(root / "policies", policy_text({}))
    leaky = write_policy(root / "leaky", policy_text({"note_email": "keep"}))
    warehouse, artifacts = root / "warehouse.duckdb", root / "artifacts"
    with (
        pytest.MonkeyPatch.context() as mp,
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
    ):
        mp.setenv("MINIMIZER_MASTER_KEY", TEST_MASTER_B64)
        codes = tuple(run_cli(p, sources, warehouse, artifacts) for p in (good, leaky, good))
    return AuditRuns(sources, warehouse, artifacts, good.parent, codes)


@dataclass(frozen=True)
class ExampleRuns:
    """The example purposes over the synthetic sources, with an erasure and a key rotation."""

    warehouse: Path
    artifacts: Path
    policies: Path
    key_file: Path
    erased_rows: int


def _cli(*args: str) -> int:
    from minimizer.cli import main

    return main(list(args))


@pytest.fixture(scope="session")
def example_runs(tmp_path_factory: pytest.TempPathFactory, synth_sources: Path) -> ExampleRuns:
    """churn_analysis (k-anonymity turns loyalty_tier into *), footfall_rows (row-level
    footfall with daily tokens: unicity), an erasure of one customer, a key rotation with rekey,
    and churn_analysis again. The policies are the example purposes and the footfall_rows test
    policy (the demo footfall_heatmap is an aggregate: no token, no unicity to measure)."""
    import shutil
    import sqlite3

    from tests.conftest import AS_OF

    root = tmp_path_factory.mktemp("examples")
    tests = Path(__file__).resolve().parents[1]
    policies = Path(shutil.copytree(tests.parent / "configs" / "purposes", root / "purposes"))
    shutil.copy(tests / "fixtures" / "policies" / "footfall_rows.yaml", policies)
    warehouse, artifacts, key_file = root / "wh.duckdb", root / "artifacts", root / "keys.json"
    common = ("--sources", str(synth_sources), "--warehouse", str(warehouse))
    run = ("--artifacts", str(artifacts), "--as-of", AS_OF.isoformat())
    with sqlite3.connect(synth_sources / "crm.sqlite") as con:
        (subject,) = con.execute("SELECT customer_id FROM customers LIMIT 1").fetchone()
    with (
        pytest.MonkeyPatch.context() as mp,
        contextlib.redirect_stdout(io.StringIO()) as printed,
        contextlib.redirect_stderr(io.StringIO()),
    ):
        mp.delenv("MINIMIZER_MASTER_KEY", raising=False)  # the key file, so keys can rotate
        mp.setenv("MINIMIZER_KEY_FILE", str(key_file))
        steps = [
            ("keys", "init", "--file", str(key_file)),
            ("run", str(policies / "churn_analysis.yaml"), *common, *run),
            ("run", str(policies / "footfall_rows.yaml"), *common, *run),
            ("erase", "--warehouse", str(warehouse), "--subject-id", subject,
             "--purposes-dir", str(policies)),
            ("keys", "rotate"),
            ("keys", "rekey", *common, "--purposes-dir", str(policies)),
            ("run", str(policies / "churn_analysis.yaml"), *common, *run),
        ]  # fmt: skip
        for step in steps:
            assert _cli(*step) == 0, step
    erased = re.search(r"erased 1 subject\(s\): (\d+) row", printed.getvalue())
    assert erased, "the erasure printed no summary"
    return ExampleRuns(warehouse, artifacts, policies, key_file, int(erased[1]))
