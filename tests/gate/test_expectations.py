"""Each check of the suite on small staged tables, validated by GX through DuckDB over the
staged Parquet file: what it counts, that results identify the rows they checked, and that
results and Data Docs hold counts only."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from minimizer.gate.canary import CanaryRecord, OwnNames, identifier_digests
from minimizer.gate.validate import GateOutcome, validate_tables
from minimizer.pii import DETECTORS
from minimizer.policy import Policy
from minimizer.transforms.pseudonymise import token_for
from tests.conftest import TEST_MASTER

SECRET = b"k" * 32
CUTOFF = datetime(2026, 1, 20, tzinfo=UTC)


def _policy(
    columns: dict[str, Any], guarantees: dict[str, Any] | None = None, **src: Any
) -> Policy:
    return Policy.model_validate(
        {
            "purpose": "probe",
            "description": "d",
            "legal_basis": "consent",
            "owner": "o",
            "retention": "30d",
            "sources": {"t": {"key": "customer_id", "columns": columns, **src}},
            "guarantees": guarantees or {},
        }
    )


def _gate(
    tmp_path: Path,
    policy: Policy,
    frame: pd.DataFrame,
    raw: dict[str, list[str]] | None = None,
    artefacts: bool = False,
    into: Path | None = None,
    **record: Any,
) -> GateOutcome:
    """Stage ``frame`` as Parquet and run the gate over it (artefacts only when asked: Data
    Docs cost a second a table)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "t.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    values = [v for column in (raw or {}).values() for v in column]
    exact, contained = identifier_digests(pd.Series(values, dtype=object), SECRET)
    canary = CanaryRecord("t", list(raw or {}), [], exact, fragments=contained, **record)
    return validate_tables(
        policy,
        {"t": path},
        {"t": canary},
        secret=SECRET,
        retention_cutoff=CUTOFF,
        run_id="run-1",
        directory=into or (tmp_path / "gate" if artefacts else None),
    )


def _failed(outcome: GateOutcome) -> dict[tuple[str | None, str], dict[str, Any]]:
    return {(f["column"], f["expectation"].removeprefix("expect_")): f for f in outcome.failures}


def _token(value: str) -> str:
    from minimizer.keys import KeyRing

    return token_for(value, KeyRing(masters={1: TEST_MASTER}, current=1).purpose_key("probe"))


KEEP = {"customer_id": "pseudonymise", "note": "keep"}


def test_a_clean_table_passes_every_expectation(tmp_path: Path) -> None:
    frame = pd.DataFrame({"customer_id": [_token("C1"), _token("C2")], "note": ["hi", None]})
    outcome = _gate(tmp_path, _policy(KEEP), frame, {"customer_id": ["C1", "C2"]})
    # column set, row count, token format and canary on the token column, every detector,
    # the canary and the e-mail regex list on the text column (own names where names are read)
    assert outcome.success
    assert outcome.summary()["evaluated"] >= 1 + 1 + 2 + len(DETECTORS) + 1 + 1


def test_a_value_that_is_not_a_token_fails_the_token_format(tmp_path: Path) -> None:
    frame = pd.DataFrame({"customer_id": [_token("C1"), "C2", "C2"], "note": ["x"] * 3})
    failed = _failed(_gate(tmp_path, _policy(KEEP), frame))
    hit = failed[("customer_id", "column_values_to_match_output_format")]
    assert (hit["unexpected_count"], hit["distinct_unexpected"], hit["element_count"]) == (2, 1, 3)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("mail me: a.b@example.org", "email"),
        ("call +44 20 7946 0958 now", "phone"),
        ("IBAN DE89 3704 0044 0532 0130 00", "iban"),
        ("card 4111-1111-1111-1111", "card"),
        ("from 10.20.30.40", "ipv4"),
        ("from fe80::1ff:fe23:4567:890a", "ipv6"),
        ("lives at 10 Downing Street", "street_address"),
        ("born 12.03.1985", "birth_date"),
        ("at 48.858370, 2.294481", "precise_coordinates"),
    ],
)
def test_each_detector_fails_its_kind_by_row_count(tmp_path: Path, text: str, kind: str) -> None:
    frame = pd.DataFrame({"customer_id": [_token("C1")] * 3, "note": [text, text, "fine"]})
    failed = _failed(_gate(tmp_path, _policy(KEEP), frame))
    assert failed[("note", f"column_values_to_not_contain_{kind}")]["unexpected_count"] == 2


def test_coordinates_within_the_policy_grid_pass(tmp_path: Path) -> None:
    policy = _policy(
        {**KEEP, "spot": {"coarsen": "grid", "lat": "lat", "lon": "lon", "decimals": 3}}
    )
    frame = pd.DataFrame({"customer_id": [_token("C1")], "note": ["ok"], "spot": ["48.858,2.294"]})
    assert _gate(tmp_path, policy, frame).success


def test_the_canary_finds_raw_identifiers_whole_and_as_words(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "customer_id": [_token("C1")] * 4,
            "note": ["c0042173", "Customer C0042173 called", "nothing", "Anna@Example.org"],
        }
    )
    raw = {"customer_id": ["C0042173"], "email": ["anna@example.org "]}
    failed = _failed(_gate(tmp_path, _policy(KEEP), frame, raw))
    assert failed[("note", "column_values_to_not_be_raw_identifiers")]["unexpected_count"] == 3


def test_the_canary_compares_tokens_only_when_a_raw_identifier_looked_like_one(
    tmp_path: Path,
) -> None:
    token = _token("C1")
    frame = pd.DataFrame({"customer_id": [token], "note": ["x"]})
    raw = {"customer_id": [token]}  # a source that already held pseudonyms
    assert _gate(tmp_path / "a", _policy(KEEP), frame, raw).success  # shaped count unknown
    failed = _failed(_gate(tmp_path / "b", _policy(KEEP), frame, raw, shaped={"token": 1}))
    assert ("customer_id", "column_values_to_not_be_raw_identifiers") in failed


def test_own_names_counted_while_staging_fail_the_column(tmp_path: Path) -> None:
    policy = _policy(KEEP, identifying=["first_name"])
    frame = pd.DataFrame({"customer_id": [_token("C1")], "note": ["x"]})
    outcome = _gate(tmp_path, policy, frame, own_names={"note": OwnNames(in_sentences=4)})
    assert _failed(outcome)[("note", "column_values_to_not_contain_own_names")]["count"] == 4


@pytest.mark.parametrize(
    ("unit", "value", "older"),
    [
        ("month", "2026-01-01", 0),  # the cutoff's own month: kept, as the loader keeps it
        ("month", "2025-12-01", 1),
        ("day", "2026-01-19", 1),
        ("day", "2026-01-20", 0),
    ],
)
def test_retention_compares_at_the_column_grain(
    tmp_path: Path, unit: str, value: str, older: int
) -> None:
    policy = _policy(
        {"customer_id": "pseudonymise", "when": {"generalise": unit, "source": "ts"}}, time="ts"
    )
    day = pd.Series(pd.to_datetime([value]).date).astype("date32[pyarrow]")
    frame = pd.DataFrame({"customer_id": [_token("C1")], "when": day})
    failed = _failed(_gate(tmp_path, policy, frame))
    key = ("when", "column_values_to_be_within_retention")
    assert (failed[key]["unexpected_count"] if key in failed else 0) == older


K_CHECK = "unexpected_rows_expectation"


def _k_policy(k: int = 2, max_suppression: float = 0.25) -> Policy:
    g = {
        "k_anonymity": {
            "source": "t",
            "k": k,
            "quasi_identifiers": ["band"],
            "max_suppression": max_suppression,
        }
    }
    return _policy({"customer_id": "pseudonymise", "band": "keep"}, g)


def _k_failures(outcome: GateOutcome) -> dict[str, dict[str, Any]]:
    return {f["check"]: f for f in outcome.failures if f["expectation"] == K_CHECK}


def test_k_anonymity_counts_small_classes_and_ignores_suppressed_rows(tmp_path: Path) -> None:
    policy = _k_policy()
    ids = [_token(f"C{i}") for i in range(4)]
    ok = pd.DataFrame({"customer_id": ids, "band": ["a", "a", "*", "b"]})
    outcome = _gate(tmp_path / "a", policy, ok)
    hit = _k_failures(outcome)["k_anonymity"]
    assert (hit["column"], hit["unexpected_count"]) == ("band", 1)  # one class below k
    k = outcome.measured["t"]["k_anonymity"]
    assert (k["min_class_size"], k["classes_below_k"], k["suppressed_rows"]) == (1, 1, 1)
    passing = pd.DataFrame({"customer_id": ids, "band": ["a", "a", "*", "*"]})
    budget = _k_failures(_gate(tmp_path / "b", policy, passing))
    assert set(budget) == {"k_anonymity_suppression"}  # 2 of 4 suppressed > 25%
    within = pd.DataFrame({"customer_id": ids, "band": ["a", "a", "b", "b"]})
    outcome = _gate(tmp_path / "c", policy, within)
    assert outcome.success and outcome.measured["t"]["k_anonymity"]["min_class_size"] == 2


def test_k_counts_distinct_subjects_not_rows(tmp_path: Path) -> None:
    """One customer duplicated 5 times in a class nobody else has: 5 rows, 1 person."""
    policy = _k_policy(k=5, max_suppression=0.0)
    crowd = [_token(f"C{i}") for i in range(10)]
    lonely = [_token("LONELY")] * 5
    frame = pd.DataFrame(
        {"customer_id": crowd + lonely, "band": ["a"] * 5 + ["b"] * 5 + ["only-me"] * 5}
    )
    outcome = _gate(tmp_path, policy, frame)
    hit = _k_failures(outcome)["k_anonymity"]
    assert hit["unexpected_count"] == 1  # the one class of one person
    measured = outcome.measured["t"]["k_anonymity"]
    assert measured["min_class_size"] == 1 and measured["counted"] == "distinct customer_id"
    five_people = frame.assign(customer_id=crowd + [_token(f"D{i}") for i in range(5)])
    assert _gate(tmp_path / "people", policy, five_people).success


def test_k_counts_rows_when_the_subject_is_not_a_stable_pseudonym(tmp_path: Path) -> None:
    policy = _policy(
        {
            "customer_id": {"pseudonymise": True, "rotate": "day", "time": "ts"},
            "band": "keep",
            "when": {"generalise": "day", "source": "ts"},
        },
        {"k_anonymity": {"source": "t", "k": 2, "quasi_identifiers": ["band"]}},
        time="ts",
    )
    day = pd.Series(pd.to_datetime(["2026-01-25"] * 2).date).astype("date32[pyarrow]")
    frame = pd.DataFrame({"customer_id": [_token("A"), _token("A")], "band": ["x", "x"]})
    outcome = _gate(tmp_path, policy, frame.assign(when=day))
    assert outcome.measured["t"]["k_anonymity"]["counted"] == "rows"
    assert not _k_failures(outcome)


def test_location_counts_distinct_subjects_per_cell_and_bucket(tmp_path: Path) -> None:
    g = {
        "location": {
            "source": "t", "cell": "cell", "bucket": "hour", "subject": "customer_id",
            "min_distinct_subjects_per_cell": 2,
        }
    }  # fmt: skip
    policy = _policy({"customer_id": "pseudonymise", "cell": "keep", "hour": "keep"}, g)
    a, b = _token("A"), _token("B")
    frame = pd.DataFrame(
        {"customer_id": [a, b, a, a], "cell": ["x", "x", "y", "y"], "hour": [1, 1, 1, 1]}
    )
    outcome = _gate(tmp_path, policy, frame)
    hit = _k_failures(outcome)["location"]
    assert (hit["column"], hit["unexpected_count"]) == ("cell,hour", 1)
    found = outcome.measured["t"]["location"]
    assert (found["min_distinct_subjects"], found["groups_below_min"], found["groups"]) == (1, 1, 2)


def test_artefacts_hold_counts_never_the_failing_values(tmp_path: Path) -> None:
    secret_text = "write to leaked.person@example.org"
    frame = pd.DataFrame({"customer_id": [_token("C1"), "C777"], "note": [secret_text, "x"]})
    outcome = _gate(tmp_path, _policy(KEEP), frame, {"customer_id": ["C777"]}, artefacts=True)
    assert not outcome.success
    directory = tmp_path / "gate"
    files = [p for p in directory.rglob("*") if p.is_file()]
    assert {p.relative_to(directory).parts[0] for p in files} == {
        "index.html", "gate.json", "results", "suites", "data_docs",
    }  # fmt: skip
    assert (tmp_path / "_assets" / "gx-static").is_dir()  # shared by every run's Data Docs
    assert (directory / "data_docs" / "index.html").exists()
    for path in files:
        data = path.read_bytes()
        assert b"leaked.person" not in data and b"C777" not in data, path
    result = (directory / "results" / "t.json").read_text()
    assert '"partial_unexpected_list"' not in result and '"unexpected_count": 1' in result


def test_a_suite_run_outside_the_gate_fails_closed(tmp_path: Path) -> None:
    """The suite through GX alone, over the same rows, without the run's canary key: the
    canary refuses to measure (it does not report zero rows), so the suite cannot pass."""
    import duckdb
    import great_expectations as gx

    from minimizer.gate.suite import build_suites
    from minimizer.gate.validate import add_sql_source, context, duckdb_url

    record = CanaryRecord("t", ["customer_id"]).save(tmp_path)
    database = tmp_path / "w.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute(f"CREATE TABLE t AS SELECT '{_token('C1')}' AS customer_id, 'C1' AS note")
    gx_context = context(None)
    source = add_sql_source(gx_context, "w", duckdb_url(database))
    definition = gx.ValidationDefinition(
        name="v",
        data=source.add_table_asset("t", table_name="t").add_batch_definition_whole_table("all"),
        suite=gx_context.suites.add(build_suites(_policy(KEEP))["t"]),
    )
    result = gx_context.validation_definitions.add(definition).run(
        expectation_parameters={"canary_record": str(record)}
    )
    canary = [r for r in result.results if "raw_identifiers" in r.expectation_config.type]
    assert canary and not any(r.success for r in canary) and not result.success
    assert all("runs inside minimizer.gate only" in str(r.exception_info) for r in canary)
    others = [r for r in result.results if r not in canary]
    assert others and all(r.success for r in others)  # the rest measured the real row


def test_a_metric_error_fails_closed_without_quoting_the_value(tmp_path: Path) -> None:
    """pandas quotes an unparseable value in its message; the gate keeps only its type."""
    policy = _policy({"customer_id": "pseudonymise", "ts": "keep"}, time="ts")
    frame = pd.DataFrame({"customer_id": [_token("C1")], "ts": ["not-a-date-SECRET42"]})
    outcome = _gate(tmp_path, policy, frame, artefacts=True)
    failure = _failed(outcome)[("ts", "column_values_to_be_within_retention")]
    assert failure["reason"] == "error"
    assert "GateMetricError" in failure["error"] or "in column.mz" in failure["error"]
    for path in (tmp_path / "gate").rglob("*"):
        if path.is_file():
            assert b"SECRET42" not in path.read_bytes(), path


def test_the_gate_fails_closed_when_it_cannot_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error outside any expectation (GX, I/O) is a GateError naming its type only."""
    from datetime import timedelta

    from minimizer.errors import GateError
    from minimizer.gate import feature
    from minimizer.keys import KeyRing
    from minimizer.pipeline import RunReport, SourceReport

    staged = tmp_path / "t.parquet"
    pq.write_table(pa.table({"customer_id": ["x"], "note": ["y"]}), staged)
    meta = CanaryRecord("t", ["customer_id"]).save(tmp_path)
    report = RunReport(
        run_id="r", purpose="probe", policy_sha256="", key_version=1,
        started_at=CUTOFF, as_of=CUTOFF + timedelta(days=30), retention_cutoff=CUTOFF,
        sources={"t": SourceReport(source="t", staged=staged, canary=meta)},
    )  # fmt: skip

    def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full while writing /secret/path with value C777")

    monkeypatch.setattr("minimizer.gate.validate.validate_tables", broken)
    ring = KeyRing(masters={1: TEST_MASTER}, current=1)
    with pytest.raises(GateError, match=r"could not run \(OSError\)") as info:
        feature.run_gate(_policy(KEEP), report, ring, tmp_path / "artifacts")
    assert info.value.exit_code == 3 and "C777" not in str(info.value)
    report.sources["t"].staged = tmp_path / "gone.parquet"
    with pytest.raises(GateError, match="nothing staged"):
        feature.run_gate(_policy(KEEP), report, ring, None)
