"""Make the policy's guarantees hold on a run's staged output, and measure the risk.

This is the guarantees feature of a run (see ``minimizer.service.FEATURES``): observers collect
the "before" figures from the raw chunks while they stream past, then a check rewrites each
guarded source's staged Parquet so that k-anonymity and the location thresholds hold, and
records the "after" figures. A guarantee that cannot be met raises GuaranteeError: the run
fails closed (exit 3) and nothing is loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from minimizer.guarantees.anchors import remove_anchors
from minimizer.guarantees.kanon import plan_k_anonymity, qi_histogram
from minimizer.guarantees.location import enforce_min_subjects
from minimizer.guarantees.risk import class_sizes, raw_unicity, unicity, uniqueness
from minimizer.hierarchy import Hierarchy
from minimizer.pipeline import ChunkObserver, Hooks, RunReport, SourceReport, to_arrow
from minimizer.policy import KAnonymity, LocationGuarantee, Policy, SourceSpec

if TYPE_CHECKING:
    from minimizer.service import RunSetting

__all__ = ["enforce_guarantees", "guarantees_feature", "ladder_hierarchy"]

CHUNK_ROWS = 250_000


def ladder_hierarchy(spec: SourceSpec, column: str, values: pd.Series) -> Hierarchy:
    """The generalisation hierarchy of a published column, built from its transform's ladder
    over the distinct values present (so it needs no file and follows the policy)."""
    transform = spec.columns[column]
    distinct = pd.Series(values.dropna().astype(str).unique())
    ladders = [transform.ladder(v) for v in distinct.tolist()] or [["*"]]
    depth = max(len(rungs) for rungs in ladders)
    # Equal depth for every leaf: repeat the last label below '*'; the tree stays a tree.
    rows = [rungs[:-1] + [rungs[-2]] * (depth - len(rungs)) + ["*"] for rungs in ladders]
    return Hierarchy.from_rows(rows, source=f"<ladder {column}>")


def _as_strings(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    out = frame.copy()
    for c in columns:
        out[c] = out[c].astype("str").where(out[c].notna())
    return out


def _write(report: SourceReport, frame: pd.DataFrame) -> None:
    assert report.staged is not None
    table = to_arrow(frame)
    pq.write_table(table, report.staged)
    report.schema = table.schema
    report.rows_out = table.num_rows


def _staged_chunks(path: Path, text: Sequence[str]) -> Callable[[], Iterator[pd.DataFrame]]:
    """Re-readable chunks of a staged table, quasi-identifiers as text."""

    def read() -> Iterator[pd.DataFrame]:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=CHUNK_ROWS):
            yield _as_strings(batch.to_pandas(), text)

    return read


def _enforce_k(policy: Policy, g: KAnonymity, rep: SourceReport) -> dict[str, Any]:
    """A counting pass, a decision on the histogram alone, then a transform pass: the staged
    table is never held in memory whole, only its distinct quasi-identifier combinations."""
    assert rep.staged is not None
    spec = policy.sources[g.source]
    qis = list(g.quasi_identifiers)
    text = [*qis, *g.sensitive]
    read = _staged_chunks(rep.staged, text)
    hierarchies = {c: ladder_hierarchy(spec, c, _distinct_text(rep.staged, c)) for c in qis}
    hist = qi_histogram(read(), hierarchies, sensitive=g.sensitive, table=g.source)
    rows = hist.rows
    measured: dict[str, Any] = {
        "source": g.source,
        "k": g.k,
        "quasi_identifiers": qis,
        "rows": rows,
        "unique_share_published_before": float(hist.counts[hist.counts == 1].sum() / rows)
        if rows
        else 0.0,
        "min_class_before": int(hist.counts.min()) if rows else 0,
    }
    if rows == 0:
        return {**measured, "suppressed": 0, "min_class": 0, "classes": 0}
    plan = plan_k_anonymity(
        hist, g.k, g.max_suppression, method=g.method, diversity=g.l_diversity or 1
    )
    out = rep.staged.with_suffix(".kanon.parquet")
    writer: pq.ParquetWriter | None = None
    for chunk in read():
        table = to_arrow(plan.apply(chunk, suppress="mask"))
        writer = writer or pq.ParquetWriter(out, table.schema)
        writer.write_table(table.cast(writer.schema))
    assert writer is not None
    writer.close()
    out.replace(rep.staged)
    rep.schema = pq.read_schema(rep.staged)
    # The figures after: read back only the quasi-identifier columns, as an auditor would.
    published = pq.read_table(rep.staged, columns=qis).to_pandas()
    kept = published.loc[~(published == "*").all(axis=1)]
    after = class_sizes(kept, qis) if len(kept) else {"min": 0, "median": 0, "classes": 0}
    return {
        **measured,
        "method": plan.method,
        "levels": plan.levels,
        "suppressed": int(plan.suppressed),
        "classes": int(plan.classes),
        "min_class": int(plan.min_class),
        "median_class": float(after["median"]),
        "discernibility": int(plan.discernibility),
        "unique_share_after": uniqueness(kept, qis) if len(kept) else 0.0,
    }


def _distinct_text(path: Path, column: str) -> pd.Series:
    values = pq.read_table(path, columns=[column]).column(column).unique().to_pandas()
    return _as_strings(pd.DataFrame({column: values}), [column])[column]


def _enforce_location(policy: Policy, g: LocationGuarantee, rep: SourceReport) -> dict[str, Any]:
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
    out, stats = enforce_min_subjects(
        frame,
        cell=g.cell,
        bucket=g.bucket,
        subject=g.subject,
        m=g.min_distinct_subjects_per_cell,
        min_resolution=g.min_resolution,
    )
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


def enforce_guarantees(policy: Policy, report: RunReport) -> None:
    g = policy.guarantees
    if g.k_anonymity is not None:
        rep = report.sources[g.k_anonymity.source]
        report.guarantees["k_anonymity"] = _enforce_k(policy, g.k_anonymity, rep)
    if g.location is not None:
        rep = report.sources[g.location.source]
        report.guarantees["location"] = _enforce_location(policy, g.location, rep)


class _RawPoints:
    """Keeps (subject, place, hour) of the raw events, compactly, for unicity before."""

    def __init__(self, spec: SourceSpec, lat: str, lon: str, p: int, samples: int) -> None:
        self.spec, self.lat, self.lon, self.p, self.samples = spec, lat, lon, p, samples
        self.parts: list[pd.DataFrame] = []

    def observe(self, raw: pd.DataFrame, published: pd.DataFrame) -> None:
        key, ts = self.spec.key or "", self.spec.time or ""
        self.parts.append(
            pd.DataFrame(
                {
                    "s": raw[key].astype("str"),
                    "lat": raw[self.lat].to_numpy(dtype=float),
                    "lon": raw[self.lon].to_numpy(dtype=float),
                    "ts": pd.to_datetime(raw[ts], utc=True),
                }
            )
        )

    def finish(self, report: SourceReport) -> None:
        points = pd.concat(self.parts, ignore_index=True) if self.parts else pd.DataFrame()
        self.parts = []
        before = (
            raw_unicity(
                points, subject="s", lat="lat", lon="lon", ts="ts", p=self.p, samples=self.samples
            )
            if len(points)
            else 0.0
        )
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


def guarantees_feature(setting: RunSetting) -> Hooks:
    policy = setting.policy
    g = policy.guarantees
    if g.k_anonymity is None and g.location is None:
        return Hooks()

    def observers(name: str, spec: SourceSpec) -> Sequence[ChunkObserver]:
        found: list[ChunkObserver] = []
        if g.k_anonymity is not None and g.k_anonymity.source == name:
            raw = [c for q in g.k_anonymity.quasi_identifiers for c in spec.columns[q].inputs(q)]
            found.append(_RawQuasiIdentifiers(list(dict.fromkeys(raw))))
        if g.location is not None and g.location.source == name and spec.key and spec.time:
            cell = spec.columns[g.location.cell]
            lat, lon = cell.inputs(g.location.cell)
            found.append(_RawPoints(spec, lat, lon, g.risk.unicity_points, g.risk.unicity_samples))
        return found

    return Hooks(observers=observers, checks=(enforce_guarantees,))
