"""Home/work anchors: a person with a clear routine is found, and their anchors removed."""

from __future__ import annotations

import h3
import pandas as pd
import pytest

from minimizer.guarantees.anchors import find_anchors, remove_anchors

HOME = h3.latlng_to_cell(52.3600, 4.8800, 9)
WORK = h3.latlng_to_cell(52.3900, 4.9200, 9)
BAR = h3.latlng_to_cell(52.3700, 4.8950, 9)
CLUB = h3.latlng_to_cell(52.3650, 4.8850, 9)
ELSEWHERE = h3.latlng_to_cell(52.3000, 4.9500, 9)
MONDAY = pd.Timestamp("2024-03-04")  # a Monday
KW = {"subject": "who", "cell": "cell", "ts": "ts"}


def at(day: int, hour: int, minute: int = 0) -> pd.Timestamp:
    return MONDAY + pd.Timedelta(days=day, hours=hour, minutes=minute)


def routine() -> pd.DataFrame:
    """Two weeks of 'alice' (home nights, weekday office, evening bar, one club night burst) and
    'bob', who lives elsewhere but works daytime in Alice's home cell."""
    rows = []
    for day in range(14):
        rows += [("alice", HOME, at(day, h)) for h in (22, 23, 0, 3, 5)]
        rows += [("alice", BAR, at(day, 20))]
        if day % 7 < 5:
            rows += [("alice", WORK, at(day, h)) for h in (9, 11, 14, 16)]
            rows += [("bob", HOME, at(day, h)) for h in (10, 13)]
        rows += [("bob", ELSEWHERE, at(day, h)) for h in (23, 2)]
    # A burst of 60 events in one night hour: many rows, but a single hour of evidence.
    rows += [("alice", CLUB, at(5, 2, m)) for m in range(60)]
    return pd.DataFrame(rows, columns=["who", "cell", "ts"])


def test_a_person_with_a_clear_routine_gets_home_and_work() -> None:
    anchors = find_anchors(routine(), **KW).set_index("who")
    assert anchors.loc["alice", "home"] == HOME and anchors.loc["alice", "work"] == WORK
    assert anchors.loc["bob", "home"] == ELSEWHERE and anchors.loc["bob", "work"] == HOME
    assert anchors.loc["alice", "home_hours"] == 14 * 5  # 60 club rows were one hour: no match
    assert list(anchors.columns) == ["home", "work", "home_hours", "work_hours"]


def test_drop_removes_only_each_subjects_own_anchor_rows() -> None:
    frame = routine()
    before = frame.copy(deep=True)
    out, hit = remove_anchors(frame, **KW, mode="drop", coarsen_to=None)
    pd.testing.assert_frame_equal(frame, before)
    alice = out[out["who"] == "alice"]
    assert not alice["cell"].isin([HOME, WORK]).any()
    assert set(alice["cell"]) == {BAR, CLUB}
    # Bob's home is ELSEWHERE and his work is Alice's home: both go, for Bob only.
    assert set(out.loc[out["who"] == "bob", "cell"]) == set()
    expected = frame["cell"].isin([HOME, WORK]) & (frame["who"] == "alice")
    expected |= frame["who"] == "bob"
    assert hit == int(expected.sum()) == len(frame) - len(out)


def test_a_neighbour_keeps_rows_in_someone_elses_home_cell() -> None:
    # Carol visits Alice's home cell on weekend afternoons only: not an anchor of hers.
    saturday = MONDAY + pd.Timedelta(days=5)
    carol = pd.DataFrame(
        [("carol", HOME, saturday + pd.Timedelta(days=7 * w, hours=12)) for w in range(2)]
        + [("carol", ELSEWHERE, at(d, 1)) for d in range(3)],
        columns=["who", "cell", "ts"],
    )
    out, _ = remove_anchors(
        pd.concat([routine(), carol], ignore_index=True), **KW, mode="drop", coarsen_to=None
    )
    assert (out.loc[out["who"] == "carol", "cell"] == HOME).sum() == 2
    assert not (out.loc[out["who"] == "alice", "cell"] == HOME).any()


def test_coarsen_lifts_anchor_rows_to_the_parent_resolution() -> None:
    frame = routine()
    out, hit = remove_anchors(frame, **KW, mode="coarsen", coarsen_to=7)
    assert len(out) == len(frame) and out.index.equals(frame.index)
    changed = out["cell"] != frame["cell"]
    assert int(changed.sum()) == hit
    alice_home = (frame["who"] == "alice") & (frame["cell"] == HOME)
    assert (out.loc[alice_home, "cell"] == h3.cell_to_parent(HOME, 7)).all()
    assert out.loc[changed, "cell"].map(h3.get_resolution).eq(7).all()


def test_work_ignores_weekends_unless_asked() -> None:
    rows = [("dana", WORK, at(0, 10))]
    rows += [("dana", BAR, at(d, h)) for d in (5, 6, 12, 13) for h in range(9, 17)]
    frame = pd.DataFrame(rows, columns=["who", "cell", "ts"])
    assert find_anchors(frame, **KW)["work"].iloc[0] == WORK
    weekends = find_anchors(frame, **KW, weekdays_only_for_work=False)
    assert weekends["work"].iloc[0] == BAR


def test_night_window_wraps_past_midnight() -> None:
    rows = [("eve", HOME, at(0, 23)), ("eve", HOME, at(1, 3))]
    rows += [("eve", BAR, at(d, h)) for d in range(3) for h in (6, 12, 21)]
    frame = pd.DataFrame(rows, columns=["who", "cell", "ts"])
    anchors = find_anchors(frame, **KW)
    assert anchors["home"].iloc[0] == HOME and anchors["home_hours"].iloc[0] == 2


def test_hours_are_read_in_the_given_time_zone() -> None:
    # 21:30 UTC is 22:30 in Amsterdam in March (CET): night locally, evening in UTC.
    rows = [
        ("fay", HOME, pd.Timestamp("2024-03-04 21:30", tz="UTC") + pd.Timedelta(days=d))
        for d in range(3)
    ]
    frame = pd.DataFrame(rows, columns=["who", "cell", "ts"])
    assert find_anchors(frame, **KW)["home"].isna().all()
    assert find_anchors(frame, **KW, tz="Europe/Amsterdam")["home"].iloc[0] == HOME


def test_a_subject_never_seen_at_night_has_no_home_and_loses_nothing_for_it() -> None:
    frame = pd.DataFrame(
        [("gus", BAR, at(5, 12)), ("gus", BAR, at(6, 12))], columns=["who", "cell", "ts"]
    )
    anchors = find_anchors(frame, **KW)
    assert anchors["home"].isna().all() and anchors["work"].isna().all()
    assert anchors["home_hours"].iloc[0] == 0
    out, hit = remove_anchors(frame, **KW, mode="drop", coarsen_to=None)
    assert hit == 0 and len(out) == 2


def test_nulls_are_ignored_when_finding_anchors() -> None:
    frame = routine()
    frame.loc[len(frame)] = [None, HOME, at(0, 1)]
    frame.loc[len(frame)] = ["alice", None, at(0, 1)]
    out, _ = remove_anchors(frame, **KW, mode="drop", coarsen_to=None)
    assert out["who"].isna().sum() == 1 and out["cell"].isna().sum() == 1


def test_coarsen_needs_a_resolution() -> None:
    with pytest.raises(ValueError):
        remove_anchors(routine(), **KW, mode="coarsen", coarsen_to=None)
    with pytest.raises(ValueError):
        remove_anchors(routine(), **KW, mode="blur", coarsen_to=None)  # type: ignore[arg-type]
