"""Erasure keeps k: a class left below k distinct subjects is suppressed whole, in the same
transaction, and the report says how many rows. Comparing the table before and after then
shows no class of the erased person's quasi-identifiers that a smaller count would betray.

The tables are built directly (one staged file, loaded with the registry entries the churn
policy gives), so the properties can be tried on many shapes quickly, with no policy handed
to the erasure: the guarantee comes from the warehouse's registry."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minimizer.io.warehouse import TableLoad, Warehouse, open_warehouse
from minimizer.keys import KeyRing
from minimizer.policy import load_policy
from minimizer.rights.erasure import ErasureRequest, erase_subjects
from minimizer.rights.registry import table_entries
from minimizer.transforms.pseudonymise import token_for
from tests.conftest import TEST_MASTER
from tests.rights.conftest import PURPOSES, assert_record_equals_tables

K = 5
QIS = ["age_band", "postcode_area", "loyalty_tier"]
POLICY = load_policy(PURPOSES / "churn_analysis.yaml")
RING = KeyRing({1: TEST_MASTER}, 1)
PG_URL = os.environ.get("MINIMIZER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def customers(classes: list[int], repeats: list[int], purpose: str) -> pd.DataFrame:
    """Class c holds ``classes[c]`` subjects, subject j of it ``repeats[...]`` rows (rows are
    not people: a subject may appear several times)."""
    rows = []
    n = 0
    for c, size in enumerate(classes):
        for j in range(size):
            subject = f"S{c}-{j}"
            rows += [(subject, f"{20 + 10 * c}-{29 + 10 * c}", "10", "gold")] * repeats[
                n % len(repeats)
            ]
            n += 1
    frame = pd.DataFrame(rows, columns=["subject", *QIS])
    key = RING.purpose_key(purpose)
    frame["customer_id"] = [token_for(s, key) for s in frame["subject"]]
    frame["signup_month"] = "2024-01"
    return frame


def load(wh: Warehouse, frame: pd.DataFrame, folder: Path, purpose: str) -> None:
    table = pa.Table.from_pandas(frame[["customer_id", *QIS, "signup_month"]], preserve_index=False)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}.parquet"
    pq.write_table(table, path)
    entries = table_entries(POLICY, "customers", {"k_anonymity"})
    load_ = TableLoad("customers", [path], table.schema, registry=entries)
    now = datetime.now(UTC)
    audit = {
        "run_id": uuid.uuid4().hex,
        "purpose": purpose,
        "policy_sha256": POLICY.sha256,
        "status": "loaded",
        "started_at": now,
        "finished_at": now,
        "key_version": 1,
        "rows_in": {"customers": len(frame)},
        "rows_out": {"customers": len(frame)},
        "dropped_columns": {},
        "schema_drift": {},
        "details": {},
    }
    wh.load(purpose, [load_], audit)


def published(wh: Warehouse, purpose: str) -> pd.DataFrame:
    return wh.read(purpose, "customers")


def classes_of(frame: pd.DataFrame) -> pd.Series:
    """Distinct subjects per released class (suppressed rows, all '*', are no class)."""
    kept = frame.loc[~(frame[QIS] == "*").all(axis=1)]
    return kept.groupby(QIS)["customer_id"].nunique()


def test_erasing_one_of_exactly_k_suppresses_the_rest_of_the_class(tmp_path):
    with open_warehouse(tmp_path / "w.duckdb") as wh:
        frame = customers([K, K + 2], [1, 2], "churn_analysis")
        load(wh, frame, tmp_path / "staged", "churn_analysis")
        before = published(wh, "churn_analysis")
        report = erase_subjects(wh, [], RING, [ErasureRequest("S0-1")])
        after = published(wh, "churn_analysis")
    erased_class = ("20-29", "10", "gold")
    # The erased person's rows went; the rows of the four left are masked, not kept as 4.
    left = frame[(frame.age_band == "20-29") & (frame.subject != "S0-1")]
    assert left.subject.nunique() == K - 1
    assert report.suppressed == {"churn_analysis.customers": {"k_anonymity": len(left)}}
    assert erased_class not in set(classes_of(after).index)
    assert classes_of(after).min() >= K
    assert classes_of(after).to_dict() == {("30-39", "10", "gold"): K + 2}
    # Before/after: the only class that changed is gone whole; the other is untouched.
    untouched = before[before.age_band == "30-39"].sort_values("customer_id")
    still = after[after.age_band == "30-39"].sort_values("customer_id")
    assert untouched.reset_index(drop=True).equals(still.reset_index(drop=True))
    assert (after[QIS] == "*").all(axis=1).sum() == len(left)
    assert_record_equals_tables(tmp_path / "w.duckdb")


def test_a_class_whose_quasi_identifier_is_null_is_kept_at_k_too(tmp_path):
    frame = customers([K, K], [1], "churn_analysis")
    frame.loc[frame.age_band == "20-29", "age_band"] = None  # a NULL class, not a masked one
    with open_warehouse(":memory:") as wh:
        load(wh, frame, tmp_path, "churn_analysis")
        report = erase_subjects(wh, [], RING, [ErasureRequest("S0-0")])
        after = published(wh, "churn_analysis")
    assert report.suppressed == {"churn_analysis.customers": {"k_anonymity": K - 1}}
    assert after.age_band.isna().sum() == 0 and (after[QIS] == "*").all(axis=1).sum() == K - 1


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    sizes=st.lists(st.integers(K, K + 2), min_size=1, max_size=4),
    repeats=st.lists(st.integers(1, 3), min_size=1, max_size=4),
    picks=st.lists(st.tuples(st.integers(0, 3), st.integers(0, K + 1)), min_size=1, max_size=4),
)
def test_after_any_erasure_inside_classes_of_k_every_released_class_holds_k_people(
    tmp_path_factory, sizes, repeats, picks
):
    folder = tmp_path_factory.mktemp("k")
    frame = customers(sizes, repeats, "churn_analysis")
    erased = sorted({f"S{c % len(sizes)}-{j % sizes[c % len(sizes)]}" for c, j in picks})
    with open_warehouse(":memory:") as wh:
        load(wh, frame, folder, "churn_analysis")
        report = erase_subjects(wh, [], RING, [ErasureRequest(s) for s in erased])
        after = published(wh, "churn_analysis")
    # Every released class: at least k distinct subjects, counted by an independent group-by.
    sizes_after = classes_of(after)
    assert sizes_after.empty or sizes_after.min() >= K
    left = frame[~frame.subject.isin(erased)]
    # No one else lost a row: rows are masked, never deleted, by the re-enforcement.
    assert len(after) == len(left)
    people = left.groupby(QIS)["subject"].nunique()
    for qi, n in people.items():
        if n >= K:
            assert sizes_after.get(qi) == n  # a class still of k people is kept as it was
        else:
            assert qi not in sizes_after.index  # a class below k is suppressed whole
    masked = int(left.groupby(QIS)["subject"].transform("nunique").lt(K).sum())
    assert report.suppressed.get("churn_analysis.customers", {}).get("k_anonymity", 0) == masked


@pytest.fixture
def pg_purpose() -> Iterator[str]:
    name = f"mz_keepk_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL unreachable at 127.0.0.1:5432 ({type(exc).__name__})")
    try:
        yield name
    finally:
        admin.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        admin.execute(f"DELETE FROM minimizer_audit.loaded_tables WHERE purpose = '{name}'")
        admin.execute(f"DELETE FROM minimizer_audit.runs WHERE purpose = '{name}'")
        admin.execute(
            "DELETE FROM minimizer_audit.suppressed_subjects WHERE erasure_id IN (SELECT"
            " erasure_id FROM minimizer_audit.erasures WHERE rows_deleted::text LIKE"
            f" '%{name}.%')"
        )
        admin.execute(
            f"DELETE FROM minimizer_audit.erasures WHERE rows_deleted::text LIKE '%{name}.%'"
        )
        admin.close()


@pytest.mark.postgres
def test_erasure_keeps_k_on_postgresql(tmp_path, pg_purpose):
    with open_warehouse(PG_URL) as wh:
        frame = customers([K, K + 1], [1, 3], pg_purpose)
        load(wh, frame, tmp_path, pg_purpose)
        report = erase_subjects(wh, [], RING, [ErasureRequest("S0-4")])
        after = published(wh, pg_purpose)
    left = frame[(frame.age_band == "20-29") & (frame.subject != "S0-4")]
    assert report.suppressed == {f"{pg_purpose}.customers": {"k_anonymity": len(left)}}
    assert (after[QIS] == "*").all(axis=1).sum() == len(left)
    assert classes_of(after).to_dict() == {("30-39", "10", "gold"): K + 1}
