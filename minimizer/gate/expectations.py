"""The gate's custom Great Expectations: one per check, reading :mod:`minimizer.gate.facts`.

Column checks are ``ColumnAggregateExpectation``s whose metric is a count of flagged rows,
computed on the column's distinct values; they pass when it is zero. Their results carry
``observed_value`` (rows flagged), ``unexpected_count``, ``distinct_unexpected`` and
``element_count``: counts, never values, whatever ``result_format`` asks for.

=============================================  =============================================
expectation type                               passes when
=============================================  =============================================
expect_column_values_to_match_output_format    every value has the closed format (token, h3)
expect_column_values_to_not_contain_<kind>     no value holds that PII kind (minimizer.pii)
expect_column_values_to_not_be_raw_identifiers no value (or word of it) equals a raw identifier
expect_column_values_to_not_contain_own_names  no row's text holds its own subject's name
expect_column_values_to_be_within_retention    no time lies before the retention cutoff
expect_table_equivalence_classes_to_have_min   every class over the QIs has >= k rows
expect_table_cells_to_have_min_distinct_subj.  every (cell, bucket) has >= m distinct subjects
=============================================  =============================================

Importing this module registers them with GX (a class statement is the registration).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar, Union

from great_expectations.compatibility.pydantic import Field
from great_expectations.core.metric_domain_types import MetricDomainTypes
from great_expectations.core.suite_parameters import SuiteParameterDict
from great_expectations.execution_engine import ExecutionEngine, PandasExecutionEngine
from great_expectations.expectations.expectation import (
    BatchExpectation,
    ColumnAggregateExpectation,
)
from great_expectations.expectations.metrics.column_aggregate_metric_provider import (
    ColumnAggregateMetricProvider,
)
from great_expectations.expectations.metrics.metric_provider import metric_value
from great_expectations.expectations.metrics.table_metric_provider import TableMetricProvider
from great_expectations.render import LegacyRendererType, RenderedStringTemplateContent
from great_expectations.render.renderer.renderer import renderer

from minimizer.gate.facts import (
    ColumnFacts,
    NoCanaryRecordError,
    TableFacts,
    UnregisteredFrameError,
    registered_facts,
)
from minimizer.hierarchy import TOP
from minimizer.pii import DEFAULT_MAX_DECIMALS, DETECTORS

__all__ = [
    "DETECTOR_EXPECTATIONS",
    "ExpectColumnValuesToBeWithinRetention",
    "ExpectColumnValuesToMatchOutputFormat",
    "ExpectColumnValuesToNotBeRawIdentifiers",
    "ExpectColumnValuesToNotContainOwnNames",
    "ExpectTableCellsToHaveMinDistinctSubjects",
    "ExpectTableEquivalenceClassesToHaveMinSize",
    "GateMetricError",
]


# ---------------------------------------------------------------- metrics


class GateMetricError(RuntimeError):
    """A metric could not be computed. Names the metric, the column and the error type only:
    GX puts this message and its traceback into the results and the Data Docs."""


@contextmanager
def _value_free(metric: str, column: str | None) -> Iterator[None]:
    # pandas and Arrow quote offending values in their messages; none may reach an artefact.
    try:
        yield
    except (NoCanaryRecordError, UnregisteredFrameError):
        raise  # our own messages: they name no value
    except Exception as exc:
        where = f" on column {column!r}" if column else ""
        raise GateMetricError(f"{type(exc).__name__} in {metric}{where}") from None


class _ColumnMetric(ColumnAggregateMetricProvider):
    """A column metric computed from the table's facts (no null filtering, no copies)."""

    @classmethod
    def measure(cls, facts: TableFacts, column: str, **kwargs: Any) -> dict[str, Any]:
        raise NotImplementedError

    @metric_value(engine=PandasExecutionEngine)
    def _pandas(
        cls,
        execution_engine: PandasExecutionEngine,
        metric_domain_kwargs: dict[str, Any],
        metric_value_kwargs: dict[str, Any],
        metrics: dict[str, Any],
        runtime_configuration: dict[str, Any],
    ) -> dict[str, Any]:
        frame, _, accessor = execution_engine.get_compute_domain(
            domain_kwargs=metric_domain_kwargs, domain_type=MetricDomainTypes.COLUMN
        )
        column = accessor["column"]
        with _value_free(cls.metric_name, column):
            return cls.measure(registered_facts(frame), column, **metric_value_kwargs)


class _TableMetric(TableMetricProvider):
    @classmethod
    def measure(cls, facts: TableFacts, **kwargs: Any) -> dict[str, Any]:
        raise NotImplementedError

    @metric_value(engine=PandasExecutionEngine)
    def _pandas(
        cls,
        execution_engine: PandasExecutionEngine,
        metric_domain_kwargs: dict[str, Any],
        metric_value_kwargs: dict[str, Any],
        metrics: dict[str, Any],
        runtime_configuration: dict[str, Any],
    ) -> dict[str, Any]:
        frame, _, _ = execution_engine.get_compute_domain(
            domain_kwargs=metric_domain_kwargs, domain_type=MetricDomainTypes.TABLE
        )
        with _value_free(cls.metric_name, None):
            return cls.measure(registered_facts(frame), **metric_value_kwargs)


class ColumnFormatMismatch(_ColumnMetric):
    metric_name = "column.mz_format_mismatch"
    value_keys = ("format",)

    @classmethod
    def measure(cls, facts: TableFacts, column: str, **kwargs: Any) -> dict[str, Any]:
        return facts.column(column).format_mismatch(kwargs["format"]).as_dict()


class ColumnRawIdentifiers(_ColumnMetric):
    metric_name = "column.mz_raw_identifiers"
    value_keys = ("words",)

    @classmethod
    def measure(cls, facts: TableFacts, column: str, **kwargs: Any) -> dict[str, Any]:
        return facts.canary(column, bool(kwargs.get("words"))).as_dict()


class ColumnOwnNames(_ColumnMetric):
    metric_name = "column.mz_own_names"
    value_keys = ()

    @classmethod
    def measure(cls, facts: TableFacts, column: str, **kwargs: Any) -> dict[str, Any]:
        return facts.own_names(column).as_dict()


class ColumnOlderThanRetention(_ColumnMetric):
    metric_name = "column.mz_older_than_retention"
    value_keys = ("retention_cutoff", "unit")

    @classmethod
    def measure(cls, facts: TableFacts, column: str, **kwargs: Any) -> dict[str, Any]:
        from datetime import datetime

        cutoff = datetime.fromisoformat(str(kwargs["retention_cutoff"]))
        return facts.column(column).older_than(cutoff, kwargs.get("unit") or "").as_dict()


class TableClassSizes(_TableMetric):
    metric_name = "table.mz_class_sizes"
    value_keys = ("columns", "k", "suppressed_value")

    @classmethod
    def measure(cls, facts: TableFacts, **kwargs: Any) -> dict[str, Any]:
        columns = tuple(kwargs["columns"])
        return facts.min_class_size(columns, int(kwargs["k"]), str(kwargs["suppressed_value"]))


class TableCellSubjects(_TableMetric):
    metric_name = "table.mz_cell_subjects"
    value_keys = ("cell", "bucket", "subject", "min_subjects")

    @classmethod
    def measure(cls, facts: TableFacts, **kwargs: Any) -> dict[str, Any]:
        return facts.min_subjects(
            kwargs["cell"], kwargs["bucket"], kwargs["subject"], int(kwargs["min_subjects"])
        )


# ---------------------------------------------------------------- expectations


def _percent(part: int, whole: int) -> float:
    # Own names are counted before the guarantees may suppress rows: part can exceed whole.
    return min(100.0, 100.0 * part / whole) if whole else 0.0


def _sentence(cls: Any, configuration: Any) -> list[RenderedStringTemplateContent]:
    """Data Docs' line for an expectation: its ``sentence`` with every parameter filled in
    (GX leaves parameters equal to their default out of the configuration)."""
    params: dict[str, Any] = {}
    if configuration is not None:
        expectation = configuration.to_domain_obj()
        for key in (*cls.domain_keys, *cls.success_keys, "retention_days"):
            value = getattr(expectation, key, None)
            if value is not None:
                params[key] = ", ".join(value) if isinstance(value, list) else value
    return [
        RenderedStringTemplateContent(
            content_block_type="string_template",
            string_template={"template": cls.sentence, "params": params},
        )
    ]


# How Data Docs names what each detector looks for.
_KIND_PHRASES = {
    "email": "an e-mail address",
    "iban": "an IBAN (checksum valid)",
    "card": "a payment card number (Luhn valid)",
    "ipv4": "an IPv4 address",
    "ipv6": "an IPv6 address",
    "birth_date": "an exact date (a possible date of birth)",
    "phone": "a phone number",
    "street_address": "a street address",
}


class _RowCheck(ColumnAggregateExpectation):
    """Passes when the metric flags no row. ``sentence`` is what Data Docs says it checks."""

    sentence: ClassVar[str] = "$column is checked"
    success_keys: ClassVar[tuple[str, ...]] = ()

    def _validate(
        self,
        metrics: dict[str, Any],
        runtime_configuration: dict[str, Any] | None = None,
        execution_engine: ExecutionEngine | None = None,
    ) -> dict[str, Any]:
        hit = metrics[self.metric_dependencies[0]]
        rows, total = hit["unexpected_count"], hit["element_count"]
        return {
            "success": rows == 0,
            "result": {
                "observed_value": rows,
                **hit,
                "unexpected_percent": _percent(rows, total),
            },
        }

    @classmethod
    @renderer(renderer_type=LegacyRendererType.PRESCRIPTIVE)
    def _prescriptive_renderer(
        cls,
        configuration: Any = None,
        result: Any = None,
        runtime_configuration: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[RenderedStringTemplateContent]:
        return _sentence(cls, configuration)


class ExpectColumnValuesToMatchOutputFormat(_RowCheck):
    """Every value has the closed format its transform produces (a token, an H3 cell)."""

    format: str = Field(description="a name in minimizer.gate.rules.CLOSED_FORMATS")
    metric_dependencies = ("column.mz_format_mismatch",)
    success_keys = ("format",)
    sentence = "$column values must all have the $format format (rows shown are mismatches)"


class ExpectColumnValuesToNotBeRawIdentifiers(_RowCheck):
    """The canary: no value, and for text no word of it, equals a raw identifier value of the
    source (compared as keyed digests of distinct, trimmed, lower-cased text)."""

    words: bool = False
    metric_dependencies = ("column.mz_raw_identifiers",)
    success_keys = ("words",)
    sentence = "$column must not hold a raw identifier of its source (word by word: $words)"


class ExpectColumnValuesToNotContainOwnNames(_RowCheck):
    """No row's text holds its own subject's name as a word (counted while staging)."""

    metric_dependencies = ("column.mz_own_names",)
    sentence = "$column must not hold the row's own first or last name"


class ExpectColumnValuesToBeWithinRetention(_RowCheck):
    """No time lies before the run's retention cutoff, compared at the column's own grain."""

    retention_cutoff: Union[str, SuiteParameterDict]  # noqa: UP007  (pydantic v1 field)
    unit: str = ""
    retention_days: float = 0.0
    metric_dependencies = ("column.mz_older_than_retention",)
    success_keys = ("retention_cutoff", "unit")
    sentence = "$column must lie within the $retention_days day retention (grain: $unit)"


def _detector_expectation(kind: str) -> type[_RowCheck]:
    """One metric and one expectation per registered PII detector."""
    camel = "".join(part.capitalize() for part in kind.split("_"))
    metric = f"column.mz_pii_{kind}"

    def measure(cls: type, facts: TableFacts, column: str, **kwargs: Any) -> dict[str, Any]:
        found: ColumnFacts = facts.column(column)
        decimals = kwargs.get("max_decimals")
        return found.detector(
            kind, DEFAULT_MAX_DECIMALS if decimals is None else decimals
        ).as_dict()

    value_keys = ("max_decimals",) if kind == "precise_coordinates" else ()
    type(
        f"ColumnPii{camel}",
        (_ColumnMetric,),
        {"metric_name": metric, "value_keys": value_keys, "measure": classmethod(measure)},
    )
    namespace: dict[str, Any] = {
        "__doc__": f"No value of the column holds a {kind.replace('_', ' ')} (minimizer.pii).",
        "__module__": __name__,
        "metric_dependencies": (metric,),
        "sentence": f"$column must not contain {_KIND_PHRASES.get(kind, kind)}",
    }
    if kind == "precise_coordinates":
        namespace["__annotations__"] = {"max_decimals": "int"}
        namespace["max_decimals"] = DEFAULT_MAX_DECIMALS
        namespace["success_keys"] = ("max_decimals",)
        namespace["sentence"] = (
            "$column must not contain coordinates with more than $max_decimals decimals"
        )
    return type(f"ExpectColumnValuesToNotContain{camel}", (_RowCheck,), namespace)


# detector kind -> its expectation class, e.g. "email" -> ExpectColumnValuesToNotContainEmail
DETECTOR_EXPECTATIONS: dict[str, type[_RowCheck]] = {
    kind: _detector_expectation(kind) for kind in DETECTORS
}


class _GroupCheck(BatchExpectation):
    """A table-level guarantee, re-checked with a plain group-by on the staged table."""

    sentence: ClassVar[str] = ""

    @classmethod
    @renderer(renderer_type=LegacyRendererType.PRESCRIPTIVE)
    def _prescriptive_renderer(
        cls,
        configuration: Any = None,
        result: Any = None,
        runtime_configuration: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[RenderedStringTemplateContent]:
        return _sentence(cls, configuration)


class ExpectTableEquivalenceClassesToHaveMinSize(_GroupCheck):
    """k-anonymity: every class of rows equal on ``columns`` has at least ``k`` rows. Rows
    suppressed (``suppressed_value`` in every column) are not a class, and are at most
    ``max_suppression`` of the table."""

    columns: list[str]
    k: int
    max_suppression: float = 0.0
    suppressed_value: str = TOP
    metric_dependencies = ("table.mz_class_sizes",)
    success_keys = ("columns", "k", "max_suppression", "suppressed_value")
    sentence = "every class over $columns must have at least $k rows (k-anonymity)"

    def _validate(
        self,
        metrics: dict[str, Any],
        runtime_configuration: dict[str, Any] | None = None,
        execution_engine: ExecutionEngine | None = None,
    ) -> dict[str, Any]:
        found = metrics["table.mz_class_sizes"]
        budget = int(self.max_suppression * found["rows"] + 1e-9)
        success = found["classes_below_k"] == 0 and found["suppressed_rows"] <= budget
        return {
            "success": success,
            "result": {
                "observed_value": found["min_class_size"],
                "unexpected_count": found["rows_in_small_classes"],
                "unexpected_percent": _percent(found["rows_in_small_classes"], found["rows"]),
                "element_count": found["rows"],
                **found,
            },
        }


class ExpectTableCellsToHaveMinDistinctSubjects(_GroupCheck):
    """Location: every (cell, bucket) holds at least ``min_subjects`` distinct subjects."""

    cell: str
    bucket: str
    subject: str
    min_subjects: int
    metric_dependencies = ("table.mz_cell_subjects",)
    success_keys = ("cell", "bucket", "subject", "min_subjects")
    sentence = "every ($cell, $bucket) must hold at least $min_subjects distinct $subject values"

    def _validate(
        self,
        metrics: dict[str, Any],
        runtime_configuration: dict[str, Any] | None = None,
        execution_engine: ExecutionEngine | None = None,
    ) -> dict[str, Any]:
        found = metrics["table.mz_cell_subjects"]
        return {
            "success": found["groups_below_min"] == 0,
            "result": {
                "observed_value": found["min_distinct_subjects"],
                "unexpected_count": found["groups_below_min"],
                "unexpected_percent": _percent(found["groups_below_min"], found["groups"]),
                "element_count": found["groups"],
                **found,
            },
        }
