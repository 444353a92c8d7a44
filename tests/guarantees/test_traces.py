"""max_unicity of trace-level purposes: measured on what would be published, fail closed."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from minimizer.errors import GuaranteeError
from minimizer.flow import Steps, run_purpose
from minimizer.guarantees.risk import unicity
from minimizer.guarantees.traces import cap_points_per_day
from minimizer.io.warehouse import open_warehouse
from minimizer.pipeline import Sources
from minimizer.policy import load_policy
from tests.conftest import AS_OF

ROOT = Path(__file__).resolve().parents[2]
MOBILITY = ROOT / "configs" / "purposes" / "mobility_research.yaml"


def _run(policy, sources: Path, warehouse: Path, keyring, as_of=AS_OF):
    steps = Steps(suppression=False, guarantees=True, gate=False)  # max_unicity is a guarantee
    with open_warehouse(str(warehouse)) as wh:
        return run_purpose(policy, Sources.from_dir(sources), wh, keyring, as_of=as_of, steps=steps)


def _variant(tmp_path: Path, **replace: str):
    text = MOBILITY.read_text()
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "mobility_research.yaml"
    path.write_text(text)
    return load_policy(path)


def test_a_run_above_max_unicity_fails_closed_and_loads_nothing(tmp_path, synth_sources, keyring):
    """Finer cells, thin crowds and no cap: the traces single people out, so nothing loads."""
    policy = _variant(
        tmp_path,
        **{
            "min_distinct_subjects_per_cell: 20": "min_distinct_subjects_per_cell: 2",
            "min_resolution: 6 ": "min_resolution: 5 ",
            "    max_points_per_day: 2\n": "",
        },
    )
    warehouse = tmp_path / "w.duckdb"
    with pytest.raises(GuaranteeError) as err:
        _run(policy, synth_sources, warehouse, keyring)
    assert err.value.exit_code == 3 and err.value.check == "max_unicity"
    with open_warehouse(str(warehouse)) as wh:
        assert [t for t in wh.tables() if t[0] == "mobility_research"] == []


@pytest.fixture(scope="module")
def demo_sources(tmp_path_factory):
    """The demo's synthetic data (2,000 customers, 14 days, seed 7)."""
    from minimizer.synth import generate

    out = tmp_path_factory.mktemp("demo_sources")
    generate(out, customers=2000, days=14, seed=7, end=date(2026, 6, 14))
    return out


def test_the_demo_purpose_publishes_traces_under_five_percent_unicity(
    tmp_path, demo_sources, keyring
):
    policy = load_policy(MOBILITY)
    report = _run(policy, demo_sources, tmp_path / "w.duckdb", keyring)
    figures = report.guarantees["max_unicity"]
    assert figures["basis"] == "tokens (one per person and half day (00:00 and 12:00 UTC))"
    assert figures["unicity_before"] > 0.9  # the raw daily traces: nearly all unique
    assert figures["unicity_after"] < 0.05
    assert figures["unicity_after_with_p_points"] < 0.05
    assert report.loaded_rows["events"] > 0
    with open_warehouse(str(tmp_path / "w.duckdb")) as wh:
        published = wh.read("mobility_research", "events")
    # Recount on the warehouse's own rows, independently of the run.
    measured = unicity(published, subject="traveller", place="cell", time="hour", p=4)
    assert measured < 0.05
    per_day = published.groupby(["traveller", published.hour.dt.floor("D")]).size()
    assert per_day.max() <= 2 * published.groupby(["traveller", "cell", "hour"]).size().max()
    points = published.drop_duplicates(["traveller", "cell", "hour"])
    assert points.groupby([points.traveller, points.hour.dt.floor("D")]).size().max() <= 2
    import h3

    assert {h3.get_resolution(c) for c in published.cell} == {6}  # one cell size
    # Half-day tokens: no published token spans noon or midnight (UTC).
    halves = published.assign(half=published.hour.dt.floor("12h")).groupby("traveller").half
    assert halves.nunique().max() == 1


def test_a_rerun_keeps_the_same_points_so_two_loads_never_publish_more_than_the_cap(
    tmp_path, demo_sources, keyring
):
    """The cap's choice is keyed (the ring's trace_cap secret), not freshly salted: a re-run of
    the same day keeps the same points, so an analyst who read both loads has still seen at
    most max_points_per_day points of one token's day (with a fresh salt per run, two runs of
    the demo data published different points)."""
    policy = _variant(tmp_path, **{"max_points_per_day: 2": "max_points_per_day: 1"})
    first, again = tmp_path / "first.duckdb", tmp_path / "again.duckdb"
    report = _run(policy, demo_sources, first, keyring)
    assert report.guarantees["max_unicity"]["points_dropped_by_cap"] > 0  # the cap chose
    _run(policy, demo_sources, again, keyring)
    tables = []
    for path in (first, again):
        with open_warehouse(str(path)) as wh:
            frame = wh.read("mobility_research", "events")
        tables.append(frame.sort_values(list(frame.columns), ignore_index=True))
    assert len(tables[0]) > 500
    pd.testing.assert_frame_equal(tables[0], tables[1])
    both = pd.concat(tables).drop_duplicates(["traveller", "cell", "hour"])
    assert both.groupby([both.traveller, both.hour.dt.floor("D")]).size().max() <= 1


def test_the_cap_keeps_whole_points_and_at_most_n_per_subject_and_day():
    hours = pd.to_datetime(
        ["2026-06-14 08:00", "2026-06-14 09:00", "2026-06-14 10:00", "2026-06-14 10:00",
         "2026-06-15 08:00"], utc=True,
    )  # fmt: skip
    frame = pd.DataFrame(
        {"s": ["a"] * 5, "cell": ["x", "y", "z", "z", "x"], "hour": hours, "n": range(5)}
    )
    for salt in ("one", "two", "three"):
        out, dropped = cap_points_per_day(
            frame, subject="s", place="cell", time="hour", n=2, salt=salt
        )
        day = out.hour.dt.floor("D")
        assert out[day == hours[0].floor("D")].drop_duplicates(["cell", "hour"]).shape[0] == 2
        assert (out.hour == hours[4]).sum() == 1  # another day has its own allowance
        assert dropped == 1
        # A point is kept with all of its rows, or not at all.
        assert (out.cell == "z").sum() in (0, 2)


def test_unicity_on_subjects_with_p_points_ignores_shorter_traces_as_samples():
    frame = pd.DataFrame(
        {
            "s": ["a", "a", "a", "b", "c"],
            "place": ["x", "y", "z", "x", "x"],
            "time": [1, 1, 1, 1, 1],
        }
    )
    # a has 3 points and is unique; b and c share their single point.
    assert unicity(frame, subject="s", place="place", time="time", p=3) == pytest.approx(1 / 3)
    assert unicity(frame, subject="s", place="place", time="time", p=3, min_points=3) == 1.0
    assert unicity(frame, subject="s", place="place", time="time", p=3, min_points=4) == 0.0


def test_a_half_day_token_rotates_at_noon_and_before_is_split_the_same_way(purpose_key):
    """rotate: 12h gives a person one token a morning and another an afternoon (UTC), the CLI's
    period label finds each, and unicity "before" splits the raw trace at the same instants."""
    from datetime import UTC, datetime

    from minimizer.guarantees.traces import _basis, _RawTokenPoints
    from minimizer.pipeline import SourceReport
    from minimizer.policy import MaxUnicity
    from minimizer.transforms.base import TransformContext
    from minimizer.transforms.pseudonymise import Pseudonymise, period_label, token_for

    ts = pd.Series(
        pd.to_datetime(
            ["2026-06-14 06:00", "2026-06-14 11:59", "2026-06-14 12:00", "2026-06-14 23:00"],
            utc=True,
        )
    )
    frame = pd.DataFrame({"customer_id": ["C1"] * 4, "ts": ts})
    t = Pseudonymise.model_validate({"source": "customer_id", "rotate": "12h", "time": "ts"})
    ctx = TransformContext("p", datetime(2026, 6, 15, tzinfo=UTC), purpose_key)
    tokens = t.apply(frame, "traveller", ctx).values
    assert tokens[0] == tokens[1] != tokens[2] == tokens[3]
    assert [token_for("C1", purpose_key, period_label(s, "12h")) for s in ts] == tokens.tolist()
    assert period_label(ts[2], "12h") == "2026-06-14T12"
    assert _basis("12h") == "tokens (one per person and half day (00:00 and 12:00 UTC))"

    policy = load_policy(MOBILITY)
    spec = policy.sources["events"]
    g = MaxUnicity(source="events", subject="traveller", place="cell", time="hour", max=0.05)
    raw = frame.assign(lat=52.52, lon=13.40)
    observer = _RawTokenPoints(spec, g, "12h")
    observer.observe(raw, raw)
    assert observer.parts[0].s.nunique() == 2
    observer.finish(SourceReport(source="events"))


def test_erasure_reaches_every_half_day_token_of_a_traveller(tmp_path, demo_sources, keyring):
    """A half-day token is one of two a day: erasure searches both halves of every day."""
    import sqlite3

    from minimizer.rights.erasure import ErasureRequest, erase_subjects
    from minimizer.transforms.pseudonymise import period_label, token_for

    policy = load_policy(MOBILITY)
    warehouse = tmp_path / "w.duckdb"
    _run(policy, demo_sources, warehouse, keyring)
    with open_warehouse(str(warehouse)) as wh:
        published = wh.read("mobility_research", "events")
    key = keyring.purpose_key("mobility_research")
    halves = sorted({period_label(h, "12h") for h in published.hour})
    with sqlite3.connect(demo_sources / "crm.sqlite") as con:
        ids = [r[0] for r in con.execute("SELECT customer_id FROM customers ORDER BY 1")]
    held = set(published.traveller)
    # A traveller with tokens in both halves of some day: the case a daily search would miss.
    found = {
        i: toks
        for i in ids
        if (toks := {token_for(i, key, p) for p in halves} & held)
        and len({p[:10] for p in halves if token_for(i, key, p) in toks}) < len(toks)
    }
    subject, tokens = next(iter(found.items()))
    rows = int(published.traveller.isin(tokens).sum())
    with open_warehouse(str(warehouse)) as wh:
        report = erase_subjects(wh, [policy], keyring, [ErasureRequest(subject)])
        after = wh.read("mobility_research", "events")
    assert report.deleted()["mobility_research.events"] >= rows > 0
    assert not after.traveller.isin(tokens).any()
