"""Event rows of unknown time are placed by their folder, decided per folder, not per row.

The folder column is only converted when a chunk holds a row of unknown time; these tests
mix chunks with and without such rows, and folders that are not dates, to try to lose or
duplicate a row.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from minimizer.io import EventSource

SCHEMA = pa.schema([("user", pa.string()), ("ts", pa.timestamp("us", tz="UTC"))])


def utc(day: int, hour: int = 0) -> datetime:
    return datetime(2024, 1, day, hour, tzinfo=UTC)


def write(root: Path, folder: str, users: list[str], times: list[datetime | None]) -> None:
    (root / folder).mkdir(parents=True, exist_ok=True)
    pq.write_table(
        pa.table({"user": users, "ts": times}, schema=SCHEMA), root / folder / "p.parquet"
    )


def users(source: EventSource, since: datetime, until: datetime, rows: int) -> list[str]:
    frames = source.chunks(["user"], time_column="ts", since=since, until=until, chunk_rows=rows)
    return sorted(pd.concat(list(frames), ignore_index=True)["user"])


def test_unknown_times_are_placed_by_folder_in_chunks_with_and_without_them(
    tmp_path: Path,
) -> None:
    root = tmp_path / "events"
    write(root, "date=2024-01-01", ["a1", "a2", "a3"], [utc(1, 1), utc(1, 2), utc(1, 3)])
    write(root, "date=2024-01-02", ["b1", "bx", "b2"], [utc(2, 1), None, utc(2, 2)])
    write(root, "date=2024-01-03", ["c1", "c2"], [utc(3, 1), utc(3, 2)])
    write(root, "date=misc", ["mx", "m1"], [None, utc(2, 5)])
    source = EventSource(root)
    for rows in (1, 2, 3, 100):  # chunks wholly timed, partly untimed, and one for all
        day1 = users(source, utc(1), utc(2), rows)
        day2 = users(source, utc(2), utc(3), rows)
        day3 = users(source, utc(3), utc(4), rows)
        assert day1 == ["a1", "a2", "a3", "mx"]  # a folder that is not a date: every window
        assert day2 == ["b1", "b2", "bx", "m1", "mx"]
        assert day3 == ["c1", "c2", "mx"]


def test_the_folder_is_returned_when_asked_for_even_when_every_row_is_timed(
    tmp_path: Path,
) -> None:
    root = tmp_path / "events"
    write(root, "date=2024-01-01", ["a1", "a2"], [utc(1, 1), utc(1, 2)])
    frames = EventSource(root).chunks(
        ["user", "date"], time_column="ts", since=utc(1), until=utc(2)
    )
    frame = pd.concat(list(frames), ignore_index=True)
    assert list(frame.columns) == ["user", "date"]
    assert frame["date"].tolist() == ["2024-01-01", "2024-01-01"]
