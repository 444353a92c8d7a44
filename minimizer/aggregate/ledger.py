"""The purpose's privacy budget ledger: what each dp release spent, and what is left.

Each release spends the policy's ε on every day it covers (the privacy unit is one subject on
one day, so a person's loss over a window is the sum over its days). The ledger lives in the
audit record: a loaded run's ``details.guarantees.privacy_ledger`` holds the days it released
and their ε, written in the load's own transaction, so a failed run spends nothing.

Re-running a day replaces that day's release: its ε is counted once, from the latest run that
released it, and the entry names the run it replaced. (What an analyst read from the earlier
release stays read: docs/location-risk.md says when a re-run should be a new spend instead.)
The budget holds over every sliding window of ``period``; a release that would break it in
any window raises GuaranteeError and nothing is loaded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from minimizer.errors import GuaranteeError
from minimizer.policy import Budget

__all__ = ["LEDGER_KEY", "Spend", "ledger_days", "ledger_table", "plan_spend"]

LEDGER_KEY = "privacy_ledger"
_TOLERANCE = 1e-9  # float sums of ε: 30 x 0.1 must fit a budget of 3.0


@dataclass(frozen=True)
class Spend:
    """The ledger entry of one release, as it goes into the audit record."""

    days: dict[str, float]  # ISO day -> ε released for it
    replaces: dict[str, str]  # ISO day -> run id of the release it replaces
    budget: float
    period_days: int
    spent: float  # the most ε any window holding a released day spends, this release included
    left: float

    def as_dict(self) -> dict[str, object]:
        return {
            "days": self.days,
            "epsilon_this_run": round(sum(self.days.values()), 12),
            "replaces": self.replaces,
            "budget_epsilon": self.budget,
            "period_days": self.period_days,
            "spent_in_window": round(self.spent, 12),
            "left_in_window": round(self.left, 12),
            "basis": "per subject-day; a re-run of a day replaces its release",
        }


def ledger_days(runs: pd.DataFrame) -> dict[str, tuple[float, str]]:
    """Day -> (ε, run id) of the latest loaded release of each day, from audit rows."""
    if runs.empty:
        return {}
    loaded = runs[runs["status"] == "loaded"].sort_values(["started_at", "run_id"])
    latest: dict[str, tuple[float, str]] = {}
    # A handful of rows per purpose and day: the audit table, not event data.
    for run_id, details in zip(loaded["run_id"], loaded["details"], strict=True):
        entry = ((details or {}).get("guarantees") or {}).get(LEDGER_KEY) or {}
        for day, eps in (entry.get("days") or {}).items():
            latest[str(day)] = (float(eps), str(run_id))
    return latest


def ledger_table(runs: pd.DataFrame) -> pd.DataFrame:
    """The ledger as a table, from a purpose's audit rows (``Warehouse.audit_runs``): one row
    per loaded release of a day, with the run that released it, its ε, the run it replaced (if
    any), whether it is the day's current release, and the run's spent and left ε."""
    columns = ["day", "run_id", "epsilon", "replaces", "current", "spent_in_window", "left"]
    if runs.empty:
        return pd.DataFrame(columns=columns)
    loaded = runs[runs["status"] == "loaded"].sort_values(["started_at", "run_id"])
    entries = [
        (str(run_id), ((details or {}).get("guarantees") or {}).get(LEDGER_KEY) or {})
        for run_id, details in zip(loaded["run_id"], loaded["details"], strict=True)
    ]
    rows = [
        {
            "day": day,
            "run_id": run_id,
            "epsilon": float(eps),
            "replaces": (entry.get("replaces") or {}).get(day),
            "spent_in_window": entry.get("spent_in_window"),
            "left": entry.get("left_in_window"),
        }
        for run_id, entry in entries
        for day, eps in (entry.get("days") or {}).items()
    ]
    table = pd.DataFrame(rows, columns=[c for c in columns if c != "current"])
    latest = ledger_days(runs)
    table["current"] = [
        latest.get(d, (0.0, ""))[1] == r for d, r in zip(table.day, table.run_id, strict=True)
    ]
    return table[columns].sort_values(["day", "run_id"], ignore_index=True)


def plan_spend(
    budget: Budget, epsilon: float, days: Iterable[date], history: Mapping[str, tuple[float, str]]
) -> Spend:
    """The ledger entry for releasing ``days`` at ``epsilon`` each, or GuaranteeError if some
    window of ``budget.period`` would then spend more than ``budget.epsilon``."""
    released = sorted({d.isoformat() for d in days})
    period = max(1, int(budget.period / timedelta(days=1)))
    spends = {day: eps for day, (eps, _) in history.items()}
    spends.update(dict.fromkeys(released, epsilon))
    if not released:
        return Spend({}, {}, budget.epsilon, period, 0.0, budget.epsilon)
    series = pd.Series(spends, dtype=float)
    series.index = pd.to_datetime(series.index)
    daily = series.groupby(level=0).sum().asfreq("D", fill_value=0.0)
    # Window ending on each day; a released day d lies in the windows ending d .. d+period-1.
    padded = daily.reindex(
        pd.date_range(daily.index.min(), daily.index.max() + pd.Timedelta(days=period - 1))
    ).fillna(0.0)
    windows = padded.rolling(period, min_periods=1).sum()
    touched = pd.Series(False, index=padded.index)
    for day in pd.to_datetime(released):
        touched |= (padded.index >= day) & (padded.index < day + pd.Timedelta(days=period))
    worst = float(windows[touched].max())
    if worst > budget.epsilon + _TOLERANCE:
        raise GuaranteeError(
            f"privacy budget exceeded: this release would spend {worst:.4g} of ε "
            f"{budget.epsilon:g} within {period} days (ε {epsilon:g} on each of "
            f"{len(released)} day(s)); nothing was loaded. Lower dp.epsilon, release fewer "
            "days, or wait until older releases leave the window",
            check="privacy_budget",
            reason="budget_exceeded",
            count=len(released),
        )
    replaces = {day: history[day][1] for day in released if day in history}
    return Spend(
        days=dict.fromkeys(released, epsilon),
        replaces=replaces,
        budget=budget.epsilon,
        period_days=period,
        spent=worst,
        left=budget.epsilon - worst,
    )
