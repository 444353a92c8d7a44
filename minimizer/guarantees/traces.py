"""Trace-level purposes: bound the unicity of what is published (``guarantees.max_unicity``).

A purpose that really needs sequences publishes (token, place, time) points. Its policy sets a
maximum unicity at ``points`` points (de Montjoye et al. 2013: the share of subjects singled out
by that many random points of their own trace). After the other guarantees have rewritten the
staged rows, this check

1. keeps at most ``max_points_per_day`` distinct (place, time) points per token and day, chosen
   by a keyed hash (key: the key ring's ``trace_cap`` secret, so unpredictable without the key
   and the same on a re-run: a re-run that kept other points would publish, in all, more than
   the cap of one person's day; a fresh salt only where no key is given), and suppresses
   the (cell, bucket) groups this leaves under the location guarantee's minimum (at their own
   resolution: no cell is raised here);
2. measures unicity on the rows that would be published, and fails closed (GuaranteeError,
   exit 3) above the maximum.

Both figures, before and after, are measured on one basis: **tokens**, one per subject and
rotation period of the published token (a daily token: one per person and day). "Before" splits
the raw trace (coordinates rounded to about 11 m, hourly) the same way. Unicity is given over
all tokens (a token with fewer points than ``points`` uses all of its own) and over the tokens
with at least ``points`` points; the maximum applies to both.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from minimizer.errors import GuaranteeError
from minimizer.guarantees.location import enforce_min_subjects
from minimizer.guarantees.risk import raw_points, unicity
from minimizer.minimise import ChunkObserver, to_arrow
from minimizer.policy import MaxUnicity, Policy, SourceSpec
from minimizer.report import RunReport, SourceReport
from minimizer.transforms.coarsen import Coarsen
from minimizer.transforms.pseudonymise import Pseudonymise, period_labels

__all__ = ["cap_points_per_day", "enforce_max_unicity", "trace_unicity", "unicity_observers"]

KEY = "max_unicity"
_PERIOD_WORDS = {"12h": "half day (00:00 and 12:00 UTC)"}


def _rotation(spec: SourceSpec, subject: str) -> str | None:
    """The published token's rotation period, or None when the column is no token of the key."""
    t = spec.outputs().get(subject)
    if isinstance(t, Pseudonymise) and t.source_of(subject) == spec.key:
        return t.rotate
    return None


def _basis(rotate: str | None) -> str:
    if rotate is None:
        return "published subject values"
    if rotate == "never":
        return "tokens (one per person)"
    return f"tokens (one per person and {_PERIOD_WORDS.get(rotate, rotate)})"


def cap_points_per_day(
    frame: pd.DataFrame, *, subject: str, place: str, time: str, n: int, salt: str | None = None
) -> tuple[pd.DataFrame, int]:
    """Keep the rows of at most ``n`` distinct (place, time) points per subject and day; which
    points stay is decided by a keyed hash (``salt``: fixed in tests, else fresh). Returns the
    kept rows and the number of points dropped."""
    salt = salt if salt is not None else secrets.token_hex(16)
    day = pd.to_datetime(frame[time], utc=True).dt.floor("D")
    points = pd.DataFrame({"s": frame[subject], "p": frame[place], "t": frame[time], "d": day})
    distinct = points.drop_duplicates(["s", "p", "t"])
    hashed = pd.util.hash_pandas_object(
        distinct[["s", "p", "t"]].astype("str"), index=False, hash_key=_hash_key(salt)
    )
    ranked = distinct.assign(h=hashed.to_numpy()).sort_values("h", kind="stable")
    rank = ranked.groupby(["s", "d"], sort=False, dropna=False).cumcount().to_numpy()
    kept = ranked.loc[rank < n, ["s", "p", "t"]]
    keep = pd.MultiIndex.from_frame(points[["s", "p", "t"]]).isin(pd.MultiIndex.from_frame(kept))
    return frame.loc[keep], int(len(distinct) - len(kept))


def _hash_key(salt: str) -> str:
    # pandas' hash takes a key of exactly 16 bytes.
    return hashlib.blake2b(salt.encode(), digest_size=8).hexdigest()


def trace_unicity(
    frame: pd.DataFrame, g: MaxUnicity, *, subject: str, place: str, time: str
) -> dict[str, float]:
    """Unicity over all tokens and over tokens with at least ``g.points`` points."""
    kw: dict[str, Any] = {"subject": subject, "place": place, "time": time, "p": g.points}
    if frame.empty:
        return {"all": 0.0, "with_p_points": 0.0}
    return {
        "all": unicity(frame, samples=g.samples, **kw),
        "with_p_points": unicity(frame, samples=g.samples, min_points=g.points, **kw),
    }


class _RawTokenPoints:
    """Raw (subject and rotation period, lat, lon, ts) for the "before" on the token basis."""

    def __init__(self, spec: SourceSpec, g: MaxUnicity, rotate: str | None) -> None:
        cell = spec.outputs().get(g.place)
        assert isinstance(cell, Coarsen)
        self.spec, self.g, self.rotate = spec, g, rotate
        self.lat, self.lon = cell.inputs(g.place)
        self.parts: list[pd.DataFrame] = []

    def observe(self, raw: pd.DataFrame, published: pd.DataFrame) -> None:
        key, ts = str(self.spec.key), str(self.spec.time)
        stamps = pd.to_datetime(raw[ts], utc=True, errors="coerce")
        subject = raw[key].astype("str")
        if self.rotate not in (None, "never"):
            # The published token's own periods (Pseudonymise's labels), so before and after
            # split traces alike.
            subject = subject + "|" + period_labels(stamps, str(self.rotate)).astype("str")
        self.parts.append(
            pd.DataFrame(
                {
                    "s": subject.to_numpy(),
                    "lat": pd.to_numeric(raw[self.lat], errors="coerce").to_numpy(),
                    "lon": pd.to_numeric(raw[self.lon], errors="coerce").to_numpy(),
                    "ts": stamps.to_numpy(),
                }
            )
        )

    def finish(self, report: SourceReport) -> None:
        frame = pd.concat(self.parts, ignore_index=True) if self.parts else pd.DataFrame()
        self.parts = []
        figures = {"all": 0.0, "with_p_points": 0.0}
        if len(frame):
            points = raw_points(frame, subject="s", lat="lat", lon="lon", ts="ts")
            figures = trace_unicity(points, self.g, subject="subject", place="place", time="time")
        report.unicity_before = figures


def enforce_max_unicity(policy: Policy, report: RunReport, salt: str | None = None) -> None:
    """Cap the points per day (chosen by ``salt``, a keyed secret: the same points on every
    re-run), then measure unicity over what would be published; raise above the maximum."""
    g = policy.guarantees.max_unicity
    assert g is not None
    spec = policy.sources[g.source]
    rep = report.sources[g.source]
    assert rep.staged is not None
    frame = pq.read_table(rep.staged).to_pandas()
    figures: dict[str, Any] = {
        "source": g.source,
        "points": g.points,
        "max": g.max,
        "basis": _basis(_rotation(spec, g.subject)),
        "before_place": "raw lat/lon rounded to 4 decimals (about 11 m), hourly",
        "after_place": f"published {g.place} and {g.time}",
        "rows_before_cap": len(frame),
    }
    if g.max_points_per_day is not None and len(frame):
        frame, dropped = cap_points_per_day(
            frame, subject=g.subject, place=g.place, time=g.time, n=g.max_points_per_day, salt=salt
        )
        figures.update(max_points_per_day=g.max_points_per_day, points_dropped_by_cap=dropped)
        loc = policy.guarantees.location
        if loc is not None and loc.source == g.source and len(frame):
            # The cap thins groups: sparse ones are suppressed at their own resolution.
            frame, stats = enforce_min_subjects(
                frame,
                cell=loc.cell,
                bucket=loc.bucket,
                subject=loc.subject,
                m=loc.min_distinct_subjects_per_cell,
                min_resolution=15,
            )
            figures["suppressed_rows_after_cap"] = int(stats.suppressed_rows)
        table = to_arrow(frame.reset_index(drop=True), rep.schema)
        pq.write_table(table, rep.staged)
        rep.rows_out = table.num_rows
    before = rep.unicity_before or {}
    after = trace_unicity(frame, g, subject=g.subject, place=g.place, time=g.time)
    figures.update(
        unicity_before=before.get("all"),
        unicity_before_with_p_points=before.get("with_p_points"),
        unicity_after=after["all"],
        unicity_after_with_p_points=after["with_p_points"],
        tokens_after=int(frame[g.subject].nunique()),
        rows_after=len(frame),
    )
    report.guarantees[KEY] = figures
    worst = max(after.values())
    if worst > g.max:
        raise GuaranteeError(
            f"unicity at {g.points} points is {worst:.1%} of published {figures['basis']}, above"
            f" the policy's max_unicity {g.max:.1%}; nothing was loaded. Ways under it: coarser"
            " time buckets or cells (a fixed resolution), max_points_per_day, a shorter token"
            " rotation, anchors: drop",
            table=g.source,
            column=g.subject,
            check="max_unicity",
            reason="unicity_above_max",
        )


def unicity_observers(policy: Policy, name: str, source: SourceSpec) -> list[ChunkObserver]:
    """The raw observer of ``guarantees.max_unicity`` (unicity "before"), for its source."""
    g = policy.guarantees.max_unicity
    if g is None or name != g.source:
        return []
    place = source.outputs().get(g.place)
    if not (source.key and source.time) or not isinstance(place, Coarsen):
        return []
    return [_RawTokenPoints(source, g, _rotation(source, g.subject))]
