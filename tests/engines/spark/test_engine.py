"""The Spark engine behind the flow: the staged files, the rows set aside, a failed job, the CLI.

- The staged file is the single-process one: same rows in the same order, same Arrow schema
  (pandas metadata included), so `check` and `load` cannot tell the engines apart.
- Rows the extract leaves out or sets aside (erased subjects, future-dated, untimed,
  unparseable) are counted, quarantined and reported as on one machine.
- A job that raises inside ``mapInArrow`` on a row loads nothing, and neither its error nor the
  run's report quotes the row.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from minimizer import flow
from minimizer.errors import MinimizerError
from minimizer.flow import ALL, Steps, run_purpose
from minimizer.io.warehouse import open_warehouse
from minimizer.keys import KeyRing
from minimizer.pipeline import RunReport, Sources
from minimizer.policy import load_policy
from tests.conftest import AS_OF

ROOT = Path(__file__).resolve().parents[3]
PURPOSES = ROOT / "configs" / "purposes"
EXTRACT_ONLY = Steps(suppression=True, guarantees=False, gate=False)


def _engine(spark: Any, **kw: Any) -> Any:
    from minimizer.engines.spark.engine import SparkEngine

    return SparkEngine(spark=spark, **kw)


def _run(
    purpose: str, data: Path, wh: Path, keyring: KeyRing, engine: Any = None, **kw: Any
) -> RunReport:
    extra = {} if engine is None else {"engine": engine}
    with open_warehouse(str(wh)) as w:
        return run_purpose(
            load_policy(PURPOSES / f"{purpose}.yaml"),
            Sources.from_dir(data),
            w,
            keyring,
            as_of=AS_OF,
            **extra,
            **kw,
        )


def test_the_staged_files_are_the_single_process_ones(
    spark: Any, demo_small: Path, keyring: KeyRing, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    staged: dict[str, dict[str, pa.Table]] = {}
    check = flow.check

    def keep(run: flow.Run) -> None:
        label = "spark" if run.work.name.endswith("-spark") else "local"
        staged[label] = {n: pq.read_table(s.staged) for n, s in run.report.sources.items()}
        check(run)

    monkeypatch.setattr(flow, "check", keep)
    for label, engine in (
        ("local", None),
        ("spark", _engine(spark, tables=demo_small / "exports")),
    ):
        monkeypatch.setattr(flow, "open_staging", _named_staging(tmp_path, label))
        _run("marketing_segments", demo_small, tmp_path / f"{label}.duckdb", keyring, engine)
    assert set(staged["spark"]) == set(staged["local"]) == {"customers", "web_profiles", "orders"}
    for name, table in staged["local"].items():
        got = staged["spark"][name]
        assert got.schema.equals(table.schema, check_metadata=True), name
        assert got.equals(table), name  # same rows, same order


def _named_staging(root: Path, label: str) -> Any:
    from minimizer.io.staging import Staging

    def opened(purpose: str) -> Staging:
        path = root / f"staging-{purpose}-{label}"
        path.mkdir()
        return Staging(path)

    return opened


def _events_with_bad_rows(data: Path, out: Path) -> Path:
    """The demo sources plus a file of rows to set aside: a future time, no time, a latitude
    that is no latitude, next to good rows."""
    shutil.copytree(data, out)
    day = out / "events" / "date=2026-06-14"
    good = pq.read_table(next(day.glob("*.parquet"))).slice(0, 4).to_pandas()
    bad = good.copy()
    ts = bad["ts"].astype("datetime64[us, UTC]")
    bad["ts"] = [pd.Timestamp("2099-01-01", tz="UTC"), pd.NaT, ts.iloc[2], ts.iloc[3]]
    bad["lat"] = [bad["lat"].iloc[0], bad["lat"].iloc[1], 999.0, bad["lat"].iloc[3]]
    pq.write_table(pa.Table.from_pandas(bad, preserve_index=False), day / "part-9.parquet")
    return out


def test_rows_left_out_or_set_aside_are_counted_and_quarantined_alike(
    spark: Any, demo_small: Path, keyring: KeyRing, tmp_path: Path
) -> None:
    from minimizer.rights.erasure import ErasureRequest, erase_subjects

    data = _events_with_bad_rows(demo_small, tmp_path / "data")
    erased = pq.read_table(data / "events").column("customer_id").unique().to_pylist()[:3]
    policy = load_policy(PURPOSES / "mobility_research.yaml")
    reports: dict[str, RunReport] = {}
    for label, engine in (("local", None), ("spark", _engine(spark))):
        wh = tmp_path / f"{label}.duckdb"
        with open_warehouse(str(wh)) as w:
            erase_subjects(w, [policy], keyring, [ErasureRequest(str(e)) for e in erased])
        arts = tmp_path / f"artifacts-{label}"
        reports[label] = _run(
            "mobility_research", data, wh, keyring, engine, steps=EXTRACT_ONLY, artifacts=arts
        )
    local, on_spark = reports["local"].sources["events"], reports["spark"].sources["events"]
    assert local.excluded > 0 and local.rejected > 0
    assert local.measures["retention"]["future_quarantined"] == 1
    assert local.measures["retention"]["no_time_dropped"] == 1
    for fact in ("rows_in", "rows_out", "excluded", "rejected", "invalid_by_column", "measures"):
        assert getattr(on_spark, fact) == getattr(local, fact), fact
    for name in ("events.parquet", "events.future-00000.parquet"):
        kept = [
            pq.read_table(tmp_path / f"artifacts-{label}" / "rejected" / r.run_id / name)
            for label, r in reports.items()
        ]
        assert kept[0].equals(kept[1]), name


class _Poisoned:
    """Stands in for the kernel: raises on the first row, quoting it (as user code might)."""

    def __init__(self, kernel: Any) -> None:
        self.kernel = kernel

    def __call__(self, batches: Any) -> Any:
        for batch in batches:
            value = batch.column(self.kernel.raw.index("customer_id"))[0].as_py()
            raise ValueError(f"cannot minimise customer {value}")
        yield from ()


def test_a_job_that_fails_inside_map_in_arrow_loads_nothing_and_quotes_no_row(
    spark: Any, demo_small: Path, keyring: KeyRing, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pyspark import cloudpickle

    from minimizer.engines.spark import engine as spark_engine

    wh = tmp_path / "w.duckdb"
    _run("churn_analysis", demo_small, wh, keyring, steps=ALL)  # a first, good load
    with open_warehouse(str(wh)) as w:
        before = {t: w.read(s, t) for s, t in w.tables() if s == "churn_analysis"}
        runs = len(w.audit_runs())

    # The workers cannot import this test module: its stand-in kernel travels by value.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # type: ignore[no-untyped-call]
    kernel = spark_engine._kernel
    monkeypatch.setattr(spark_engine, "_kernel", lambda *a: _Poisoned(kernel(*a)))
    failed: list[RunReport] = []
    with pytest.raises(MinimizerError) as caught, open_warehouse(str(wh)) as w:
        run_purpose(
            load_policy(PURPOSES / "churn_analysis.yaml"),
            Sources.from_dir(demo_small),
            w,
            keyring,
            as_of=AS_OF,
            steps=ALL,
            engine=_engine(spark, tables=demo_small / "exports"),
            on_finish=failed.append,
        )
    ids = pd.read_parquet(demo_small / "exports" / "customers.parquet").customer_id
    said = f"{caught.value} {failed[0].error}"
    assert "Spark job failed" in str(caught.value) and failed[0].status == "failed"
    assert not any(i in said for i in ids), "a row's value reached the error"
    with open_warehouse(str(wh)) as w:
        after = {t: w.read(s, t) for s, t in w.tables() if s == "churn_analysis"}
        assert len(w.audit_runs()) == runs
    assert set(after) == set(before)
    for table, frame in before.items():
        pd.testing.assert_frame_equal(after[table], frame)


def test_the_cli_runs_a_policy_on_spark(
    spark: Any,
    demo_small: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from minimizer.cli import main
    from tests.conftest import TEST_MASTER_B64

    monkeypatch.setenv("MINIMIZER_MASTER_KEY", TEST_MASTER_B64)
    wh = tmp_path / "w.duckdb"
    args = ["run", str(PURPOSES / "churn_analysis.yaml"), "--sources", str(demo_small)]
    args += ["--warehouse", str(wh), "--as-of", AS_OF.isoformat()]
    assert main([*args, "--engine", "spark", "--master", "local[2]"]) == 0
    with open_warehouse(str(wh)) as w:
        counts = {t: len(w.read(s, t)) for s, t in w.tables() if s == "churn_analysis"}
    assert counts["customers"] == 300 and counts["orders"] > 0
    assert spark.sparkContext._jsc is not None, "the CLI stopped a session it did not start"
    capsys.readouterr()
    assert main([*args, "--master", "local[2]"]) == 2
    assert "--engine spark" in capsys.readouterr().err


def test_the_cli_imports_no_spark_until_asked() -> None:
    import subprocess

    code = "import sys, minimizer.cli; assert 'pyspark' not in sys.modules"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-500:]


def test_the_counting_pass_as_a_spark_aggregation_counts_as_pandas_does(
    spark: Any, tmp_path: Path
) -> None:
    from minimizer.engines.spark.counting import group_counts

    frame = pd.DataFrame(
        {
            "band": ["20-29", "20-29", "20-29", None, None, "30-39"],
            "tier": ["gold", "gold", "gold", "gold", "gold", None],
            "who": ["a", "a", "b", None, None, "c"],  # two rows without a subject: one person
        }
    )
    path = tmp_path / "staged.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    got = group_counts(spark.read.parquet(str(path)), ["band", "tier"], "who")
    order = [("band", "ascending"), ("tier", "ascending")]
    assert got.sort_by(order).to_pydict() == {
        "band": ["20-29", "30-39", None],
        "tier": ["gold", None, "gold"],
        "rows": [3, 1, 2],
        "subjects": [2, 1, 1],
    }
