"""The gate's checks of an aggregate table, on the table that would be loaded.

The row-level gate checks what the guarantees leave; an aggregate source replaces those rows by
its group counts afterwards, so the table that is loaded needs checks of its own. Independent of
the code that built it (:mod:`.aggregate`, :mod:`.dp`), on the published table alone (and, when
given, the rows it was counted from), this fails closed if:

* **a column is not a declared key or measure**: in particular the subject column, any column
  the source pseudonymises or encrypts the key into, and any text value shaped like a token
  (``mzp<version>_<32 hex>``), wherever it is;
* **a key is not at its declared resolution**: an H3 cell column holds only valid cells at the
  policy's resolution (one cell size: aggregates never raise a cell), an hourly column only
  whole hours; null keys only in a remainder row (``small_groups: remainder``);
* **a group under the threshold is published**: every row's distinct-subject count (the noisy
  one with dp, which is what dp's post-processing promises; the events count when dp publishes
  no distinct count) is at least ``min_distinct_subjects``. Without dp and given the rows, every
  keyed group is recounted from them with a plain pandas group-by, and must match.

Errors and figures hold names and counts only, never a value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import h3
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from minimizer.errors import GateError
from minimizer.policy import AggregateSpec, Policy, SourceSpec
from minimizer.report import RunReport
from minimizer.transforms.coarsen import Coarsen
from minimizer.transforms.encrypt import Encrypt
from minimizer.transforms.pseudonymise import Pseudonymise
from minimizer.transforms.truncate_time import TruncateTime

__all__ = [
    "AGGREGATE_GATE_KEY",
    "AggregateCheck",
    "check_aggregate_table",
    "check_staged_aggregates",
    "raise_on_failure",
]

AGGREGATE_GATE_KEY = "aggregate_gate"  # report.gate[...]: the figures of these checks
_TOKEN = r"^mzp[0-9]+_[0-9a-f]{32}$"


@dataclass
class AggregateCheck:
    """The outcome for one aggregate table: figures for the audit record, and the failures in
    the gate's shape (table, column, expectation, unexpected_count, element_count)."""

    table: str
    rows: int
    failures: list[dict[str, object]] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        return not self.failures

    def fail(self, column: str | None, expectation: str, count: int) -> None:
        self.failures.append(
            {
                "table": self.table,
                "column": column,
                "expectation": expectation,
                "unexpected_count": int(count),
                "element_count": self.rows,
            }
        )

    def summary(self) -> dict[str, Any]:
        return {"rows": self.rows, "failures": len(self.failures), **self.figures}


def _subject_columns(spec: SourceSpec, agg: AggregateSpec) -> set[str]:
    """Output columns that name a subject: the counted one, and tokens or seals of the key."""
    named = {agg.subject}
    for out, t in spec.outputs().items():
        if isinstance(t, Pseudonymise | Encrypt):
            named.add(out)
    return named


def _columns(check: AggregateCheck, table: pa.Table, spec: SourceSpec, agg: AggregateSpec) -> None:
    allowed = [*agg.by, *agg.measures]
    names = table.column_names
    subjects = _subject_columns(spec, agg)
    for name in names:
        if name in subjects:
            check.fail(name, "aggregate publishes no subject or token column", check.rows)
        elif name not in allowed:
            check.fail(name, "aggregate publishes only its keys and measures", check.rows)
    for name in allowed:
        if name not in names:
            check.fail(name, "declared key or measure is published", check.rows)
    for name in names:
        column = table.column(name)
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            tokens = int(pc.sum(pc.match_substring_regex(column, _TOKEN)).as_py() or 0)
            if tokens:
                check.fail(name, "no value shaped like a subject token", tokens)


def _null_keys(check: AggregateCheck, table: pa.Table, agg: AggregateSpec, keep: set[str]) -> None:
    """Null keys belong to remainder rows only: every pooled key null, the kept ones not."""
    keys = [c for c in agg.by if c in table.column_names]
    if not keys:
        return
    nulls = {c: table.column(c).is_null() for c in keys}
    pooled = [c for c in keys if c not in keep]
    any_null = nulls[keys[0]]
    for c in keys[1:]:
        any_null = pc.or_(any_null, nulls[c])
    if agg.small_groups != "remainder" or not pooled:
        bad = int(pc.sum(any_null).as_py() or 0)
        if bad:
            check.fail(keys[0], "group keys are never null (no remainder row)", bad)
        return
    remainder = nulls[pooled[0]]
    for c in pooled[1:]:
        remainder = pc.and_(remainder, nulls[c])
    for c in keep & set(keys):
        remainder = pc.and_(remainder, pc.invert(nulls[c]))
    bad = int(pc.sum(pc.and_(any_null, pc.invert(remainder))).as_py() or 0)
    if bad:
        check.fail(keys[0], "null keys only in a whole remainder row", bad)
    check.figures["remainder_rows"] = int(pc.sum(remainder).as_py() or 0)


def _resolutions(
    check: AggregateCheck, table: pa.Table, spec: SourceSpec, agg: AggregateSpec
) -> None:
    outputs = spec.outputs()
    found: dict[str, int] = {}
    for name in agg.by:
        if name not in table.column_names:
            continue
        t = outputs.get(name)
        column = table.column(name)
        if isinstance(t, Coarsen) and t.method == "h3":
            want = int(t.resolution or 0)
            found[name] = want
            values = column.drop_null()
            if pa.types.is_dictionary(values.type):
                values = values.cast(values.type.value_type)
            codes, uniques = pd.factorize(pd.Series(values.to_pandas(), dtype="object"))
            # H3 is called once per distinct cell, never per row.
            ok = pd.Series([_at_resolution(str(u), want) for u in uniques], dtype=bool)
            bad = int((~ok.to_numpy()[codes]).sum()) if len(codes) else 0
            if bad:
                check.fail(name, f"valid H3 cells at resolution {want} only", bad)
        elif (
            isinstance(t, TruncateTime)
            and t.method == "hour"
            and pa.types.is_timestamp(column.type)
        ):
            values = column.drop_null()
            whole = pc.equal(pc.floor_temporal(values, unit="hour"), values)
            bad = len(values) - int(pc.sum(whole).as_py() or 0)
            if bad:
                check.fail(name, "whole hours only", bad)
    if found:
        check.figures["cell_resolution"] = found


def _at_resolution(cell: str, resolution: int) -> bool:
    text = cell.lower()
    return bool(h3.is_valid_cell(text)) and h3.get_resolution(text) == resolution


def _threshold(check: AggregateCheck, table: pa.Table, agg: AggregateSpec) -> None:
    m = int(agg.min_distinct_subjects)
    measure = "distinct_subjects" if "distinct_subjects" in table.column_names else None
    if measure is None and agg.dp is not None and "events" in table.column_names:
        measure = "events"  # what dp's post-processing withholds on without a distinct count
    check.figures["min_distinct_subjects"] = m
    if measure is None:
        return
    counts = table.column(measure)
    under = int(pc.sum(pc.fill_null(pc.less(counts, m), True)).as_py() or 0)
    if under:
        check.fail(measure, f"every published group holds at least {m} distinct subjects", under)
    smallest = pc.min(counts).as_py()
    check.figures["min_published_" + measure] = None if smallest is None else int(smallest)
    check.figures["threshold_on"] = f"noisy {measure}" if agg.dp is not None else measure


def _recount(check: AggregateCheck, table: pa.Table, agg: AggregateSpec, rows: pa.Table) -> None:
    """Without dp: every keyed group, recounted from the rows, holds >= m subjects (and as many
    as published). Remainder rows pool groups; their count is checked by :func:`_threshold`."""
    m = int(agg.min_distinct_subjects)
    by = list(agg.by)
    if any(c not in table.column_names for c in by):
        return
    # Arrow's own group-by and join: no code shared with the DuckDB query that built the table.
    raw = rows.select([*by, agg.subject]).drop_null()
    counted = raw.group_by(by).aggregate([(agg.subject, "count_distinct")])
    truth = counted.select([*by, f"{agg.subject}_count_distinct"]).rename_columns([*by, "_truth"])
    keyed = table.select(
        by + [c for c in ("distinct_subjects",) if c in table.column_names]
    ).drop_null()
    joined = keyed.join(truth, keys=by, join_type="left outer")
    recount = pc.fill_null(joined.column("_truth"), 0)
    under = int(pc.sum(pc.less(recount, m)).as_py() or 0)
    if under:
        check.fail(
            by[0], f"recounted from the rows, every group holds at least {m} subjects", under
        )
    if "distinct_subjects" in joined.column_names:
        published = joined.column("distinct_subjects").cast(pa.int64())
        wrong = int(pc.sum(pc.not_equal(recount.cast(pa.int64()), published)).as_py() or 0)
        if wrong:
            check.fail("distinct_subjects", "published counts equal the recount", wrong)
    check.figures["recounted_groups"] = joined.num_rows


def check_aggregate_table(
    policy: Policy,
    source: str,
    table: pa.Table,
    *,
    rows: pa.Table | None = None,
    remainder_by: tuple[str, ...] = (),
) -> AggregateCheck:
    """Check the aggregate table of ``source`` that would be loaded (see the module doc).

    ``rows``: the minimised rows it was counted from (optional; without dp, keyed groups are
    then recounted). ``remainder_by``: keys a remainder row keeps (the time bucket). Returns the
    outcome; :func:`check_staged_aggregates` raises on failure."""
    spec = policy.sources[source]
    agg = spec.aggregate
    if agg is None:
        raise ValueError(f"source {source!r} publishes no aggregate")
    check = AggregateCheck(table=source, rows=table.num_rows)
    _columns(check, table, spec, agg)
    _null_keys(check, table, agg, set(remainder_by))
    _resolutions(check, table, spec, agg)
    _threshold(check, table, agg)
    if rows is not None and agg.dp is None:
        _recount(check, table, agg, rows)
    check.figures["dp"] = agg.dp is not None
    return check


def raise_on_failure(checks: Mapping[str, AggregateCheck]) -> None:
    """GateError (exit 3) naming every failed expectation, by table, column and count."""
    failures = [f for c in checks.values() for f in c.failures]
    if not failures:
        return
    first = failures[0]
    shown = "; ".join(
        f"{f['table']}.{f['column'] or '*'}: {f['expectation']} "
        f"(unexpected_count={f['unexpected_count']})"
        for f in failures[:5]
    )
    raise GateError(
        f"aggregate gate failed, nothing loaded: {len(failures)} expectation(s) failed: {shown}",
        table=str(first["table"]),
        column=str(first["column"]) if first.get("column") else None,
        check="aggregate_gate",
        count=len(failures),
        failures=failures,
    )


def check_staged_aggregates(
    policy: Policy, report: RunReport, rows: Mapping[str, pa.Table] | None = None
) -> dict[str, AggregateCheck]:
    """Check every aggregate source's staged table of the run (after the aggregates replaced
    the rows); record the figures in ``report.gate[AGGREGATE_GATE_KEY]``; GateError (exit 3)
    on any failure, so nothing is loaded."""
    from minimizer.outcome import time_output

    checks: dict[str, AggregateCheck] = {}
    for name, spec in policy.sources.items():
        rep = report.sources.get(name)
        if spec.aggregate is None or rep is None or rep.staged is None:
            continue
        time_col = time_output(spec)
        keep = (time_col,) if time_col in spec.aggregate.by and time_col else ()
        table = pq.read_table(rep.staged)
        checks[name] = check_aggregate_table(
            policy, name, table, rows=(rows or {}).get(name), remainder_by=keep
        )
    if checks:
        report.gate[AGGREGATE_GATE_KEY] = {n: c.summary() for n, c in checks.items()}
    raise_on_failure(checks)
    return checks
