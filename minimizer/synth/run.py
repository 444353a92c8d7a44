"""``generate``: the CRM, the behavioural events and the ground truth for one seed."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pyarrow as pa
from rich.table import Table

from minimizer.synth.crm import customers_table, orders_table, truth_table, web_profiles_table
from minimizer.synth.events import day_events
from minimizer.synth.identities import draw_identities
from minimizer.synth.network import build_network
from minimizer.synth.notes import draw_notes
from minimizer.synth.population import draw_population
from minimizer.synth.schema import CUSTOMERS, ORDERS, WEB_PROFILES
from minimizer.synth.writers import (
    redact_url,
    write_parquet,
    write_partition,
    write_postgres,
    write_sqlite,
)

__all__ = ["DEFAULT_EVENTS_PER_CUSTOMER_DAY", "Progress", "SynthSummary", "generate"]

DEFAULT_EVENTS_PER_CUSTOMER_DAY = 5.0
Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)``; stages are "people", "crm" and "events"."""

# Independent random streams, so changing one part (say, more days) leaves the others alone.
_POPULATION, _FAKER, _IDENTITIES, _NOTES, _ORDERS, _PROFILES, _NETWORK, _EVENTS = range(8)
_POSTGRES_SCHEMES = ("postgresql", "postgres")


@dataclass(frozen=True)
class SynthSummary:
    customers: int
    orders: int
    web_profiles: int
    events: int
    first_day: date
    last_day: date
    crm: str  # the SQLite path or the PostgreSQL URL without its password
    crm_path: Path | None  # None when the CRM went to PostgreSQL
    events_dir: Path
    partitions: tuple[Path, ...]
    truth_path: Path

    @property
    def table_counts(self) -> dict[str, int]:
        return {
            "customers": self.customers,
            "orders": self.orders,
            "web_profiles": self.web_profiles,
        }

    def __rich__(self) -> Table:
        """What ``minimizer synth`` prints: where each part went and how many rows it has."""
        table = Table(title="synthetic sources", title_justify="left", show_edge=False)
        table.add_column("part")
        table.add_column("rows", justify="right")
        table.add_column("where")
        table.add_row("CRM customers", f"{self.customers:,}", self.crm)
        table.add_row("CRM orders", f"{self.orders:,}", self.crm)
        table.add_row("CRM web profiles", f"{self.web_profiles:,}", self.crm)
        days = f"{self.first_day} … {self.last_day}, {len(self.partitions)} day partition(s)"
        table.add_row("events", f"{self.events:,}", f"{self.events_dir}/ ({days})")
        table.add_row("ground truth (tests only)", "", str(self.truth_path))
        return table


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def _check(customers: int, days: int, seed: int, rate: float, crm_url: str | None) -> None:
    if customers < 1:
        raise ValueError("customers must be at least 1")
    if days < 1:
        raise ValueError("days must be at least 1")
    if seed < 0:
        raise ValueError("seed must be a non-negative integer")
    if not (math.isfinite(rate) and rate >= 0):
        raise ValueError("events_per_customer_day must be a finite number >= 0")
    if crm_url is not None and urlsplit(crm_url).scheme not in _POSTGRES_SCHEMES:
        raise ValueError("crm_url must be a postgresql:// URL")


def _clear_partitions(events_dir: Path) -> None:
    """Remove partitions of an earlier run, so a shorter rerun leaves no stale days behind."""
    for part in events_dir.glob("date=*/part-*.parquet"):
        part.unlink()
    for folder in events_dir.glob("date=*"):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


def generate(
    out_dir: Path,
    *,
    customers: int,
    days: int,
    seed: int,
    end: date | None = None,
    crm_url: str | None = None,
    events_per_customer_day: float = DEFAULT_EVENTS_PER_CUSTOMER_DAY,
    progress: Progress | None = None,
) -> SynthSummary:
    """Write a synthetic CRM and ``days`` days of events ending on ``end`` (UTC) into ``out_dir``.

    The output is a pure function of the arguments: the same arguments give the same rows and
    byte-identical Parquet files. ``end`` defaults to today's UTC date.
    """
    _check(customers, days, seed, events_per_customer_day, crm_url)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    end = end or datetime.now(UTC).date()
    report = progress or (lambda stage, done, total: None)

    people = draw_population(_rng(seed, _POPULATION), customers, end, events_per_customer_day)
    faker_seeds = np.random.SeedSequence(seed, spawn_key=(_FAKER,)).generate_state(3)
    ids = draw_identities(
        _rng(seed, _IDENTITIES), faker_seeds, people, lambda done: report("people", done, customers)
    )
    notes, notes_has_pii = draw_notes(_rng(seed, _NOTES), people, ids)
    tables = [
        (CUSTOMERS, customers_table(people, ids, notes)),
        (ORDERS, orders_table(_rng(seed, _ORDERS), people, ids, end)),
        (WEB_PROFILES, web_profiles_table(_rng(seed, _PROFILES), people, ids)),
    ]
    report("crm", 0, 1)
    crm_path = None if crm_url else out_dir / "crm.sqlite"
    if crm_path is None:
        write_postgres(str(crm_url), tables)
    else:
        write_sqlite(crm_path, tables)
    report("crm", 1, 1)
    truth_path = out_dir / "truth" / "people.parquet"
    write_parquet(truth_path, truth_table(people, notes_has_pii))

    network = build_network(_rng(seed, _NETWORK), people.country, people.anchors.employer)
    customer_ids = pa.array(people.customer_id, pa.string())
    events_dir = out_dir / "events"
    _clear_partitions(events_dir)
    first_day = end - timedelta(days=days - 1)
    partitions, n_events = [], 0
    report("events", 0, days)
    for k in range(days):
        day = first_day + timedelta(days=k)
        table = day_events(_rng(seed, _EVENTS, day.toordinal()), people, network, customer_ids, day)
        partitions.append(write_partition(events_dir, day, table))
        n_events += table.num_rows
        report("events", k + 1, days)

    return SynthSummary(
        customers=customers,
        orders=tables[1][1].num_rows,
        web_profiles=tables[2][1].num_rows,
        events=n_events,
        first_day=first_day,
        last_day=end,
        crm=redact_url(crm_url) if crm_url else str(crm_path),
        crm_path=crm_path,
        events_dir=events_dir,
        partitions=tuple(partitions),
        truth_path=truth_path,
    )
