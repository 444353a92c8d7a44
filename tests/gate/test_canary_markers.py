"""Canary markers: unique values planted in every sensitive source column never show up in
anything a run writes: warehouse, gate results, Data Docs, processing record, run log, logs.

Passing runs (the example policies) and failing runs (a policy that keeps notes and e-mail)
both write their artefacts; then every file under the test's folder except the sources, the
warehouse's cells, the captured output and the temporary folder are searched.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from minimizer.cli import main
from minimizer.io.warehouse import open_warehouse
from tests.conftest import AS_OF

ROOT = Path(__file__).resolve().parents[2]
MARKER = "canary7f3a"  # searched case-insensitively; planted as CANARY7f3a... and canary7f3a...


def _plant(sources: Path) -> None:
    with sqlite3.connect(sources / "crm.sqlite") as con:
        ids = "'CANARY7f3aC' || c.rowid"
        for table in ("orders", "web_profiles"):
            con.execute(
                f"UPDATE {table} SET customer_id = (SELECT {ids} FROM customers c "
                f"WHERE c.customer_id = {table}.customer_id)"
            )
        con.execute(
            "UPDATE customers SET customer_id = 'CANARY7f3aC' || rowid, "
            "first_name = 'CANARY7f3aF' || rowid, last_name = 'CANARY7f3aL' || rowid, "
            "email = 'canary7f3a.e' || rowid || '@example.org', "
            "phone = 'CANARY7f3aP' || rowid, street_address = 'CANARY7f3aS' || rowid, "
            "iban = CASE WHEN iban IS NULL THEN NULL ELSE 'CANARY7f3aI' || rowid END, "
            "notes = CASE WHEN rowid % 2 = 0 THEN 'Call CANARY7f3aF' || rowid || "
            "' via canary7f3a.e' || rowid || '@example.org' ELSE notes END"
        )
        con.execute(
            "UPDATE web_profiles SET twitter_handle = '@CANARY7f3aT' || rowid, "
            "instagram_handle = '@CANARY7f3aG' || rowid, device_id = 'CANARY7f3aD' || rowid, "
            "profile_url = 'https://example.org/CANARY7f3aU' || rowid"
        )
        con.execute("UPDATE orders SET payment_reference = 'CANARY7f3aR' || rowid")
    for part in (sources / "events").rglob("*.parquet"):
        table = pq.read_table(part)
        for column in ("customer_id", "ip", "session_id"):
            marked = pc.binary_join_element_wise("CANARY7f3a", table[column], "")
            table = table.set_column(table.schema.get_field_index(column), column, marked)
        pq.write_table(table, part)


def _policy(directory: Path, name: str, extra: dict[str, str] | None = None) -> Path:
    text = (ROOT / "configs" / "purposes" / f"{name}.yaml").read_text()
    directory.mkdir(parents=True, exist_ok=True)
    for column, action in (extra or {}).items():  # appended to the customers' columns
        text = text.replace(
            "      notes: scrub\n", f"      notes: scrub\n      {column}: {action}\n"
        )
        if column == "notes":
            text = text.replace("      notes: scrub\n", "")
    path = directory / f"{name}.yaml"
    path.write_text(text)
    return path


def _run(policy: Path, sources: Path, warehouse: Path, artifacts: Path) -> int:
    return main(
        [
            "run", str(policy), "--sources", str(sources), "--warehouse", str(warehouse),
            "--artifacts", str(artifacts), "--as-of", AS_OF.isoformat(),
        ]
    )  # fmt: skip


def _files_with_marker(root: Path) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and MARKER.encode() in path.read_bytes().lower():
            found.append(str(path.relative_to(root)))
    return found


def _cells_with_marker(warehouse: Path) -> list[str]:
    found = []
    with open_warehouse(str(warehouse)) as wh:
        for schema, table in wh.tables():
            frame = wh.read(schema, table)
            for column in frame.columns:
                text = frame[column].astype(str).str.lower()
                if text.str.contains(MARKER, regex=False).any():
                    found.append(f"{schema}.{table}.{column}")
    return found


def test_no_marker_reaches_any_artefact(
    tmp_path: Path,
    synth_sources: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level("DEBUG")
    caplog.set_level("INFO", logger="matplotlib")
    scratch = tmp_path / "tmp"  # where the runs stage: must be empty again afterwards
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    sources = tmp_path / "sources"
    shutil.copytree(synth_sources, sources)
    _plant(sources)
    out = tmp_path / "out"
    warehouse, artifacts = out / "warehouse.duckdb", out / "artifacts"

    good = out / "policies"
    for name in ("marketing_segments", "footfall_heatmap", "churn_analysis"):
        assert _run(_policy(good, name), sources, warehouse, artifacts) == 0
    leaky = out / "leaky"
    # kept notes hold names and e-mails (a policy check refuses keeping e-mail itself)
    keeps = _policy(leaky, "marketing_segments", {"notes": "keep"})
    assert _run(keeps, sources, warehouse, artifacts) == 3
    assert main(
        ["audit", "report", "--warehouse", str(warehouse), "--out", str(out / "report"),
         "--artifacts", str(artifacts), "--policies", str(good)]
    ) == 0  # fmt: skip

    written = sorted(p.name for p in artifacts.iterdir())
    assert written == ["gate", "runs.jsonl"]  # no rejected/ folder for these runs
    runs = [p for p in (artifacts / "gate").iterdir() if not p.name.startswith("_")]
    assert len(runs) == 4  # one folder per run, beside shared assets such as _assets/
    assert (out / "report" / "index.html").exists()
    assert _files_with_marker(out) == []
    assert _cells_with_marker(warehouse) == []
    streams = capsys.readouterr()
    assert MARKER not in (streams.out + streams.err + caplog.text).lower()
    # staging (minimised files, canary digests) is gone once a run ends
    assert _files_with_marker(scratch) == []
    assert not list(scratch.glob("minimizer-*"))
    # and the planted sources did hold the markers the search looks for
    assert _files_with_marker(sources)


def test_the_marker_search_finds_a_planted_marker(tmp_path: Path) -> None:
    """The search itself works: a marker in a results file or a warehouse cell is found."""
    (tmp_path / "results.json").write_text('{"note": "CANARY7f3aX"}')
    assert _files_with_marker(tmp_path) == ["results.json"]
    table = pa.table({"x": ["Canary7f3a-y"]})
    warehouse = tmp_path / "w.duckdb"
    with open_warehouse(str(warehouse)) as wh:
        wh.query("CREATE SCHEMA s")
        wh.query(f"CREATE TABLE s.t AS SELECT '{table['x'][0].as_py()}' AS x")
    assert _cells_with_marker(warehouse) == ["s.t.x"]
