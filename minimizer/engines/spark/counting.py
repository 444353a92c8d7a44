"""The guarantees' counting pass as a Spark aggregation: rows and distinct subjects per group.

k-anonymity counts, per combination of quasi-identifiers, the people in it; the location
guarantee counts the distinct subjects per cell and time bucket. Both are one ``groupBy`` with
``count`` and ``countDistinct`` over the staged rows, which Spark spreads over the cluster; the
decision made from the counts (the level of the lattice, the cells to suppress or raise) stays
with ``minimizer.guarantees``, which reads the small table of groups this returns.

As the single-process guarantees count: a missing value is a group of its own (``groupBy``
keeps nulls together), and rows without a subject are one subject (``countDistinct`` leaves
nulls out, so one is added where a group has any).

Not yet called by the flow: ``enforce_guarantees`` reads the staged file itself. It would
plug in where the guarantees build their group sizes from the staged frame, taking this table
instead (see the report of issue 15).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame

__all__ = ["ROWS", "SUBJECTS", "group_counts"]

ROWS, SUBJECTS = "rows", "subjects"


def group_counts(frame: DataFrame, by: Sequence[str], subject: str | None = None) -> pa.Table:
    """One row per group of ``by``: its rows and (with ``subject``) its distinct subjects."""
    from pyspark.sql import functions as F

    counts = [F.count(F.lit(1)).alias(ROWS)]
    if subject is not None:
        missing = F.max(F.col(subject).isNull().cast("int"))
        counts.append((F.countDistinct(F.col(subject)) + missing).alias(SUBJECTS))
    table: pa.Table = frame.groupBy(*by).agg(*counts).toArrow()
    return table
