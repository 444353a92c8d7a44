"""OpenLineage events of a run: captured with a file transport, checked against the client's
own spec classes and the privacy facet's JSON Schema, and searched for planted raw values."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import sys
import types
import typing
from pathlib import Path
from typing import Any

import attr
import jsonschema
import pytest
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent
from openlineage.client.facet_v2 import (
    column_lineage_dataset,
    documentation_job,
    error_message_run,
    job_type_job,
    output_statistics_output_dataset,
    schema_dataset,
    tags_job,
    tags_run,
)

from minimizer import lineage, service
from minimizer.errors import GuaranteeError
from minimizer.flow import RunState, Steps
from minimizer.keys import KeyRing
from minimizer.lineage.events import SCHEMA_FILE, PrivacyRunFacet, run_uuid
from minimizer.orchestration.lineage import emit_staged_run
from minimizer.pipeline import RunReport, Sources
from minimizer.policy import load_policy
from minimizer.synth import generate
from tests.conftest import AS_OF, SYNTH_END, TEST_MASTER

ROOT = Path(__file__).resolve().parents[1]
CHURN = ROOT / "configs" / "purposes" / "churn_analysis.yaml"
# Raw values planted in the CRM: none may appear in any event.
PLANTED = {
    "customer_id": "CANARY-ID-48151623",
    "email": "canary.lineage@example.org",
    "first_name": "Zebulonia",
    "postcode": "99423",
    "birth_date": "1911-11-11",
    "loyalty_tier": "tier-canary",
    "notes": "call Zebulonia on +49 30 901820",
}
FACETS = {
    "minimizer_privacy": PrivacyRunFacet,
    "errorMessage": error_message_run.ErrorMessageRunFacet,
    "jobType": job_type_job.JobTypeJobFacet,
    "documentation": documentation_job.DocumentationJobFacet,
    "schema": schema_dataset.SchemaDatasetFacet,
    "columnLineage": column_lineage_dataset.ColumnLineageDatasetFacet,
    "outputStatistics": output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet,
}
# The client adds tags of its own to run and job (empty unless the user configures some).
TAGS = {"run": tags_run.TagsRunFacet, "job": tags_job.TagsJobFacet}
TAGS_AT = ("run.facets", "job.facets")


def _structure(kind: Any, value: Any, where: str) -> Any:
    """``value`` as an instance of the spec type ``kind``: unknown or missing fields, wrong
    types and the classes' own validators (run id, event time) all fail."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [k for k in typing.get_args(kind) if k is not type(None)]
        if value is None:
            assert type(None) in typing.get_args(kind), f"{where}: null not allowed"
            return None
        return _structure(options[0], value, where)
    if origin is list:
        assert isinstance(value, list), f"{where}: not a list"
        return [
            _structure(typing.get_args(kind)[0], v, f"{where}[{i}]") for i, v in enumerate(value)
        ]
    if origin is dict:
        assert isinstance(value, dict), f"{where}: not an object"
        inner = typing.get_args(kind)[1]
        if isinstance(inner, type) and inner.__name__.endswith("Facet"):
            known = {**FACETS, **({"tags": TAGS[where.split(".")[0]]} if where in TAGS_AT else {})}
            assert set(value) <= set(known), f"{where}: unknown facet(s) {set(value) - set(known)}"
            return {k: _structure(known[k], v, f"{where}.{k}") for k, v in value.items()}
        return value
    if attr.has(kind):
        hints = typing.get_type_hints(kind)
        fields = {f.name: f for f in attr.fields(kind)}
        assert isinstance(value, dict), f"{where}: not an object"
        unknown = set(value) - set(fields)
        assert not unknown, f"{where}: fields not in the spec: {unknown}"
        if "_schemaURL" in fields:
            assert value["_schemaURL"] == kind._get_schema(), f"{where}: wrong _schemaURL"
        args = {
            (f.alias or name): _structure(hints[name], value[name], f"{where}.{name}")
            for name, f in fields.items()
            if f.init and name in value
        }
        return kind(**args)
    if kind is float:
        assert isinstance(value, int | float), f"{where}: not a number"
        return value
    if isinstance(kind, type):
        assert isinstance(value, kind), f"{where}: not a {kind.__name__}"
    return value


def check_event(doc: dict[str, Any]) -> RunEvent:
    assert doc["schemaURL"] == RunEvent._get_schema()
    for part in ("inputs", "outputs"):
        for ds in doc[part]:
            assert ds["namespace"] and ds["name"]
    jsonschema.validate(
        doc["run"]["facets"]["minimizer_privacy"],
        json.loads(SCHEMA_FILE.read_text()),
        format_checker=jsonschema.FormatChecker(),
    )
    fields = {"run": Run, "job": Job}
    event = RunEvent(
        eventType=doc["eventType"],
        eventTime=doc["eventTime"],
        producer=doc["producer"],
        run=_structure(fields["run"], doc["run"], "run"),
        job=_structure(fields["job"], doc["job"], "job"),
        inputs=_structure(list[InputDataset], doc["inputs"], "inputs"),
        outputs=_structure(list[OutputDataset], doc["outputs"], "outputs"),
    )
    extra = set(doc) - {a.name for a in attr.fields(RunEvent)} - {"schemaURL"}
    assert not extra, f"event fields not in the spec: {extra}"
    return event


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lineage-src")
    generate(out, customers=200, days=2, seed=5, end=SYNTH_END)
    with sqlite3.connect(out / "crm.sqlite") as db:
        cols = {r[1] for r in db.execute("PRAGMA table_info(customers)")}
        sets = ", ".join(f"{c} = ?" for c in PLANTED if c in cols and c != "customer_id")
        values = [v for c, v in PLANTED.items() if c in cols and c != "customer_id"]
        db.execute(f"UPDATE customers SET {sets} WHERE rowid = 1", values)
        first = db.execute("SELECT customer_id FROM customers WHERE rowid = 1").fetchone()[0]
        for table in ("customers", "orders"):
            db.execute(
                f"UPDATE {table} SET customer_id = ? WHERE customer_id = ?",
                (PLANTED["customer_id"], first),
            )
    return out


def _file_transport(folder: Path, mp: pytest.MonkeyPatch) -> Path:
    events = folder / "events.jsonl"
    config = folder / "openlineage.yml"
    config.write_text(f"transport:\n  type: file\n  log_file_path: {events}\n  append: true\n")
    mp.setenv("OPENLINEAGE_CONFIG", str(config))
    return events


def _run(sources: Path, folder: Path, policy: Path = CHURN) -> RunReport:
    ring = KeyRing(masters={1: TEST_MASTER}, current=1)
    return service.run_policy_file(
        policy, sources=sources, warehouse=str(folder / "w.duckdb"), as_of=AS_OF, keyring=ring
    )


def _events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def loaded(planted: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[RunReport, Path]:
    """One CLI run of churn_analysis with a file transport configured: (report, events)."""
    folder = tmp_path_factory.mktemp("lineage-run")
    with pytest.MonkeyPatch.context() as mp:
        # The gate (GX) is tested on its own; here it would only add seconds.
        mp.setattr(service, "STEPS", Steps(suppression=False, gate=False))
        events = _file_transport(folder, mp)
        return _run(planted, folder), events


def test_a_cli_run_emits_start_and_complete_that_follow_the_spec(loaded):
    report, events = loaded
    docs = _events(events)
    assert [d["eventType"] for d in docs] == ["START", "COMPLETE"]
    for doc in docs:
        check_event(doc)
        assert doc["run"]["runId"] == run_uuid(report.run_id)
        assert doc["job"] == {**doc["job"], "namespace": "minimizer", "name": "churn_analysis"}
    inputs = {d["name"] for d in docs[1]["inputs"]}
    assert inputs == {"customers", "orders"}
    assert all(d["namespace"].startswith("sqlite://") for d in docs[1]["inputs"])
    outputs = {d["name"]: d for d in docs[1]["outputs"]}
    assert set(outputs) == {"churn_analysis.customers", "churn_analysis.orders"}
    assert outputs["churn_analysis.orders"]["outputFacets"]["outputStatistics"]["rowCount"] > 0
    privacy = docs[1]["run"]["facets"]["minimizer_privacy"]
    assert privacy["purpose"] == "churn_analysis" and privacy["keyVersion"] == 1
    assert privacy["policySha256"] == load_policy(CHURN).sha256
    assert privacy["legalBasis"] == "legitimate_interest" and privacy["status"] == "loaded"
    assert privacy["guarantees"]["k_anonymity"]["k"] == 5
    assert privacy["gate"] == {"verdict": "not_run"}  # the gate is left out here
    start = docs[0]["run"]["facets"]["minimizer_privacy"]
    assert start["status"] == "running" and start["guarantees"] == {}


def test_every_transformed_column_is_masking_and_only_identity_is_not(loaded):
    report, events = loaded
    done = _events(events)[-1]
    customers = next(o for o in done["outputs"] if o["name"].endswith(".customers"))
    fields = customers["facets"]["columnLineage"]["fields"]
    policy = load_policy(CHURN)
    assert set(fields) == set(policy.sources["customers"].outputs())
    for column, lineage_of in fields.items():
        for inp in lineage_of["inputFields"]:
            (how,) = inp["transformations"]
            assert how["type"] == "DIRECT" and how["description"]
            identity = how["subtype"] == "IDENTITY"
            assert how["masking"] is not identity, column
            assert lineage_of["transformationType"] == ("IDENTITY" if identity else "MASKED")
    assert fields["customer_id"]["inputFields"][0]["transformations"][0]["masking"] is True
    assert fields["age_band"]["inputFields"][0]["field"] == "birth_date"
    # A kept column that k-anonymity generalised is masked too, and says so.
    levels = report.guarantees["k_anonymity"]["levels"]
    assert levels["loyalty_tier"] > 0
    tier = fields["loyalty_tier"]["inputFields"][0]["transformations"][0]
    assert tier["masking"] is True and "k-anonymity" in tier["description"]
    orders = next(o for o in done["outputs"] if o["name"].endswith(".orders"))
    channel = orders["facets"]["columnLineage"]["fields"]["channel"]
    assert channel["transformationType"] == "IDENTITY"


def test_no_planted_value_and_no_key_reaches_the_events(loaded):
    _, events = loaded
    text = events.read_text()
    assert text.count('"eventType"') == 2
    for column, value in PLANTED.items():
        assert value.lower() not in text.lower(), f"planted {column} found in the events"
    ring = KeyRing(masters={1: TEST_MASTER}, current=1)
    secret = ring.purpose_key("churn_analysis").secret
    for key in (TEST_MASTER, secret):
        for form in (key.hex(), key.hex().upper(), base64.b64encode(key).decode()):
            assert form not in text


def test_a_failed_run_emits_fail_with_the_reason_and_no_value(planted, tmp_path, monkeypatch):
    monkeypatch.setattr(service, "STEPS", Steps(suppression=False, gate=False))
    events = _file_transport(tmp_path, monkeypatch)
    (tmp_path / "strict").mkdir()
    policy = tmp_path / "strict" / "churn_analysis.yaml"
    policy.write_text(CHURN.read_text().replace("k: 5", "k: 5000"))
    with pytest.raises(GuaranteeError):
        _run(planted, tmp_path, policy)
    docs = _events(events)
    assert [d["eventType"] for d in docs] == ["START", "FAIL"]
    check_event(docs[1])
    facets = docs[1]["run"]["facets"]
    assert facets["minimizer_privacy"]["status"] == "failed"
    assert facets["minimizer_privacy"]["gate"]["verdict"] == "failed"
    assert facets["errorMessage"]["message"].startswith("GuaranteeError")
    assert "outputStatistics" not in json.dumps(docs[1]["outputs"])
    for value in PLANTED.values():
        assert value.lower() not in json.dumps(docs).lower()


def test_without_a_configured_transport_nothing_is_emitted_and_no_client_is_built(
    loaded, tmp_path, monkeypatch
):
    for name in list(os.environ):
        if name.startswith("OPENLINEAGE"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert not lineage.is_configured()

    def no_client(*args: object, **kwargs: object) -> None:
        raise AssertionError("no client may be built without a configured transport")

    monkeypatch.setattr("openlineage.client.OpenLineageClient", no_client)
    report, _ = loaded
    assert lineage.emit_run(load_policy(CHURN), report, warehouse="w.duckdb") == 0
    monkeypatch.setenv("OPENLINEAGE_URL", "http://lineage.invalid")
    monkeypatch.setenv("OPENLINEAGE_DISABLED", "true")
    assert not lineage.is_configured()


def test_a_broken_transport_does_not_fail_the_run_nor_log_its_message(loaded, caplog):
    class Broken:
        def emit(self, event: object) -> None:
            raise ConnectionError("http://user:secret@lineage.invalid refused")

    report, _ = loaded
    sent = lineage.emit_run(load_policy(CHURN), report, warehouse="w.duckdb", emitter=Broken)
    assert sent == 0
    assert "ConnectionError" in caplog.text and "secret" not in caplog.text


def test_outside_airflow_the_staged_run_goes_through_the_plain_client(
    loaded, planted, tmp_path, monkeypatch
):
    # Outside an Airflow process the provider is never imported (it would read its config).
    report, _ = loaded
    events = _file_transport(tmp_path, monkeypatch)
    where = tmp_path / "staging"
    where.mkdir()
    (where / "gate.json").write_text(RunState(report=report).to_json())
    sources = Sources.from_dir(planted)
    imported = "airflow" in sys.modules
    assert emit_staged_run(CHURN, where, warehouse="w.duckdb", sources=sources) == 2
    assert [d["eventType"] for d in _events(events)] == ["START", "FAIL"]
    assert ("airflow" in sys.modules) == imported


def test_a_postgres_warehouse_is_named_without_its_credentials():
    from minimizer.lineage.events import warehouse_namespace

    namespace, prefix = warehouse_namespace(
        "postgresql://bob:hunter2@db.internal:5433/wh?sslmode=require"
    )
    assert namespace == "postgres://db.internal:5433" and prefix == "wh."
    assert "hunter2" not in namespace + prefix and "bob" not in namespace
