"""One Great Expectations suite per output table, derived from the policy alone.

No suite is written by hand: the same policy that drives the transforms says what the gate
checks. Per table, in this order:

1. the exact output column set (a drifted or misnamed column fails);
2. per column, the closed format of pseudonymised (token) and H3-coarsened columns;
3. per column that is not a truncated date/time, every PII detector of ``minimizer.pii``
   (coordinates against the policy's own grid, else 3 decimals);
4. per such column, the canary (on words too for kept and scrubbed text), and for kept or
   scrubbed text of a source that reads name columns, the own-name check;
5. retention on the time column: no value before the run's cutoff (a suite parameter,
   ``retention_cutoff``, given at validation);
6. the guarantees the policy declares: k-anonymity (min class size over the quasi-identifiers)
   and location (min distinct subjects per cell and bucket).

>>> from minimizer.policy import load_policy
>>> suites = build_suites(load_policy("configs/purposes/footfall_heatmap.yaml"))
>>> [e.expectation_type for e in suites["events"].expectations][:3]
['expect_table_columns_to_match_set', 'expect_column_values_to_match_output_format', \
'expect_column_values_to_not_contain_email']
"""

from __future__ import annotations

from great_expectations import ExpectationSuite
from great_expectations.expectations import ExpectTableColumnsToMatchSet
from great_expectations.expectations.expectation import Expectation

from minimizer.gate.expectations import (
    DETECTOR_EXPECTATIONS,
    ExpectColumnValuesToBeWithinRetention,
    ExpectColumnValuesToMatchOutputFormat,
    ExpectColumnValuesToNotBeRawIdentifiers,
    ExpectColumnValuesToNotContainOwnNames,
    ExpectTableCellsToHaveMinDistinctSubjects,
    ExpectTableEquivalenceClassesToHaveMinSize,
)
from minimizer.gate.rules import identifier_plan, output_checks
from minimizer.policy import Policy

__all__ = ["RETENTION_PARAMETER", "build_suites", "suite_name"]

RETENTION_PARAMETER = "retention_cutoff"


def suite_name(purpose: str, table: str) -> str:
    return f"{purpose}.{table}"


def _column_expectations(policy: Policy, source: str) -> list[Expectation]:
    checks, max_decimals = output_checks(policy, source)
    names_read = bool(identifier_plan(policy, source).names)
    found: list[Expectation] = []
    for check in checks:
        if check.format:
            found.append(
                ExpectColumnValuesToMatchOutputFormat(column=check.column, format=check.format)
            )
        if not check.temporal:
            for kind, expectation in DETECTOR_EXPECTATIONS.items():
                extra = {"max_decimals": max_decimals} if kind == "precise_coordinates" else {}
                found.append(expectation(column=check.column, **extra))
            found.append(
                ExpectColumnValuesToNotBeRawIdentifiers(column=check.column, words=check.text)
            )
            if check.text and names_read:
                found.append(ExpectColumnValuesToNotContainOwnNames(column=check.column))
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


def _guarantee_expectations(policy: Policy, source: str) -> list[Expectation]:
    g = policy.guarantees
    found: list[Expectation] = []
    if g.k_anonymity is not None and g.k_anonymity.source == source:
        found.append(
            ExpectTableEquivalenceClassesToHaveMinSize(
                columns=list(g.k_anonymity.quasi_identifiers),
                k=g.k_anonymity.k,
                max_suppression=g.k_anonymity.max_suppression,
            )
        )
    if g.location is not None and g.location.source == source:
        found.append(
            ExpectTableCellsToHaveMinDistinctSubjects(
                cell=g.location.cell,
                bucket=g.location.bucket,
                subject=g.location.subject,
                min_subjects=g.location.min_distinct_subjects_per_cell,
            )
        )
    return found


def build_suites(policy: Policy) -> dict[str, ExpectationSuite]:
    """The suite of every output table of the policy, by table (source) name."""
    suites = {}
    for source, spec in policy.sources.items():
        expectations: list[Expectation] = [
            ExpectTableColumnsToMatchSet(column_set=list(spec.outputs()), exact_match=True),
            *_column_expectations(policy, source),
            *_guarantee_expectations(policy, source),
        ]
        suites[source] = ExpectationSuite(
            name=suite_name(policy.purpose, source),
            expectations=expectations,
            meta={
                "generated_by": "minimizer.gate from the policy",
                "policy_sha256": policy.sha256,
                "policy_file": policy.file,
            },
        )
    return suites
