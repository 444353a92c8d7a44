"""Human-readable output of plans and runs (rich tables). Names and counts only, never values."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from minimizer.plan import plan_policy
from minimizer.policy import Policy

if TYPE_CHECKING:
    from minimizer.pipeline import RunReport

__all__ = ["guarantee_lines", "print_plan", "print_run"]

_STYLE = {"dropped": "red", "kept": "yellow", "pseudonym": "cyan"}


def guarantee_lines(policy: Policy) -> list[str]:
    g = policy.guarantees
    lines = [f"retention: rows older than {policy.retention_days:g} days are deleted"]
    if g.k_anonymity:
        k = g.k_anonymity
        lines.append(
            f"k-anonymity on {k.source}: k={k.k} over {', '.join(k.quasi_identifiers)}; "
            f"at most {k.max_suppression:.0%} suppressed; method {k.method}"
        )
        if k.l_diversity:
            lines.append(f"distinct {k.l_diversity}-diversity of {', '.join(k.sensitive)}")
    if g.location:
        loc = g.location
        lines.append(
            f"location on {loc.source}: at least {loc.min_distinct_subjects_per_cell} distinct "
            f"subjects per ({loc.cell}, {loc.bucket}); sparse cells raised to coarser H3 "
            f"resolutions (not below {loc.min_resolution}) or suppressed; anchors: {loc.anchors}"
        )
    lines.append(
        f"risk measured: uniqueness on quasi-identifiers; unicity with "
        f"{g.risk.unicity_points} points"
    )
    return lines


def print_plan(
    console: Console, policy: Policy, available: dict[str, Sequence[str]] | None = None
) -> None:
    console.print(
        f"[bold]{policy.purpose}[/]: {policy.description}\n"
        f"legal basis {policy.legal_basis.value} · owner {policy.owner} · "
        f"retention {policy.retention_days:g} days",
        highlight=False,
    )
    for sp in plan_policy(policy, available):
        table = Table(title=f"{policy.purpose}.{sp.source} ({sp.kind})", title_justify="left")
        for col in ("source column(s)", "becomes", "output column"):
            table.add_column(col)
        for c in sp.columns:
            style = _STYLE.get(c.category, "green")
            table.add_row(
                ", ".join(c.source_columns),
                f"[{style}]{c.description}[/]",
                c.output or "—",
            )
        console.print(table)
    console.print("[bold]guarantees[/]")
    for line in guarantee_lines(policy):
        console.print(f"  • {line}", highlight=False)


def print_run(console: Console, report: RunReport) -> None:
    table = Table(title=f"run {report.run_id}: {report.purpose} ({report.status})")
    for col in ("source", "rows in", "rows out", "rejected", "dropped columns", "schema drift"):
        table.add_column(col)
    for name, s in report.sources.items():
        table.add_row(
            name,
            f"{s.rows_in:,}",
            f"{report.loaded_rows.get(name, s.rows_out):,}",
            f"{s.rejected:,}",
            ", ".join(s.dropped) or "—",
            ", ".join(s.drift) or "—",
        )
    console.print(table)
