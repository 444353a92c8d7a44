"""One Great Expectations suite per output table, derived from the policy alone.

No suite is written by hand: the same policy that drives the transforms says what the gate
checks. Stock GX expectations wherever one fits, the gate's own (:mod:`.expectations`) where
none does. Per table, in this order:

1. the exact column set of the loaded table (stock ``expect_table_columns_to_match_set``): the
   policy's outputs, and ``<bucket>_from`` beside each ``sortable`` bucket
   (:func:`minimizer.sortable.loaded_columns`), and ``<cell>_resolution`` after a location
   guarantee's cell when its sizes mix (:func:`~minimizer.guarantees.location.cell_size`);
2. per column, the closed format of pseudonymised (token) and H3-coarsened columns (the format's
   regex over the distinct values: GX's stock regex expectation runs it on every row, which
   alone costs more than the minimisation of a million rows);
3. per column that is neither a truncated date/time nor in a closed format (which the format
   check already holds to a PII-free alphabet): every PII detector of ``minimizer.pii``
   (coordinates against the policy's own grid, else 3 decimals), and for text columns also
   the stock ``expect_column_values_to_not_match_regex_list`` with plain e-mail addresses;
4. per such column, the canary (on pieces of the text too for kept and scrubbed text), and for
   kept or scrubbed text of a source that reads name columns, the own-name check;
5. retention on the time column: no value before the run's cutoff (a suite parameter,
   ``retention_cutoff``, given at validation);
6. the guarantees the policy declares, as stock ``UnexpectedRowsExpectation`` SQL: k-anonymity
   (classes over the quasi-identifiers with fewer than k **distinct subjects** when the table
   publishes a stable pseudonym of its key, else fewer than k rows; and the suppression budget)
   and location (cells with fewer than m distinct subjects; and cells of one size: each
   cell's resolution, read from its index, is the policy's, or within the raised range and
   equal to ``<cell>_resolution``). The queries select counts only, so even GX's COMPLETE
   result format shows no published value;
7. per sortable bucket, stock ``UnexpectedRowsExpectation`` SQL that recomputes each row's
   lower bound from its label (``[25, 50)`` -> 25, ``>=500`` -> 500, ``<0`` -> -inf, ``*`` and
   NULL -> NULL) and counts the rows whose ``<bucket>_from`` differs: a bound that says more
   than its label (a raw amount, a bound left on a suppressed row) fails.

>>> from minimizer.policy import load_policy
>>> suites = build_suites(load_policy("configs/purposes/footfall_heatmap.yaml"))
>>> [e.expectation_type for e in suites["events"].expectations][:3]
['expect_table_columns_to_match_set', 'expect_column_values_to_match_output_format', \
'expect_column_values_to_not_be_raw_identifiers']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa
from great_expectations import ExpectationSuite
from great_expectations.expectations import (
    ExpectColumnValuesToNotMatchRegexList,
    ExpectTableColumnsToMatchSet,
    UnexpectedRowsExpectation,
)
from great_expectations.expectations.expectation import Expectation

from minimizer.gate.expectations import (
    CANARY_PARAMETER,
    DETECTOR_EXPECTATIONS,
    ExpectColumnValuesToBeWithinRetention,
    ExpectColumnValuesToMatchOutputFormat,
    ExpectColumnValuesToNotBeRawIdentifiers,
    ExpectColumnValuesToNotContainOwnNames,
)
from minimizer.gate.rules import identifier_plan, output_checks
from minimizer.guarantees.location import location_cell_size
from minimizer.hierarchy import TOP
from minimizer.policy import Policy, SourceSpec
from minimizer.sortable import SUFFIX, loaded_columns, sortable_buckets

__all__ = [
    "EMAIL_REGEX",
    "RETENTION_PARAMETER",
    "build_suites",
    "subject_column",
    "suite_name",
    "table_columns",
]

RETENTION_PARAMETER = "retention_cutoff"
# Written for both RE2 (DuckDB) and PostgreSQL's regular expressions: ASCII classes only.
EMAIL_REGEX = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"


def suite_name(purpose: str, table: str) -> str:
    return f"{purpose}.{table}"


def subject_column(spec: SourceSpec) -> str | None:
    """The output holding a stable pseudonym of the source's key: one token per person, so
    distinct tokens count people (a rotating pseudonym gives one person many tokens)."""
    if spec.key is None:
        return None
    for out, transform in spec.outputs().items():
        if (
            transform.action == "pseudonymise"
            and transform.source_of(out) == spec.key
            and getattr(transform, "rotate", "never") == "never"
        ):
            return out
    return None


def _ident(name: str) -> str:
    """A quoted SQL identifier (DuckDB and PostgreSQL alike)."""
    return '"' + name.replace('"', '""') + '"'


def _is_text(schema: pa.Schema | None, column: str) -> bool:
    if schema is None or column not in schema.names:
        return False
    kind = schema.field(column).type
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def _column_expectations(
    policy: Policy, source: str, schema: pa.Schema | None
) -> list[Expectation]:
    checks, max_decimals = output_checks(policy, source)
    plan = identifier_plan(policy, source)  # own names: read, or the CRM's through the key
    names_read = plan.checks_own_names
    record = {"$PARAMETER": CANARY_PARAMETER}
    found: list[Expectation] = []
    for check in checks:
        if check.format:
            found.append(
                ExpectColumnValuesToMatchOutputFormat(column=check.column, format=check.format)
            )
        if not check.temporal:
            # A closed format holds no PII and anything else fails the format check: the
            # detectors would only say what else it is (and cost a GX expectation each).
            for kind, expectation in DETECTOR_EXPECTATIONS.items() if not check.format else ():
                extra: dict[str, Any] = (
                    {"max_decimals": max_decimals} if kind == "precise_coordinates" else {}
                )
                found.append(expectation(column=check.column, **extra))
            if _is_text(schema, check.column) and not check.format:
                found.append(
                    ExpectColumnValuesToNotMatchRegexList(
                        column=check.column,
                        regex_list=[EMAIL_REGEX],
                        description=f"**{check.column}** holds no plain e-mail address",
                    )
                )
            found.append(
                ExpectColumnValuesToNotBeRawIdentifiers(
                    column=check.column, words=check.text, canary_record=record
                )
            )
            if names_read and check.column in plan.text_outputs:  # keep, scrub, mask, prefix
                found.append(
                    ExpectColumnValuesToNotContainOwnNames(
                        column=check.column, canary_record=record
                    )
                )
        if check.retention_unit is not None:
            found.append(
                ExpectColumnValuesToBeWithinRetention(
                    column=check.column,
                    retention_cutoff={"$PARAMETER": RETENTION_PARAMETER},
                    unit=check.retention_unit,
                    retention_days=policy.retention_days,
                )
            )
    return found


def _k_anonymity(policy: Policy, source: str) -> list[Expectation]:
    g = policy.guarantees.k_anonymity
    if g is None or g.source != source:
        return []
    spec = policy.sources[source]
    subject = subject_column(spec)
    qis = [_ident(q) for q in g.quasi_identifiers]
    top = TOP.replace("'", "''")
    suppressed = " AND ".join(f"COALESCE(CAST({q} AS VARCHAR) = '{top}', FALSE)" for q in qis)
    size = f"COUNT(DISTINCT {_ident(subject)})" if subject else "COUNT(*)"
    unit = f"distinct {subject} values" if subject else "rows"
    classes = (
        f"SELECT {size} AS class_size FROM {{batch}} WHERE NOT ({suppressed}) "
        f"GROUP BY {', '.join(qis)} HAVING {size} < {int(g.k)}"
    )
    budget = (
        "SELECT suppressed_rows FROM (SELECT "
        f"SUM(CASE WHEN {suppressed} THEN 1 ELSE 0 END) AS suppressed_rows, "
        f"COUNT(*) AS table_rows FROM {{batch}}) AS totals "
        f"WHERE suppressed_rows > FLOOR({float(g.max_suppression)!r} * table_rows + 1e-9)"
    )
    columns = ", ".join(g.quasi_identifiers)
    return [
        UnexpectedRowsExpectation(
            unexpected_rows_query=classes,
            description=f"k-anonymity: every class over ({columns}) holds at least {g.k} "
            f"{unit} (rows suppressed to {TOP} everywhere are not a class)",
            meta={"check": "k_anonymity", "columns": list(g.quasi_identifiers)},
        ),
        UnexpectedRowsExpectation(
            unexpected_rows_query=budget,
            description=f"k-anonymity: at most {g.max_suppression:.2%} of the rows are "
            f"suppressed to {TOP} in every quasi-identifier ({columns})",
            meta={"check": "k_anonymity_suppression", "columns": list(g.quasi_identifiers)},
        ),
    ]


def _location(policy: Policy, source: str) -> list[Expectation]:
    g = policy.guarantees.location
    if g is None or g.source != source:
        return []
    c, b, s = _ident(g.cell), _ident(g.bucket), _ident(g.subject)
    query = (
        f"SELECT COUNT(DISTINCT {s}) AS subjects FROM {{batch}} "
        f"WHERE {c} IS NOT NULL AND {b} IS NOT NULL AND {s} IS NOT NULL "
        f"GROUP BY {c}, {b} HAVING COUNT(DISTINCT {s}) < {int(g.min_distinct_subjects_per_cell)}"
    )
    return [
        UnexpectedRowsExpectation(
            unexpected_rows_query=query,
            description=f"location: every ({g.cell}, {g.bucket}) holds at least "
            f"{g.min_distinct_subjects_per_cell} distinct {g.subject} values",
            meta={"check": "location", "columns": [g.cell, g.bucket]},
        )
    ]


def _cell_sizes(policy: Policy, source: str) -> list[Expectation]:
    """Cells of one size, or a ``<cell>_resolution`` naming each row's: the resolution is read
    from the cell's own bits (the second hex digit of an H3 cell index, after the ``8`` of
    its mode), in SQL that DuckDB and PostgreSQL both run, independent of the H3 library that
    raised the cells (:func:`minimizer.guarantees.location.check_cell_sizes` is its twin)."""
    size = location_cell_size(policy, source)
    if size is None:
        return []
    c = _ident(size.column)
    digit = (
        f"CASE WHEN {c} LIKE '8%' AND LENGTH({c}) = 15 THEN "
        f"POSITION(SUBSTRING({c} FROM 2 FOR 1) IN '0123456789abcdef') - 1 ELSE -1 END"
    )
    lo, hi = size.min_resolution, size.resolution
    wrong = f"({c} IS NOT NULL AND ({digit}) NOT BETWEEN {lo} AND {hi})"
    if size.resolution_column is not None:
        # The column must say the cell's size, and nothing where there is no cell.
        r = _ident(size.resolution_column)
        wrong += f" OR {r} IS DISTINCT FROM (CASE WHEN {c} IS NOT NULL THEN {digit} END)"
        says = f"H3 resolutions {lo}-{hi}, and **{size.resolution_column}** is each row's"
    else:
        says = f"H3 resolution {hi} only"
    query = f"SELECT COUNT(*) AS mismatched_rows FROM {{batch}} WHERE {wrong} HAVING COUNT(*) > 0"
    columns = [size.column, *([size.resolution_column] if size.resolution_column else [])]
    return [
        UnexpectedRowsExpectation(
            unexpected_rows_query=query,
            description=f"cell size: every **{size.column}** is an H3 cell of {says}",
            meta={"check": "cell_size", "columns": columns},
        )
    ]


def _sortable_bounds(policy: Policy, source: str) -> list[Expectation]:
    """Each ``<bucket>_from`` is its label's lower bound, recomputed in SQL that DuckDB and
    PostgreSQL both run (CASE, so a label is cast only where it has the form)."""
    found: list[Expectation] = []
    for bucket in sortable_buckets(policy, source):
        label, bound = _ident(bucket), _ident(bucket + SUFFIX)
        expected = (
            f"CASE WHEN {label} LIKE '[%' THEN CAST(SUBSTRING({label} FROM 2 FOR "
            f"POSITION(',' IN {label}) - 2) AS DOUBLE PRECISION) "
            f"WHEN {label} LIKE '>=%' THEN CAST(SUBSTRING({label} FROM 3) AS DOUBLE PRECISION) "
            f"WHEN {label} LIKE '<%' THEN CAST('-inf' AS DOUBLE PRECISION) END"
        )
        query = (
            f"SELECT COUNT(*) AS mismatched_rows FROM {{batch}} "
            f"WHERE {bound} IS DISTINCT FROM ({expected}) HAVING COUNT(*) > 0"
        )
        found.append(
            UnexpectedRowsExpectation(
                unexpected_rows_query=query,
                description=f"sortable: **{bucket}{SUFFIX}** is the lower bound of the label in "
                f"**{bucket}** in every row (NULL for {TOP} and NULL), so it tells no more",
                meta={"check": "sortable_bound", "columns": [bucket, bucket + SUFFIX]},
            )
        )
    return found


def table_columns(policy: Policy, source: str) -> list[str]:
    """The columns of the source's loaded table, in order, from the policy alone (what the
    column-set check expects): the outputs and ``<bucket>_from`` of sortable buckets
    (:func:`minimizer.sortable.loaded_columns`), and ``<cell>_resolution`` right after a
    location guarantee's cell when its sizes mix."""
    columns = loaded_columns(policy, source)
    size = location_cell_size(policy, source)
    if size is not None and size.resolution_column is not None:
        columns.insert(columns.index(size.column) + 1, size.resolution_column)
    return columns


def build_suites(
    policy: Policy, schemas: Mapping[str, pa.Schema] | None = None
) -> dict[str, ExpectationSuite]:
    """The suite of every output table of the policy, by table (source) name. ``schemas``
    (the staged tables' Arrow schemas) tell which columns hold text, for the stock regex
    checks that only apply to text; without them those are left out.

    A suite checks a table as it is loaded, sortable bounds included: the gate shows it the
    staged file with the bounds the load will add (minimizer.gate.validate)."""
    suites = {}
    for source in policy.sources:
        schema = (schemas or {}).get(source)
        expectations: list[Expectation] = [
            ExpectTableColumnsToMatchSet(
                column_set=table_columns(policy, source), exact_match=True
            ),
            *_column_expectations(policy, source, schema),
            *_k_anonymity(policy, source),
            *_location(policy, source),
            *_cell_sizes(policy, source),
            *_sortable_bounds(policy, source),
        ]
        suites[source] = _suite(policy, source, expectations, "minimizer.gate from the policy")
    return suites


def _suite(
    policy: Policy, source: str, expectations: list[Expectation], generated_by: str
) -> ExpectationSuite:
    """A table's suite, named and stamped with the policy it derives from."""
    meta = {
        "generated_by": generated_by,
        "policy_sha256": policy.sha256,
        "policy_file": policy.file,
    }
    return ExpectationSuite(
        name=suite_name(policy.purpose, source), expectations=expectations, meta=meta
    )


def loaded_aggregate_suites(policy: Policy) -> dict[str, ExpectationSuite]:
    """The suite of each aggregate table as it is LOADED (group counts, not the staged rows the
    run's gate checks): what `audit verify` re-runs against the warehouse. Derived from the
    policy: the columns are the group-by keys and the measures; no published group is below
    ``min_distinct_subjects`` (the released, possibly noisy, count: what the run withheld on);
    keys are null only in the pooled remainder row."""
    suites = {}
    for source, spec in policy.sources.items():
        agg = spec.aggregate
        if agg is None:
            continue
        keys = [_ident(k) for k in agg.by]
        any_null = " OR ".join(f"{k} IS NULL" for k in keys)
        all_null = " AND ".join(f"{k} IS NULL" for k in keys)
        expectations: list[Expectation] = [
            ExpectTableColumnsToMatchSet(column_set=[*agg.by, *agg.measures], exact_match=True),
        ]
        if "distinct_subjects" in agg.measures:
            small = f"distinct_subjects < {int(agg.min_distinct_subjects)}"
            if agg.small_groups == "remainder":
                small = f"({small}) AND NOT ({all_null})"
            expectations.append(
                UnexpectedRowsExpectation(
                    unexpected_rows_query=f"SELECT * FROM {{batch}} WHERE {small}",
                    description=f"aggregate: every published group counts at least "
                    f"{agg.min_distinct_subjects} distinct subjects",
                    meta={"check": "aggregate_threshold", "columns": list(agg.by)},
                )
            )
        remainder = f" AND NOT ({all_null})" if agg.small_groups == "remainder" else ""
        expectations.append(
            UnexpectedRowsExpectation(
                unexpected_rows_query=f"SELECT * FROM {{batch}} WHERE ({any_null}){remainder}",
                description="aggregate: group keys are never null"
                + (" (but in the one remainder row)" if remainder else ""),
                meta={"check": "aggregate_keys", "columns": list(agg.by)},
            )
        )
        made_by = "minimizer.gate from the policy (aggregate, as loaded)"
        suites[source] = _suite(policy, source, expectations, made_by)
    return suites
