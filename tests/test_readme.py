"""The README's quickstart, copied and pasted as is, works for a new user.

The quickstart's shell block runs line by line with bash, as a person would paste it, in an
empty HOME (no key yet, no environment variable) and a fresh folder holding only the example
policies, with the installed ``minimizer`` entry point first on PATH. Nothing is skipped.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# CPU seconds of the whole block (wall time depends on who else uses the shared machine).
BUDGET_CPU_SECONDS = 60


def quickstart_commands(readme: str) -> list[str]:
    """The commands of the first ``sh`` block under '## Quickstart', continuation lines
    joined, comment-only and blank lines left out."""
    section = readme.split("## Quickstart", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "the quickstart has no ```sh block"
    joined = block[1].replace("\\\n", " ")
    return [
        line for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]


def test_the_quickstart_block_is_found_and_complete() -> None:
    commands = quickstart_commands((ROOT / "README.md").read_text())
    names = [c.split()[1] for c in commands]
    for step in ("synth", "keys", "run", "pseudonym", "audit", "erase"):
        assert step in names
    assert not any("export" in c for c in commands)  # the key file works without one


@pytest.fixture(scope="module")
def pasted(tmp_path_factory: pytest.TempPathFactory) -> list[subprocess.CompletedProcess[str]]:
    work = tmp_path_factory.mktemp("newuser")
    home = work / "home"
    home.mkdir()
    shutil.copytree(ROOT / "configs" / "purposes", work / "configs" / "purposes")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINIMIZER_")}
    env.pop("XDG_CONFIG_HOME", None)
    env |= {"HOME": str(home), "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}", "COLUMNS": "100"}
    assert (BIN / "minimizer").exists(), "the minimizer entry point is not installed in .venv"
    done = []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for command in quickstart_commands((ROOT / "README.md").read_text()):
        result = subprocess.run(
            ["bash", "-c", command], cwd=work, env=env, capture_output=True, text=True, timeout=120
        )
        done.append(result)
        assert result.returncode == 0, f"{command!r} exited {result.returncode}:\n{result.stderr}"
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    assert cpu < BUDGET_CPU_SECONDS, f"the quickstart took {cpu:.0f} CPU seconds"
    return done


def _output(runs: list[subprocess.CompletedProcess[str]], word: str) -> str:
    (match,) = [r for r in runs if f"minimizer {word}" in " ".join(map(str, r.args))]
    return match.stdout + match.stderr


def test_every_command_of_the_pasted_quickstart_succeeds(
    pasted: list[subprocess.CompletedProcess[str]],
) -> None:
    assert all(r.returncode == 0 for r in pasted)
    assert "no key" not in "".join(r.stderr for r in pasted)


def test_the_run_loads_and_says_what_the_guarantees_did(
    pasted: list[subprocess.CompletedProcess[str]],
) -> None:
    text = _output(pasted, "run")
    assert "(loaded)" in text and "k-anonymity on customers" in text
    assert "great_expectations" not in text and "INFO" not in text  # quiet by default


def test_the_pasted_pseudonym_and_erasure_find_the_synthetic_customer(
    pasted: list[subprocess.CompletedProcess[str]],
) -> None:
    assert re.fullmatch(r"mzp1_[0-9a-f]{32}\n", _output(pasted, "pseudonym"))
    erased = re.search(r"erased 1 subject\(s\): (\d+) row\(s\)", _output(pasted, "erase"))
    assert erased and int(erased[1]) > 0, "the README's subject id matches no row"
    assert "key version 2 (aes-cmac) is now current" in _output(pasted, "keys rotate")
