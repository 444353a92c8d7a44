"""Column comments say what the data is after the guarantees, not only what the policy asked."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from minimizer.guarantees.location import location_cell_size
from minimizer.outcome import column_notes, loaded_comments
from minimizer.pipeline import RunReport, SourceReport
from minimizer.plan import plan_source
from minimizer.policy import load_policy

ROOT = Path(__file__).resolve().parents[1]
CHURN = load_policy(ROOT / "configs" / "purposes" / "churn_analysis.yaml")
# Row-level footfall: cells at res 8 that sparse groups raise down to res 5 (the demo footfall
# is an aggregate and never raises a cell).
FOOTFALL = load_policy(ROOT / "tests" / "fixtures" / "policies" / "footfall_rows.yaml")
NOW = datetime(2026, 6, 14, tzinfo=UTC)


def _report(policy, guarantees, sources=None) -> RunReport:
    return RunReport(
        run_id="r1",
        purpose=policy.purpose,
        policy_sha256=policy.sha256,
        key_version=1,
        started_at=NOW,
        as_of=NOW,
        retention_cutoff=NOW,
        sources=sources or {},
        guarantees=guarantees,
    )


def _staged(tmp_path: Path, **columns: list[str]) -> SourceReport:
    path = tmp_path / "customers.parquet"
    pq.write_table(pa.table(columns), path)
    return SourceReport(source="customers", staged=path)


def test_a_kept_tier_that_k_anonymity_took_to_the_top_says_so(tmp_path):
    rep = _staged(tmp_path, loyalty_tier=["*", "*", "*"], postcode_area=["10", "1*", "*"])
    figures = {
        "source": "customers",
        "k": 5,
        "quasi_identifiers": ["age_band", "postcode_area", "loyalty_tier"],
        "levels": {"age_band": 0, "postcode_area": 1, "loyalty_tier": 1},
        "suppressed": 0,
    }
    report = _report(CHURN, {"k_anonymity": figures}, {"customers": rep})
    comments = loaded_comments(CHURN, report, "customers", plan_source(CHURN, "customers").outputs)
    assert comments["loyalty_tier"] == (
        "kept as is (from loyalty_tier); k-anonymity (k=5) generalised it one level in this "
        "load, to * in every row"
    )
    assert "generalised it one level in this load" in comments["postcode_area"]
    assert "to * in every row" not in comments["postcode_area"]  # other values remain
    assert "k-anonymity" not in comments["age_band"]  # level 0: as the policy says
    assert comments["customer_id"].startswith("the data subject, as a pseudonym")


def test_suppressed_rows_are_named_on_every_quasi_identifier(tmp_path):
    figures = {
        "source": "customers",
        "k": 5,
        "quasi_identifiers": ["age_band", "loyalty_tier"],
        "levels": {"age_band": 0, "loyalty_tier": 0},
        "suppressed": 14,
    }
    notes = column_notes(CHURN, _report(CHURN, {"k_anonymity": figures}), "customers")
    assert notes == {
        "age_band": "14 row(s) suppressed (shown as *)",
        "loyalty_tier": "14 row(s) suppressed (shown as *)",
    }


def test_cells_raised_by_the_location_guarantee_give_the_resolutions_they_span():
    size = location_cell_size(FOOTFALL, "events")
    assert size is not None and size.resolution_column == "cell_resolution"
    figures = {
        "source": "events",
        "m": 5,
        "cell_size": size.note,  # as enforce records it
        "resolution_column": size.resolution_column,
        "raised": {"7": 10, "6": 0, "5": 3},
        "suppressed_rows": 2,
    }
    report = _report(FOOTFALL, {"location": figures})
    comments = loaded_comments(FOOTFALL, report, "events", plan_source(FOOTFALL, "events").outputs)
    cell = FOOTFALL.guarantees.location.cell
    assert "resolution 8" in comments[cell]  # what the policy asked ...
    assert (
        "raised to H3 resolutions 5-7 (13 group(s)) in this load" in comments[cell]
    )  # ... and did
    assert "2 row(s) in still sparse cells withheld" in comments[cell]
    # One size or which column names each row's: the cell and the column it gained say so.
    assert size.note in comments[cell] and "cell_resolution gives each row's" in size.note
    assert comments["cell_resolution"].startswith("the H3 resolution of this row's cell")
    assert size.note in comments["cell_resolution"]


def test_one_cell_size_is_said_and_adds_no_column():
    mobility = load_policy(ROOT / "configs" / "purposes" / "mobility_research.yaml")
    size = location_cell_size(mobility, "events")
    assert size is not None and size.resolution_column is None
    figures = {"source": "events", "m": 20, "cell_size": size.note, "raised": {}}
    report = _report(mobility, {"location": figures})
    comments = loaded_comments(mobility, report, "events", plan_source(mobility, "events").outputs)
    assert "one cell size: every cell is an H3 cell at resolution 6" in comments["cell"]
    assert set(comments) == {"traveller", "hour", "cell"}


def test_no_guarantee_no_note():
    report = _report(CHURN, {})
    comments = loaded_comments(CHURN, report, "orders", plan_source(CHURN, "orders").outputs)
    assert comments["channel"] == "kept as is (from channel)"
    assert comments["order_month"].startswith("when the row's event happened")


def test_doctests_pass() -> None:
    import doctest

    import minimizer.outcome

    assert doctest.testmod(minimizer.outcome).failed == 0
