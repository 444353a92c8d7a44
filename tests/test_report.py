"""The run's records are pydantic models: the JSON between Airflow tasks keeps its shape, comes
back validated (status an enum, counts ints, the Arrow schema whole), and holds no value."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pydantic
import pytest

from minimizer.pipeline import RunReport as FromPipeline
from minimizer.pipeline import SourceReport as SourceFromPipeline
from minimizer.report import REPORT_FORMAT, RunReport, RunStatus, SourceReport

T0 = datetime(2026, 3, 17, 6, 30, tzinfo=UTC)
SCHEMA = pa.schema(
    [("customer_pseudonym", pa.string()), ("age_band", pa.dictionary(pa.int32(), pa.string()))]
)


def _report() -> RunReport:
    source = SourceReport(
        source="customers",
        rows_in=10,
        rows_out=np.int64(8),
        rows_staged=8,
        rejected=1,
        invalid_by_column={"birth_date": 1},
        dropped=("email",),
        drift=("fax",),
        excluded=1,
        staged=Path("/staging/customers.parquet"),
        schema=SCHEMA,
        measures={"uniqueness": np.float64(0.25), "classes": [np.int64(3), 4]},
        canary=Path("/staging/customers.canary.parquet"),
        unicity_before={"4": 0.5},
    )
    return RunReport(
        run_id="20260317T063000Z-abcdef12",
        purpose="churn_analysis",
        policy_sha256="0" * 64,
        key_version=2,
        started_at=T0,
        as_of=T0,
        retention_cutoff=T0 - timedelta(days=365),
        sources={"customers": source},
        guarantees={"k_anonymity": {"k": 5, "suppressed": np.int64(2)}},
        gate={"success": True},
    )


def test_the_pipeline_names_the_same_records() -> None:
    assert FromPipeline is RunReport and SourceFromPipeline is SourceReport


def test_the_json_round_trips_exactly() -> None:
    report = _report()
    text = report.to_json()
    back = RunReport.from_json(text)
    assert back == report and back.to_json() == text
    assert back.sources["customers"].schema == SCHEMA
    assert isinstance(back.sources["customers"].staged, Path)
    assert back.sources["customers"].dropped == ("email",)


def test_the_json_keeps_its_shape() -> None:
    doc = json.loads(_report().to_json())
    assert doc["format"] == REPORT_FORMAT
    assert set(doc) == {
        "format", "run_id", "purpose", "policy_sha256", "key_version", "started_at", "as_of",
        "retention_cutoff", "sources", "guarantees", "gate", "status", "finished_at",
        "loaded_rows", "error",
    }  # fmt: skip
    assert set(doc["sources"]["customers"]) == {
        "source", "rows_in", "rows_out", "rows_staged", "rejected", "invalid_by_column",
        "dropped", "drift", "excluded", "staged", "schema", "measures", "canary", "subjects",
        "unicity_before",
    }  # fmt: skip
    # Times as isoformat (not pydantic's "Z"), numpy figures as plain numbers, sorted keys.
    assert doc["started_at"] == "2026-03-17T06:30:00+00:00" and doc["finished_at"] is None
    assert doc["status"] == "running" and doc["sources"]["customers"]["rows_out"] == 8
    assert doc["guarantees"]["k_anonymity"]["suppressed"] == 2
    assert doc["sources"]["customers"]["measures"] == {"uniqueness": 0.25, "classes": [3, 4]}
    assert doc["sources"]["customers"]["dropped"] == ["email"]
    assert isinstance(doc["sources"]["customers"]["schema"], str)
    text = _report().to_json()
    assert text == json.dumps(json.loads(text), indent=1, sort_keys=True) + "\n"


def test_status_is_an_enum_that_still_reads_as_text() -> None:
    report = _report()
    assert report.status is RunStatus.RUNNING
    report.status = "failed"  # type: ignore[assignment]  # what callers that predate the enum do
    assert report.status is RunStatus.FAILED and report.status == "failed"
    assert f"{report.status}" == "failed"
    assert RunReport.from_json(report.to_json()).status is RunStatus.FAILED
    assert report.audit_row()["status"] == "failed" and type(report.audit_row()["status"]) is str
    with pytest.raises(pydantic.ValidationError):
        report.status = "half-loaded"  # type: ignore[assignment]


def test_assignments_are_validated() -> None:
    rep = _report().sources["customers"]
    rep.rows_out = np.int64(3)  # type: ignore[assignment]  # counts from vectorised code
    assert type(rep.rows_out) is int
    rep.schema = None
    assert rep.schema is None
    with pytest.raises(pydantic.ValidationError):
        rep.rows_in = "many"  # type: ignore[assignment]
    with pytest.raises(pydantic.ValidationError):
        rep.schema = "not a schema"  # type: ignore[assignment]


def test_a_report_of_another_format_or_a_broken_one_is_refused() -> None:
    doc = json.loads(_report().to_json())
    with pytest.raises(ValueError, match="not a minimizer run report"):
        RunReport.from_json(json.dumps({**doc, "format": "other/1"}))
    with pytest.raises(ValueError, match="not a minimizer run report"):
        RunReport.from_json("[]")
    del doc["run_id"]
    with pytest.raises(pydantic.ValidationError):
        RunReport.from_json(json.dumps(doc))


def test_a_report_written_before_the_typed_fields_still_loads() -> None:
    # A task started before an upgrade wrote "scratch"; optional fields may be missing.
    doc = json.loads(_report().to_json())
    source = doc["sources"]["customers"]
    source["scratch"] = {"gate.canary": {"$path": "/staging/x"}}
    for key in ("rows_staged", "canary", "subjects", "unicity_before"):
        del source[key]
    back = RunReport.from_json(json.dumps(doc)).sources["customers"]
    assert back.rows_staged is None and back.canary is None


def test_an_arbitrary_object_in_the_figures_is_refused_not_stringified() -> None:
    report = _report()
    report.guarantees["frame"] = object()
    with pytest.raises(TypeError, match="object is not JSON-able"):
        report.to_json()
