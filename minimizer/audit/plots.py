"""Two figures per purpose, as PNG files beside the report: rows in and out per run, and the
gate's outcome per run (expectations passed and failed). Counts only."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["gate_plot", "rows_plot"]

_PASS, _FAIL, _IN, _OUT, _NONE = "#2e7d32", "#c62828", "#546e7a", "#1565c0", "#bdbdbd"


def _figure(runs: Sequence[dict[str, Any]]) -> tuple[Any, Any, list[str]]:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(5.0, 0.55 * len(runs) + 2.5), 3.0), dpi=110)
    labels = [(r["started_at"] or "?")[5:16].replace("T", " ") for r in runs]
    return fig, ax, labels


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, format="png", metadata={"Software": None})
    plt.close(fig)
    return path


def rows_plot(runs: Sequence[dict[str, Any]], path: Path, title: str) -> Path:
    """Rows read and rows published per run; failed runs published nothing."""
    fig, ax, labels = _figure(runs)
    x = range(len(runs))
    ax.bar([i - 0.2 for i in x], [r["rows_in"] for r in runs], 0.4, label="rows in", color=_IN)
    out = [r["rows_out"] if r["status"] == "loaded" else 0 for r in runs]
    ax.bar([i + 0.2 for i in x], out, 0.4, label="rows loaded", color=_OUT)
    ax.set_xticks(list(x), labels, rotation=45, ha="right", fontsize=7)
    ax.set_ylabel("rows")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    return _save(fig, path)


def gate_plot(runs: Sequence[dict[str, Any]], path: Path, title: str) -> Path:
    """Expectations passed (green) and failed (red) per run; grey where the gate did not run."""
    fig, ax, labels = _figure(runs)
    x = list(range(len(runs)))
    passed = [r["gate"]["evaluated"] - r["gate"]["failed"] for r in runs]
    failed = [r["gate"]["failed"] for r in runs]
    ax.bar(x, passed, 0.6, label="passed", color=_PASS)
    ax.bar(x, failed, 0.6, bottom=passed, label="failed", color=_FAIL)
    for i, run in enumerate(runs):
        if not run["gate"]["ran"]:
            ax.bar([i], [1], 0.6, color=_NONE)
            ax.annotate("not run", (i, 1), ha="center", va="bottom", fontsize=6)
    ax.set_xticks(x, labels, rotation=45, ha="right", fontsize=7)
    ax.set_ylabel("expectations")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    return _save(fig, path)
