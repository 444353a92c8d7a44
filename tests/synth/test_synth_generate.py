"""generate(): determinism, layout, summary, reruns, progress and argument checks."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from minimizer.synth import SynthSummary, generate

END = date(2024, 3, 13)  # a Wednesday
ARGS = {"customers": 200, "days": 3, "seed": 11, "end": END}


def digests(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*.parquet"))
    }


def crm_rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(path) as conn:
        return {
            t: conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
            for t in ("customers", "orders", "web_profiles")
        }


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SynthSummary]:
    out = tmp_path_factory.mktemp("synth")
    return out, generate(out, **ARGS)


def test_same_arguments_give_byte_identical_parquet_and_identical_rows(
    run: tuple[Path, SynthSummary], tmp_path: Path
) -> None:
    first, _ = run
    generate(tmp_path, **ARGS)
    assert digests(first) == digests(tmp_path)
    assert len(digests(first)) == 4  # three days and the ground truth
    assert crm_rows(first / "crm.sqlite") == crm_rows(tmp_path / "crm.sqlite")


def test_a_different_seed_gives_different_people_and_events(
    run: tuple[Path, SynthSummary], tmp_path: Path
) -> None:
    first, _ = run
    generate(tmp_path, **{**ARGS, "seed": 12})
    a, b = crm_rows(first / "crm.sqlite"), crm_rows(tmp_path / "crm.sqlite")
    assert {r[0] for r in a["customers"]}.isdisjoint({r[0] for r in b["customers"]})
    assert {r[3] for r in a["customers"]} != {r[3] for r in b["customers"]}  # emails
    assert set(digests(first).values()).isdisjoint(digests(tmp_path).values())


def test_a_longer_window_repeats_the_shared_days_exactly(
    run: tuple[Path, SynthSummary], tmp_path: Path
) -> None:
    first, _ = run
    generate(tmp_path, **{**ARGS, "days": 5})
    shorter, longer = digests(first), digests(tmp_path)
    shared = {k: v for k, v in shorter.items() if k.startswith("events/")}
    assert shared.items() <= longer.items()
    assert len(longer) == 6


def test_layout_and_summary_agree_with_the_files(run: tuple[Path, SynthSummary]) -> None:
    out, summary = run
    days = ["2024-03-11", "2024-03-12", "2024-03-13"]
    assert [p.parent.name for p in summary.partitions] == [f"date={d}" for d in days]
    assert all(p == out / "events" / p.parent.name / "part-0.parquet" for p in summary.partitions)
    assert (summary.first_day, summary.last_day) == (date(2024, 3, 11), END)
    assert summary.crm_path == out / "crm.sqlite" and summary.crm == str(out / "crm.sqlite")
    assert summary.truth_path == out / "truth" / "people.parquet"
    assert summary.events == sum(pq.read_metadata(p).num_rows for p in summary.partitions) > 0
    rows = crm_rows(out / "crm.sqlite")
    assert summary.table_counts == {t: len(r) for t, r in rows.items()}
    assert summary.customers == 200
    with pytest.raises(AttributeError):
        summary.events = 0  # type: ignore[misc]


def test_a_rerun_with_fewer_days_leaves_no_stale_partition(tmp_path: Path) -> None:
    generate(tmp_path, **{**ARGS, "customers": 20, "days": 4})
    summary = generate(tmp_path, **{**ARGS, "customers": 20, "days": 2})
    on_disk = sorted((tmp_path / "events").rglob("*"))
    assert [p for p in on_disk if p.is_file()] == list(summary.partitions)
    assert len([p for p in on_disk if p.is_dir()]) == 2


def test_progress_reports_each_stage_up_to_its_total(tmp_path: Path) -> None:
    calls: list[tuple[str, int, int]] = []
    generate(tmp_path, **{**ARGS, "customers": 30}, progress=lambda *a: calls.append(a))
    last = {stage: (done, total) for stage, done, total in calls}
    assert last == {"people": (30, 30), "crm": (1, 1), "events": (3, 3)}
    assert [c for c in calls if c[0] == "events"] == [("events", k, 3) for k in range(4)]


def test_no_activity_still_writes_empty_typed_partitions(tmp_path: Path) -> None:
    summary = generate(tmp_path, **{**ARGS, "customers": 10}, events_per_customer_day=0.0)
    assert summary.events == 0
    assert pq.read_table(summary.partitions[0]).schema.field("ts").type.tz == "UTC"


def test_end_defaults_to_the_current_utc_date(tmp_path: Path) -> None:
    before = datetime.now(UTC).date()
    summary = generate(tmp_path, customers=5, days=1, seed=1)
    assert before <= summary.last_day <= datetime.now(UTC).date()


@pytest.mark.parametrize(
    ("override", "word"),
    [
        ({"customers": 0}, "customers"),
        ({"days": 0}, "days"),
        ({"seed": -1}, "seed"),
        ({"events_per_customer_day": float("nan")}, "events_per_customer_day"),
        ({"crm_url": "mysql://user:hunter2@db/crm"}, "crm_url"),
    ],
)
def test_bad_arguments_are_refused_without_quoting_them(
    tmp_path: Path, override: dict[str, object], word: str
) -> None:
    with pytest.raises(ValueError, match=word) as info:
        generate(tmp_path, **{**ARGS, **override})  # type: ignore[arg-type]
    assert "hunter2" not in str(info.value)
    assert not (tmp_path / "crm.sqlite").exists()
