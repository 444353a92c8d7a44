"""``minimizer scan``: kinds, shares, distinct counts and categories, and never a value."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import sqlite3
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds
import pytest

from minimizer.categories import Category
from minimizer.cli import main
from minimizer.scan import profile_column, scan_sources

ROOT = Path(__file__).resolve().parents[1]
PLANTED = {
    "notes": "Rückruf an Zyxa Quorblatt, zyxa.quorblatt@example.org, Tel. +49 30 9876543",
    "first_name": "Zyxaquorb",
    "iban": "DE89370400440532013000",
}


@pytest.fixture(scope="module")
def planted(synth_sources: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic sources with distinctive values planted in a few customers' rows."""
    root = tmp_path_factory.mktemp("scan") / "sources"
    shutil.copytree(synth_sources, root)
    with sqlite3.connect(root / "crm.sqlite") as con:
        for column, value in PLANTED.items():
            con.execute(f"UPDATE customers SET {column} = ? WHERE rowid % 7 = 0", (value,))
    return root


def _raw_values(sources: Path) -> set[str]:
    """Every distinct value of every source, as text."""
    values: set[str] = set()
    with sqlite3.connect(sources / "crm.sqlite") as con:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            frame = pd.read_sql_query(f'SELECT * FROM "{table}"', con)
            for col in frame.columns:
                values |= set(frame[col].dropna().astype(str))
    events = ds.dataset(sources / "events", format="parquet", partitioning="hive").to_table()
    for col in events.column_names:
        values |= set(events[col].to_pandas().dropna().astype(str).head(5000))
    return values


SAMPLE = ["--sample", "600"]  # the detectors' cost grows with the sample; 600 rows suffice


def _scan_output(args: list[str]) -> str:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        assert main(["scan", *args, *SAMPLE]) == 0
    return buffer.getvalue()


@pytest.fixture(scope="module")
def outputs(planted: Path) -> tuple[str, str]:
    """The scan of the planted sources, as tables and as JSON."""
    return _scan_output(["--sources", str(planted)]), _scan_output(
        ["--sources", str(planted), "--json"]
    )


def _leaked(output: str, sources: Path) -> list[str]:
    # Words the output is made of: names of tables, columns, kinds and categories, counts.
    vocabulary = set(re.findall(r"[A-Za-z_]+", output))
    leaks = []
    for value in _raw_values(sources) | set(PLANTED.values()):
        if len(value) < 5 or value in vocabulary or re.fullmatch(r"[\d.,]{1,6}", value):
            continue
        if value in output:
            leaks.append(value)
    return leaks


def test_scan_prints_no_value_in_tables_or_json(planted, outputs) -> None:
    table, as_json = outputs
    assert "customers" in table and "events" in table
    assert _leaked(table, planted) == []
    assert _leaked(as_json, planted) == []
    for value in PLANTED.values():
        assert value not in table + as_json


def test_scan_categorises_the_synthetic_sources(outputs) -> None:
    doc = json.loads(outputs[1])
    cats = {
        (s["source"], c["column"]): Category(c["category"])
        for s in doc["sources"]
        for c in s["columns"]
    }
    D, Q, L = Category.direct_identifier, Category.quasi_identifier, Category.precise_location
    expected = {
        ("customers", "customer_id"): D,
        ("customers", "first_name"): D,
        ("customers", "email"): D,
        ("customers", "phone"): D,
        ("customers", "iban"): D,
        ("customers", "street_address"): D,
        ("customers", "birth_date"): Q,
        ("customers", "postcode"): Q,
        ("customers", "city"): Q,
        ("customers", "notes"): Category.free_text,
        ("customers", "signup_date"): Category.time,
        ("customers", "loyalty_tier"): Category.other,
        ("orders", "order_id"): D,  # unique per row: an identifier, by content alone
        ("orders", "order_date"): Category.time,
        ("orders", "channel"): Category.other,
        ("web_profiles", "device_id"): D,
        ("web_profiles", "twitter_handle"): D,
        ("web_profiles", "profile_url"): D,
        ("events", "lat"): L,
        ("events", "lon"): L,
        ("events", "ip"): D,
        ("events", "ts"): Category.time,
    }
    assert {k: cats.get(k) for k in expected} == expected


def test_content_alone_finds_identifiers_behind_harmless_names(tmp_path) -> None:
    emails = pd.Series([f"person{i}@example.org" for i in range(200)], name="col_a")
    coords = pd.Series([52.5 + i / 1e5 for i in range(200)], name="col_b")
    tiers = pd.Series(["gold", "silver"] * 100, name="col_c")
    found = {s.name: profile_column(s) for s in (emails, coords, tiers)}
    assert found["col_a"].category.category is Category.direct_identifier
    assert found["col_a"].kinds == {"email": 1.0}
    assert found["col_a"].category.basis == ("content: email 100%",)
    assert found["col_b"].category.category is Category.precise_location
    assert found["col_c"].category.category is Category.other
    assert found["col_c"].distinct == 2


def test_scan_json_has_kinds_shares_and_distinct_counts(outputs) -> None:
    doc = json.loads(outputs[1])
    assert doc["sample_rows"] == 600
    customers = next(s for s in doc["sources"] if s["source"] == "customers")
    email = next(c for c in customers["columns"] if c["column"] == "email")
    assert email["category"] == "direct_identifier" and email["kinds"]["email"] > 0.9
    assert email["distinct"] <= email["non_null"] <= email["sampled"]
    notes = next(c for c in customers["columns"] if c["column"] == "notes")
    assert notes["category"] == "free_text" and 0 < notes["kinds"]["email"] < 1


def test_scan_reads_a_bounded_sample(planted) -> None:
    only = [("orders", "table", "orders", {}), ("events", "events", "events", {})]
    scans = scan_sources(planted, sample_rows=50, sources=only)
    assert [c.sampled for s in scans for c in s.columns] == [50] * sum(
        len(s.columns) for s in scans
    )


def test_scan_with_a_policy_uses_its_sources_and_categories(planted, tmp_path) -> None:
    text = (ROOT / "configs/purposes/marketing_segments.yaml").read_text()
    text = text.replace("    identifying:", "    categories: {loyalty_tier: quasi_identifier}\n"
                        "    identifying:")  # fmt: skip
    policy = tmp_path / "marketing_segments.yaml"
    policy.write_text(text)
    doc = json.loads(_scan_output(["--sources", str(planted), "--policy", str(policy), "--json"]))
    names = [s["source"] for s in doc["sources"]]
    assert names == ["customers", "web_profiles", "orders"]
    tier = next(c for c in doc["sources"][0]["columns"] if c["column"] == "loyalty_tier")
    assert tier["category"] == "quasi_identifier" and "policy" in tier["basis"]


def test_scan_of_an_empty_folder_is_an_error(tmp_path, capsys) -> None:
    assert main(["scan", "--sources", str(tmp_path)]) == 2
    assert "no sources found" in capsys.readouterr().err
