"""Retention is decided on the raw event time: nothing younger than the cutoff is deleted,
whatever period it is published as; future-dated rows are quarantined (or fail the run); the
rows a run records are the rows its tables hold."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from minimizer.errors import DataError
from minimizer.flow import Steps, run_purpose
from minimizer.io.warehouse import TableLoad, open_warehouse, retention_sql
from minimizer.pipeline import Sources, retention_cutoff
from minimizer.policy import load_policy
from tests.conftest import AS_OF

ROOT = Path(__file__).resolve().parents[1]
PURPOSES = ROOT / "configs" / "purposes"


# -- the warehouse rule: a period goes only once it has wholly passed ---------------------------


SPANS = {"month": 1, "quarter": 3, "year": 12}


@pytest.mark.parametrize("unit", ["month", "quarter", "year", ""])
def test_a_period_is_deleted_only_when_it_ends_before_the_cutoff(tmp_path, unit):
    values = [date(2024, 1, 1), date(2025, 1, 1), date(2025, 10, 1), date(2025, 11, 1)]
    values += [date(2025, 12, 1), date(2026, 1, 1), None]
    staged = tmp_path / "t.parquet"
    pq.write_table(pa.table({"m": pa.array(values, pa.date32())}), staged)
    cutoff = datetime(2025, 12, 15, tzinfo=UTC)
    load = TableLoad(
        table="t",
        files=[staged],
        schema=pq.read_schema(staged),
        retention_column="m",
        retention_cutoff=cutoff,
        retention_unit=unit,
    )
    with open_warehouse(str(tmp_path / "w.duckdb")) as wh:
        wh.load("p", [load], _audit())
        left = sorted(pd.Timestamp(v).date() for v in wh.read("p", "t").m)
        assert wh.apply_retention("p", "t", "m", cutoff, unit) == 0  # idempotent
    end = {v: pd.Timestamp(v) + pd.DateOffset(months=SPANS.get(unit, 0)) for v in values if v}
    naive = pd.Timestamp(cutoff.replace(tzinfo=None))
    assert left == [v for v, e in end.items() if (e > naive if unit else e >= naive)]
    # The period that holds the cutoff is never deleted: its later days are within retention.
    if unit == "month":
        assert date(2025, 12, 1) in left and date(2025, 11, 1) not in left
    if unit == "quarter":
        assert date(2025, 10, 1) in left


def test_the_month_column_sql_compares_the_period_end():
    from minimizer.io.warehouse import DIALECTS

    for dialect in DIALECTS.values():
        sql = retention_sql("p", "t", "m", dialect, "month")
        assert "INTERVAL '1 month'" in sql and "<=" in sql and "IS NULL" in sql


def _audit() -> dict[str, object]:
    now = datetime.now(UTC)
    return {
        "run_id": "r1",
        "purpose": "p",
        "policy_sha256": "0" * 64,
        "status": "loaded",
        "started_at": now,
        "finished_at": now,
        "key_version": 1,
        "rows_in": {},
        "rows_out": {},
        "dropped_columns": {},
        "schema_drift": {},
        "details": {},
    }


# -- end to end: orders on both sides of period boundaries ---------------------------------------


def _with_orders(synth_sources: Path, tmp_path: Path, stamps: list[str]) -> Path:
    sources = tmp_path / "src"
    shutil.copytree(synth_sources, sources)
    with sqlite3.connect(sources / "crm.sqlite") as db:
        (customer,) = db.execute("SELECT customer_id FROM customers LIMIT 1").fetchone()
        db.executemany(
            "INSERT INTO orders VALUES (?, ?, ?, 10.0, 'EUR', 'web', 'x')",
            [(f"ORD-T{i:04d}", customer, s) for i, s in enumerate(stamps)],
        )
    return sources


def _run(policy_path: Path, sources: Path, tmp_path: Path, keyring, as_of: datetime = AS_OF):
    policy = load_policy(policy_path)
    wh_path = tmp_path / "w.duckdb"
    artifacts = tmp_path / "a"
    with open_warehouse(str(wh_path)) as wh:
        report = run_purpose(
            policy,
            Sources.from_dir(sources),
            wh,
            keyring,
            as_of=as_of,
            steps=Steps(suppression=False, gate=False),  # the guarantees raise time grains
            artifacts=artifacts,
        )
        tables = {t: wh.read(s, t) for s, t in wh.tables() if s == policy.purpose}
        audit = wh.audit_runs(policy.purpose).iloc[-1]
    return report, tables, audit


def _raw_orders(sources: Path) -> pd.DataFrame:
    with sqlite3.connect(sources / "crm.sqlite") as db:
        frame = pd.read_sql("SELECT order_date FROM orders", db)
    frame["t"] = pd.to_datetime(frame.order_date, utc=True, format="mixed")
    return frame


def _policy(tmp_path: Path, base: str, replace: dict[str, str]) -> Path:
    text = (PURPOSES / f"{base}.yaml").read_text()
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / f"{base}.yaml"
    path.write_text(text)
    return path


def test_no_order_younger_than_the_cutoff_is_deleted_across_quarter_boundaries(
    tmp_path, synth_sources, keyring
):
    # marketing_segments: retention 365d, orders published by quarter.
    policy_path = PURPOSES / "marketing_segments.yaml"
    cutoff = retention_cutoff(load_policy(policy_path), AS_OF)
    around = [cutoff + timedelta(days=d, hours=1) for d in (-40, -1, 0, 1, 20, 120)]
    stamps = [f"{t:%Y-%m-%d %H:%M:%S}" for t in around]
    stamps += [f"{cutoff.year}-12-{d:02d} 10:00:00" for d in (1, 15, 31)]  # December
    sources = _with_orders(synth_sources, tmp_path, stamps)
    report, tables, audit = _run(policy_path, sources, tmp_path, keyring)
    raw = _raw_orders(sources)
    young = raw.loc[(raw.t >= cutoff) & (raw.t <= AS_OF + timedelta(days=1))]
    # Independent of our code: raw orders per quarter start, against the warehouse's.
    expected = young.t.dt.tz_localize(None).dt.to_period("Q").dt.start_time.value_counts()
    loaded = pd.to_datetime(tables["orders"].order_quarter).value_counts()
    assert loaded.sort_index().to_dict() == expected.sort_index().to_dict()
    # The quarter that began before the cutoff is there, with its young orders only.
    first = pd.Timestamp(cutoff.replace(tzinfo=None)).to_period("Q").start_time
    assert loaded[first] == expected[first] > 0
    # The processing record's counts are the tables' counts.
    for name, table in tables.items():
        assert audit.rows_out[name] == len(table) == report.loaded_rows[name]


def test_a_future_dated_order_is_quarantined_outside_the_warehouse(
    tmp_path, synth_sources, keyring
):
    stamps = ["2099-01-01 00:00:00", f"{AS_OF + timedelta(hours=20):%Y-%m-%d %H:%M:%S}"]
    sources = _with_orders(synth_sources, tmp_path, stamps)
    policy_path = PURPOSES / "churn_analysis.yaml"
    report, tables, audit = _run(policy_path, sources, tmp_path, keyring)
    months = pd.to_datetime(tables["orders"].order_month)
    assert months.max() <= pd.Timestamp(AS_OF.replace(tzinfo=None))  # 2099 is not loaded
    assert report.sources["orders"].measures["retention"]["future_quarantined"] == 1
    quarantined = list((tmp_path / "a" / "rejected" / report.run_id).glob("orders.future-*"))
    assert len(quarantined) == 1
    held = pq.read_table(quarantined[0]).to_pandas()
    assert held.order_date.astype(str).str.startswith("2099").all() and len(held) == 1
    assert audit.rows_out["orders"] == len(tables["orders"])


def test_future_dated_rows_fail_the_run_when_the_policy_says_so(tmp_path, synth_sources, keyring):
    sources = _with_orders(synth_sources, tmp_path, ["2099-01-01 00:00:00"])
    path = _policy(
        tmp_path,
        "churn_analysis",
        {"    on_invalid: reject\n": "    on_invalid: reject\n    on_future: fail\n"},
    )
    with pytest.raises(DataError, match="on_future: fail") as caught:
        _run(path, sources, tmp_path, keyring)
    assert "2099" not in str(caught.value)
    with open_warehouse(str(tmp_path / "w.duckdb")) as wh:
        assert "churn_analysis" not in {s for s, _ in wh.tables()}


def test_the_tolerance_is_the_policys(tmp_path, synth_sources, keyring):
    in_three_days = f"{AS_OF + timedelta(days=3):%Y-%m-%d %H:%M:%S}"
    sources = _with_orders(synth_sources, tmp_path, [in_three_days])
    path = _policy(
        tmp_path,
        "churn_analysis",
        {"    on_invalid: reject\n": "    on_invalid: reject\n    future_tolerance: 7d\n"},
    )
    report, _, _ = _run(path, sources, tmp_path, keyring)
    assert "retention" not in report.sources["orders"].measures


@pytest.mark.parametrize("k", [5, 40])
def test_k_anonymity_on_a_time_column_keeps_it_a_date_and_retention_still_runs(
    tmp_path, synth_sources, keyring, k
):
    # The attack of issue 10: the guarantee turned order_month into text, and the retention
    # DELETE then failed comparing VARCHAR with TIMESTAMP.
    path = _policy(
        tmp_path,
        "churn_analysis",
        {
            "    source: customers\n    k: 5\n    quasi_identifiers: [age_band, postcode_area, "
            "loyalty_tier]": f"    source: orders\n    k: {k}\n    quasi_identifiers: "
            "[order_month, amount_band, channel]"
        },
    )
    report, tables, audit = _run(path, synth_sources, tmp_path, keyring)
    with open_warehouse(str(tmp_path / "w.duckdb")) as wh:
        types = dict(
            wh._fetch(  # type: ignore[attr-defined]
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'churn_analysis' AND table_name = 'orders'"
            )
        )
    assert types["order_month"] == "DATE"
    orders = tables["orders"]
    grains = report.sources["orders"].measures.get("time_grains", {})
    unit = grains.get("order_month", "month")
    starts = pd.to_datetime(orders.order_month.dropna())
    assert (starts.dt.day == 1).all()
    if unit in ("quarter", "year"):
        assert set(starts.dt.month) <= {1, 4, 7, 10}
    assert audit.rows_out["orders"] == len(orders)
    qis = ["order_month", "amount_band", "channel"]
    measured = report.guarantees["k_anonymity"]
    masked = (orders.channel == "*") & (orders.amount_band == "*") & orders.order_month.isna()
    kept = orders if measured["suppressed"] == 0 else orders.loc[~masked]
    assert measured["counted_over"] == "subjects"
    assert kept.groupby(qis, dropna=False).customer_id.nunique().min() >= k
