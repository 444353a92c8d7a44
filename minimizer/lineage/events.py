"""A run's OpenLineage events, built from its policy and report: names, counts and hashes only.

One run is one OpenLineage run of the job ``<purpose>`` in the namespace ``minimizer``: a START
event at its start and a COMPLETE (loaded) or FAIL event at its end. Each event carries

- the inputs (the CRM tables and event files the policy reads) and the outputs (the purpose's
  warehouse tables), as datasets named after the OpenLineage naming conventions, with no user,
  password or query string of a connection URL;
- on every output, the column-lineage facet: each published column from its source columns,
  with the transform's type and description, ``masking: true`` unless the column is published
  exactly as the source holds it (and the guarantees left it so);
- the run facet ``minimizer_privacy`` (schema: ``PrivacyRunFacet.json`` beside this file):
  purpose, legal basis, policy sha256, key version (never the key), the guarantees with their
  figures and the leak gate's verdict.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import attr
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    RunFacet,
    column_lineage_dataset,
    documentation_job,
    error_message_run,
    job_type_job,
    output_statistics_output_dataset,
    schema_dataset,
)

from minimizer.guarantees.location import location_cell_size
from minimizer.outcome import column_notes
from minimizer.plan import ColumnPlan, plan_source
from minimizer.sortable import SUFFIX, sortable_buckets

if TYPE_CHECKING:
    from minimizer.pipeline import RunReport, Sources
    from minimizer.policy import Policy

__all__ = [
    "FACET",
    "JOB_NAMESPACE",
    "PRODUCER",
    "SCHEMA_FILE",
    "SCHEMA_URL",
    "PrivacyRunFacet",
    "privacy_facet",
    "run_events",
    "run_uuid",
    "warehouse_namespace",
]

PRODUCER = "https://minimizer.dev/minimizer/0.1.0"
JOB_NAMESPACE = "minimizer"
FACET = "minimizer_privacy"
SCHEMA_FILE = Path(__file__).with_name("PrivacyRunFacet.json")
SCHEMA_URL: str = json.loads(SCHEMA_FILE.read_text())["$id"] + "#"
_RUN_IDS = uuid.UUID("6f1c1c64-8f0e-5a4e-9a53-6d696e696d69")  # our uuid5 namespace


@attr.define
class PrivacyRunFacet(RunFacet):
    """What the run promised and measured (see ``PrivacyRunFacet.json``)."""

    purpose: str
    legalBasis: str
    policySha256: str
    keyVersion: int
    retentionDays: float
    status: str
    guarantees: dict[str, Any]
    gate: dict[str, Any]

    @staticmethod
    def _get_schema() -> str:
        return SCHEMA_URL


def run_uuid(run_id: str) -> str:
    """The run's OpenLineage id: a UUID derived from our run id, the same in every process."""
    return str(uuid.uuid5(_RUN_IDS, run_id))


def _server(url: str, scheme: str) -> tuple[str, str]:
    """(namespace, database) of a server URL, without user, password or query string."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{scheme}://{parts.hostname or 'localhost'}{port}", parts.path.lstrip("/") or scheme


def warehouse_namespace(warehouse: str) -> tuple[str, str]:
    """(namespace, name prefix) of the warehouse's tables."""
    if warehouse.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        namespace, database = _server(warehouse, "postgres")
        return namespace, f"{database}."
    return f"duckdb://{Path(warehouse).resolve()}", ""


def _source_dataset(policy: Policy, sources: Sources | None, name: str) -> tuple[str, str]:
    spec = policy.sources[name]
    if sources is None:
        return "minimizer-source", name
    if spec.kind == "events":
        return "file", str(Path(sources.events).resolve())
    table = spec.table or name
    if sources.crm.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        namespace, database = _server(sources.crm, "postgres")
        return namespace, f"{database}.{table if '.' in table else 'public.' + table}"
    return f"sqlite://{Path(sources.crm).resolve()}", table


def _transformation(column: ColumnPlan, note: str | None) -> Any:
    identity = column.action == "keep" and note is None
    description = column.description if note is None else f"{column.description}; {note}"
    return column_lineage_dataset.Transformation(
        type="DIRECT",
        subtype="IDENTITY" if identity else "TRANSFORMATION",
        description=description,
        masking=not identity,
    )


def _column_lineage(policy: Policy, report: RunReport, name: str, source: tuple[str, str]) -> Any:
    notes = column_notes(policy, report, name)
    fields = {}
    for column in plan_source(policy, name).outputs:
        assert column.output is not None
        how = _transformation(column, notes.get(column.output))
        fields[column.output] = column_lineage_dataset.Fields(
            inputFields=[
                column_lineage_dataset.InputField(
                    namespace=source[0], name=source[1], field=src, transformations=[how]
                )
                for src in column.source_columns
            ],
            transformationType="IDENTITY" if how.subtype == "IDENTITY" else "MASKED",
            transformationDescription=how.description,
        )
    for bucket in sortable_buckets(policy, name):
        # Derived from the published label at the load: the same inputs, the same masking.
        fields[bucket + SUFFIX] = attr.evolve(
            fields[bucket], transformationDescription=f"lower bound of {bucket}"
        )
    size = location_cell_size(policy, name)
    if size is not None and size.resolution_column is not None and size.column in fields:
        # Added by the location guarantee when cell sizes mix: derived from the cell.
        fields[size.resolution_column] = attr.evolve(
            fields[size.column], transformationDescription=f"H3 resolution of {size.column}"
        )
    return column_lineage_dataset.ColumnLineageDatasetFacet(fields=fields)


def _outputs(
    policy: Policy, report: RunReport, warehouse: str, sources: Sources | None, final: bool
) -> list[OutputDataset]:
    namespace, prefix = warehouse_namespace(warehouse)
    outputs = []
    for name in policy.sources:
        facets: dict[str, Any] = {
            "columnLineage": _column_lineage(
                policy, report, name, _source_dataset(policy, sources, name)
            )
        }
        rep = report.sources.get(name)
        if rep is not None and rep.schema is not None:
            published = [(f.name, str(f.type)) for f in rep.schema]
            published += [(c + SUFFIX, "double") for c in sortable_buckets(policy, name)]
            facets["schema"] = schema_dataset.SchemaDatasetFacet(
                fields=[
                    schema_dataset.SchemaDatasetFacetFields(name=n, type=t) for n, t in published
                ]
            )
        output_facets: dict[str, Any] = {}
        if final and name in report.loaded_rows:
            output_facets["outputStatistics"] = (
                output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                    rowCount=int(report.loaded_rows[name])
                )
            )
        outputs.append(
            OutputDataset(
                namespace=namespace,
                name=f"{prefix}{policy.purpose}.{name}",
                facets=facets,
                outputFacets=output_facets,
            )
        )
    return outputs


def _gate(report: RunReport) -> dict[str, Any]:
    if not report.gate:
        return {"verdict": "failed" if report.status == "failed" else "not_run"}
    return {
        "verdict": "passed" if report.gate.get("success") else "failed",
        "evaluated": int(report.gate.get("evaluated") or 0),
        "failed": int(report.gate.get("failed") or 0),
    }


def privacy_facet(policy: Policy, report: RunReport, *, start: bool = False) -> PrivacyRunFacet:
    """The run's privacy facet; at START, before any guarantee ran, with no figures yet."""
    # The figures are the audit record's: JSON numbers and column names, never a value.
    guarantees = {} if start else json.loads(json.dumps(report.guarantees, default=str))
    return PrivacyRunFacet(
        purpose=policy.purpose,
        legalBasis=policy.legal_basis.value,
        policySha256=report.policy_sha256,
        keyVersion=int(report.key_version),
        retentionDays=float(policy.retention_days),
        status="running" if start else report.status,
        guarantees=guarantees,
        gate={"verdict": "not_run"} if start else _gate(report),
        producer=PRODUCER,
    )


def _event(
    state: RunState,
    when: datetime,
    policy: Policy,
    report: RunReport,
    warehouse: str,
    sources: Sources | None,
) -> RunEvent:
    final = state is not RunState.START
    run_facets: dict[str, Any] = {FACET: privacy_facet(policy, report, start=not final)}
    if state is RunState.FAIL and report.error:
        # A run's error names columns, checks and counts, never a value (see pipeline).
        run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=report.error, programmingLanguage="python", producer=PRODUCER
        )
    job_facets: dict[str, Any] = {
        "jobType": job_type_job.JobTypeJobFacet(
            processingType="BATCH", integration="MINIMIZER", jobType="JOB", producer=PRODUCER
        ),
        "documentation": documentation_job.DocumentationJobFacet(
            description=policy.description, producer=PRODUCER
        ),
    }
    inputs = [
        InputDataset(namespace=ns, name=n)
        for ns, n in (_source_dataset(policy, sources, name) for name in policy.sources)
    ]
    return RunEvent(
        eventType=state,
        eventTime=when.astimezone(UTC).isoformat(),
        run=Run(runId=run_uuid(report.run_id), facets=run_facets),
        job=Job(namespace=JOB_NAMESPACE, name=policy.purpose, facets=job_facets),
        inputs=inputs,
        outputs=_outputs(policy, report, warehouse, sources, final),
        producer=PRODUCER,
    )


def run_events(
    policy: Policy, report: RunReport, *, warehouse: str, sources: Sources | None = None
) -> list[RunEvent]:
    """START, then COMPLETE or FAIL (or START alone while the run is still going)."""
    events = [_event(RunState.START, report.started_at, policy, report, warehouse, sources)]
    if report.status in ("loaded", "failed"):
        state = RunState.COMPLETE if report.status == "loaded" else RunState.FAIL
        when = report.finished_at or datetime.now(UTC)
        events.append(_event(state, when, policy, report, warehouse, sources))
    return events
