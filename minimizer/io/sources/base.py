"""What every source is to a run: its columns, and its rows in chunks.

The CRM tables (`TableSource`), the day-partitioned events (`EventSource`) and the raw chunks
an Airflow extract task staged for the minimise task
(:class:`minimizer.orchestration.staged.StagedSource`) all satisfy `Source`, so the run's
extract step reads any of them the same way.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

import pandas as pd

__all__ = ["Source"]


@runtime_checkable
class Source(Protocol):
    """A readable source. ``chunks`` yields frames of exactly ``columns``, in that order; with
    ``time_column``, only rows with ``since <= time < until`` and rows whose time is unknown."""

    def columns(self) -> list[str]: ...

    def chunks(
        self,
        columns: Sequence[str],
        *,
        time_column: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[pd.DataFrame]: ...
