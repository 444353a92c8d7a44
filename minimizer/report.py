"""Human-readable output of plans and runs (rich tables). Names and counts only, never values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

from minimizer.plan import plan_policy, plan_source
from minimizer.policy import Policy

if TYPE_CHECKING:
    from minimizer.pipeline import RunReport, SourceReport

__all__ = ["guarantee_lines", "print_guarantees", "print_plan", "print_run"]

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


def _published(policy: Policy | None, name: str, s: SourceReport) -> list[str]:
    if policy is not None and name in policy.sources:
        return [c.output for c in plan_source(policy, name).outputs if c.output]
    return list(s.schema.names) if s.schema is not None else []


def _dropped(policy: Policy | None, name: str, s: SourceReport) -> list[str]:
    """Source columns the policy drops or only reads (keys, retention): not schema drift, and
    not the inputs of a published column (those are transformed, not dropped)."""
    if policy is None or name not in policy.sources:
        return [c for c in s.dropped if c not in s.drift]
    plan = plan_source(policy, name)
    used = {src for c in plan.outputs for src in c.source_columns}
    return [
        col
        for c in plan.columns
        if c.output is None
        for col in c.source_columns
        if col not in used and col not in s.drift
    ]


def _run_rows(s: SourceReport) -> int:
    """This run's rows: staged before the load, when the load has replaced rows_out."""
    return s.rows_out if s.rows_staged is None else s.rows_staged


def print_run(
    console: Console,
    report: RunReport,
    policy: Policy | None = None,
    collapsed: Mapping[str, Mapping[str, bool]] | None = None,
) -> None:
    """The run's summary: rows and columns per source, then what the guarantees did.

    ``rows loaded`` are this run's rows; where a load replaced only a range (``--day``), the
    table's total after the load is a column of its own. ``collapsed`` (source -> column ->
    generalised to ``*``) comes from :func:`minimizer.audit.explain.collapsed_columns`.
    """
    totals = any(_run_rows(s) != s.rows_out for s in report.sources.values())
    table = Table(title=f"run {report.run_id}: {report.purpose} ({report.status})")
    heads = ["source", "rows read", "rows loaded", "rejected"]
    heads += ["table rows now"] if totals else []
    for i, col in enumerate(heads):
        table.add_column(col, justify="right" if i else "left")
    for name, s in report.sources.items():
        row = [name, f"{s.rows_in:,}", f"{_run_rows(s):,}", f"{s.rejected:,}"]
        if totals:
            row.append(f"{s.rows_out:,}")
        table.add_row(*row)
    console.print(table)
    if totals:
        console.print(
            "  rows loaded: this run's rows; table rows now: the whole table after the load "
            "(other days included, retention applied)",
            highlight=False,
        )
    for name, s in report.sources.items():
        lines = (
            ("published", _published(policy, name, s)),
            ("dropped by the policy", _dropped(policy, name, s)),
            ("schema drift, dropped", list(s.drift)),
        )
        console.print(f"[bold]{name}[/]", highlight=False)
        for label, columns in lines:
            console.print(f"  {label}: {', '.join(columns) or '—'}", highlight=False)
    print_guarantees(console, report, policy, collapsed or {})


def print_guarantees(
    console: Console,
    report: RunReport,
    policy: Policy | None,
    collapsed: Mapping[str, Mapping[str, bool]],
) -> None:
    """What the guarantees did, in words; warnings in yellow (see minimizer.audit.explain)."""
    from minimizer.audit.explain import k_anonymity_findings, location_findings

    g = policy.guarantees if policy is not None else None
    blocks = []
    k = report.guarantees.get("k_anonymity")
    if k:
        allowed = g.k_anonymity.max_suppression if g and g.k_anonymity else None
        title = f"k-anonymity on {k.get('source')} (k={k.get('k')}, {k.get('method', '')})"
        found = k_anonymity_findings(k, collapsed.get(str(k.get("source")), {}), allowed)
        blocks.append((title, found))
    loc = report.guarantees.get("location")
    if loc:
        target = getattr(g.risk, "max_unicity", None) if g is not None else None
        blocks.append((f"location on {loc.get('source')}", location_findings(loc, target)))
    for title, found in blocks:
        console.print(f"[bold]{title}[/]", highlight=False)
        for f in found:
            mark = ("warning: ", "bold yellow") if f.warning else ""
            console.print(Text.assemble("  • ", mark, f.text), highlight=False)
