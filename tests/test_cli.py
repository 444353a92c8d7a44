import json
import logging
import stat
from pathlib import Path

import pytest

from minimizer.cli import main

ROOT = Path(__file__).resolve().parents[1]
CHURN = ROOT / "configs/purposes/churn_analysis.yaml"
FIXTURES = Path(__file__).parent / "fixtures" / "policies"


def test_policy_check_accepts_the_examples(capsys):
    files = [str(p) for p in sorted((ROOT / "configs/purposes").glob("*.yaml"))]
    assert main(["policy", "check", *files]) == 0
    assert capsys.readouterr().out.count("ok") == len(files)


def test_policy_check_exits_2_with_file_line_and_field(capsys):
    assert main(["policy", "check", str(CHURN), str(FIXTURES / "unknown_action.yaml")]) == 2
    err = capsys.readouterr().err
    assert "unknown_action.yaml:10" in err
    assert "sources.customers.columns.customer_id" in err


def test_policy_schema_is_json(capsys):
    assert main(["policy", "schema"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "Policy"


def test_plan_shows_every_column_and_the_guarantees(capsys):
    assert main(["plan", str(CHURN)]) == 0
    text = capsys.readouterr().out
    for expected in ("birth_date", "age_band", "pseudonymised", "k-anonymity", "retention"):
        assert expected in text


def test_unknown_command_is_a_usage_error():
    assert main(["frobnicate"]) == 2


def test_keys_init_and_pseudonym(tmp_path, monkeypatch, capsys):
    key_file = tmp_path / "keys.json"
    assert main(["keys", "init", "--file", str(key_file)]) == 0
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert main(["keys", "init", "--file", str(key_file)]) == 2  # never overwrite silently
    monkeypatch.setenv("MINIMIZER_KEY_FILE", str(key_file))
    capsys.readouterr()
    assert main(["pseudonym", "--purpose", "churn_analysis", "--value", "C1"]) == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("mzp1_") and len(token) == 37
    assert main(["keys", "rotate"]) == 0
    capsys.readouterr()
    assert main(["pseudonym", "--purpose", "churn_analysis", "--value", "C1"]) == 0
    assert capsys.readouterr().out.strip().startswith("mzp2_")


def test_pseudonym_without_a_key_exits_2(capsys):
    assert main(["pseudonym", "--purpose", "p", "--value", "C1"]) == 2
    assert "no key" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["2026-13-01", "yesterday"])
def test_bad_day_is_a_usage_error(bad, tmp_path):
    code = main(
        [
            "run",
            str(CHURN),
            "--sources",
            str(tmp_path),
            "--warehouse",
            str(tmp_path / "w.duckdb"),
            "--day",
            bad,
        ]
    )
    assert code == 2


# -- issue 13: a first run that just works, output people can trust ------------------------


@pytest.fixture
def new_user(tmp_path, monkeypatch):
    """An empty HOME and no key variable; whatever the CLI puts in the environment is undone."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    for var in ("MINIMIZER_KEY_FILE", "MINIMIZER_MASTER_KEY"):
        monkeypatch.setenv(var, "")  # recorded, so a value the CLI sets is removed afterwards
        monkeypatch.delenv(var)
    return tmp_path / "home" / ".config" / "minimizer" / "keys.json"


def test_the_default_key_file_serves_pseudonym_and_rotation_without_an_export(new_user, capsys):
    assert main(["keys", "init"]) == 0
    assert new_user.is_file() and "export" not in capsys.readouterr().out
    assert main(["pseudonym", "--purpose", "churn_analysis", "--value", "C1"]) == 0
    assert capsys.readouterr().out.startswith("mzp1_")
    assert main(["keys", "rotate"]) == 0
    assert json.loads(new_user.read_text())["current"] == 2
    assert stat.S_IMODE(new_user.stat().st_mode) == 0o600


def test_without_any_key_the_error_names_keys_init_and_the_default_file(new_user, capsys):
    assert main(["pseudonym", "--purpose", "churn_analysis", "--value", "C1"]) == 2
    err = capsys.readouterr().err
    assert "minimizer keys init" in err and str(new_user) in err.replace("\n", "")


@pytest.mark.parametrize(
    ("options", "level"),
    [([], logging.WARNING), (["-v"], logging.INFO), (["-vv"], logging.DEBUG),
     (["--quiet"], logging.ERROR)],
)  # fmt: skip
def test_quiet_by_default_with_verbose_and_quiet_options(options, level):
    assert main([*options, "policy", "schema"]) == 0
    assert logging.getLogger().level == level
    logging.getLogger().setLevel(logging.WARNING)


def test_synth_prints_a_table_not_a_repr(tmp_path, capsys):
    assert main(["synth", "--out", str(tmp_path / "s"), "--customers", "20", "--days", "1"]) == 0
    out = capsys.readouterr().out
    assert "SynthSummary" not in out and "PosixPath" not in out
    assert "CRM customers" in out and "events" in out


def test_pseudonym_refuses_an_unknown_purpose_with_the_fix(new_user, capsys):
    main(["keys", "init"])
    capsys.readouterr()
    assert main(["pseudonym", "--purpose", "churn_analisys", "--value", "C1"]) == 2
    err = capsys.readouterr().err
    assert "unknown purpose 'churn_analisys'" in err and "churn_analysis" in err
    assert "--purposes" in err and "mzp" not in err


def test_pseudonym_refuses_a_rotating_pseudonym_without_its_period(new_user, capsys):
    main(["keys", "init"])
    capsys.readouterr()
    args = ["pseudonym", "--purpose", "footfall_heatmap", "--value", "C1"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "rotates every day" in err and "--period 2026-06-14" in err and "mzp" not in err
    assert main([*args, "--period", "2026-W24"]) == 2  # a week for a daily pseudonym
    capsys.readouterr()
    assert main([*args, "--period", "2026-06-14"]) == 0
    day_one = capsys.readouterr().out.strip()
    assert main([*args, "--period", "2026-06-15"]) == 0
    assert capsys.readouterr().out.strip() not in ("", day_one)
    assert main(["pseudonym", "--purpose", "churn_analysis", "--value", "C1", "--period", "x"]) == 2


def test_run_summary_separates_published_dropped_and_drift(
    synth_sources, tmp_path, monkeypatch, capsys
):
    from tests.conftest import AS_OF, TEST_MASTER_B64

    monkeypatch.setenv("MINIMIZER_MASTER_KEY", TEST_MASTER_B64)
    # Row-level footfall (tokens, cells, unicity): the demo footfall_heatmap is an aggregate.
    footfall = ROOT / "tests/fixtures/policies/footfall_rows.yaml"
    base = ["run", str(footfall), "--sources", str(synth_sources), "--as-of", AS_OF.isoformat(),
            "--warehouse", str(tmp_path / "w.duckdb"), "--artifacts", str(tmp_path / "a")]  # fmt: skip
    assert main(base) == 0
    capsys.readouterr()
    assert main([*base, "--day", "2026-06-14"]) == 0
    out = capsys.readouterr().out
    lines = {ln.split(":")[0].strip(): ln for ln in out.splitlines() if ":" in ln}
    assert "visitor" in lines["published"] and "customer_id" not in lines["published"]
    assert "session_id" in lines["schema drift, dropped"]
    assert "visitor" not in lines["dropped by the policy"]
    (row,) = [ln for ln in out.splitlines() if ln.startswith("│ events")]
    read, loaded, _, total = (int(c.strip().replace(",", "")) for c in row.split("│")[2:6])
    assert loaded <= read and total > loaded  # the day's rows, and the table's total apart
    assert "table rows now" in out and "unicity with 4 points" in out


def test_run_refuses_an_unreadable_artefact_retention(tmp_path, capsys):
    args = ["run", str(CHURN), "--sources", str(tmp_path), "--warehouse", str(tmp_path / "w")]
    assert main([*args, "--keep-artifacts", "a month"]) == 2
    assert "e.g. 30d" in capsys.readouterr().err


def test_make_airflow_refuses_the_log_server_ports_and_ports_in_use():
    import socket

    from minimizer.demo import check_ports

    for port in (8793, 8794):
        (problem,) = check_ports(port, {})
        assert f"AIRFLOW_PORT={port}" in problem and "log server" in problem
        assert "AIRFLOW_PORT=80" in problem.split("e.g.")[1]
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        (problem,) = check_ports(port, {"AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": "0",
                                        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": "0"})  # fmt: skip
        assert f"port {port}" in problem and "in use" in problem
