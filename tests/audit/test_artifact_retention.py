"""Retention of run artefacts: old runs' gate results, rejected rows and reports go, the
current run's and the run records stay."""

from __future__ import annotations

import doctest
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import minimizer.audit.retention
from minimizer.audit.retention import parse_keep, prune_artifacts
from minimizer.errors import MinimizerError

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _run_id(days_ago: int) -> str:
    return f"{NOW - timedelta(days=days_ago):%Y%m%dT%H%M%SZ}-abcd{days_ago:04d}"


def _artifacts(root: Path, ages: list[int]) -> Path:
    for age in ages:
        run = _run_id(age)
        (root / "gate" / run / "data_docs").mkdir(parents=True)
        (root / "gate" / run / "data_docs" / "asset.css").write_text("x" * 1000)
        (root / "rejected" / run).mkdir(parents=True)
        (root / "reports" / "churn").mkdir(parents=True, exist_ok=True)
        (root / "reports" / "churn" / f"{run}.json").write_text("{}")
    (root / "runs.jsonl").write_text("{}\n")
    return root


def test_retention_doctests_pass() -> None:
    assert doctest.testmod(minimizer.audit.retention).failed == 0


def test_runs_older_than_the_limit_are_pruned_and_the_rest_kept(tmp_path: Path) -> None:
    root = _artifacts(tmp_path, [1, 29, 31, 90])
    result = prune_artifacts(root, timedelta(days=30), now=NOW)
    assert result.removed == 6 and result.bytes_freed >= 2000
    assert sorted(p.name for p in (root / "gate").iterdir()) == [_run_id(29), _run_id(1)]
    assert len(list((root / "reports" / "churn").iterdir())) == 2
    assert (root / "runs.jsonl").exists()  # the record of the runs is not an artefact


def test_the_run_that_just_finished_is_never_pruned(tmp_path: Path) -> None:
    root = _artifacts(tmp_path, [400])
    prune_artifacts(root, timedelta(hours=1), now=NOW, spare=_run_id(400))
    assert (root / "gate" / _run_id(400)).is_dir()


@pytest.mark.parametrize("text", ["30", "thirty days", "-3d", "5y"])
def test_an_unreadable_limit_is_refused_with_the_format(text: str) -> None:
    with pytest.raises(MinimizerError, match=r"e\.g\. 30d"):
        parse_keep(text)
