"""Erasure requests: id files (located errors, no ids quoted), the drop folder, the CRM table,
and the task logic of the erasure_requests DAG end to end."""

from __future__ import annotations

import json
import sqlite3
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from minimizer.rights.errors import RequestFileError
from minimizer.rights.requests import (
    ErasureSettings,
    acknowledge_task,
    collect_task,
    erase_task,
    pending_from_crm,
    read_drop_folder,
    read_id_file,
)
from tests.rights.conftest import PURPOSES, busiest_customers, row_counts

ROOT = Path(__file__).resolve().parents[2]


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_an_id_file_takes_a_header_blank_lines_times_and_a_bom(tmp_path):
    file = write(
        tmp_path / "ids.csv",
        "\ufeffsubject_id,requested_at\n C1 \n\nC2,2026-06-01T10:00:00+02:00\nC3,2026-06-02\n",
    )
    found = read_id_file(file)
    assert [r.subject_id for r in found] == ["C1", "C2", "C3"]
    assert found[0].requested_at is None
    assert found[1].requested_at == datetime(2026, 6, 1, 8, tzinfo=UTC)
    assert found[2].requested_at == datetime(2026, 6, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("C1\nC2,2026-01-01,extra\n", 2, "3 fields"),
        ("C1\n\n\t,2026-01-01\n", 3, "empty subject id"),
        ("C1\nC2,tomorrow\n", 2, "requested_at is not an ISO 8601 time"),
        ('C1\n"C2\n', 2, "malformed CSV"),
        (b"C1\nC\xff2\n", 2, "not UTF-8 text"),
        ("C1\nC\x002\n", 2, "subject id is not printable"),
        ("\n\n", 1, "no subject id"),
        ("subject_id,when\nC1\n", 1, "header must be subject_id[,requested_at]"),
    ],
)
def test_each_malformed_line_is_located_and_never_quoted(tmp_path, text, line, message):
    file = write(tmp_path / "ids.csv", text)
    with pytest.raises(RequestFileError) as info:
        read_id_file(file)
    assert f"{file}:{line}: {message}" in str(info.value)
    assert "C2" not in str(info.value) and info.value.exit_code == 2


def test_every_problem_of_every_drop_file_is_reported_at_once(tmp_path):
    write(tmp_path / "drop" / "a.csv", "C1\nC2,bad\n")
    write(tmp_path / "drop" / "b.csv", "C3\n,2026-06-01\n")
    write(tmp_path / "drop" / "notes.txt", "not a request file")
    with pytest.raises(RequestFileError) as info:
        read_drop_folder(tmp_path / "drop")
    assert [(Path(p.file).name, p.line) for p in info.value.problems] == [
        ("a.csv", 2),
        ("b.csv", 2),
    ]
    (tmp_path / "drop" / "a.csv").write_text("C1\nC2\n")
    (tmp_path / "drop" / "b.csv").write_text("C3\n")
    requests, files = read_drop_folder(tmp_path / "drop")
    assert [r.subject_id for r in requests] == ["C1", "C2", "C3"] and len(files) == 2


def _with_requests(sources: Path, rows: list[tuple[str | None, str, str]]) -> str:
    crm = sources / "crm.sqlite"
    with sqlite3.connect(crm) as con:
        con.execute(
            "CREATE TABLE erasure_requests (subject_id TEXT, requested_at TIMESTAMP, status TEXT)"
        )
        con.executemany("INSERT INTO erasure_requests VALUES (?, ?, ?)", rows)
    return str(crm)


def test_pending_crm_requests_are_read_with_their_times(sources):
    crm = _with_requests(
        sources,
        [
            ("C1", "2026-06-01 10:00:00", "pending"),
            ("C2", "2026-06-01 11:00:00", "done"),
            (None, "2026-06-01 12:00:00", "pending"),
            ("C3", "2026-06-02 09:30:00", "PENDING"),
        ],
    )
    found = pending_from_crm(crm)
    assert [r.subject_id for r in found] == ["C1", "C3"]
    assert found[1].requested_at == datetime(2026, 6, 2, 9, 30, tzinfo=UTC)


def test_the_dag_tasks_serve_crm_and_drop_folder_requests_end_to_end(
    warehouse, key_env, sources, tmp_path, pseudonym
):
    first, second = busiest_customers(sources)
    crm = _with_requests(sources, [(first, "2026-06-01 10:00:00", "pending")])
    drop = tmp_path / "drop"
    write(drop / "from-support.csv", f"subject_id\n{second}\n")
    settings = ErasureSettings(
        warehouses=(str(warehouse),),
        purposes=PURPOSES,
        crm=crm,
        drop=drop,
        work=tmp_path / "work",
    )
    before = row_counts(warehouse)
    path = collect_task(settings)
    assert path is not None and stat.S_IMODE(Path(path).stat().st_mode) == 0o600
    write(drop / "late.csv", "C-LATE\n")  # arrives after collect: not served by this run

    summary = erase_task(settings, path)
    text = json.dumps(summary)
    assert first not in text and second not in text  # XCom: counts and keyed ids only
    served = summary["warehouses"]["warehouse_0"]
    assert served["subjects"] == 2 and served["not_found"] == 0
    assert sum(served["rows_deleted"].values()) == sum(before.values()) - sum(
        row_counts(warehouse).values()
    )

    assert acknowledge_task(settings, path) == 1
    with sqlite3.connect(crm) as con:
        assert con.execute("SELECT status FROM erasure_requests").fetchall() == [("done",)]
    assert [p.name for p in drop.glob("*.csv")] == ["late.csv"]
    assert len(list((drop / "processed").glob("*from-support.csv"))) == 1
    assert not Path(path).exists()
    (drop / "late.csv").unlink()
    assert collect_task(settings) is None  # nothing pending any more
    assert erase_task(settings, None) == {"subjects": 0}


def test_settings_from_the_environment_need_a_warehouse(tmp_path):
    with pytest.raises(Exception, match="MINIMIZER_WAREHOUSE"):
        ErasureSettings.from_env({})
    settings = ErasureSettings.from_env(
        {"MINIMIZER_WAREHOUSE": "a.duckdb, postgresql://u:secret@h/db", "MINIMIZER_POLICY_DIR": "p"}
    )
    assert settings.warehouses == ("a.duckdb", "postgresql://u:secret@h/db")
    assert settings.purposes == Path("p") and "secret" not in repr(settings)


@pytest.mark.airflow
def test_the_dag_file_parses_into_collect_erase_acknowledge(tmp_path):
    script = (
        "import json, sys\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        "bag = DagBag(dag_folder=sys.argv[1])\n"
        "dag = bag.dags['erasure_requests']\n"
        "print(json.dumps({'errors': {k: str(v) for k, v in bag.import_errors.items()},"
        " 'modules': sorted(m for m in sys.modules if m.startswith('minimizer')),"
        " 'tasks': {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks},"
        " 'max_active_runs': dag.max_active_runs}))\n"
    )
    env = {
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'airflow.db'}",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-c", script, str(ROOT / "dags" / "erasure_requests.py")],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    )
    parsed = json.loads(done.stdout.strip().splitlines()[-1])
    assert parsed["errors"] == {}
    assert parsed["modules"] == []  # minimizer is imported by the tasks, not at parse time
    assert parsed["tasks"] == {
        "collect": ["acknowledge", "erase"],
        "erase": ["acknowledge"],
        "acknowledge": [],
    }
    assert parsed["max_active_runs"] == 1


@pytest.mark.parametrize("separator", [";", "\t", ","])
def test_the_separator_of_a_spreadsheet_export_is_detected(tmp_path, separator):
    text = f"subject_id{separator}requested_at\nC1{separator}2026-06-01T10:00:00Z\nC2{separator}\n"
    found = read_id_file(write(tmp_path / "ids.csv", text))
    assert [r.subject_id for r in found] == ["C1", "C2"]
    assert found[0].requested_at == datetime(2026, 6, 1, 10, tzinfo=UTC)
    assert found[1].requested_at is None


def test_a_german_excel_file_without_header_takes_german_dates(tmp_path):
    text = "\ufeffC1;01.06.2026 10:30\r\nC2;2.6.2026\r\nC3\r\n"
    found = read_id_file(write(tmp_path / "ids.csv", text))
    assert [(r.subject_id, r.requested_at) for r in found] == [
        ("C1", datetime(2026, 6, 1, 10, 30, tzinfo=UTC)),
        ("C2", datetime(2026, 6, 2, tzinfo=UTC)),
        ("C3", None),
    ]


def test_a_customer_id_header_names_the_id_column_in_any_position(tmp_path):
    text = "requested_at;customer_id\n2026-06-01;C1\n;C2\n"
    assert [r.subject_id for r in read_id_file(write(tmp_path / "ids.csv", text))] == [
        "C1",
        "C2",
    ]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        # The separator is ';' (most lines); a ',' in an id means the file mixes them.
        ("C1;2026-06-01\nC2;2026-06-02\nC2,2026-06-03\n", 3, "subject id holds a separator"),
        ("subject_id;requested_at\nC1;2026-06-01;x\n", 2, "3 fields"),
        ("subject_id;requested_at;name\nC1;2026-06-01;Max\n", 1, "header must be"),
        ("C1;31.02.2026\n", 1, "requested_at is not an ISO 8601 time"),
        ("subject_id\tcustomer_id\nC1\tC2\n", 1, "header must be"),
    ],
)
def test_a_line_of_a_spreadsheet_export_that_does_not_parse_is_located(
    tmp_path, text, line, message
):
    file = write(tmp_path / "ids.csv", text)
    with pytest.raises(RequestFileError) as info:
        read_id_file(file)
    assert f"{file}:{line}: {message}" in str(info.value)
    assert "C2" not in str(info.value) and "Max" not in str(info.value)


def test_a_spreadsheets_empty_rows_and_unused_columns_are_not_ids(tmp_path):
    text = "subject_id;requested_at;;\r\nC1;2026-06-01;;\r\n;;;\r\nC2;;;\r\n"
    found = read_id_file(write(tmp_path / "ids.csv", text))
    assert [r.subject_id for r in found] == ["C1", "C2"]


def test_a_cp1252_export_is_refused_with_the_fix(tmp_path):
    file = write(tmp_path / "ids.csv", "subject_id\nC1\nMüller-7\n".encode("cp1252"))
    with pytest.raises(RequestFileError) as info:
        read_id_file(file)
    assert f"{file}:3: not UTF-8 text (in Excel, save as 'CSV UTF-8')" in str(info.value)
