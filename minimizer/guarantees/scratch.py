"""A scratch DuckDB for guarantees over staged files too big for memory, and unicity in it.

The database lives in the run's work folder (swept with it if the run dies); ``memory_limit``
bounds what DuckDB holds (``MINIMIZER_SCRATCH_MEMORY``, default 768MB) and it spills the rest
to that folder, so a guarantee costs the same memory at 5 and at 50 million rows.

:func:`sql_unicity` is :func:`minimizer.guarantees.risk.unicity`, computed over a relation in
that database: the same sampled subjects, the same sampled points, the same figure (the
random draws depend only on first-appearance order, which the relation's order column gives).
Only the sampled subjects' points and the sampled points' subjects come back to Python.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

__all__ = ["ident", "literal", "scratch_config", "scratch_duckdb", "sql_unicity"]

MEMORY_ENV = "MINIMIZER_SCRATCH_MEMORY"
DEFAULT_MEMORY = "768MB"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def scratch_config(spill: Path) -> dict[str, str]:
    """DuckDB settings of a scratch database (the gate's too): capped, spilling to ``spill``."""
    return {
        "memory_limit": os.environ.get(MEMORY_ENV, DEFAULT_MEMORY),
        "temp_directory": str(spill),
    }


@contextmanager
def scratch_duckdb(work: Path | None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A fresh DuckDB file under ``work`` (a temporary folder when None), removed after."""
    folder = Path(tempfile.mkdtemp(prefix="minimizer-scratch-", dir=work))
    # What staging freed goes back to the system first: DuckDB's cap comes on top of it.
    pa.default_memory_pool().release_unused()
    try:
        con = duckdb.connect(
            str(folder / "scratch.duckdb"),
            # Order is always asked for explicitly (ORDER BY a row number) where it matters.
            config={**scratch_config(folder / "spill"), "preserve_insertion_order": False},
        )
        try:
            con.execute("SET enable_progress_bar = false")  # else drawn on a long query
            yield con
        finally:
            con.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _column(con: duckdb.DuckDBPyConnection, sql: str) -> np.ndarray:
    table = con.sql(sql).to_arrow_table()
    return np.asarray(table.column(0).to_numpy(), dtype=np.int64)


def sql_unicity(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    *,
    subject: str,
    place: str,
    time: str,
    order: str,
    p: int = 4,
    samples: int = 1000,
    seed: int = 0,
    min_points: int = 1,
) -> float:
    """:func:`~minimizer.guarantees.risk.unicity` of ``relation`` (a SQL table expression),
    rows taken in ``order`` (a column). Identical to it on the same rows, in the same order."""
    if p < 1 or samples < 1:
        raise ValueError("p and samples must be at least 1")
    s, pl, t, o = ident(subject), ident(place), ident(time), ident(order)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _u AS "
        f"SELECT {s} AS s, {pl} AS pl, {t} AS t, {o} AS o FROM {relation} "
        f"WHERE {s} IS NOT NULL AND {pl} IS NOT NULL AND {t} IS NOT NULL"
    )
    try:
        return _unicity(con, p, samples, seed, min_points)
    finally:
        con.execute("DROP TABLE IF EXISTS _u")


def _unicity(
    con: duckdb.DuckDBPyConnection, p: int, samples: int, seed: int, min_points: int
) -> float:
    # Subject codes as pd.factorize gives them: by first appearance.
    points = "count(DISTINCT (pl, t))" if min_points > 1 else "1"
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _subjects AS SELECT s, row_number() OVER (ORDER BY first)"
        f" - 1 AS code, n FROM (SELECT s, min(o) AS first, {points} AS n FROM _u GROUP BY s)"
    )
    counts = _column(con, "SELECT n FROM _subjects ORDER BY code")
    if counts.size == 0:
        return 0.0
    rng = np.random.default_rng(seed)
    eligible = np.flatnonzero(counts >= min_points)
    if eligible.size == 0:
        return 0.0
    chosen = rng.choice(eligible, size=min(samples, eligible.size), replace=False)
    con.register("_chosen", pa.table({"code": pa.array(chosen, pa.int64())}))
    # The chosen subjects' distinct points, each ranked by its first appearance (the order of
    # the point codes, which is all the draws below depend on).
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _mine AS SELECT DISTINCT c.code, u.pl, u.t FROM _u u"
        " JOIN (SELECT s, code FROM _subjects SEMI JOIN _chosen USING (code)) c USING (s)"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _firsts AS SELECT pl, t, min(o) AS first FROM _u"
        " SEMI JOIN (SELECT DISTINCT pl, t FROM _mine) m USING (pl, t) GROUP BY pl, t"
    )
    own = con.sql(
        "SELECT m.code, f.first FROM _mine m JOIN _firsts f USING (pl, t) ORDER BY m.code, f.first"
    ).to_arrow_table()
    con.unregister("_chosen")
    codes = own.column("code").to_numpy()
    firsts = own.column("first").to_numpy()
    starts = np.searchsorted(codes, chosen, side="left")
    ends = np.searchsorted(codes, chosen, side="right")
    picked: list[np.ndarray] = []
    for start, end in zip(starts, ends, strict=True):  # the sampled subjects, not the rows
        mine = firsts[start:end]
        if mine.size > p:
            mine = rng.choice(mine, size=p, replace=False)
        picked.append(mine)
    wanted = np.unique(np.concatenate(picked)) if picked else np.empty(0, np.int64)
    con.register("_wanted", pa.table({"first": pa.array(wanted, pa.int64())}))
    lists = con.sql(
        "SELECT DISTINCT w.first, sub.code FROM _u u"
        " JOIN (SELECT * FROM _firsts SEMI JOIN _wanted USING (first)) w USING (pl, t)"
        " JOIN _subjects sub USING (s) ORDER BY w.first, sub.code"
    ).to_arrow_table()
    con.unregister("_wanted")
    at = lists.column("first").to_numpy()
    who = lists.column("code").to_numpy()
    unique = 0
    for code, mine in zip(chosen, picked, strict=True):
        # Unique when the subjects of all its sampled points are the subject alone.
        seen: np.ndarray | None = None
        for point in mine:
            there = who[np.searchsorted(at, point, "left") : np.searchsorted(at, point, "right")]
            seen = there if seen is None else np.intersect1d(seen, there, assume_unique=True)
        unique += int(seen is not None and seen.size == 1 and int(seen[0]) == int(code))
    for name in ("_subjects", "_mine", "_firsts"):
        con.execute(f"DROP TABLE IF EXISTS {name}")
    return unique / chosen.size
