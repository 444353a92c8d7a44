"""Cells of one size (issue 12), end to end: a row-level policy whose location guarantee raises
sparse cells publishes ``cell_resolution`` beside the cell, the column comment and the data
dictionary say so, and the gate fails a table whose cell sizes break the rule. A policy of one
fixed resolution publishes no extra column."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import h3
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from minimizer.catalog.model import describe_purpose
from minimizer.errors import GuaranteeError
from minimizer.flow import ALL, run_purpose
from minimizer.gate.canary import CanaryRecord
from minimizer.gate.suite import build_suites
from minimizer.gate.validate import GateOutcome, validate_tables
from minimizer.guarantees.location import location_cell_size
from minimizer.io.warehouse import open_warehouse
from minimizer.pipeline import Sources
from minimizer.policy import Policy, load_policy
from tests.conftest import AS_OF

ROOT = Path(__file__).resolve().parents[2]
ROWS = ROOT / "tests" / "fixtures" / "policies" / "footfall_rows.yaml"  # res 8, raised to 5
MOBILITY = ROOT / "configs" / "purposes" / "mobility_research.yaml"  # res 6, never raised
_COLUMN_SET = "expect_table_columns_to_match_set"


def _fixed(tmp_path: Path, resolution: int) -> Path:
    """footfall_rows at one size: sparse cells are withheld at ``resolution``, never raised."""
    text = ROWS.read_text()
    assert "resolution: 8}" in text and "min_resolution: 5" in text
    text = text.replace("resolution: 8}", f"resolution: {resolution}}}")
    path = tmp_path / "footfall_rows.yaml"
    path.write_text(text.replace("min_resolution: 5", f"min_resolution: {resolution}"))
    return path


def _load(policy: Policy, sources: Path, tmp_path: Path, keyring) -> Path:
    warehouse = tmp_path / "w.duckdb"
    with open_warehouse(str(warehouse)) as wh:
        run_purpose(
            policy,
            Sources.from_dir(sources),
            wh,
            keyring,
            as_of=AS_OF,
            steps=ALL,  # guarantees and the gate: the gate must pass the column
            artifacts=tmp_path / "artifacts",
        )
    return warehouse


def _comments(warehouse: Path, schema: str) -> dict[str, str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "SELECT column_name, comment FROM duckdb_columns() WHERE schema_name = ?", [schema]
        ).fetchall()
    return {name: comment for name, comment in rows}


def test_raised_cells_publish_each_rows_resolution_beside_the_cell(
    tmp_path, synth_sources, keyring
):
    policy = load_policy(ROWS)
    warehouse = _load(policy, synth_sources, tmp_path, keyring)
    with open_warehouse(str(warehouse)) as wh:
        events = wh.read("footfall_rows", "events")
        run = wh.audit_runs("footfall_rows").iloc[-1]
    assert list(events.columns) == ["visitor", "hour", "cell", "cell_resolution", "page"]
    assert len(events) > 0
    # Checked with H3 itself, per row: the column says each cell's size, and sizes do mix.
    truth = events.cell.map(h3.get_resolution)
    assert (events.cell_resolution.astype(int) == truth).all()
    assert truth.nunique() > 1 and set(truth) <= set(range(5, 9))
    assert pd.api.types.is_integer_dtype(events.cell_resolution)
    location = run.details["guarantees"]["location"]
    assert location["resolution_column"] == "cell_resolution"
    assert location["rows_per_resolution"] == {
        str(r): int(n) for r, n in truth.value_counts().sort_index().items()
    }
    # The column comments say which, and the data dictionary lists the column with its words.
    comments = _comments(warehouse, "footfall_rows")
    assert "mixed cell sizes: H3 resolutions 5-8" in comments["cell"]
    assert "cell_resolution gives each row's" in comments["cell"]
    assert comments["cell_resolution"].startswith("the H3 resolution of this row's cell")
    with open_warehouse(str(warehouse)) as wh:
        (table,) = describe_purpose(policy, wh).tables
    names = [c.name for c in table.columns]
    assert names[names.index("cell") + 1] == "cell_resolution"
    entry = table.columns[names.index("cell_resolution")]
    assert entry.domain == ("5", "6", "7", "8") and entry.after_load == comments["cell_resolution"]
    assert any(n.startswith("mixed cell sizes") for n in table.notes)


def test_one_fixed_resolution_publishes_no_extra_column(tmp_path, synth_sources, keyring):
    policy = load_policy(_fixed(tmp_path, 6))  # res 6: the 300 synthetic customers fill some
    warehouse = _load(policy, synth_sources, tmp_path, keyring)
    with open_warehouse(str(warehouse)) as wh:
        events = wh.read("footfall_rows", "events")
    assert list(events.columns) == ["visitor", "hour", "cell", "page"]
    assert len(events) > 0 and set(events.cell.map(h3.get_resolution)) == {6}
    comments = _comments(warehouse, "footfall_rows")
    assert "one cell size: every cell is an H3 cell at resolution 6" in comments["cell"]
    (table,) = describe_purpose(policy).tables
    assert "cell_resolution" not in [c.name for c in table.columns]


def test_raised_cells_without_their_column_fail_the_run_closed(
    tmp_path, synth_sources, keyring, monkeypatch
):
    import minimizer.guarantees.enforce as enforce

    real = enforce.enforce_min_subjects

    def forgetful(*args, **kwargs):  # raises cells, names none of them
        return real(*args, **{**kwargs, "resolution_column": None})

    monkeypatch.setattr(enforce, "enforce_min_subjects", forgetful)
    with pytest.raises(GuaranteeError) as info:
        _load(load_policy(ROWS), synth_sources, tmp_path, keyring)
    assert info.value.exit_code == 3 and info.value.check == "cell_size"
    with open_warehouse(str(tmp_path / "w.duckdb")) as wh:
        assert "footfall_rows" not in {s for s, _ in wh.tables()}


def test_the_demo_trace_purpose_has_one_size_and_the_suite_expects_no_column():
    policy = load_policy(MOBILITY)
    size = location_cell_size(policy, "events")
    assert size is not None and not size.mixed and size.resolution == 6
    expectations = build_suites(policy)["events"].expectations
    (check,) = [e for e in expectations if e.expectation_type == _COLUMN_SET]
    assert set(check.column_set) == {"traveller", "hour", "cell"}


def test_anchors_coarsened_to_a_parent_mix_sizes_too(tmp_path):
    path = _fixed(tmp_path, 8)
    path.write_text(
        path.read_text().replace("anchors: drop", "anchors: coarsen\n    anchors_resolution: 6")
    )
    size = location_cell_size(load_policy(path), "events")
    assert size is not None and (size.min_resolution, size.resolution) == (6, 8)
    assert size.resolution_column == "cell_resolution"


# -- the gate: independent of the code that raised the cells ---------------------------------


def _cells(resolutions: list[int]) -> list[str]:
    base = h3.latlng_to_cell(52.52, 13.40, 8)
    return [h3.cell_to_parent(base, r) for r in resolutions]


def _gate(tmp_path: Path, policy: Policy, frame: pd.DataFrame) -> GateOutcome:
    path = tmp_path / "events.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    return validate_tables(
        policy,
        {"events": path},
        {"events": CanaryRecord("events")},
        secret=b"k" * 32,
        retention_cutoff=datetime(2026, 1, 1, tzinfo=UTC),
        run_id="run-1",
        directory=None,
    )


def _frame(resolutions: list[int], column: list[int | None] | None) -> pd.DataFrame:
    n = len(resolutions)
    frame = pd.DataFrame(
        {
            "visitor": [f"mzp1_{i:032x}" for i in range(n)],
            "hour": [pd.Timestamp("2026-06-14 10:00", tz="UTC")] * n,
            "cell": _cells(resolutions),
            "page": ["/"] * n,
        }
    )
    if column is not None:
        frame.insert(3, "cell_resolution", pd.array(column, dtype="Int8"))
    return frame


def _cell_size_failed(outcome: GateOutcome) -> bool:
    # The query selects one count (never a value): a failure is one unexpected row.
    return any(f["check"] == "cell_size" for f in outcome.failures)


def _column_set_failed(outcome: GateOutcome) -> bool:
    return any(f["expectation"] == _COLUMN_SET for f in outcome.failures)


def _policy(text: str) -> Policy:
    """The policy with m=2: each cell of the frames below holds two visitors an hour."""
    doc = yaml.safe_load(text)
    doc["guarantees"]["location"]["min_distinct_subjects_per_cell"] = 2
    return Policy.model_validate(doc)


@pytest.fixture(scope="module")
def mixed() -> Policy:
    return _policy(ROWS.read_text())


def test_the_gate_passes_a_resolution_column_that_tells_the_truth(tmp_path, mixed):
    resolutions = [8, 8, 5, 5, 6, 6]
    outcome = _gate(tmp_path, mixed, _frame(resolutions, resolutions))
    assert outcome.success, outcome.failures
    assert not _cell_size_failed(outcome) and not _column_set_failed(outcome)


def test_the_gate_fails_a_resolution_column_that_lies(tmp_path, mixed):
    # A raised cell that claims to be fine (a reader would rank it as a 0.7 km² cell).
    outcome = _gate(tmp_path, mixed, _frame([8, 8, 5, 5], [8, 8, 5, 8]))
    assert _cell_size_failed(outcome)


def test_the_gate_fails_a_value_where_there_is_no_cell(tmp_path, mixed):
    frame = _frame([8, 8, 5, 5], [8, 8, 5, 5])
    frame["cell"] = frame.cell.astype(object)
    frame.loc[3, "cell"] = None  # a number with nothing to describe is a channel, not a size
    assert _cell_size_failed(_gate(tmp_path, mixed, frame))


def test_the_gate_fails_mixed_sizes_without_the_column(tmp_path, mixed):
    outcome = _gate(tmp_path, mixed, _frame([8, 8, 5, 5], None))
    assert _column_set_failed(outcome)


def test_the_gate_fails_a_cell_coarser_than_the_policy_allows(tmp_path, mixed):
    outcome = _gate(tmp_path, mixed, _frame([8, 8, 4, 4], [8, 8, 4, 4]))
    assert _cell_size_failed(outcome)


def test_the_gate_fails_a_raised_cell_under_one_fixed_resolution(tmp_path):
    policy = _policy(_fixed(tmp_path, 8).read_text())
    assert _gate(tmp_path, policy, _frame([8, 8, 8], None)).success
    assert _cell_size_failed(_gate(tmp_path, policy, _frame([8, 8, 7, 7], None)))
    # ... and a column it did not ask for fails the column set.
    assert _column_set_failed(_gate(tmp_path, policy, _frame([8, 8], [8, 8])))


def test_the_audit_record_says_the_cell_size_and_the_rows_of_each():
    from minimizer.audit.explain import location_findings

    note = location_cell_size(load_policy(ROWS), "events").note
    texts = [
        f.text
        for f in location_findings({"cell_size": note, "rows_per_resolution": {"5": 675, "6": 9}})
    ]
    assert f"{note} (rows: 675 at resolution 5, 9 at resolution 6)" in texts
