"""Make the policy's guarantees hold on a run's staged output, and measure the risk.

This is the ``enforce_guarantees`` step of a run (see :mod:`minimizer.flow`): observers collect
the "before" figures from the raw chunks while they stream past, then a check rewrites each
guarded source's staged Parquet so that k-anonymity and the location thresholds hold, and
records the "after" figures. A guarantee that cannot be met raises GuaranteeError: the run
fails closed (exit 3) and nothing is loaded.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from minimizer.errors import GuaranteeError
from minimizer.guarantees.anchors import remove_anchors
from minimizer.guarantees.kanon import plan_k_anonymity, qi_histogram, verify_classes
from minimizer.guarantees.kanon.grouping import distinct_per_class, row_ids
from minimizer.guarantees.kanon.histogram import QIHistogram
from minimizer.guarantees.kanon.table import (
    TableRecoder,
    class_figures,
    enforce_k_anonymity,
    ladder_hierarchy,
    plan_figures,
    retention_caps,
    subject_column,
    text_frame,
)
from minimizer.guarantees.location import (
    CellSize,
    check_cell_sizes,
    enforce_min_subjects,
    location_cell_size,
)
from minimizer.guarantees.location_stream import enforce_location_staged, supported
from minimizer.guarantees.risk import raw_points, unicity
from minimizer.guarantees.scratch import literal, scratch_duckdb, sql_unicity
from minimizer.guarantees.subjects import SUBJECT, RawSubjects, with_subjects
from minimizer.guarantees.typed_labels import text_of
from minimizer.minimise import STAGED_DICTIONARY_BYTES, ChunkObserver, to_arrow
from minimizer.policy import KAnonymity, LocationGuarantee, Policy, SourceSpec
from minimizer.report import RunReport, SourceReport

__all__ = ["enforce_guarantees", "enforce_k_anonymity", "guarantee_observers", "ladder_hierarchy"]

CHUNK_ROWS = 250_000
# A staged table of more rows than this is guarded in a scratch DuckDB, never held whole in
# memory (location_stream); smaller ones in pandas, where they are faster.
IN_MEMORY_ROWS_ENV = "MINIMIZER_GUARANTEE_MEMORY_ROWS"
IN_MEMORY_ROWS = 1_000_000


def _in_memory_rows() -> int:
    return int(os.environ.get(IN_MEMORY_ROWS_ENV, IN_MEMORY_ROWS))


def _write(report: SourceReport, frame: pd.DataFrame) -> None:
    assert report.staged is not None
    table = to_arrow(frame)
    pq.write_table(table, report.staged)
    report.schema = table.schema
    report.rows_out = table.num_rows


def _batches(path: Path, columns: Sequence[str] | None = None) -> Iterator[pa.RecordBatch]:
    yield from pq.ParquetFile(path).iter_batches(batch_size=CHUNK_ROWS, columns=columns)


def _enforce_k(policy: Policy, g: KAnonymity, rep: SourceReport) -> dict[str, Any]:
    """A counting pass, a decision on the histogram alone, then a transform pass: the staged
    table is never held in memory whole, only its distinct quasi-identifier combinations
    (with the subjects, when the source has a key: k counts people, not rows)."""
    assert rep.staged is not None
    staged = rep.staged  # the narrowed Path, for read() below
    spec = policy.sources[g.source]
    qis = list(g.quasi_identifiers)
    schema = pq.read_schema(rep.staged)
    subject = subject_column(spec)
    subject = subject if subject in schema.names else None
    # The key is not published: the raw keys were numbered while staging (see subjects.py).
    numbers = rep.subjects if subject is None else None
    subject = SUBJECT if numbers is not None else subject
    sensitive = tuple(g.sensitive)
    others = list(dict.fromkeys(c for c in (*sensitive, subject) if c))

    def read(columns: Sequence[str] | None = None) -> Iterator[pa.RecordBatch | pa.Table]:
        batches = _batches(staged, columns)
        return with_subjects(batches, Path(numbers)) if numbers is not None else batches

    hierarchies = {c: ladder_hierarchy(spec, c, _distinct_text(rep.staged, c)) for c in qis}
    stored = [c for c in (*qis, *others) if c != SUBJECT]
    texts = (text_frame(b, qis, others) for b in read(stored))
    hist = qi_histogram(texts, hierarchies, sensitive=sensitive, subject=subject, table=g.source)
    rows = hist.rows
    measured: dict[str, Any] = {
        "source": g.source,
        "k": g.k,
        "quasi_identifiers": qis,
        "rows": rows,
        "subjects": hist.subjects,
        "counted_over": "subjects" if subject else "rows",
        **_before(hist),
    }
    if rows == 0:
        return {**measured, "suppressed": 0, "min_class": 0, "classes": 0}
    diversity = g.l_diversity or 1
    caps = retention_caps(spec, hierarchies)
    plan = plan_k_anonymity(
        hist, g.k, g.max_suppression, method=g.method, diversity=diversity, max_levels=caps
    )
    recoder = TableRecoder(plan, schema, spec, subject, sensitive)
    out = rep.staged.with_suffix(".kanon.parquet")
    released: list[pd.DataFrame] = []
    with pq.ParquetWriter(out, schema, dictionary_pagesize_limit=STAGED_DICTIONARY_BYTES) as writer:
        for batch in read():
            table, kept = recoder(batch)
            writer.write_table(table)
            released.append(kept)
    out.replace(rep.staged)
    rep.schema = pq.read_schema(rep.staged)
    if recoder.grains:
        # A time column generalised past its policy unit: retention must use the coarser span.
        rep.measures["time_grains"] = dict(recoder.grains)
    # The figures after, by a plain group-by on the released rows, as an auditor would.
    kept_rows = pd.concat(released, ignore_index=True)
    verify_classes(kept_rows, qis, plan.k, plan.diversity, sensitive, subject)
    after = class_figures(kept_rows, qis, subject)
    return {
        **measured,
        **plan_figures(plan),
        "median_class": after["median"],
        "unique_share_after": after["unique_share"],
    }


def _before(hist: QIHistogram) -> dict[str, Any]:
    """Smallest class and share of rows alone in their class, before any generalisation."""
    if hist.rows == 0:
        return {"unique_share_published_before": 0.0, "min_class_before": 0}
    ids, groups = row_ids(hist.codes)
    rows = np.bincount(ids, weights=hist.counts, minlength=groups).astype(np.int64)
    people = (
        rows if hist.subject_codes is None else distinct_per_class(ids, groups, hist.subject_codes)
    )
    return {
        "unique_share_published_before": float(rows[people == 1].sum() / hist.rows),
        "min_class_before": int(people.min()),
    }


def _distinct_text(path: Path, column: str) -> pd.Series:
    values = pq.read_table(path, columns=[column]).column(column).unique().to_pandas()
    return text_of(pd.Series(values))


def _cell_size_broken(g: LocationGuarantee, size: CellSize, broken: int) -> GuaranteeError:
    return GuaranteeError(
        f"published {g.cell} values break the cell-size rule ({size.note})",
        table=g.source,
        column=g.cell,
        check="cell_size",
        reason="self_check_failed",
        count=int(broken),
    )


def _enforce_location(
    policy: Policy, g: LocationGuarantee, rep: SourceReport, work: Path | None = None
) -> dict[str, Any]:
    assert rep.staged is not None
    size = location_cell_size(policy, g.source)
    column = size.resolution_column if size is not None else None
    schema = pq.read_schema(rep.staged)
    many = pq.ParquetFile(rep.staged).metadata.num_rows > _in_memory_rows()
    if many and supported(schema, g.cell, g.bucket, g.subject, column):
        return _enforce_location_streamed(policy, g, rep, size, work)
    frame = pq.read_table(rep.staged).to_pandas()
    measured: dict[str, Any] = {"source": g.source, "m": g.min_distinct_subjects_per_cell}
    anchored = 0
    if g.anchors != "keep" and len(frame):
        frame, anchored = remove_anchors(
            frame,
            subject=g.subject,
            cell=g.cell,
            ts=g.bucket,
            mode=g.anchors,
            coarsen_to=g.anchors_resolution,
        )
    # Cells of one size, or a <cell>_resolution column beside them when sparse cells are
    # raised (or anchors coarsened) to parents: a reader must not rank a 250 km² cell against
    # a 0.7 km² one unawares.
    size = location_cell_size(policy, g.source)
    column = size.resolution_column if size is not None else None
    out, stats = enforce_min_subjects(
        frame,
        cell=g.cell,
        bucket=g.bucket,
        subject=g.subject,
        m=g.min_distinct_subjects_per_cell,
        min_resolution=g.min_resolution,
        resolution_column=column,
    )
    if size is not None:
        # Re-checked on the rows, independently, as k-anonymity's classes are: fail closed.
        if broken := sum(check_cell_sizes(out, size).values()):
            raise _cell_size_broken(g, size, broken)
        measured["cell_size"] = size.note  # the words of the column comment and the dictionary
        if column is not None:
            measured["resolution_column"] = column
            levels = out[column].value_counts().sort_index()
            measured["rows_per_resolution"] = {str(k): int(v) for k, v in levels.items()}
    _write(rep, out.reset_index(drop=True))
    risk = policy.guarantees.risk
    after = (
        unicity(
            out,
            subject=g.subject,
            place=g.cell,
            time=g.bucket,
            p=risk.unicity_points,
            samples=risk.unicity_samples,
        )
        if len(out)
        else 0.0
    )
    return {
        **measured,
        "anchor_rows_" + g.anchors: int(anchored),
        "suppressed_rows": int(stats.suppressed_rows),
        "published_cells": int(stats.published_cells),
        "raised": {str(k): int(v) for k, v in stats.raised.items()},
        "min_subjects": int(stats.min_subjects),
        "unicity_after": float(after),
        **rep.measures.get("unicity_before", {}),
    }


def _enforce_location_streamed(
    policy: Policy,
    g: LocationGuarantee,
    rep: SourceReport,
    size: CellSize | None,
    work: Path | None,
) -> dict[str, Any]:
    """The same guarantee, figures and file as the in-memory path, from a scratch DuckDB."""
    assert rep.staged is not None
    out = rep.staged.with_suffix(".location.parquet")
    risk = policy.guarantees.risk
    try:
        done = enforce_location_staged(
            rep.staged,
            out,
            cell=g.cell,
            bucket=g.bucket,
            subject=g.subject,
            m=g.min_distinct_subjects_per_cell,
            min_resolution=g.min_resolution,
            anchors=g.anchors,
            coarsen_to=g.anchors_resolution,
            resolution_column=_resolution_column(size),
            size=size,
            unicity_points=risk.unicity_points,
            unicity_samples=risk.unicity_samples,
            work=work,
        )
        measured: dict[str, Any] = {"source": g.source, "m": g.min_distinct_subjects_per_cell}
        if size is not None:
            if broken := sum(done.broken.values()):
                raise _cell_size_broken(g, size, broken)
            measured["cell_size"] = size.note
            if size.resolution_column is not None:
                measured["resolution_column"] = size.resolution_column
                levels = sorted(done.rows_per_resolution.items())
                measured["rows_per_resolution"] = {str(k): int(v) for k, v in levels}
        out.replace(rep.staged)
    finally:
        out.unlink(missing_ok=True)
    rep.schema = done.schema
    rep.rows_out = done.rows
    stats = done.stats
    return {
        **measured,
        "anchor_rows_" + g.anchors: int(done.anchored),
        "suppressed_rows": int(stats.suppressed_rows),
        "published_cells": int(stats.published_cells),
        "raised": {str(k): int(v) for k, v in stats.raised.items()},
        "min_subjects": int(stats.min_subjects),
        "unicity_after": float(done.unicity_after),
        **rep.measures.get("unicity_before", {}),
    }


def _resolution_column(size: CellSize | None) -> str | None:
    # The name enforce_min_subjects is given on the in-memory path (see _enforce_location).
    return size.resolution_column if size is not None else None


def enforce_guarantees(policy: Policy, report: RunReport, *, work: Path | None = None) -> None:
    """``work``: the run's folder, where a scratch DuckDB for a big staged table goes."""
    g = policy.guarantees
    if g.k_anonymity is not None:
        rep = report.sources[g.k_anonymity.source]
        report.guarantees["k_anonymity"] = _enforce_k(policy, g.k_anonymity, rep)
    if g.location is not None:
        rep = report.sources[g.location.source]
        report.guarantees["location"] = _enforce_location(policy, g.location, rep, work)


class _RawPoints:
    """Keeps the distinct (subject, place, hour) points of the raw events, for unicity before.

    Each chunk is reduced to its points as it streams past (:func:`raw_points`: lat/lon
    rounded to about 11 m, the hour), and every few chunks the points seen again are dropped:
    memory follows the distinct points (a clickstream repeats them), not the events. The first
    row of each point is the one kept, so subjects, places and hours keep their order of first
    appearance and the figure is the one over every row (unicity counts distinct points).

    Past ``_SPILL_POINTS`` distinct points they go, in that order, to a Parquet file in the
    run's folder, and the figure is counted in a scratch DuckDB (:func:`sql_unicity`, the same
    figure): memory stays bounded when nearly every event is a point of its own."""

    _CONSOLIDATE = 8  # parts kept before they are merged and their repeats dropped
    _SPILL_POINTS = 2_000_000

    def __init__(
        self,
        spec: SourceSpec,
        lat: str,
        lon: str,
        p: int,
        samples: int,
        work: Path | None = None,
    ) -> None:
        self.spec, self.lat, self.lon, self.p, self.samples = spec, lat, lon, p, samples
        self.parts: list[pd.DataFrame] = []
        self.work = work
        self._folder: Path | None = None
        self._writer: pq.ParquetWriter | None = None

    def observe(self, raw: pd.DataFrame, published: pd.DataFrame) -> None:
        key, ts = self.spec.key or "", self.spec.time or ""
        frame = pd.DataFrame(
            {
                "s": raw[key].astype("str"),
                "lat": raw[self.lat].to_numpy(dtype=float),
                "lon": raw[self.lon].to_numpy(dtype=float),
                "ts": pd.to_datetime(raw[ts], utc=True),
            }
        )
        points = raw_points(frame, subject="s", lat="lat", lon="lon", ts="ts")
        # Kept as Arrow-backed text, never as Python objects (8 bytes and a header per key)
        self.parts.append(points.astype({"subject": "str"}))
        if self._writer is not None:
            # Spilling already: each chunk's points go straight on (the scratch database
            # drops the repeats; merging millions of points per chunk here would not).
            self.parts = [self.parts[0].drop_duplicates(ignore_index=True)]
            self._spill()
            return
        if len(self.parts) > self._CONSOLIDATE:
            merged = pd.concat(self.parts, ignore_index=True)
            self.parts = [merged.drop_duplicates(ignore_index=True)]
        if sum(len(part) for part in self.parts) > self._SPILL_POINTS:
            self._spill()

    def _spill(self) -> None:
        """The points kept so far to the file, after those spilled before (order kept)."""
        table = pa.Table.from_pandas(pd.concat(self.parts, ignore_index=True), preserve_index=False)
        self.parts = []
        if self._writer is None:
            self._folder = Path(tempfile.mkdtemp(prefix="minimizer-points-", dir=self.work))
            self._writer = pq.ParquetWriter(self._folder / "points.parquet", table.schema)
        self._writer.write_table(table.cast(self._writer.schema))

    def _unicity(self) -> float:
        if self._writer is None:
            points = pd.concat(self.parts, ignore_index=True) if self.parts else pd.DataFrame()
            self.parts = []
            if not len(points):
                return 0.0
            return unicity(
                points,
                subject="subject",
                place="place",
                time="time",
                p=self.p,
                samples=self.samples,
            )
        assert self._folder is not None
        try:
            if self.parts:
                self._spill()
            self._writer.close()
            path = literal(str(self._folder / "points.parquet"))
            with scratch_duckdb(self.work) as con:
                return sql_unicity(
                    con,
                    f"read_parquet({path}, file_row_number = true)",
                    subject="subject",
                    place="place",
                    time="time",
                    order="file_row_number",
                    p=self.p,
                    samples=self.samples,
                )
        finally:
            self._writer = None
            shutil.rmtree(self._folder, ignore_errors=True)

    def finish(self, report: SourceReport) -> None:
        before = self._unicity()
        report.measures["unicity_before"] = {
            "unicity_before": float(before),
            "unicity_points": self.p,
            "unicity_before_place": "raw lat/lon rounded to 4 decimals (about 11 m), hourly",
        }


class _RawQuasiIdentifiers:
    """Counts raw quasi-identifier combinations (hashed) for the uniqueness before."""

    def __init__(self, columns: list[str]) -> None:
        self.columns = columns
        self.hashes: list[np.ndarray] = []

    def observe(self, raw: pd.DataFrame, published: pd.DataFrame) -> None:
        hashed = pd.util.hash_pandas_object(raw[self.columns].astype("str"), index=False)
        self.hashes.append(hashed.to_numpy())

    def finish(self, report: SourceReport) -> None:
        allh = np.concatenate(self.hashes) if self.hashes else np.empty(0, np.uint64)
        _, counts = np.unique(allh, return_counts=True)
        report.measures["unique_share_raw_before"] = (
            float((counts == 1).sum() / len(allh)) if len(allh) else 0.0
        )


def guarantee_observers(
    policy: Policy, name: str, spec: SourceSpec, work: Path | None = None
) -> list[ChunkObserver]:
    """What `enforce_guarantees` needs to see of one source's raw chunks while it is staged;
    ``work``: the run's folder, where what does not fit in memory is kept meanwhile."""
    g = policy.guarantees
    found: list[ChunkObserver] = []
    if g.k_anonymity is not None and g.k_anonymity.source == name:
        raw = [c for q in g.k_anonymity.quasi_identifiers for c in spec.columns[q].inputs(q)]
        found.append(_RawQuasiIdentifiers(list(dict.fromkeys(raw))))
        if spec.key and subject_column(spec) is None:
            found.append(RawSubjects(spec.key))
    if g.location is not None and g.location.source == name and spec.key and spec.time:
        cell = spec.columns[g.location.cell]
        lat, lon = cell.inputs(g.location.cell)
        risk = g.risk
        found.append(_RawPoints(spec, lat, lon, risk.unicity_points, risk.unicity_samples, work))
    return found
