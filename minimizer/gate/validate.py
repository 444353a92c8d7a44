"""Validate the staged tables of a run with their suites, and write what auditors read.

One ephemeral GX context per run, nothing persisted but the artefacts under
``<artifacts>/gate/<run_id>/``::

    index.html                the outcome as a static page, linking GX's pages (works offline)
    gate.json                 the outcome: per table, expectations evaluated and failed (counts)
    suites/<table>.json       the suite the policy produced
    results/<table>.json      the GX validation result
    data_docs/index.html      the static Data Docs site

``RESULT_FORMAT`` keeps raw values out of all of them: GX's default (SUMMARY) lists failing
values in ``partial_unexpected_list``; BASIC with ``exclude_unexpected_values`` and
``partial_unexpected_count: 0`` keeps only counts (and our custom expectations only ever
return counts).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from minimizer.gate.canary import CanaryRecord
from minimizer.gate.facts import attach, stand_in
from minimizer.gate.page import write_page
from minimizer.gate.suite import RETENTION_PARAMETER, build_suites
from minimizer.policy import Policy

__all__ = ["RESULT_FORMAT", "GateOutcome", "validate_tables"]

log = logging.getLogger("minimizer.gate")

RESULT_FORMAT: dict[str, Any] = {
    "result_format": "BASIC",
    "partial_unexpected_count": 0,
    "exclude_unexpected_values": True,
    "include_unexpected_rows": False,
    "return_unexpected_index_query": False,
}
_SITE = "gate"


@dataclass
class GateOutcome:
    """What the gate found, as names and counts."""

    run_id: str
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    measured: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    directory: Path | None = None

    @property
    def success(self) -> bool:
        return not self.failures

    def summary(self) -> dict[str, Any]:
        """JSON-able, for ``RunReport.gate`` and so the audit record."""
        return {
            "success": self.success,
            "evaluated": sum(t["evaluated"] for t in self.tables.values()),
            "failed": len(self.failures),
            "tables": self.tables,
            "failures": self.failures,
            "measured": self.measured,
            "seconds": self.seconds,
            "artifacts": str(self.directory) if self.directory else None,
        }


def _context(docs: Path | None) -> Any:
    """An in-memory context whose only Data Docs site is the run's folder (or none)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    sites = {}
    if docs is not None:
        sites[_SITE] = {
            "class_name": "SiteBuilder",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(docs),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        data_docs_sites=sites,
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _read(path: Path) -> pd.DataFrame:
    """The staged table, text as categoricals: Parquet's dictionaries are the distinct values
    the checks work on, so factorising (and GX's batch fingerprint) costs next to nothing."""
    schema = pq.read_schema(path)
    text = [
        f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
    ]
    return pq.read_table(path, read_dictionary=text).to_pandas()


def _error(info: Any) -> str | None:
    """The first error GX caught for an expectation (flat, or per metric it depends on)."""
    if not isinstance(info, dict):
        return None
    if info.get("raised_exception"):
        return str(info.get("exception_message") or "error")
    for nested in info.values():
        if message := _error(nested):
            return message
    return None


def _failure(table: str, result: Any) -> dict[str, Any]:
    config = result.expectation_config
    kwargs = config.kwargs
    column = kwargs.get("column") or ",".join(
        [*kwargs.get("columns", []), *(kwargs[k] for k in ("cell", "bucket") if kwargs.get(k))]
    )
    counts = result.result or {}
    failure: dict[str, Any] = {
        "table": table,
        "column": column or None,
        "expectation": config.type,
        "check": config.type.removeprefix("expect_"),
        "reason": "expectation_failed",
        # our expectations return counts only; numbers are all that is copied anyway
        **{k: v for k, v in counts.items() if isinstance(v, int | float) and v is not True},
    }
    failure.setdefault("unexpected_count", counts.get("observed_value"))
    failure["count"] = failure["unexpected_count"]
    if (message := _error(result.exception_info)) is not None:
        failure["reason"] = "error"
        failure["error"] = message.splitlines()[0][:200]
    return failure


def _measured(results: list[Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    names = {
        "expect_table_equivalence_classes_to_have_min_size": "k_anonymity",
        "expect_table_cells_to_have_min_distinct_subjects": "location",
    }
    for result in results:
        name = names.get(result.expectation_config.type)
        if name and result.result:
            found[name] = {k: v for k, v in result.result.items() if isinstance(v, int | float)}
    return found


def validate_tables(
    policy: Policy,
    staged: dict[str, Path],
    records: dict[str, CanaryRecord],
    *,
    secret: bytes,
    retention_cutoff: datetime,
    run_id: str,
    directory: Path | None,
) -> GateOutcome:
    """Validate each staged table against its suite; write the artefacts when ``directory``."""
    from great_expectations import ValidationDefinition
    from great_expectations.core.run_identifier import RunIdentifier

    started = time.perf_counter()
    outcome = GateOutcome(run_id=run_id, directory=directory)
    context = _context(directory / "data_docs" if directory else None)
    source = context.data_sources.add_pandas("staged")
    gx_run = RunIdentifier(run_name=run_id)
    results = {}
    for table, suite in build_suites(policy).items():
        frame = _read(staged[table])
        attach(frame, records[table], secret)
        probe = stand_in(frame)
        batch = source.add_dataframe_asset(table).add_batch_definition_whole_dataframe("run")
        definition = context.validation_definitions.add(
            ValidationDefinition(name=table, data=batch, suite=context.suites.add(suite))
        )
        result = definition.run(
            batch_parameters={"dataframe": probe},
            expectation_parameters={RETENTION_PARAMETER: retention_cutoff.isoformat()},
            result_format=RESULT_FORMAT,
            run_id=gx_run,
        )
        results[table] = result
        failed = [_failure(table, r) for r in result.results if not r.success]
        outcome.failures += failed
        outcome.tables[table] = {"evaluated": len(result.results), "failed": len(failed)}
        if measured := _measured(result.results):
            outcome.measured[table] = measured
    outcome.seconds["validate"] = round(time.perf_counter() - started, 3)
    if directory is not None:
        started = time.perf_counter()
        _write(directory, policy.purpose, outcome, results, context)
        outcome.seconds["artifacts"] = round(time.perf_counter() - started, 3)
    return outcome


def _write(
    directory: Path, purpose: str, outcome: GateOutcome, results: dict[str, Any], context: Any
) -> None:
    for sub in ("results", "suites"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    for table, result in results.items():
        doc = result.to_json_dict()
        (directory / "results" / f"{table}.json").write_text(json.dumps(doc, indent=1) + "\n")
        suite = context.suites.get(result.suite_name).to_json_dict()
        (directory / "suites" / f"{table}.json").write_text(json.dumps(suite, indent=1) + "\n")
    context.build_data_docs(site_names=[_SITE])
    (directory / "gate.json").write_text(json.dumps(outcome.summary(), indent=1) + "\n")
    write_page(directory, purpose, outcome.summary())
