"""The gate's checks of aggregate tables: what the aggregates publish passes, and every way an
attacker (or a bug) could slip a small group, a token, a trace or a mixed cell size through
fails closed."""

from __future__ import annotations

from pathlib import Path

import h3
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minimizer.aggregate.aggregate import aggregate_rows
from minimizer.aggregate.checks import (
    AGGREGATE_GATE_KEY,
    check_aggregate_table,
    check_staged_aggregates,
)
from minimizer.aggregate.dp import dp_release, public_cells
from minimizer.errors import GateError
from minimizer.pipeline import RunReport, SourceReport
from minimizer.policy import Policy

ROOT = Path(__file__).resolve().parents[2]
FOOTFALL = ROOT / "configs" / "purposes" / "footfall_heatmap.yaml"
BERLIN = (52.45, 13.30, 52.58, 13.50)
DAY = pd.Timestamp("2026-06-14", tz="UTC")
CELLS = public_cells([BERLIN], 6)[:6]  # real res-6 cells: the policy's resolution


def _policy(small: str = "withhold", m: int = 3, dp: bool = False) -> Policy:
    doc = yaml.safe_load(FOOTFALL.read_text())
    agg = doc["sources"]["events"]["aggregate"]
    agg.update(min_distinct_subjects=m, small_groups=small)
    if not dp:
        agg.pop("dp")
        doc.pop("budget")
    return Policy.model_validate(doc)


POLICIES = {
    (small, m): _policy(small, m) for small in ("withhold", "remainder") for m in range(1, 7)
}


def _rows(triples: list[tuple[int | None, int | None, int | None]]) -> pa.Table:
    cells, hours, subjects = zip(*triples, strict=True) if triples else ((), (), ())
    return pa.table(
        {
            "cell": pa.array([None if c is None else CELLS[c] for c in cells], pa.string()),
            "hour": pa.array(
                [None if h is None else DAY + pd.Timedelta(hours=h) for h in hours],
                pa.timestamp("us", tz="UTC"),
            ),
            "visitor": pa.array([None if s is None else f"v{s}" for s in subjects], pa.string()),
        }
    )


def _aggregate(policy: Policy, rows: pa.Table) -> pa.Table:
    agg = policy.sources["events"].aggregate
    assert agg is not None
    return aggregate_rows(rows, agg, remainder_by=("hour",))[0]


def _check(policy: Policy, table: pa.Table, rows: pa.Table | None = None):
    return check_aggregate_table(policy, "events", table, rows=rows, remainder_by=("hour",))


TRIPLES = st.lists(
    st.tuples(
        st.one_of(st.none(), st.integers(0, len(CELLS) - 1)),
        st.one_of(st.none(), st.integers(0, 3)),
        st.one_of(st.none(), st.integers(0, 9)),
    ),
    max_size=120,
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(triples=TRIPLES, m=st.integers(1, 6), small=st.sampled_from(["withhold", "remainder"]))
def test_thresholds_never_publish_a_group_under_the_minimum(triples, m, small):
    """Whatever the rows: every published group, recounted from them with pandas, holds at
    least m distinct subjects, a remainder row too, and the gate's check agrees."""
    policy = POLICIES[(small, m)]
    rows = _rows(triples)
    out = _aggregate(policy, rows)
    check = _check(policy, out, rows)
    assert check.success, check.failures
    raw = rows.to_pandas().dropna()
    truth = raw.groupby(["cell", "hour"]).visitor.nunique()
    published = out.to_pandas()
    keyed = published.dropna(subset=["cell"])
    recounted = truth.reindex(pd.MultiIndex.from_frame(keyed[["cell", "hour"]])).fillna(0)
    assert (recounted.to_numpy() >= m).all()
    assert (published.distinct_subjects >= m).all()  # remainder rows included
    if small == "withhold":
        assert published.cell.notna().all()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(triples=TRIPLES.filter(len), m=st.integers(2, 6))
def test_a_small_group_slipped_into_the_table_is_caught(triples, m):
    """Add a group of m-1 subjects to what was published (a bug, or a tampered table): the
    threshold and the recount both refuse it."""
    policy = POLICIES[("withhold", m)]
    rows = _rows(triples)
    out = _aggregate(policy, rows)
    extra = pa.table(
        {
            "cell": pa.array([CELLS[0]], pa.string()),
            "hour": pa.array([DAY + pd.Timedelta(hours=23)], out.schema.field("hour").type),
            "events": pa.array([m - 1], out.schema.field("events").type),
            "distinct_subjects": pa.array([m - 1], out.schema.field("distinct_subjects").type),
        }
    )
    check = _check(policy, pa.concat_tables([out, extra]), rows)
    expectations = {f["expectation"] for f in check.failures}
    assert f"every published group holds at least {m} distinct subjects" in expectations
    assert any(e.startswith("recounted from the rows") for e in expectations)


def _busy_rows(n: int = 3000, seed: int = 2, cells: int = len(CELLS)) -> pa.Table:
    rng = np.random.default_rng(seed)
    return _rows(
        list(
            zip(
                rng.integers(0, cells, n).tolist(),
                rng.integers(0, 4, n).tolist(),
                rng.integers(0, 400, n).tolist(),
                strict=True,
            )
        )
    )


def test_an_inflated_count_hiding_a_small_group_is_caught_by_the_recount():
    policy = POLICIES[("withhold", 5)]
    rows = pa.concat_tables([_busy_rows(cells=5), _rows([(5, 3, 1), (5, 3, 2)])])
    out = _aggregate(policy, rows)  # cell 5 holds 2 subjects in hour 3: withheld
    assert _check(policy, out, rows).success
    forged = pa.concat_tables(
        [
            out,
            pa.table(
                {
                    "cell": pa.array([CELLS[5]]),
                    "hour": pa.array([DAY + pd.Timedelta(hours=3)], out.schema.field("hour").type),
                    "events": pa.array([9], out.schema.field("events").type),
                    "distinct_subjects": pa.array([9], out.schema.field("distinct_subjects").type),
                }
            ),
        ]
    )
    check = _check(policy, forged, rows)
    assert {f["column"] for f in check.failures} == {"cell", "distinct_subjects"}


def test_a_subject_column_or_a_token_anywhere_fails():
    policy = POLICIES[("withhold", 3)]
    rows = _busy_rows()
    out = _aggregate(policy, rows)
    with_visitor = out.append_column("visitor", pa.array(["v1"] * out.num_rows))
    failures = _check(policy, with_visitor).failures
    assert [f["column"] for f in failures] == ["visitor"]
    assert failures[0]["expectation"] == "aggregate publishes no subject or token column"
    extra = out.append_column("page", pa.array(["/"] * out.num_rows))
    assert [f["column"] for f in _check(policy, extra).failures] == ["page"]
    # A token smuggled into a key column: caught by its shape, wherever it is.
    token = "mzp1_" + "ab" * 16
    cells = out.column("cell").to_pylist()
    cells[0] = token
    smuggled = out.set_column(0, "cell", pa.array(cells))
    found = {f["expectation"] for f in _check(policy, smuggled).failures}
    assert "no value shaped like a subject token" in found
    missing = out.drop_columns(["distinct_subjects"])
    assert [f["column"] for f in _check(policy, missing).failures] == ["distinct_subjects"]


def test_keys_at_another_resolution_or_not_whole_hours_fail():
    """One cell size: a parent (raised) or a child cell beside res-6 cells is refused, and so is
    an hour that is not whole (a finer time than declared)."""
    policy = POLICIES[("withhold", 3)]
    out = _aggregate(policy, _busy_rows())
    cells = out.column("cell").to_pylist()
    cells[0] = h3.cell_to_parent(cells[0], 5)
    cells[1] = h3.cell_to_center_child(cells[1], 8)
    cells[2] = "not-a-cell"
    mixed = out.set_column(0, "cell", pa.array(cells))
    failures = _check(policy, mixed).failures
    assert [(f["column"], f["unexpected_count"]) for f in failures] == [("cell", 3)]
    assert failures[0]["expectation"] == "valid H3 cells at resolution 6 only"
    hours = out.column("hour")
    shifted = pc.add(hours.slice(0, 1), pa.scalar(pd.Timedelta(minutes=30)))
    finer = out.set_column(
        1, "hour", pa.concat_arrays([shifted.combine_chunks(), *[c for c in hours.slice(1).chunks]])
    )
    assert [(f["column"], f["unexpected_count"]) for f in _check(policy, finer).failures] == [
        ("hour", 1)
    ]
    assert _check(policy, out).figures["cell_resolution"] == {"cell": 6}


def test_null_keys_only_in_a_remainder_row():
    rows = pa.concat_tables([_busy_rows(), _rows([(5, 0, 1), (5, 1, 2)])])
    pooled = _aggregate(POLICIES[("remainder", 2)], rows)
    assert _check(POLICIES[("remainder", 2)], pooled).success
    # The same table under a policy that withholds: null keys are not allowed there.
    table = pa.concat_tables(
        [
            pooled,
            pa.table(
                {
                    "cell": pa.array([None], pa.string()),
                    "hour": pa.array([DAY], pooled.schema.field("hour").type),
                    "events": pa.array([40], pooled.schema.field("events").type),
                    "distinct_subjects": pa.array(
                        [40], pooled.schema.field("distinct_subjects").type
                    ),
                }
            ),
        ]
    )
    failures = _check(POLICIES[("withhold", 2)], table).failures
    assert [f["expectation"] for f in failures] == ["group keys are never null (no remainder row)"]
    # A remainder row must keep its time bucket: a null hour with a cell is no remainder.
    hours = table.column("hour").to_pylist()
    hours[0] = None
    broken = table.set_column(1, "hour", pa.array(hours, table.schema.field("hour").type))
    found = _check(POLICIES[("remainder", 2)], broken).failures
    assert [f["expectation"] for f in found] == ["null keys only in a whole remainder row"]


def test_a_dp_release_passes_and_its_threshold_is_on_the_noisy_count():
    policy = _policy(m=5, dp=True)
    agg = policy.sources["events"].aggregate
    assert agg is not None and agg.dp is not None
    rows = _busy_rows(6000)
    release = dp_release(rows, agg, cell="cell", hour="hour", resolution=6, days=[DAY.date()])
    check = check_aggregate_table(policy, "events", release.table, rows=rows)
    assert check.success, check.failures
    assert check.figures["threshold_on"] == "noisy distinct_subjects"
    assert "recounted_groups" not in check.figures  # DP protects small true counts
    under = release.table.set_column(
        3, "distinct_subjects", pc.subtract(release.table.column("distinct_subjects"), 1_000)
    )
    assert not check_aggregate_table(policy, "events", under).success


def test_staged_aggregates_fail_closed_with_exit_3_and_record_their_figures(tmp_path):
    policy = POLICIES[("withhold", 3)]
    out = _aggregate(policy, _busy_rows())
    staged = tmp_path / "events.parquet"
    report = RunReport(
        run_id="r",
        purpose=policy.purpose,
        policy_sha256="",
        key_version=1,
        started_at=DAY.to_pydatetime(),
        as_of=DAY.to_pydatetime(),
        retention_cutoff=DAY.to_pydatetime(),
    )
    report.sources["events"] = SourceReport(source="events", staged=staged)
    pq.write_table(out, staged)
    check_staged_aggregates(policy, report)
    assert report.gate[AGGREGATE_GATE_KEY]["events"]["failures"] == 0
    secret = "C-000123"
    pq.write_table(out.append_column("visitor", pa.array([secret] * out.num_rows)), staged)
    with pytest.raises(GateError) as err:
        check_staged_aggregates(policy, report)
    assert err.value.exit_code == 3 and err.value.column == "visitor"
    assert secret not in str(err.value) and secret not in repr(err.value.failures)
