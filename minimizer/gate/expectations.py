"""The gate's custom Great Expectations, for what no stock expectation can check.

Stock expectations do the rest (:mod:`minimizer.gate.suite`): column sets, e-mail addresses (a
regex list), the row count, k-anonymity and cell sizes (``UnexpectedRowsExpectation``). The custom ones here are ``ColumnAggregateExpectation``s over
SQL batches: their metrics run against the column GX passes in (the staged Parquet through
DuckDB, or a loaded warehouse table). One shared metric, ``column.mz_distinct``, asks the
database for the column's distinct values and their row counts once
(``SELECT c, COUNT(*) ... GROUP BY c``); every check on that column works on its answer
(:class:`~minimizer.gate.facts.ColumnFacts`) and reports counts, never values:
``observed_value`` (rows flagged), ``unexpected_count``, ``distinct_unexpected``,
``element_count``.

=============================================  =============================================
expectation type                               passes when
=============================================  =============================================
expect_column_values_to_match_output_format    every value has the closed format (token, h3)
expect_column_values_to_not_contain_<kind>     no value holds that PII kind (minimizer.pii)
expect_column_values_to_not_be_raw_identifiers no value (or piece of it) equals a raw identifier
expect_column_values_to_not_contain_own_names  no row's text holds its own subject's name
expect_column_values_to_be_within_retention    no time lies before the retention cutoff
=============================================  =============================================

The canary and the own-name check compare with the run's raw side: the canary record (a file
path, the suite parameter ``canary_record``) and the run's canary key, which
:func:`canary_key` lends the metric for the duration of one validation (a context variable, so
the key is never part of a suite, a result or Data Docs). Outside a run they cannot measure and
fail closed; ``minimizer audit verify`` leaves them out, as it has no raw side.

Importing this module registers them with GX (a class statement is the registration).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Union

from great_expectations.compatibility.sqlalchemy import sqlalchemy as sa
from great_expectations.core.metric_domain_types import MetricDomainTypes
from great_expectations.core.suite_parameters import SuiteParameterDict
from great_expectations.execution_engine import ExecutionEngine, SqlAlchemyExecutionEngine
from great_expectations.expectations.expectation import ColumnAggregateExpectation
from great_expectations.expectations.metrics.column_aggregate_metric_provider import (
    ColumnAggregateMetricProvider,
)
from great_expectations.expectations.metrics.metric_provider import metric_value
from great_expectations.render import LegacyRendererType, RenderedStringTemplateContent
from great_expectations.render.renderer.renderer import renderer
from great_expectations.validator.metric_configuration import MetricConfiguration

from minimizer.gate.canary import CanaryRecord
from minimizer.gate.facts import ColumnFacts, Hit
from minimizer.pii import DEFAULT_MAX_DECIMALS, DETECTORS

__all__ = [
    "CANARY_PARAMETER",
    "DETECTOR_EXPECTATIONS",
    "RUN_ONLY",
    "ExpectColumnValuesToBeWithinRetention",
    "ExpectColumnValuesToMatchOutputFormat",
    "ExpectColumnValuesToNotBeRawIdentifiers",
    "ExpectColumnValuesToNotContainOwnNames",
    "GateMetricError",
    "NoCanaryKeyError",
    "canary_key",
]

CANARY_PARAMETER = "canary_record"
# Expectation types that need the run's raw side (or its staged file): a re-run against the
# warehouse (``minimizer audit verify``) cannot evaluate them and leaves them out, counted.
RUN_ONLY = frozenset(
    {
        "expect_column_values_to_not_be_raw_identifiers",
        "expect_column_values_to_not_contain_own_names",
        "expect_table_row_count_to_equal",
    }
)
_KEY: ContextVar[bytes | None] = ContextVar("minimizer_gate_canary_key", default=None)


class GateMetricError(RuntimeError):
    """A metric could not be computed. Names the metric, the column and the error type only:
    GX puts this message and its traceback into the results and the Data Docs."""


class NoCanaryKeyError(RuntimeError):
    """The canary was asked to measure outside a gate run: no key, no comparison."""


@contextmanager
def canary_key(secret: bytes) -> Iterator[None]:
    """Lend the canary metric the run's key while a validation runs in this context."""
    token = _KEY.set(secret)
    try:
        yield
    finally:
        _KEY.reset(token)


@contextmanager
def _value_free(metric: str, column: str | None) -> Iterator[None]:
    # Drivers, pandas and Arrow quote offending values in their messages; none may reach an
    # artefact.
    try:
        yield
    except NoCanaryKeyError:
        raise  # our own message: it names no value
    except Exception as exc:
        where = f" on column {column!r}" if column else ""
        raise GateMetricError(f"{type(exc).__name__} in {metric}{where}") from None


# ---------------------------------------------------------------- metrics


class ColumnDistinct(ColumnAggregateMetricProvider):
    """The column's distinct values and rows per value, from one ``GROUP BY`` in the database."""

    metric_name = "column.mz_distinct"

    @metric_value(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(
        cls,
        execution_engine: SqlAlchemyExecutionEngine,
        metric_domain_kwargs: dict[str, Any],
        metric_value_kwargs: dict[str, Any],
        metrics: dict[str, Any],
        runtime_configuration: dict[str, Any],
    ) -> ColumnFacts:
        selectable, _, accessor = execution_engine.get_compute_domain(
            domain_kwargs=metric_domain_kwargs, domain_type=MetricDomainTypes.COLUMN
        )
        column = accessor["column"]
        with _value_free(cls.metric_name, column):
            value: Any = sa.column(column)
            # GX declares the domain a Selectable; for a column domain it is a table or a
            # subquery, i.e. a FROM clause.
            query = sa.select(value, sa.func.count()).select_from(selectable).group_by(value)  # type: ignore[arg-type]
            engine = execution_engine.engine
            if engine.dialect.name == "duckdb":  # Arrow straight from DuckDB: no row tuples
                sql = str(
                    query.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})
                )
                with engine.connect() as connection:
                    duck: Any = connection.connection.driver_connection
                    found = duck.sql(sql).to_arrow_table()
                return ColumnFacts.from_arrow(
                    found.column(0).combine_chunks(), found.column(1).combine_chunks()
                )
            rows = execution_engine.execute_query(query).fetchall()
            return ColumnFacts.of([r[0] for r in rows], [int(r[1]) for r in rows])


class _FromDistinct(ColumnAggregateMetricProvider):
    """A check computed from ``column.mz_distinct`` (shared by every check on the column)."""

    @classmethod
    def measure(cls, facts: ColumnFacts, **kwargs: Any) -> Hit:
        raise NotImplementedError

    @classmethod
    def _get_evaluation_dependencies(
        cls,
        metric: MetricConfiguration,
        configuration: Any = None,
        execution_engine: ExecutionEngine[Any] | None = None,
        runtime_configuration: dict[str, Any] | None = None,
    ) -> dict[str, MetricConfiguration]:
        found: dict[str, MetricConfiguration] = super()._get_evaluation_dependencies(
            metric=metric,
            configuration=configuration,
            execution_engine=execution_engine,
            runtime_configuration=runtime_configuration,
        )
        found["column.mz_distinct"] = MetricConfiguration(
            metric_name="column.mz_distinct", metric_domain_kwargs=metric.metric_domain_kwargs
        )
        return found

    @metric_value(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(
        cls,
        execution_engine: SqlAlchemyExecutionEngine,
        metric_domain_kwargs: dict[str, Any],
        metric_value_kwargs: dict[str, Any],
        metrics: dict[str, Any],
        runtime_configuration: dict[str, Any],
    ) -> dict[str, Any]:
        column = metric_domain_kwargs.get("column")
        with _value_free(getattr(cls, "metric_name", "metric"), column):
            facts = metrics["column.mz_distinct"]
            return cls.measure(facts, column=column, **metric_value_kwargs).as_dict()


class ColumnFormatMismatch(_FromDistinct):
    metric_name = "column.mz_format_mismatch"
    value_keys = ("format",)

    @classmethod
    def measure(cls, facts: ColumnFacts, **kwargs: Any) -> Hit:
        return facts.format_mismatch(str(kwargs["format"]))


class ColumnRawIdentifiers(_FromDistinct):
    metric_name = "column.mz_raw_identifiers"
    value_keys = ("words", CANARY_PARAMETER)

    @classmethod
    def measure(cls, facts: ColumnFacts, **kwargs: Any) -> Hit:
        secret = _KEY.get()
        if secret is None:
            raise NoCanaryKeyError(
                "the canary compares with the run's raw side: it runs inside minimizer.gate only"
            )
        record = CanaryRecord.load(Path(str(kwargs[CANARY_PARAMETER])))
        return facts.canary(record, secret, bool(kwargs.get("words")))


class ColumnOwnNames(_FromDistinct):
    metric_name = "column.mz_own_names"
    value_keys = (CANARY_PARAMETER,)

    @classmethod
    def measure(cls, facts: ColumnFacts, **kwargs: Any) -> Hit:
        record = CanaryRecord.load(Path(str(kwargs[CANARY_PARAMETER])))
        counts = record.own_names.get(str(kwargs["column"]))
        if counts is None:  # the source reads no name column: nothing to compare
            return Hit(0, 0, facts.rows, applicable=False)
        return Hit(counts.leaked_rows, 0, facts.rows)


class ColumnOlderThanRetention(_FromDistinct):
    metric_name = "column.mz_older_than_retention"
    value_keys = ("retention_cutoff", "unit")

    @classmethod
    def measure(cls, facts: ColumnFacts, **kwargs: Any) -> Hit:
        cutoff = datetime.fromisoformat(str(kwargs["retention_cutoff"]))
        return facts.older_than(cutoff, kwargs.get("unit") or "")


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
        execution_engine: ExecutionEngine[Any] | None = None,
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
    """Every value has the closed format its transform produces (a token, an H3 cell): the
    format's regex over the column's distinct values, from the same ``GROUP BY`` as the other
    checks (GX's stock ``expect_column_values_to_match_regex`` runs the regex on every row:
    three times the cost of the whole gate on a million rows; see docs/gate.md)."""

    format: str
    metric_dependencies = ("column.mz_format_mismatch",)
    success_keys = ("format",)
    sentence = "$column values must all have the $format format (rows shown are mismatches)"


class ExpectColumnValuesToNotBeRawIdentifiers(_RowCheck):
    """The canary: no value, and for text no piece of it, equals a raw identifier value of the
    sources (compared as keyed digests of distinct, canonical text)."""

    words: bool = False
    canary_record: Union[str, SuiteParameterDict]  # type: ignore[type-arg]  # noqa: UP007  GX's bare dict alias, a pydantic v1 field
    metric_dependencies = ("column.mz_raw_identifiers",)
    success_keys = ("words", CANARY_PARAMETER)
    sentence = "$column must not hold a raw identifier of its sources (text: $words)"


class ExpectColumnValuesToNotContainOwnNames(_RowCheck):
    """No row's text holds its own subject's name (counted while staging, from raw and
    published rows side by side)."""

    canary_record: Union[str, SuiteParameterDict]  # type: ignore[type-arg]  # noqa: UP007  GX's bare dict alias, a pydantic v1 field
    metric_dependencies = ("column.mz_own_names",)
    success_keys = (CANARY_PARAMETER,)
    sentence = "$column must not hold the row's own first or last name"


class ExpectColumnValuesToBeWithinRetention(_RowCheck):
    """No time lies before the run's retention cutoff, compared at the column's own grain."""

    retention_cutoff: Union[str, SuiteParameterDict]  # type: ignore[type-arg]  # noqa: UP007  GX's bare dict alias, a pydantic v1 field
    unit: str = ""
    retention_days: float = 0.0
    metric_dependencies = ("column.mz_older_than_retention",)
    success_keys = ("retention_cutoff", "unit")
    sentence = "$column must lie within the $retention_days day retention (grain: $unit)"


def _detector_expectation(kind: str) -> type[_RowCheck]:
    """One metric and one expectation per registered PII detector."""
    camel = "".join(part.capitalize() for part in kind.split("_"))
    metric = f"column.mz_pii_{kind}"

    def measure(cls: type[_FromDistinct], /, facts: ColumnFacts, **kwargs: Any) -> Hit:
        decimals = kwargs.get("max_decimals")
        return facts.detector(kind, DEFAULT_MAX_DECIMALS if decimals is None else decimals)

    value_keys = ("max_decimals",) if kind == "precise_coordinates" else ()
    type(
        f"ColumnPii{camel}",
        (_FromDistinct,),
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
