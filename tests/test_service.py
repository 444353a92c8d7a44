"""The run as callers start it: a crash is recorded as failed (never left "running"), its
message never reaches the screen or the record, and a relative artefacts folder works."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from minimizer import flow
from minimizer.cli import main
from minimizer.io.warehouse import open_warehouse
from minimizer.service import default_artifacts
from tests.conftest import AS_OF, TEST_MASTER_B64

ROOT = Path(__file__).resolve().parents[1]
CHURN = ROOT / "configs" / "purposes" / "churn_analysis.yaml"
SECRET = "Berlin-Mitte-4711"


def run(sources: Path, warehouse: Path, artifacts: str) -> int:
    args = ["run", str(CHURN), "--sources", str(sources), "--warehouse", str(warehouse)]
    return main([*args, "--as-of", AS_OF.isoformat(), "--artifacts", artifacts])


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINIMIZER_MASTER_KEY", TEST_MASTER_B64)


def test_a_crashed_run_is_recorded_as_failed_without_its_message(
    synth_sources, tmp_path, monkeypatch, capsys
):
    def crash(run: flow.Run) -> None:
        raise IndexError(f"index out of range for {SECRET}")  # a bug quoting a value

    monkeypatch.setattr(flow, "enforce_guarantees", crash)
    artifacts = tmp_path / "artifacts"
    assert run(synth_sources, tmp_path / "wh.duckdb", str(artifacts)) == 1
    err = capsys.readouterr().err
    assert "internal error" in err and "IndexError" in err and SECRET not in err
    lines = (artifacts / "runs.jsonl").read_text().splitlines()
    record = json.loads(lines[-1])
    assert record["status"] == "failed" and "IndexError" in record["details"]["error"]
    assert SECRET not in lines[-1]
    with open_warehouse(tmp_path / "wh.duckdb") as wh:
        assert "churn_analysis" not in {s for s, _ in wh.tables()}  # nothing was loaded


def test_relative_paths_and_a_warehouse_named_like_the_purpose_work(
    synth_sources, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    # The README's PostgreSQL default folder, relative; a DuckDB file named like the purpose.
    assert run(synth_sources, Path("churn_analysis.duckdb"), "minimizer-artifacts") == 0
    folder = tmp_path / "minimizer-artifacts"
    record = json.loads((folder / "runs.jsonl").read_text().splitlines()[-1])
    assert record["status"] == "loaded"
    assert record["details"]["gate"].get("success") is True
    with open_warehouse(tmp_path / "churn_analysis.duckdb") as wh:
        counts = wh.query("SELECT count(*) AS n FROM churn_analysis.customers").n.tolist()
        assert counts == [record["rows_out"]["customers"]]


@pytest.mark.parametrize(
    "url", ["postgresql://u@h/db", "postgres://u@h/db", "postgresql+psycopg://u@h/db"]
)
def test_the_default_artifacts_of_a_server_warehouse_are_absolute(url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert default_artifacts(url) == tmp_path / "minimizer-artifacts"


def test_the_gate_works_inside_the_run_staging_so_a_dead_run_leaves_nothing_else(
    synth_sources, tmp_path, monkeypatch
):
    import tempfile

    import minimizer.gate.validate as validate
    from minimizer.io.staging import OWNER

    seen: list[tuple[Path, bool]] = []
    real = tempfile.mkdtemp

    def spy(*args, **kwargs):
        made = Path(real(*args, **kwargs))
        if made.name.startswith("minimizer-gate-"):
            seen.append((made.parent, (made.parent / OWNER).exists()))
        return str(made)

    monkeypatch.setattr(validate.tempfile, "mkdtemp", spy)
    assert run(synth_sources, tmp_path / "wh.duckdb", str(tmp_path / "artifacts")) == 0
    # The gate's scratch folder sits in the run's locked staging folder, which the next run
    # removes if this one is killed (minimizer.io.staging).
    assert seen and all(p.name.startswith("minimizer-churn_analysis-") and o for p, o in seen)
    assert not any(p.exists() for p, _ in seen)


@pytest.mark.parametrize(
    ("policy_engine", "flag", "chosen"),
    [("spark", None, "spark"), ("spark", "local", "local"), ("local", None, "local")],
)
def test_the_cli_takes_the_policys_engine_unless_told(
    policy_engine, flag, chosen, synth_sources, tmp_path, monkeypatch
):
    import minimizer.service as service

    text = CHURN.read_text()
    policy = tmp_path / "churn_analysis.yaml"
    policy.write_text(f"engine: {policy_engine}\n{text}")
    asked: list[str] = []

    def stage_engine(name: str, master: str | None = None) -> flow.Engine:
        asked.append(name)
        return flow.stage_sources  # stages in this process whatever was asked: no JVM here

    monkeypatch.setattr(service, "stage_engine", stage_engine)
    args = ["run", str(policy), "--sources", str(synth_sources)]
    args += ["--warehouse", str(tmp_path / "wh.duckdb"), "--as-of", AS_OF.isoformat()]
    args += ["--artifacts", str(tmp_path / "artifacts")]
    assert main(args + (["--engine", flag] if flag else [])) == 0
    assert asked == [chosen]
