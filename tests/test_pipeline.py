"""End to end on embedded defaults: SQLite CRM + Parquet events -> DuckDB warehouse."""

import shutil
import sqlite3
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from minimizer import flow
from minimizer.errors import DataError, GuaranteeError, SourceError
from minimizer.flow import run_purpose
from minimizer.gate.suite import table_columns
from minimizer.io.warehouse import open_warehouse
from minimizer.pipeline import Sources
from minimizer.policy import load_policy
from tests.conftest import AS_OF

ROOT = Path(__file__).resolve().parents[1]
PURPOSES = ROOT / "configs" / "purposes"


def run(policy_name, sources, warehouse, keyring, **kw):
    policy = (
        load_policy(PURPOSES / f"{policy_name}.yaml")
        if isinstance(policy_name, str)
        else policy_name
    )
    with open_warehouse(str(warehouse)) as wh:
        return run_purpose(policy, Sources.from_dir(sources), wh, keyring, as_of=AS_OF, **kw)


def contents(warehouse, schema=None):
    with open_warehouse(str(warehouse)) as wh:
        tables = [
            (s, t) for s, t in wh.tables() if s != "minimizer_audit" and (schema in (None, s))
        ]
        return {
            f"{s}.{t}": wh.read(s, t)
            .sort_values(list(wh.read(s, t).columns))
            .reset_index(drop=True)
            for s, t in tables
        }


@pytest.fixture(scope="module")
def loaded(tmp_path_factory, synth_sources):
    from minimizer.keys import KeyRing
    from tests.conftest import TEST_MASTER

    ring = KeyRing(masters={1: TEST_MASTER}, current=1)
    wh = tmp_path_factory.mktemp("wh") / "warehouse.duckdb"
    for name in ("churn_analysis", "footfall_heatmap", "marketing_segments", "mobility_research"):
        run(name, synth_sources, wh, ring)
    return wh


def test_tables_hold_exactly_the_columns_the_policy_produces_with_comments(loaded):
    with open_warehouse(str(loaded)) as wh:
        for file in PURPOSES.glob("*.yaml"):
            policy = load_policy(file)
            for source, spec in policy.sources.items():
                agg = spec.aggregate  # an aggregate source publishes its counts, not its rows
                # rows: the outputs, and what the load adds (<bucket>_from of sortable buckets)
                wanted = table_columns(policy, source) if agg is None else [*agg.by, *agg.measures]
                assert list(wh.read(policy.purpose, source).columns) == wanted
                comments = wh.column_comments(policy.purpose, source)
                assert set(comments) == set(wanted)
                assert all(comments.values())


def _raw_identifiers(sources: Path) -> dict[str, set[str]]:
    with sqlite3.connect(sources / "crm.sqlite") as con:
        c = pd.read_sql("SELECT * FROM customers", con)
    raw = {
        col: set(c[col].dropna().astype(str))
        for col in (
            "email",
            "phone",
            "iban",
            "street_address",
            "customer_id",
            "birth_date",
            "first_name",
            "last_name",
        )
    }
    return raw


def test_no_raw_identifier_reaches_any_table(loaded, synth_sources):
    raw = _raw_identifiers(synth_sources)
    with open_warehouse(str(loaded)) as wh:
        cells: set[str] = set()
        for schema, table in wh.tables():
            frame = wh.read(schema, table)
            for col in frame.columns:
                cells |= set(frame[col].dropna().astype(str))
    blob = "\n".join(cells)
    for kind, values in raw.items():
        exact = values & cells
        assert not exact, f"{len(exact)} raw {kind} value(s) found in the warehouse"
        if kind in ("email", "phone", "iban", "street_address", "customer_id"):
            inside = [v for v in values if len(v) >= 6 and v in blob]
            assert not inside, f"{len(inside)} raw {kind} value(s) inside warehouse cells"


def test_tokens_join_within_a_purpose_and_differ_between_purposes(loaded):
    with open_warehouse(str(loaded)) as wh:
        churn_c = set(wh.read("churn_analysis", "customers").customer_id)
        churn_o = set(wh.read("churn_analysis", "orders").customer_id)
        mkt_c = set(wh.read("marketing_segments", "customers").customer_id)
    assert churn_o <= churn_c  # every order joins a customer
    assert len(churn_c) == len(mkt_c) > 0
    assert not churn_c & mkt_c


def test_a_new_key_version_changes_every_token(tmp_path, synth_sources, keyring):
    run("churn_analysis", synth_sources, tmp_path / "a.duckdb", keyring)
    keyring.rotate()
    run("churn_analysis", synth_sources, tmp_path / "b.duckdb", keyring)
    a = contents(tmp_path / "a.duckdb")["churn_analysis.customers"].customer_id
    b = contents(tmp_path / "b.duckdb")["churn_analysis.customers"].customer_id
    assert a.str.startswith("mzp1_").all() and b.str.startswith("mzp2_").all()
    assert not set(a) & set(b)


def test_running_twice_gives_identical_contents_and_two_audit_rows(
    tmp_path, synth_sources, keyring
):
    wh = tmp_path / "w.duckdb"
    run("churn_analysis", synth_sources, wh, keyring)
    first = contents(wh)
    report = run("churn_analysis", synth_sources, wh, keyring)
    second = contents(wh)
    assert first.keys() == second.keys()
    for name in first:
        pd.testing.assert_frame_equal(first[name], second[name])
    with open_warehouse(str(wh)) as w:
        audit = w.audit_runs("churn_analysis")
    assert len(audit) == 2
    row = audit[audit.run_id == report.run_id].iloc[0]
    assert row.rows_in["customers"] == 300
    assert "email" in row.dropped_columns["customers"]
    assert row.policy_sha256 == load_policy(PURPOSES / "churn_analysis.yaml").sha256


def test_retention_filters_old_rows_and_deletes_them_on_the_next_run(
    tmp_path, synth_sources, keyring
):
    wh = tmp_path / "w.duckdb"
    policy = load_policy(PURPOSES / "footfall_heatmap.yaml")
    with open_warehouse(str(wh)) as w:
        run_purpose(policy, Sources.from_dir(synth_sources), w, keyring, as_of=AS_OF)
        hours = w.read("footfall_heatmap", "events").hour
        assert len(hours) > 0
        # 89 days later, only the last synthetic day is inside the 90-day window.
        later = AS_OF + timedelta(days=89)
        run_purpose(policy, Sources.from_dir(synth_sources), w, keyring, as_of=later)
        kept = w.read("footfall_heatmap", "events").hour
    cutoff = pd.Timestamp(later).normalize() - pd.Timedelta(days=90)
    assert 0 < len(kept) < len(hours)
    assert (kept >= cutoff).all()


def _copy_sources(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_a_named_column_missing_from_the_source_loads_nothing(tmp_path, synth_sources, keyring):
    sources = _copy_sources(synth_sources, tmp_path / "src")
    with sqlite3.connect(sources / "crm.sqlite") as con:
        con.execute("ALTER TABLE orders DROP COLUMN channel")
    wh = tmp_path / "w.duckdb"
    with pytest.raises(SourceError, match=r"lacks column\(s\) \['channel'\]") as info:
        run("churn_analysis", sources, wh, keyring)
    assert info.value.exit_code == 2
    assert "churn_analysis" not in {s for s, _ in open_warehouse(str(wh)).tables()}


def test_unparseable_values_are_rejected_to_quarantine_without_quoting_them(
    tmp_path, synth_sources, keyring
):
    sources = _copy_sources(synth_sources, tmp_path / "src")
    day = sorted((sources / "events").iterdir())[0]
    part = next(day.glob("*.parquet"))
    table = pq.read_table(part).to_pandas()
    table.loc[:4, "lat"] = 123.456789  # impossible latitudes
    table.to_parquet(part, index=False)
    artifacts = tmp_path / "artifacts"
    report = run("footfall_heatmap", sources, tmp_path / "w.duckdb", keyring, artifacts=artifacts)
    events = report.sources["events"]
    assert events.rejected == 5
    assert events.invalid_by_column == {"cell": 5}
    quarantined = list((artifacts / "rejected").rglob("*.parquet"))
    assert len(quarantined) == 1 and pq.read_table(quarantined[0]).num_rows == 5
    assert "123.456789" not in str(report.audit_row())


def test_on_invalid_fail_stops_the_run_without_quoting_the_value(tmp_path, synth_sources, keyring):
    sources = _copy_sources(synth_sources, tmp_path / "src")
    with sqlite3.connect(sources / "crm.sqlite") as con:
        con.execute("UPDATE customers SET birth_date = 'not-a-date-xyz' WHERE rowid <= 3")
    with pytest.raises(DataError) as info:
        run("churn_analysis", sources, tmp_path / "w.duckdb", keyring)
    assert info.value.count == 3 and info.value.column == "age_band"
    assert "not-a-date-xyz" not in str(info.value)


def test_an_empty_source_gives_empty_tables(tmp_path, synth_sources, keyring):
    sources = _copy_sources(synth_sources, tmp_path / "src")
    with sqlite3.connect(sources / "crm.sqlite") as con:
        con.execute("DELETE FROM orders")
    run("churn_analysis", sources, tmp_path / "w.duckdb", keyring)
    tables = contents(tmp_path / "w.duckdb")
    assert len(tables["churn_analysis.orders"]) == 0
    assert list(tables["churn_analysis.orders"].columns) == [
        "customer_id",
        "order_month",
        "amount_band",
        "channel",
        "amount_band_from",  # sortable: true (the bound beside the bucket)
    ]


def test_a_failing_check_leaves_the_warehouse_exactly_as_it_was(
    tmp_path, synth_sources, keyring, monkeypatch
):
    wh = tmp_path / "w.duckdb"
    run("churn_analysis", synth_sources, wh, keyring)
    before = contents(wh)

    def refuse(run):
        raise GuaranteeError("planted failure", table="customers", check="test")

    keyring.rotate()  # every token would change if anything were loaded
    with pytest.raises(GuaranteeError) as info:
        monkeypatch.setattr(flow, "run_gate", refuse)  # the step after the guarantees
        run("churn_analysis", synth_sources, wh, keyring)
    assert info.value.exit_code == 3
    after = contents(wh)
    for name in before:
        pd.testing.assert_frame_equal(before[name], after[name])
