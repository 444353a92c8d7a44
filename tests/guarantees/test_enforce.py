"""Guarantees enforced inside real runs, checked again by plain group-bys on the warehouse."""

from pathlib import Path

import pandas as pd

from minimizer.cli import main
from minimizer.errors import GuaranteeError
from minimizer.flow import Steps, run_purpose
from minimizer.guarantees.enforce import ladder_hierarchy
from minimizer.io.warehouse import open_warehouse
from minimizer.pipeline import Sources
from minimizer.policy import load_policy
from tests.conftest import AS_OF

ROOT = Path(__file__).resolve().parents[2]
PURPOSES = ROOT / "configs" / "purposes"
FOOTFALL_ROWS = ROOT / "tests" / "fixtures" / "policies" / "footfall_rows.yaml"


def _run(policy, sources, wh_path, keyring):
    with open_warehouse(str(wh_path)) as wh:
        guarantees = Steps(suppression=False, gate=False)
        report = run_purpose(
            policy, Sources.from_dir(sources), wh, keyring, as_of=AS_OF, steps=guarantees
        )
        return report, {t: wh.read(s, t) for s, t in wh.tables() if s == policy.purpose}


def _policy_with(tmp_path, base: str, replace: dict[str, str]) -> Path:
    text = (PURPOSES / f"{base}.yaml").read_text()
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / f"{base}.yaml"
    path.write_text(text)
    return path


def test_k_anonymity_holds_in_the_warehouse(tmp_path, synth_sources, keyring):
    policy = load_policy(PURPOSES / "churn_analysis.yaml")
    report, tables = _run(policy, synth_sources, tmp_path / "w.duckdb", keyring)
    customers = tables["customers"]
    qis = ["age_band", "postcode_area", "loyalty_tier"]
    suppressed = (customers[qis] == "*").all(axis=1)
    sizes = customers.loc[~suppressed].groupby(qis, dropna=False).size()
    assert sizes.min() >= 5
    assert suppressed.sum() <= 0.05 * len(customers)
    measured = report.guarantees["k_anonymity"]
    assert measured["min_class"] >= 5 and measured["min_class_before"] < 5
    assert measured["suppressed"] == int(suppressed.sum())


def test_k_larger_than_the_table_fails_closed_with_exit_3(tmp_path, synth_sources, monkeypatch):
    from tests.conftest import TEST_MASTER_B64

    monkeypatch.setenv("MINIMIZER_MASTER_KEY", TEST_MASTER_B64)
    path = _policy_with(tmp_path, "churn_analysis", {"k: 5": "k: 100000"})
    wh = tmp_path / "w.duckdb"
    args = ["run", str(path), "--sources", str(synth_sources), "--warehouse", str(wh)]
    assert main(args) == 3
    with open_warehouse(str(wh)) as w:
        assert "churn_analysis" not in {s for s, _ in w.tables()}


def test_every_record_unique_and_no_suppression_budget_still_reaches_k(
    tmp_path, synth_sources, keyring
):
    # Exact postcodes make almost every customer unique; the engine must generalise them away.
    path = _policy_with(
        tmp_path,
        "churn_analysis",
        {"keep: 2}": "keep: 5}", "max_suppression: 0.05": "max_suppression: 0.0"},
    )
    report, tables = _run(load_policy(path), synth_sources, tmp_path / "w.duckdb", keyring)
    customers = tables["customers"]
    qis = ["age_band", "postcode_area", "loyalty_tier"]
    assert customers.groupby(qis, dropna=False).size().min() >= 5
    assert report.guarantees["k_anonymity"]["suppressed"] == 0
    assert report.guarantees["k_anonymity"]["unique_share_published_before"] > 0.5


def test_min_subjects_per_cell_and_unicity_drop_in_the_audit_record(
    tmp_path, synth_sources, keyring
):
    # Row-level footfall (daily visitor tokens, cells raised when sparse): the demo footfall is
    # an aggregate, and mobility_research publishes nothing from 300 synthetic customers.
    policy = load_policy(FOOTFALL_ROWS)
    report, tables = _run(policy, synth_sources, tmp_path / "w.duckdb", keyring)
    events = tables["events"]
    per_cell = events.groupby(["cell", "hour"]).visitor.nunique()
    assert len(per_cell) > 0 and per_cell.min() >= 5
    measured = report.guarantees["location"]
    assert measured["unicity_before"] > 0.9
    assert measured["unicity_after"] < measured["unicity_before"] - 0.3
    with open_warehouse(str(tmp_path / "w.duckdb")) as w:
        row = w.audit_runs("footfall_rows").iloc[-1]
    assert row.details["guarantees"]["location"]["unicity_after"] == measured["unicity_after"]


def test_a_lone_subject_in_a_remote_cell_is_never_published(tmp_path, synth_sources, keyring):
    import shutil

    import pyarrow.parquet as pq

    sources = tmp_path / "src"
    shutil.copytree(synth_sources, sources)
    part = next(sorted((sources / "events").iterdir())[-1].glob("*.parquet"))
    events = pq.read_table(part).to_pandas()
    hermit = events.iloc[[0]].copy()
    hermit["customer_id"] = "CHERMIT001"
    hermit["lat"], hermit["lon"] = -75.1, 123.3  # Antarctica
    pd.concat([events, hermit]).to_parquet(part, index=False)
    # Row-level cells raised when sparse: the threshold, not a public grid, must withhold it.
    policy = load_policy(FOOTFALL_ROWS)
    _, tables = _run(policy, sources, tmp_path / "w.duckdb", keyring)
    import h3

    lats = [h3.cell_to_latlng(c)[0] for c in tables["events"].cell.unique()]
    assert min(lats) > -60


def test_ladder_hierarchies_follow_the_policy_transforms():
    spec = load_policy(PURPOSES / "churn_analysis.yaml").sources["customers"]
    h = ladder_hierarchy(spec, "age_band", pd.Series(["30-39", "40-49", "80+", None]))
    assert h.generalise(pd.Series(["30-39", "80+"]), 1).tolist() == ["20-39", "80+"]
    assert h.generalise(pd.Series(["30-39"]), h.depth - 1).tolist() == ["*"]


def test_guarantee_errors_carry_exit_code_3():
    assert GuaranteeError("x").exit_code == 3


def test_k_anonymity_streams_the_staged_table_in_chunks(
    tmp_path, synth_sources, keyring, monkeypatch
):
    import minimizer.guarantees.enforce as enforce

    policy = load_policy(PURPOSES / "churn_analysis.yaml")
    whole, tables_whole = _run(policy, synth_sources, tmp_path / "a.duckdb", keyring)
    monkeypatch.setattr(enforce, "CHUNK_ROWS", 37)  # many chunks of an odd size
    chunked, tables_chunked = _run(policy, synth_sources, tmp_path / "b.duckdb", keyring)
    assert chunked.guarantees["k_anonymity"] == whole.guarantees["k_anonymity"]
    key = ["customer_id"]
    pd.testing.assert_frame_equal(
        tables_whole["customers"].sort_values(key).reset_index(drop=True),
        tables_chunked["customers"].sort_values(key).reset_index(drop=True),
    )
