"""Fixtures of the audit's tests: runs of the probe purpose (passing and failing) to report on."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import TEST_MASTER_B64
from tests.gate.isolation import _no_network, _test_key
from tests.gate.probe import policy_text, probe_sources, run_cli, write_policy

__all__ = ["AuditRuns", "_no_network", "_test_key", "audit_runs"]


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
