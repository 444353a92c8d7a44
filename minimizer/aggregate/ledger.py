"""The purpose's privacy budget ledger: what each dp release spent, and what is left.

Each release spends the policy's ε on every day it covers (the privacy unit is one subject on
one day, so a person's loss over a window is the sum over its days). The ledger lives in the
audit record: a loaded run's ``details.guarantees.privacy_ledger`` holds the days it released
and their ε, written in the load's own transaction, so a failed run spends nothing.

Every fresh release of a day spends its ε, and keeps spending it: OpenDP's noise cannot be
seeded, so a day released twice with fresh noise is two releases of the same data (an analyst
who saw both can average them), and under sequential composition their ε add up. The ledger
therefore sums over every loaded release of a day, never only the latest. A re-run does not
spend again only when it draws no noise: when the day's true counts are unchanged it
re-publishes the noisy counts already in the warehouse (post-processing, ε 0), and the entry
names the run whose release it re-published (:mod:`.republish` decides, on a keyed digest).
The budget holds over every sliding window of ``period`` (in whole days, rounded up); a release
that would break it in any window raises GuaranteeError and nothing is loaded, as does a fresh
release of a day the warehouse table already holds but the ledger has no release of (its audit
rows were deleted or marked failed: :func:`refuse_unledgered`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pandas as pd

from minimizer.errors import GuaranteeError
from minimizer.policy import Budget

__all__ = [
    "LEDGER_KEY",
    "PLANNED_ON",
    "Release",
    "Spend",
    "ledger_history",
    "ledger_table",
    "period_days",
    "plan_spend",
    "recheck_spend",
    "refuse_unledgered",
    "spent_by_day",
    "with_records",
]

LEDGER_KEY = "privacy_ledger"
PLANNED_ON = "planned_on"  # the ledger entry's list of the loaded runs its plan counted
_TOLERANCE = 1e-9  # float sums of ε: 30 x 0.1 must fit a budget of 3.0
BASIS = (
    "per subject-day; every fresh release of a day spends its ε again (sequential composition:"
    " OpenDP's noise is never seeded, so two releases of a day can be averaged); a re-run whose"
    " true counts of the day are unchanged re-publishes the stored release (ε 0)"
)
_ORDINALS = {2: "second", 3: "third", 4: "fourth", 5: "fifth"}


@dataclass(frozen=True)
class Release:
    """One loaded run's release of one day, as the audit record has it."""

    day: str  # ISO day
    run_id: str
    epsilon: float  # what this release spent: 0 when it re-published an earlier one
    origin: str  # the run whose noisy counts these are: ``run_id`` for a fresh release
    digest: str | None = None  # "<key version>:<hex>" of the day's true counts (None: older)
    rows: Mapping[str, int] = field(default_factory=dict)  # source -> published rows that day

    @property
    def fresh(self) -> bool:
        return self.origin == self.run_id


def _ordinal(n: int) -> str:
    return _ORDINALS.get(n, f"{n}th")


@dataclass(frozen=True)
class Spend:
    """The ledger entry of one run, as it goes into the audit record."""

    days: dict[str, float]  # ISO day -> ε of this run's fresh release of it
    republished: dict[str, str]  # ISO day -> run whose stored release this run re-publishes
    previous: dict[str, list[str]]  # fresh day -> runs that released it before, oldest first
    budget: float
    period_days: int
    spent: float  # the most ε any window holding a day of this run spends, this run included
    left: float
    digests: dict[str, str] = field(default_factory=dict)  # day -> keyed digest (republish)
    rows: dict[str, dict[str, int]] = field(default_factory=dict)  # source -> day -> rows
    why: dict[str, str] = field(default_factory=dict)  # day released again -> why

    def notes(self) -> list[str]:
        """What a reader of the record needs about each day that was released before."""
        again = [
            f"{_ordinal(len(runs) + 1)} release of day {day}, previous run {runs[-1]}:"
            f" {self.why.get(day, 'its true counts changed')}, so fresh noise was drawn and"
            f" ε {self.days[day]:g} spent again"
            for day, runs in sorted(self.previous.items())
        ]
        same = [
            f"day {day} re-published from run {run}: true counts unchanged, ε 0"
            for day, run in sorted(self.republished.items())
        ]
        return again + same

    def as_dict(self) -> dict[str, object]:
        return {
            "days": self.days,
            "epsilon_this_run": round(float(sum(self.days.values())), 12),
            "republished": self.republished,
            "released_before": self.previous,
            "notes": self.notes(),
            "budget_epsilon": self.budget,
            "period_days": self.period_days,
            "spent_in_window": round(self.spent, 12),
            "left_in_window": round(self.left, 12),
            "basis": BASIS,
            "digests": self.digests,
            "rows": self.rows,
        }


def _entries(runs: pd.DataFrame) -> list[tuple[str, dict[str, Any]]]:
    """(run id, ledger entry) of every loaded run, oldest first."""
    if runs.empty:
        return []
    loaded = runs[runs["status"] == "loaded"].sort_values(["started_at", "run_id"])
    return [
        (str(run_id), ((details or {}).get("guarantees") or {}).get(LEDGER_KEY) or {})
        for run_id, details in zip(loaded["run_id"], loaded["details"], strict=True)
    ]


def ledger_history(runs: pd.DataFrame) -> list[Release]:
    """Every loaded release of every day, oldest first, from a purpose's audit rows
    (``Warehouse.audit_runs``). A record from before re-publishing existed (``replaces``, no
    digests) drew fresh noise each time: each of its days is a fresh release."""
    history: list[Release] = []
    # A handful of rows per purpose and day: the audit table, not event data.
    for run_id, entry in _entries(runs):
        digests = entry.get("digests") or {}
        rows = entry.get("rows") or {}

        def day_rows(day: str, rows: Mapping[str, Any] = rows) -> dict[str, int]:
            return {s: int(n[day]) for s, n in rows.items() if day in (n or {})}

        for day, eps in (entry.get("days") or {}).items():
            d = str(day)
            history.append(Release(d, run_id, float(eps), run_id, digests.get(d), day_rows(d)))
        for day, origin in (entry.get("republished") or {}).items():
            d = str(day)
            history.append(Release(d, run_id, 0.0, str(origin), digests.get(d), day_rows(d)))
    return history


def spent_by_day(history: Iterable[Release]) -> dict[str, float]:
    """Day -> ε spent on it by all loaded releases together (re-publications add 0)."""
    spent: dict[str, float] = {}
    for release in history:
        spent[release.day] = spent.get(release.day, 0.0) + release.epsilon
    return spent


def ledger_table(runs: pd.DataFrame) -> pd.DataFrame:
    """The ledger as a table, from a purpose's audit rows: one row per loaded release of a day,
    oldest first: the run, ``fresh`` or ``republished``, its ε, which fresh release of the day
    its noisy counts are (1, 2, ...), the run before it (the previous fresh release, or the one
    re-published), whether it is what the warehouse holds now (``current``: the day's latest
    release), and the run's spent and left ε in its worst window."""
    columns = [
        "day",
        "run_id",
        "action",
        "epsilon",
        "release",
        "previous_run",
        "current",
        "spent_in_window",
        "left",
    ]
    windows = {run_id: entry for run_id, entry in _entries(runs)}
    history = ledger_history(runs)
    fresh_runs: dict[str, list[str]] = {}
    rows = []
    for r in history:
        earlier = fresh_runs.setdefault(r.day, [])
        if r.fresh:
            previous, release = (earlier[-1] if earlier else None), len(earlier) + 1
            earlier.append(r.run_id)
        else:
            previous = r.origin
            release = earlier.index(r.origin) + 1 if r.origin in earlier else 0
        entry = windows.get(r.run_id, {})
        rows.append(
            {
                "day": r.day,
                "run_id": r.run_id,
                "action": "fresh" if r.fresh else "republished",
                "epsilon": r.epsilon,
                "release": release,
                "previous_run": previous,
                "spent_in_window": entry.get("spent_in_window"),
                "left": entry.get("left_in_window"),
            }
        )
    table = pd.DataFrame(rows, columns=[c for c in columns if c != "current"])
    latest = {r.day: r.run_id for r in history}
    table["current"] = [latest.get(d) == r for d, r in zip(table.day, table.run_id, strict=True)]
    table = table[columns].sort_values(["day"], kind="stable", ignore_index=True)
    # None, not NaN, where no run came before (a first release).
    table["previous_run"] = (
        table["previous_run"].astype(object).where(table["previous_run"].notna(), None)
    )
    return table


def _worst(daily: pd.Series, days: Sequence[str], period: int) -> float:
    """The most ε of any window of ``period`` days that holds one of ``days``."""
    if not days:
        return 0.0
    padded = daily.reindex(
        pd.date_range(daily.index.min(), daily.index.max() + pd.Timedelta(days=period - 1)),
        fill_value=0.0,
    )
    windows = padded.rolling(period, min_periods=1).sum()
    # The window ending on t holds day d iff t - period < d <= t: a rolling count of the days.
    marked = pd.Series(0.0, index=padded.index)
    marked[pd.to_datetime(list(days))] = 1.0
    touched = marked.rolling(period, min_periods=1).sum() > 0
    return float(windows[touched].max())


def period_days(budget: Budget) -> int:
    """The budget's window in whole days, rounded up: the privacy unit is a subject-day, so a
    window that reaches into a day holds all of it (36h holds two consecutive days, never one)."""
    return max(1, math.ceil(budget.period / timedelta(days=1)))


def plan_spend(
    budget: Budget,
    epsilon: float,
    days: Iterable[date],
    history: Sequence[Release],
    republished: Mapping[str, str] | None = None,
) -> Spend:
    """The ledger entry for releasing ``days`` afresh at ``epsilon`` each (and re-publishing
    ``republished``: day -> run, at ε 0), or GuaranteeError if some window of
    ``budget.period`` holding a fresh day would then spend more than ``budget.epsilon``. Every
    loaded release in ``history`` counts, however many a day has had."""
    released = sorted({d.isoformat() for d in days})
    again = dict(republished or {})
    period = period_days(budget)
    spends = spent_by_day(history)
    for day in released:
        spends[day] = spends.get(day, 0.0) + epsilon
    if not released and not again:
        return Spend({}, {}, {}, budget.epsilon, period, 0.0, budget.epsilon)
    series = pd.Series(spends, dtype=float)
    series.index = pd.to_datetime(series.index)
    daily = series.groupby(level=0).sum().asfreq("D", fill_value=0.0)
    daily = daily.reindex(
        pd.date_range(
            min(daily.index.min(), pd.Timestamp(min([*released, *again]))),
            max(daily.index.max(), pd.Timestamp(max([*released, *again]))),
        ),
        fill_value=0.0,
    )
    worst = _worst(daily, released, period)
    before = {day: [r.run_id for r in history if r.day == day and r.fresh] for day in released}
    before = {day: runs for day, runs in before.items() if runs}
    if worst > budget.epsilon + _TOLERANCE:
        again_note = (
            f"; {len(before)} of them released before, whose true counts changed since"
            if before
            else ""
        )
        raise GuaranteeError(
            f"privacy budget exceeded: this release would spend {worst:.4g} of ε "
            f"{budget.epsilon:g} within {period} days (ε {epsilon:g} on each of "
            f"{len(released)} day(s){again_note}); nothing was loaded. Every fresh release of a"
            " day spends its ε again. Lower dp.epsilon, release fewer days, or wait until older"
            " releases leave the window",
            check="privacy_budget",
            reason="budget_exceeded",
            count=len(released),
        )
    spent = max(worst, _worst(daily, sorted(again), period))
    return Spend(
        days=dict.fromkeys(released, epsilon),
        republished=again,
        previous=before,
        budget=budget.epsilon,
        period_days=period,
        spent=spent,
        left=budget.epsilon - spent,
    )


def refuse_unledgered(
    fresh: Iterable[str], history: Sequence[Release], held: Mapping[str, Iterable[str]]
) -> None:
    """GuaranteeError when a day to be released afresh is already in a source's table while
    the ledger holds no loaded release of it: its audit rows were deleted or marked failed, so
    the ε that release spent can no longer be counted, and fresh noise would be unpaid."""
    ledgered = {r.day for r in history}
    stored = {str(d) for days in held.values() for d in days}
    unpaid = sorted(d for d in set(fresh) if d in stored and d not in ledgered)
    if unpaid:
        raise GuaranteeError(
            f"{len(unpaid)} day(s) to be released afresh are already published in the"
            " warehouse table, but the privacy ledger (loaded runs in minimizer_audit.runs) holds"
            " no release of them, so the ε they spent cannot be counted; nothing was loaded."
            " Restore the purpose's audit rows: a day the table holds is never released again"
            " on an empty ledger",
            check="privacy_budget",
            # The day's spend is unknown, so no budget can afford a fresh release of it.
            reason="budget_exceeded",
            count=len(unpaid),
        )


def with_records(
    spend: Spend,
    digests: Mapping[str, str],
    rows: Mapping[str, Mapping[str, int]],
    why: Mapping[str, str] | None = None,
) -> Spend:
    """The entry with the days' keyed digests and published row counts, which the next re-run
    needs to decide whether it may re-publish (:mod:`.republish`)."""
    return dataclasses.replace(
        spend,
        digests=dict(sorted(digests.items())),
        rows={s: dict(sorted(n.items())) for s, n in sorted(rows.items())},
        why=dict(why or {}),
    )


def recheck_spend(entry: Mapping[str, Any], runs: pd.DataFrame) -> None:
    """Refuse a load whose spend was planned on a ledger that has changed since: another run
    of the purpose loaded a release between this run's plan and its load (a CLI back-fill
    beside the DAG, two runs on one PostgreSQL warehouse). Called inside the load's
    transaction, under the purpose's lock, so the two cannot both spend the last ε."""
    planned = set(entry.get(PLANNED_ON) or ())
    now = {r.run_id for r in ledger_history(runs)}
    if now - planned:
        raise GuaranteeError(
            f"privacy budget: {len(now - planned)} other run(s) of this purpose loaded a release"
            " after this run planned its spend; nothing was loaded. Run it again: it will plan"
            " on the ledger as it is now",
            check="privacy_budget",
            reason="budget_exceeded",
            count=len(now - planned),
        )
