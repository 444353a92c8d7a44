"""Re-runs of a released day: re-publish its stored release when its true input is unchanged.

OpenDP's noise cannot be seeded, so a re-run that drew fresh noise over a day already released
would be a second release of the same data: an analyst who saw both can average them, and the
ledger must count ε twice (:mod:`.ledger`). A re-run of an unchanged day draws no noise:

* Before any noise, each day's true group counts (per dp source: events and distinct subjects
  of every group, before the contribution bounds) get a keyed digest: BLAKE2b keyed with the
  key ring's ``privacy_ledger`` secret, over the counts and the release's parameters (ε,
  bounds, grid, resolution, threshold). The counts themselves are never stored; the digest
  (``<key version>:<hex>``) goes into the ledger entry, and cannot be checked against guessed
  counts without the key.
* A day whose digest equals that of its latest loaded release, and whose stored rows are all
  still in the warehouse (as many per source as that release published), is **re-published**:
  the noisy counts already in the warehouse are read back and loaded again, post-processing of
  an earlier release, which spends no ε.
* Any other day (first release, late data, a different extract or policy, an incomplete
  stored release, a key version that can no longer be derived) is a **fresh** release: new
  noise, and its ε is spent again.

The decision reads the data, so it is not itself private: that a day was released afresh says
that its true counts changed since its last release (docs/location-risk.md, "Re-runs").
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa

from minimizer.aggregate._duck import cursor
from minimizer.aggregate.ledger import LEDGER_KEY, Release
from minimizer.errors import KeyMaterialError
from minimizer.io.warehouse import DIALECTS, Warehouse, ident
from minimizer.keys import KeyRing
from minimizer.policy import AggregateSpec
from minimizer.rights.digest import keyed_hex

__all__ = [
    "DIGEST_USE",
    "DPInput",
    "Decision",
    "day_digests",
    "decide",
    "parameters_text",
    "stored_release",
    "true_count_texts",
]

DIGEST_USE = LEDGER_KEY  # KeyRing.secret_for(use): the key of the days' digests
_D = DIALECTS["duckdb"]


@dataclass(frozen=True)
class DPInput:
    """What one dp source would release, before any noise."""

    source: str
    rows: pa.Table = field(repr=False)
    cell: str
    hour: str
    resolution: int
    days: tuple[str, ...]  # ISO days the source releases
    texts: Mapping[str, str] = field(repr=False)  # day -> its true counts, canonical: never kept


def true_count_texts(
    rows: pa.Table, *, cell: str, hour: str, subject: str, days: Sequence[str]
) -> dict[str, str]:
    """Day -> a canonical text of that day's true counts per (cell, hour) group: events and
    distinct subjects, before the contribution bounds (which draw at random). Only the days
    given; a day without events has the empty text."""
    c, h, s = ident(cell, _D), ident(hour, _D), ident(subject, _D)
    con = cursor()
    try:
        con.register("rows", rows.select([cell, hour, subject]))
        found = con.execute(
            f"""WITH g AS (
                SELECT strftime(date_trunc('day', {h}), '%Y-%m-%d') AS day, {c} AS c,
                       epoch_us({h}) AS h, count(*) AS n, count(DISTINCT {s}) AS k
                FROM rows WHERE {c} IS NOT NULL AND {h} IS NOT NULL AND {s} IS NOT NULL
                GROUP BY ALL)
            SELECT day, string_agg(concat_ws(',', c, h, n, k), ';' ORDER BY c, h)
            FROM g GROUP BY day"""
        ).fetchall()
    finally:
        con.close()
    texts = {str(day): str(text) for day, text in found}
    return {day: texts.get(day, "") for day in days}


def parameters_text(spec: AggregateSpec, resolution: int) -> str:
    """What else decides a release: a changed policy is a new release, not a re-publication."""
    assert spec.dp is not None
    return json.dumps(
        {
            "by": list(spec.by),
            "measures": list(spec.measures),
            "min_distinct_subjects": spec.min_distinct_subjects,
            "resolution": resolution,
            "dp": spec.dp.model_dump(mode="json"),
        },
        sort_keys=True,
    )


def day_digests(
    keyring: KeyRing, inputs: Sequence[DPInput], params: Mapping[str, str], version: int
) -> dict[str, str]:
    """Day -> ``<version>:<hex>``, the keyed digest of every dp source's true counts of the day
    and its release parameters, for the days any source releases. KeyMaterialError when the
    version cannot derive the secret (retired)."""
    days = sorted({d for i in inputs for d in i.days})
    ordered = sorted(inputs, key=lambda i: i.source)
    texts = [
        "\n".join(f"{i.source}\t{params[i.source]}\t{i.texts.get(day, '')}" for i in ordered)
        for day in days
    ]
    hexed = keyed_hex(
        keyring.secret_for(DIGEST_USE, version),
        [f"{d}\n{t}" for d, t in zip(days, texts, strict=True)],
    )
    return {day: f"{version}:{h}" for day, h in zip(days, hexed, strict=True)}


def stored_release(warehouse: Warehouse, schema: str, table: str, hour: str) -> pd.DataFrame:
    """The release in the warehouse now (an empty frame before the first load), with ``_day``."""
    if (schema, table) not in set(warehouse.tables()):
        return pd.DataFrame({"_day": pd.Series([], dtype=str)})
    frame = warehouse.read(schema, table)
    stamps = pd.to_datetime(frame[hour], utc=True)
    return frame.assign(_day=stamps.dt.strftime("%Y-%m-%d"))


@dataclass(frozen=True)
class Decision:
    """Which days a run releases afresh and which it re-publishes, and what the ledger keeps."""

    fresh: tuple[str, ...]
    republished: dict[str, str]  # day -> run whose noisy counts are re-published
    digests: dict[str, str]  # day -> the digest the ledger entry keeps
    why: dict[str, str]  # fresh day released before -> why it is released again


def _latest(history: Sequence[Release]) -> dict[str, Release]:
    latest: dict[str, Release] = {}
    for release in history:  # oldest first: the last one is what the warehouse holds
        latest[release.day] = release
    return latest


def decide(
    keyring: KeyRing,
    version: int,
    inputs: Sequence[DPInput],
    params: Mapping[str, str],
    history: Sequence[Release],
    stored: Mapping[str, pd.DataFrame],
) -> Decision:
    """Re-publish a day when its digest (under the key version of its latest release) is that
    release's, and the warehouse still holds every row of it; else release it afresh."""
    if not inputs:
        return Decision((), {}, {}, {})
    current = day_digests(keyring, inputs, params, version)
    sources = {i.source for i in inputs}
    latest = _latest(history)
    fresh: list[str] = []
    republished: dict[str, str] = {}
    digests = dict(current)
    why: dict[str, str] = {}
    by_version: dict[int, dict[str, str]] = {version: current}
    held = {source: frame["_day"].value_counts().to_dict() for source, frame in stored.items()}
    for day in sorted(current):
        last = latest.get(day)
        if last is None:
            fresh.append(day)
            continue
        if last.digest is None:
            fresh.append(day)
            why[day] = "its last release recorded no digest of its true counts"
            continue
        then = int(last.digest.split(":", 1)[0])
        if then not in by_version:
            try:
                by_version[then] = day_digests(keyring, inputs, params, then)
            except KeyMaterialError:
                by_version[then] = {}
        if by_version[then].get(day) != last.digest:
            fresh.append(day)
            why[day] = "its true counts changed" if by_version[then] else "its key is retired"
            continue
        if any(int(held.get(s, {}).get(day, 0)) != int(last.rows.get(s, -1)) for s in sources):
            fresh.append(day)
            why[day] = "its stored release is no longer complete in the warehouse"
            continue
        republished[day] = last.origin
        digests[day] = last.digest
    return Decision(tuple(fresh), republished, digests, why)
