"""The report and the Data Docs in a real browser: headless Chromium, offline.

Chromium is Debian's package; the test installs it (as root, ``apt-get``) when it is missing
and fails, never skips, when it cannot. Host names resolve nowhere, so the pages must show
everything without a download (GX's Data Docs reference CDNs for styling and scripts; their
validation pages are rendered server-side and read fine without them).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from minimizer.cli import main
from tests.audit.conftest import AuditRuns, ExampleRuns
from tests.gate.probe import PURPOSE

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
# Screenshots refresh docs/img only when asked: tests do not change tracked files otherwise.
IMAGES = ROOT / "docs" / "img"
UPDATE_DOCS = os.environ.get("MINIMIZER_UPDATE_SCREENSHOTS") == "1"
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # offline: nothing may download
)  # fmt: skip
JS_ERRORS = re.compile(r"Uncaught|ReferenceError|TypeError:|SyntaxError|is not defined")


def _ensure_chromium() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() != 0:
        pytest.fail("Chromium is missing and installing it needs root (apt-get install chromium)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            pytest.fail(f"{' '.join(command)} failed: {done.stderr[-2000:]}")
    if not CHROMIUM.exists():
        pytest.fail("apt-get installed chromium but /usr/bin/chromium is missing")
    return CHROMIUM


def _chromium(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [
        str(_ensure_chromium()),
        *FLAGS,
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        *extra,
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def _text(dom: str) -> str:
    body = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", dom)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


def _console_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "CONSOLE" in line and JS_ERRORS.search(line)]


@pytest.fixture(scope="module")
def report(audit_runs: AuditRuns, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("browser-report")
    assert main(
        ["audit", "report", "--warehouse", str(audit_runs.warehouse), "--out", str(out),
         "--artifacts", str(audit_runs.artifacts), "--policies", str(audit_runs.policies)]
    ) == 0  # fmt: skip
    return out / "index.html"


def test_the_report_loads_with_every_section_and_no_js_error(report: Path, tmp_path: Path) -> None:
    done = _chromium(report, tmp_path / "profile", "--dump-dom")
    text = _text(done.stdout)
    for section in (
        f"Processing record: {PURPOSE}",
        "Purpose and legal basis",
        "Categories of personal data",
        "Transformation of each column",
        "Retention",
        "Guarantees",
        "Gate results over time",
        "legitimate_interest",
        "failed",
        "passed",
    ):
        assert section in text, section
    assert not JS_ERRORS.search(text)
    assert _console_errors(done.stderr) == []  # the report has no script at all
    shot = tmp_path / "report.png"
    _chromium(report, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,2200")
    assert shot.read_bytes().startswith(b"\x89PNG")
    if UPDATE_DOCS:
        shutil.copy(shot, IMAGES / "audit-report.png")


def test_the_data_docs_of_a_failed_run_load_and_show_the_failure(
    audit_runs: AuditRuns, tmp_path: Path
) -> None:
    failed = json_last_failed(audit_runs.artifacts)
    gate = audit_runs.artifacts / "gate" / failed
    pages = sorted((gate / "data_docs" / "validations" / PURPOSE / "customers").rglob("*.html"))
    assert len(pages) == 1
    done = _chromium(pages[0], tmp_path / "profile", "--dump-dom")
    text = _text(done.stdout)
    for section in (
        "Expectation Validation Result",
        "Table-Level Expectations",
        "Evaluated Expectations",
        "Unsuccessful Expectations",
        "note_email must not contain an e-mail address",
        "must not hold a raw identifier of its source",
        "Failed",
    ):
        assert section in text, section
    assert not JS_ERRORS.search(text)
    # our own gate page, linking the same pages, works offline without any script
    done = _chromium(gate / "index.html", tmp_path / "profile", "--dump-dom")
    page = _text(done.stdout)
    assert "failed: nothing was loaded" in page and "note_email" in page
    assert _console_errors(done.stderr) == []
    shot = tmp_path / "docs.png"
    _chromium(pages[0], tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,2200")
    assert shot.read_bytes().startswith(b"\x89PNG")
    if UPDATE_DOCS:
        shutil.copy(shot, IMAGES / "data-docs.png")


def json_last_failed(artifacts: Path) -> str:
    import json

    runs = [json.loads(line) for line in (artifacts / "runs.jsonl").read_text().splitlines()]
    return next(r["run_id"] for r in reversed(runs) if r["status"] == "failed")


def test_the_example_record_shows_findings_erasures_and_rotations_in_a_browser(
    example_runs: ExampleRuns, tmp_path: Path
) -> None:
    out = tmp_path / "report"
    assert main(
        ["audit", "report", "--warehouse", str(example_runs.warehouse), "--out", str(out),
         "--artifacts", str(example_runs.artifacts), "--policies", str(example_runs.policies)]
    ) == 0  # fmt: skip
    done = _chromium(out / "index.html", tmp_path / "profile", "--dump-dom")
    text = _text(done.stdout)
    for section in (
        "loyalty_tier: generalised one level (to *)",
        "warning: loyalty_tier collapsed to * in every row",
        "discernibility",
        "unicity with 4 points",
        "Erasures (GDPR Art. 17)",
        "1 subject erasure(s) deleted rows of this purpose",
        "Key rotations",
        "re-keyed (keys rekey)",
    ):
        assert section in text, section
    assert _console_errors(done.stderr) == []
    shot = tmp_path / "findings.png"
    _chromium(out / "index.html", tmp_path / "profile", f"--screenshot={shot}",
              "--window-size=1280,2600")  # fmt: skip
    assert shot.read_bytes().startswith(b"\x89PNG")
    if UPDATE_DOCS:
        shutil.copy(shot, IMAGES / "audit-findings.png")
