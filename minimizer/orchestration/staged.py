"""Raw staging between the extract and the minimise task: one Parquet file per source chunk.

The extract writes each chunk it reads (only the policy-named columns, erased subjects already
left out) as ``<dir>/part-00000.parquet``, ``part-00001.parquet``, ... and the minimise task
reads them back through `StagedSource`, a `~minimizer.io.sources.Source` like the real
sources. One file per chunk keeps memory bounded and gives back every chunk with the
dtypes the source produced (pandas metadata travels in the file), so the minimised output is
the same as when the pipeline streams straight from the source.

These files hold raw personal data: the directory is owner-only and is deleted when the run
ends (see ``minimizer.orchestration.tasks.cleanup``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from minimizer.errors import SourceError

__all__ = ["RawWriter", "StagedSource"]

_PART = "part-{:05d}.parquet"


class RawWriter:
    """Writes the chunks of one source as numbered Parquet files in a fresh directory."""

    def __init__(self, directory: Path, source: str) -> None:
        self.directory = directory
        self.source = source
        self.parts = 0
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)

    def write(self, chunk: pd.DataFrame) -> None:
        table = _to_arrow(chunk, self.source)
        pq.write_table(table, self.directory / _PART.format(self.parts))
        self.parts += 1


def _to_arrow(chunk: pd.DataFrame, source: str) -> pa.Table:
    try:
        return pa.Table.from_pandas(chunk, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        pass
    # Name the column that Arrow cannot type; the driver's message may quote a value.
    for name in chunk.columns:
        try:
            pa.Table.from_pandas(chunk[[name]], preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            raise SourceError(
                "column holds values of mixed types that cannot be staged",
                table=source,
                column=name,
                check="stage",
                reason="unstageable",
            ) from None
    raise SourceError("chunk cannot be staged", table=source, check="stage", reason="unstageable")


class StagedSource:
    """The staged raw chunks of one source, read back chunk by chunk (a ``Source``).

    The extract already applied the run's time window, so ``chunks`` ignores ``since`` and
    ``until``; they are accepted for the interface only. A source that gave no rows left no
    chunk: it reads as no chunks (the minimise step still defines its table).
    """

    def __init__(self, directory: Path, source: str) -> None:
        self.directory = directory
        self.name = source
        if not directory.is_dir():
            raise SourceError(
                "no staged chunks: run the extract task of this run first",
                table=source,
                reason="missing_source",
            )
        self._parts = sorted(directory.glob("part-*.parquet"))

    def columns(self) -> list[str]:
        return list(pq.read_schema(self._parts[0]).names) if self._parts else []

    def chunks(
        self,
        columns: Sequence[str],
        *,
        time_column: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[pd.DataFrame]:
        wanted = list(dict.fromkeys(columns))
        for part in self._parts:
            yield pq.read_table(part, columns=wanted).to_pandas()
