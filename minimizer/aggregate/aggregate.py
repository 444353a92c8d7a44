"""Group a source's minimised rows and keep only groups with enough distinct subjects.

The warehouse then holds counts instead of rows: no token and no trace of any subject. A group
with fewer than ``min_distinct_subjects`` is withheld, or (``small_groups: remainder``, as
Snowflake's aggregation policies do) pooled with every other withheld group into one remainder
row whose keys are null; the remainder is published only if it too reaches the minimum.

One DuckDB query over the Arrow table does the work (vectorised, no Python loop over rows).
Rows with a null group key or a null subject are left out and counted: they belong to no group,
and null keys are reserved for the remainder row.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from minimizer.aggregate._duck import cursor
from minimizer.io.warehouse import DIALECTS, ident
from minimizer.policy import AggregateSpec

__all__ = ["AggregateStats", "aggregate_rows"]

_D = DIALECTS["duckdb"]


@dataclass(frozen=True)
class AggregateStats:
    """Figures for the audit record: counts only, never a key or a value."""

    rows_in: int
    rows_left_out: int  # null group key or null subject
    groups: int  # groups before the threshold
    published_groups: int  # groups published with their own keys
    withheld_groups: int
    remainder_groups: int  # withheld groups pooled into the remainder row (0: none published)
    min_published_subjects: int  # smallest distinct-subject count of a published row

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def _group_sql(spec: AggregateSpec, keep: tuple[str, ...]) -> str:
    by = ", ".join(ident(c, _D) for c in spec.by)
    subject = ident(spec.subject, _D)
    usable = " AND ".join(f"{ident(c, _D)} IS NOT NULL" for c in (*spec.by, spec.subject))
    keyed = ", ".join(f"g.{ident(c, _D)}" for c in spec.by)
    nulls = ", ".join(
        f"r.{ident(c, _D)}" if c in keep else f"NULL AS {ident(c, _D)}" for c in spec.by
    )
    kept = ", ".join(f"r.{ident(c, _D)}" for c in keep)
    m = int(spec.min_distinct_subjects)
    # The remainder counts each subject once across all pooled groups.
    remainder = (
        f"""UNION ALL SELECT {nulls}, count(*) AS events,
            count(DISTINCT r.{subject}) AS distinct_subjects, count(DISTINCT r._g) AS pooled
          FROM (SELECT u.*, g._g FROM u JOIN g USING ({by}) WHERE g.distinct_subjects < {m}) r
          {f"GROUP BY {kept}" if keep else ""}
          HAVING count(DISTINCT r.{subject}) >= {m}"""
        if spec.small_groups == "remainder"
        else ""
    )
    return f"""
        WITH u AS (SELECT {by}, {subject} FROM rows WHERE {usable}),
        g AS (SELECT {by}, count(*) AS events, count(DISTINCT {subject}) AS distinct_subjects,
                     row_number() OVER () AS _g
              FROM u GROUP BY {by})
        SELECT {keyed}, g.events, g.distinct_subjects, 0 AS pooled FROM g
        WHERE g.distinct_subjects >= {m}
        {remainder}
    """


def aggregate_rows(
    rows: pa.Table, spec: AggregateSpec, *, remainder_by: tuple[str, ...] = ()
) -> tuple[pa.Table, AggregateStats]:
    """The published aggregate of ``rows`` (the source's minimised output): the ``by``
    columns, then the measures, sorted by key (remainder rows last).

    ``remainder_by`` keeps those keys in the remainder: one remainder row per value (the time
    bucket of a time-partitioned table, so that retention and re-runs of an interval reach
    it); every other key of a remainder row is null."""
    sql = _group_sql(spec, tuple(c for c in spec.by if c in remainder_by))
    usable = " AND ".join(f"{ident(c, _D)} IS NOT NULL" for c in (*spec.by, spec.subject))
    by = ", ".join(ident(c, _D) for c in spec.by)
    order = ", ".join(f"{ident(c, _D)} NULLS LAST" for c in spec.by)
    con = cursor()
    try:
        con.register("rows", rows.select([*spec.by, spec.subject]))
        out = con.sql(f"SELECT * FROM ({sql}) ORDER BY {order}").to_arrow_table()
        facts = con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE {usable}),"
            f" (SELECT count(*) FROM (SELECT DISTINCT {by} FROM rows WHERE {usable}))"
            " FROM rows"
        ).fetchone()
    finally:
        con.close()
    rows_in, kept, n_groups = (int(v) for v in facts or (0, 0, 0))
    pooled = out.column("pooled")
    keyed = int(pc.sum(pc.equal(pooled, 0)).as_py() or 0)
    smallest = pc.min(out.column("distinct_subjects")).as_py()
    stats = AggregateStats(
        rows_in=rows_in,
        rows_left_out=rows_in - kept,
        groups=n_groups,
        published_groups=keyed,
        withheld_groups=n_groups - keyed,
        remainder_groups=int(pc.sum(pooled).as_py() or 0),
        min_published_subjects=int(smallest or 0),
    )
    return out.select([*spec.by, *spec.measures]), stats
