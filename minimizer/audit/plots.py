"""The figures of a purpose over time, as PNG files beside the report. Counts and shares only.

* ``rows``: rows read and rows loaded by each run, on a time axis; failed runs marked ✕;
* ``gate``: the gate's expectations passed and failed per run;
* ``risk``: what the guarantees left, per loaded run: suppressed rows, rows unique on the
  quasi-identifiers, unicity (shares, 0–100 %).

Every point sits at the run's start time, so gaps between runs and bursts of reruns show.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = ["gate_plot", "risk_plot", "risk_series", "rows_plot"]

_PASS, _FAIL, _IN, _OUT = "#2e7d32", "#c62828", "#546e7a", "#1565c0"
_RISK = {
    "suppressed": ("rows suppressed (k-anonymity)", "#6a1b9a"),
    "unique_after": ("rows unique on the quasi-identifiers", "#ef6c00"),
    "unicity_after": ("unicity after (location)", "#c62828"),
}


# Figure and axes stay Any: matplotlib's Axes.plot annotations admit no datetime x values,
# which its date units (set up here) accept.
def _axes(title: str, ylabel: str) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.0, 2.8), dpi=110)
    # matplotlib's inline types leave these two constructors unannotated.
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    ax.set_title(title, fontsize=9)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    return fig, ax


def _save(fig: Any, ax: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path, format="png", metadata={"Software": None})
    plt.close(fig)
    return path


def _when(run: dict[str, Any]) -> datetime | None:
    started = run.get("started_at")
    if isinstance(started, str):
        return datetime.fromisoformat(started)
    return started if isinstance(started, datetime) else None


def _timed(runs: Sequence[dict[str, Any]]) -> list[tuple[datetime, dict[str, Any]]]:
    return [(t, r) for r in runs if (t := _when(r)) is not None]


def rows_plot(runs: Sequence[dict[str, Any]], path: Path, title: str) -> Path:
    """Rows read and rows loaded per run over time; a failed run loaded nothing (✕)."""
    fig, ax = _axes(title, "rows")
    timed = _timed(runs)
    loaded = [(t, r) for t, r in timed if r.get("status") == "loaded"]
    failed = [(t, r) for t, r in timed if r.get("status") == "failed"]
    if loaded:
        times = [t for t, _ in loaded]
        ax.plot(times, [r["rows_in"] for _, r in loaded], "o-", color=_IN, label="rows read")
        ax.plot(times, [r["rows_out"] for _, r in loaded], "s--", color=_OUT, label="rows loaded")
    if failed:
        ax.plot(
            [t for t, _ in failed],
            [r["rows_in"] for _, r in failed],
            "x",
            color=_FAIL,
            markersize=9,
            mew=2,
            label="failed run (nothing loaded)",
        )
    ax.set_ylim(bottom=0)
    return _save(fig, ax, path)


def gate_plot(runs: Sequence[dict[str, Any]], path: Path, title: str) -> Path:
    """Expectations passed and failed per run over time; runs the gate did not check are left
    out (a rekey, or a run that failed before the gate)."""
    fig, ax = _axes(title, "expectations")
    timed = [(t, r) for t, r in _timed(runs) if r["gate"]["ran"]]
    if timed:
        times = [t for t, _ in timed]
        passed = [r["gate"]["evaluated"] - r["gate"]["failed"] for _, r in timed]
        ax.plot(times, passed, "o-", color=_PASS, label="passed")
        ax.plot(times, [r["gate"]["failed"] for _, r in timed], "x-", color=_FAIL, label="failed")
    ax.set_ylim(bottom=0)
    return _save(fig, ax, path)


def risk_series(run: dict[str, Any]) -> dict[str, float]:
    """The shares a loaded run's guarantees left (from its audit details), by series name."""
    g = (run.get("details") or {}).get("guarantees") or {}
    k, loc = g.get("k_anonymity") or {}, g.get("location") or {}
    out: dict[str, float] = {}
    if k.get("rows"):
        out["suppressed"] = float(k.get("suppressed", 0)) / float(k["rows"])
    if "unique_share_after" in k:
        out["unique_after"] = float(k["unique_share_after"])
    if "unicity_after" in loc:
        out["unicity_after"] = float(loc["unicity_after"])
    return out


def risk_plot(
    runs: Sequence[dict[str, Any]], path: Path, title: str, target: float | None = None
) -> Path | None:
    """Shares per loaded run over time, with the unicity target as a dashed line; None when
    the purpose declares no guarantee that measures any."""
    points = [(t, risk_series(r)) for t, r in _timed(runs) if r.get("status") == "loaded"]
    points = [(t, s) for t, s in points if s]
    if not points:
        return None
    fig, ax = _axes(title, "share of rows / subjects")
    for name, (label, color) in _RISK.items():
        series = [(t, s[name]) for t, s in points if name in s]
        if series:
            ax.plot(
                [t for t, _ in series], [100 * v for _, v in series], "o-", color=color, label=label
            )
    if target is not None and any("unicity_after" in s for _, s in points):
        ax.axhline(100 * target, color=_FAIL, linestyle=":", label=f"unicity target {target:.0%}")
    ax.set_ylim(0, 100)
    ax.yaxis.set_major_formatter("{x:.0f} %")
    return _save(fig, ax, path)
