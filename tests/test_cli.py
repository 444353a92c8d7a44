import json
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
