"""The location guarantee over a staged file of any size: anchors, then min subjects per cell.

The same decisions as :func:`~minimizer.guarantees.anchors.remove_anchors` followed by
:func:`~minimizer.guarantees.location.enforce_min_subjects` (same rows kept, same cells, same
figures), computed as GROUP BY / COUNT(DISTINCT) queries in a scratch DuckDB over the staged
Parquet (:mod:`minimizer.guarantees.scratch`: memory-capped, spilling to the run's folder).
Python sees the distinct cells (H3 runs on those alone) and one staged batch at a time:

1. anchors: per subject, the cell of most distinct hours at night (22-6) and at work (9-17,
   weekdays), ties to the smallest cell; the subject's rows there are dropped or coarsened;
2. min subjects: each level from the finest resolution down is one GROUP BY of the rows still
   pending; sparse groups move to their parents (a small table of cell ids made in Python);
3. the staged file is rewritten batch by batch beside the published rows' cells, read in row
   order from DuckDB; cell sizes are re-checked on the written rows and unicity is counted.

Hours are the bucket's own (a UTC or naive timestamp); anything else is not handled here
(:func:`supported` says so) and the caller keeps the in-memory path.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import duckdb
import h3
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from minimizer.errors import DataError
from minimizer.guarantees.location import CellSize, CellStats
from minimizer.guarantees.scratch import ident, literal, scratch_duckdb, sql_unicity
from minimizer.minimise import STAGED_DICTIONARY_BYTES

__all__ = ["StreamedLocation", "enforce_location_staged", "supported"]

BATCH_ROWS = 250_000
WINDOW_ROWS = 2_000_000  # published rows' decisions fetched per query
_UTC = {"UTC", "Etc/UTC", "+00:00", "Z"}
_HOUR_US = 3_600_000_000


@dataclass
class StreamedLocation:
    """What the guarantee did, as counts (the written file's schema and rows beside them)."""

    schema: pa.Schema
    rows: int
    stats: CellStats
    anchored: int
    broken: dict[str, int] = field(default_factory=dict)
    rows_per_resolution: dict[int, int] = field(default_factory=dict)
    unicity_after: float = 0.0


def supported(schema: pa.Schema, cell: str, bucket: str, subject: str, extra: str | None) -> bool:
    """Text cells and a UTC or naive timestamp bucket, columns present (else: in memory)."""
    names = schema.names
    if any(c not in names for c in (cell, bucket, subject)) or (extra and extra in names):
        return False
    kind, when = schema.field(cell).type, schema.field(bucket).type
    text = pa.types.is_string(kind) or pa.types.is_large_string(kind)
    return text and pa.types.is_timestamp(when) and (when.tz is None or when.tz in _UTC)


class _Cells:
    """Canonical cell names as integer ids, their resolutions and their parents."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.res: list[int] = []
        self.ids: dict[str, int] = {}

    def intern(self, name: str) -> int:
        if (known := self.ids.get(name)) is None:
            known = self.ids[name] = len(self.names)
            self.names.append(name)
            self.res.append(h3.get_resolution(name))
        return known

    def parents(self, floor: int) -> pa.Table:
        """(cid, pid): every cell finer than ``floor`` and its parent one level up."""
        child: list[int] = []
        parent: list[int] = []
        todo = [i for i, r in enumerate(self.res) if r > floor]
        while todo:
            nxt = []
            for i in todo:
                before = len(self.names)
                pid = self.intern(h3.cell_to_parent(self.names[i], self.res[i] - 1))
                child.append(i)
                parent.append(pid)
                if len(self.names) > before and self.res[pid] > floor:
                    nxt.append(pid)
            todo = nxt
        return pa.table({"cid": pa.array(child, pa.int32()), "pid": pa.array(parent, pa.int32())})


def _cell_map(raw: list[str], cells: _Cells, coarsen_to: int | None) -> pa.Table:
    """Per distinct staged cell: ``rid``, its rank among them (as text sorts: the anchors' ties
    go to the smallest cell), its canonical id (-1: invalid) and, for anchors coarsened to
    ``coarsen_to``, the id of the cell they become (-2: invalid), as remove_anchors makes it."""
    raw = sorted(raw)
    plain, coarse = [], []
    for value in raw:
        lower = value.lower()
        plain.append(cells.intern(lower) if h3.is_valid_cell(lower) else -1)
        if coarsen_to is None or not h3.is_valid_cell(value):
            coarse.append(-2)
            continue
        up = (
            value
            if h3.get_resolution(value) <= coarsen_to
            else h3.cell_to_parent(value, coarsen_to)
        )
        coarse.append(cells.intern(up.lower()))
    return pa.table(
        {
            "c": pa.array(raw, pa.string()),
            "rid": pa.array(range(len(raw)), pa.int32()),
            "plain": pa.array(plain, pa.int32()),
            "coarse": pa.array(coarse, pa.int32()),
        }
    )


def _countable(dropped: bool) -> str:
    """Rows of ``_eff e`` that enforce_min_subjects counts: after anchors, nothing null."""
    kept = "NOT e.hit AND " if dropped else ""
    return f"{kept}e.cid IS NOT NULL AND e.b IS NOT NULL AND e.sid IS NOT NULL"


def _row(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[object, ...]:
    rows = con.execute(sql).fetchall()  # fetched whole: the connection is free again
    return rows[0] if rows else (None,)


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    value = _row(con, sql)[0]
    return int(value) if isinstance(value, int) else 0


def _anchors(con: duckdb.DuckDBPyConnection) -> None:
    """Each subject's home and work cell (null when never seen in that window)."""
    slot = f"CAST(floor(epoch_us(b) / {_HOUR_US}.0) AS BIGINT)"
    con.execute(
        f"CREATE TEMP TABLE _seen AS SELECT DISTINCT sid AS s, rid AS c, {slot} AS slot"
        " FROM _base WHERE sid IS NOT NULL AND rid IS NOT NULL AND b IS NOT NULL"
    )
    hour = "((slot % 24) + 24) % 24"
    day = "CAST(floor(slot / 24.0) AS BIGINT)"
    weekday = f"((({day} + 3) % 7) + 7) % 7"  # 1970-01-01 was a Thursday; Monday is 0
    windows = {
        "home": f"{hour} >= 22 OR {hour} < 6",
        "work": f"{hour} >= 9 AND {hour} < 17 AND {weekday} < 5",
    }
    tops = [
        f"{name} AS (SELECT s, c AS {name} FROM (SELECT s, c, count(*) AS n FROM _seen"
        f" WHERE {where} GROUP BY s, c)"
        " QUALIFY row_number() OVER (PARTITION BY s ORDER BY n DESC, c ASC) = 1)"
        for name, where in windows.items()
    ]
    con.execute(
        f"CREATE TEMP TABLE _anchors AS WITH {', '.join(tops)}"
        " SELECT s, home, work FROM home FULL OUTER JOIN work USING (s)"
    )
    con.execute("DROP TABLE _seen")


def enforce_location_staged(
    staged: Path,
    out: Path,
    *,
    cell: str,
    bucket: str,
    subject: str,
    m: int,
    min_resolution: int,
    anchors: Literal["keep", "drop", "coarsen"],
    coarsen_to: int | None,
    resolution_column: str | None,
    size: CellSize | None,
    unicity_points: int,
    unicity_samples: int,
    work: Path | None,
) -> StreamedLocation:
    """Write to ``out`` what the in-memory guarantee would publish from ``staged``."""
    if m < 1:
        raise ValueError("m must be at least 1")
    if not 0 <= min_resolution <= 15:
        raise ValueError("min_resolution must be between 0 and 15")
    if anchors == "coarsen" and (coarsen_to is None or not 0 <= coarsen_to <= 15):
        raise ValueError("mode 'coarsen' needs coarsen_to between 0 and 15")
    with scratch_duckdb(work) as con:
        con.execute(
            "CREATE TEMP VIEW _src AS SELECT file_row_number AS rn,"
            f" {ident(cell)} AS c, {ident(bucket)} AS b, {ident(subject)} AS s"
            f" FROM read_parquet({literal(str(staged))}, file_row_number = true)"
        )
        raw = con.sql("SELECT DISTINCT c FROM _src WHERE c IS NOT NULL").to_arrow_table()
        cells = _Cells()
        mapping = _cell_map(
            raw.column(0).to_pylist(), cells, coarsen_to if anchors == "coarsen" else None
        )
        con.register("_cellmap_arrow", mapping)
        con.execute("CREATE TEMP TABLE _cellmap AS SELECT * FROM _cellmap_arrow")
        con.unregister("_cellmap_arrow")
        # Integers from here on: subjects and raw cells numbered once, in one pass.
        con.execute(
            "CREATE TEMP TABLE _subjects AS SELECT s, CAST(row_number() OVER () AS INTEGER) AS sid"
            " FROM (SELECT DISTINCT s FROM _src WHERE s IS NOT NULL)"
        )
        con.execute(
            "CREATE TEMP TABLE _base AS SELECT v.rn, v.b, sub.sid, cm.rid FROM _src v"
            " LEFT JOIN _subjects sub USING (s) LEFT JOIN _cellmap cm USING (c)"
        )
        hit = "FALSE"
        if anchors != "keep":
            _anchors(con)
            hit = "(coalesce(v.rid = a.home, FALSE) OR coalesce(v.rid = a.work, FALSE))"
        cid = (
            "CASE WHEN hit THEN cm.coarse ELSE cm.plain END" if anchors == "coarsen" else "cm.plain"
        )
        join = "LEFT JOIN _anchors a ON a.s = v.sid" if anchors != "keep" else ""
        con.execute(
            f"CREATE TEMP TABLE _eff AS SELECT rn, b, sid, hit, {cid} AS cid FROM"
            f" (SELECT v.rn, v.b, v.rid, v.sid, {hit} AS hit FROM _base v {join}) e"
            " LEFT JOIN _cellmap cm USING (rid)"
        )
        con.execute("DROP TABLE _base")
        total = pq.ParquetFile(staged).metadata.num_rows
        anchored = _one(con, "SELECT count(*) FROM _eff WHERE hit")
        if anchors == "coarsen" and _one(con, "SELECT count(*) FROM _eff WHERE hit AND cid = -2"):
            raise DataError(
                "values are not valid H3 cells",
                column=cell,
                check="anchors",
                reason="invalid_h3_cell",
            )
        dropped = anchors == "drop"
        pos = _countable(dropped)
        if invalid := _one(con, f"SELECT count(*) FROM _eff e WHERE {pos} AND e.cid < 0"):
            raise DataError(
                "values are not valid H3 cells",
                column=cell,
                check="min_subjects_per_cell",
                reason="invalid_h3_cell",
                count=invalid,
            )
        stats = _min_subjects(con, cells, pos, m, min_resolution, total - anchored * dropped)
        rows = _decisions(con, total)
        result = _rewrite(staged, out, rows, cells, cell, resolution_column, size)
        result.stats, result.anchored = stats, anchored
        if result.rows:
            published = f"read_parquet({literal(str(out))}, file_row_number = true)"
            result.unicity_after = sql_unicity(
                con,
                published,
                subject=subject,
                place=cell,
                time=bucket,
                order="file_row_number",
                p=unicity_points,
                samples=unicity_samples,
            )
    return result


def _min_subjects(
    con: duckdb.DuckDBPyConnection, cells: _Cells, pos: str, m: int, floor: int, rows: int
) -> CellStats:
    """enforce_min_subjects' levels as GROUP BYs: leaves ``_decided`` (c0, b) -> cur."""
    con.register("_up_arrow", cells.parents(floor))
    con.execute("CREATE TEMP TABLE _up AS SELECT * FROM _up_arrow")
    con.unregister("_up_arrow")
    res = pa.table({"cid": pa.array(range(len(cells.res)), pa.int32()), "r": cells.res})
    con.register("_res", res)
    con.execute(
        "CREATE TEMP TABLE _pend AS SELECT DISTINCT e.cid AS cur, e.cid AS c0, e.b, e.sid,"
        f" CAST(r.r AS TINYINT) AS r FROM _eff e JOIN _res r USING (cid) WHERE {pos}"
    )
    con.unregister("_res")
    con.execute("CREATE TEMP TABLE _decided AS SELECT c0, b, cur FROM _pend LIMIT 0")
    raised: dict[int, int] = {}
    groups, smallest, first = 0, None, True
    while isinstance(top := _row(con, "SELECT max(r) FROM _pend")[0], int):
        r = top
        # Every group of the level once, with its distinct subjects: dense ones publish.
        # (Two plain GROUP BYs, not COUNT(DISTINCT): DuckDB spills those to disk gracefully.
        # Before any raising, cur is c0 and _pend is distinct on (c0, b, sid): one is enough.)
        level = "_pend" if first else "(SELECT DISTINCT cur, b, sid FROM _pend"
        level += f" WHERE r = {r}" + ("" if first else ")")
        first = False
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _groups AS SELECT cur, b, n, n >= {m} AS dense FROM"
            f" (SELECT cur, b, count(*) AS n FROM {level} GROUP BY cur, b)"
        )
        count, least, sparse = _row(
            con,
            "SELECT count(*) FILTER (WHERE dense), min(n) FILTER (WHERE dense),"
            " count(*) FILTER (WHERE NOT dense) FROM _groups",
        )
        if isinstance(count, int) and isinstance(least, int) and count:
            groups += count
            smallest = least if smallest is None else min(smallest, least)
        con.execute(
            "INSERT INTO _decided SELECT DISTINCT c0, b, cur FROM _pend"
            f" SEMI JOIN (SELECT cur, b FROM _groups WHERE dense) USING (cur, b) WHERE r = {r}"
        )
        if r > floor:
            if isinstance(sparse, int) and sparse:
                raised[r - 1] = sparse
            con.execute(
                "CREATE OR REPLACE TEMP TABLE _pend AS"
                f" SELECT cur, c0, b, sid, r FROM _pend WHERE r <> {r} UNION ALL"
                f" SELECT u.pid AS cur, p.c0, p.b, p.sid, CAST({r - 1} AS TINYINT) AS r FROM"
                " (SELECT * FROM _pend"
                f" SEMI JOIN (SELECT cur, b FROM _groups WHERE NOT dense) USING (cur, b)"
                f" WHERE r = {r}) p JOIN _up u ON u.cid = p.cur"
            )
        else:
            con.execute(f"DELETE FROM _pend WHERE r = {r}")
    # Each published row and its cell, once; read back in row order, a window at a time.
    con.execute(
        "CREATE TEMP TABLE _out AS SELECT e.rn, d.cur FROM _eff e JOIN _decided d"
        f" ON e.cid = d.c0 AND e.b = d.b WHERE {pos}"
    )
    kept = _one(con, "SELECT count(*) FROM _out")
    return CellStats(
        published_cells=_one(con, "SELECT count(DISTINCT cur) FROM _decided"),
        raised=raised,
        suppressed_rows=rows - kept,
        min_subjects=smallest or 0,
        published_groups=groups,
    )


def _decisions(
    con: duckdb.DuckDBPyConnection, total: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``_out`` in row order, one window of row numbers at a time: each window's sort is small
    (one ORDER BY over all rows would need memory DuckDB cannot always spill)."""
    for start in range(0, total, WINDOW_ROWS):
        found = con.sql(
            f"SELECT rn, cur FROM _out WHERE rn >= {start} AND rn < {start + WINDOW_ROWS}"
            " ORDER BY rn"
        ).to_arrow_table()
        yield (
            found.column(0).to_numpy().astype(np.int64),
            found.column(1).to_numpy().astype(np.int64),
        )


def _rewrite(
    staged: Path,
    out: Path,
    decisions: Iterator[tuple[np.ndarray, np.ndarray]],
    cells: _Cells,
    cell: str,
    resolution_column: str | None,
    size: CellSize | None,
) -> StreamedLocation:
    """The published rows of each staged batch, cells replaced, the resolution column added."""
    names = pa.array(cells.names, pa.string())
    levels = np.asarray(cells.res, dtype=np.int8)
    rn = cur = np.empty(0, np.int64)
    exhausted = False
    writer: pq.ParquetWriter | None = None
    tally = _SizeTally(size)
    per_level = np.zeros(16, dtype=np.int64)
    start = rows = 0
    try:
        for batch in pq.ParquetFile(staged).iter_batches(batch_size=BATCH_ROWS):
            end = start + batch.num_rows
            while not exhausted and (rn.size == 0 or rn[-1] < end):
                more = next(decisions, None)
                if more is None:
                    exhausted = True
                else:
                    rn, cur = np.concatenate([rn, more[0]]), np.concatenate([cur, more[1]])
            here = int(np.searchsorted(rn, end))
            take, ids = rn[:here] - start, cur[:here]
            rn, cur = rn[here:], cur[here:]
            table = pa.Table.from_batches([batch]).take(pa.array(take, pa.int64()))
            at = table.schema.get_field_index(cell)
            table = table.set_column(at, pa.field(cell, pa.string()), names.take(pa.array(ids)))
            if resolution_column is not None:
                level = pa.array(levels[ids], pa.int8())
                table = table.add_column(at + 1, pa.field(resolution_column, pa.int8()), level)
            per_level += np.bincount(levels[ids], minlength=16)
            tally.add(table)
            if writer is None:
                writer = pq.ParquetWriter(
                    out, table.schema, dictionary_pagesize_limit=STAGED_DICTIONARY_BYTES
                )
            writer.write_table(table)
            rows += table.num_rows
            start = end
    finally:
        if writer is not None:
            writer.close()
    if writer is None:  # an empty staged file: an empty table of the published shape
        raise ValueError("the streaming path needs rows; the caller handles an empty file")
    schema = pq.read_schema(out)
    found = {int(r): int(n) for r, n in enumerate(per_level) if n}
    return StreamedLocation(
        schema,
        rows,
        CellStats(0, {}, 0, 0, 0),
        0,
        tally.counts(),
        found if resolution_column is not None else {},
    )


class _SizeTally:
    """check_cell_sizes over the written batches, summed (the same counts as over all rows)."""

    def __init__(self, size: CellSize | None) -> None:
        self.size = size
        self.named = size.resolution_column if size is not None else None
        self.present = False
        self.other = self.wrong = 0
        self.per_size: dict[int, int] = {}

    def add(self, table: pa.Table) -> None:
        if self.size is None:
            return
        cells = pd.Series(table.column(self.size.column).to_pandas(), dtype="string")
        codes, uniques = pd.factorize(cells.str.lower())
        res = np.array(
            [h3.get_resolution(c) if h3.is_valid_cell(c) else -1 for c in uniques], dtype=np.int64
        )
        per_row = res[codes] if len(codes) else np.empty(0, dtype=np.int64)
        known = codes >= 0
        allowed = (per_row >= self.size.min_resolution) & (per_row <= self.size.resolution)
        self.other += int((known & ~allowed).sum())
        if self.named is not None and self.named in table.column_names:
            self.present = True
            stated = pd.to_numeric(table.column(self.named).to_pandas(), errors="coerce")
            self.wrong += int((known & (stated.to_numpy() != per_row)).sum())
        for r, n in zip(*np.unique(per_row[known], return_counts=True), strict=True):
            self.per_size[int(r)] = self.per_size.get(int(r), 0) + int(n)

    def counts(self) -> dict[str, int]:
        """As check_cell_sizes(out, size) gives them."""
        if self.size is None:
            return {}
        found = {"other_resolution": self.other}
        if self.present:
            found["wrong_resolution"] = self.wrong
        elif len(self.per_size) > 1:
            finest = max(self.per_size)
            found["missing_resolution_column"] = sum(
                n for r, n in self.per_size.items() if r != finest
            )
        return found
