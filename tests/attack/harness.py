"""The red team's probe harness: plant values in a tiny CRM, run a purpose through the CLI and
read a per-column verdict from the gate's failure details.

One column per probe (``note_k<n>`` kept, ``note_s<n>`` scrubbed), so the gate's failures
(table, column, expectation, counts; never values) attribute each catch to its probe. Planted
rows are every 10th customer; the others hold a harmless text. The warehouse is created with a
sentinel table before the run, so "byte-identical afterwards" is a hash comparison.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import re
import shutil
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from minimizer.cli import main
from tests.conftest import AS_OF, SYNTH_END, TEST_MASTER_B64

PURPOSE = "red_team_probe"
HARMLESS = "Prefers evening delivery."
EVERY = 10  # one planted row in EVERY customers


# -- sources ------------------------------------------------------------------------------
def synth(to: Path, customers: int = 60) -> Path:
    from minimizer.synth import generate

    generate(to, customers=customers, days=1, seed=11, end=SYNTH_END)
    return to


def customers(sources: Path) -> pd.DataFrame:
    with sqlite3.connect(sources / "crm.sqlite") as con:
        return pd.read_sql("SELECT * FROM customers ORDER BY customer_id", con)


def add_columns(
    sources: Path, table: str, key: str, values: dict[str, pd.Series], sql_type: str = "TEXT"
) -> None:
    """Add columns to a CRM table; ``values`` are indexed by ``key``."""
    with sqlite3.connect(sources / "crm.sqlite") as con:
        for column, series in values.items():
            con.execute(f'ALTER TABLE {table} ADD COLUMN "{column}" {sql_type}')
            cast = str if sql_type == "TEXT" else (lambda v: v)
            rows = [(None if pd.isna(v) else cast(v), k) for k, v in series.items()]
            con.executemany(f'UPDATE {table} SET "{column}" = ? WHERE {key} = ?', rows)


def planted(frame: pd.DataFrame, make: Callable[[pd.DataFrame], pd.Series] | str) -> pd.Series:
    """Every EVERY-th customer holds the planted value (fixed text or per row), others HARMLESS."""
    value = make(frame) if callable(make) else pd.Series(make, index=frame.index)
    out = pd.Series(HARMLESS, index=frame.index, dtype=object)
    at = frame.index % EVERY == 0
    out[at] = value[at]
    return pd.Series(out.to_numpy(), index=frame["customer_id"].to_numpy())


# -- policy -------------------------------------------------------------------------------
def execute(sources: Path, *statements: str) -> None:
    with sqlite3.connect(sources / "crm.sqlite") as con:
        for statement in statements:
            con.execute(statement)


def policy_text(
    columns: dict[str, str],
    orders: dict[str, str] | None = None,
    extra_source: str = "",
    top: str = "",
) -> str:
    lines = [
        f"purpose: {PURPOSE}",
        "description: Red-team probe of the leak gate with planted values.",
        "legal_basis: legitimate_interest",
        "owner: red-team",
        "retention: 3650d",
        *([top] if top else []),
        "sources:",
        "  customers:",
        "    key: customer_id",
        "    identifying: [first_name, last_name, email, phone]",
        "    columns:",
        "      customer_id: pseudonymise",
        "      loyalty_tier: keep",
        *(f"      {c}: {a}" for c, a in columns.items()),
        *([extra_source] if extra_source else []),
        "  orders:",
        "    key: customer_id",
        "    time: order_date",
        "    columns:",
        "      customer_id: pseudonymise",
        "      order_month: {generalise: month, source: order_date}",
        *(f"      {c}: {a}" for c, a in (orders or {}).items()),
    ]
    return "\n".join(lines) + "\n"


def write_policy(directory: Path, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{PURPOSE}.yaml"
    path.write_text(text)
    return path


# -- running ------------------------------------------------------------------------------
@dataclass
class Outcome:
    code: int
    output: str
    failures: list[dict[str, object]]
    warehouse_unchanged: bool
    warehouse: Path
    artifacts: Path
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    def flagged(self, table: str = "customers") -> set[str]:
        return {str(f["column"]) for f in self.failures if f.get("table") == table}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fresh_warehouse(path: Path) -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE red_team_sentinel AS SELECT 1 AS x")
        con.execute("CHECKPOINT")
    return path


def cli(args: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with (
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(out),
        _master_key(),
    ):
        try:
            code = main(args)
        except SystemExit as exc:  # argparse
            code = int(exc.code or 0)
        except Exception as exc:
            code = -1
            out.write(f"\nCRASH {type(exc).__name__}")
    return code, out.getvalue()


@contextlib.contextmanager
def _master_key():
    import os

    old = os.environ.get("MINIMIZER_MASTER_KEY")
    os.environ["MINIMIZER_MASTER_KEY"] = TEST_MASTER_B64
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MINIMIZER_MASTER_KEY", None)
        else:
            os.environ["MINIMIZER_MASTER_KEY"] = old


def run(policy: Path, sources: Path, root: Path) -> Outcome:
    root.mkdir(parents=True, exist_ok=True)
    warehouse = fresh_warehouse(root / "w.duckdb")
    before = _sha(warehouse)
    artifacts = root / "artifacts"
    args = ["run", str(policy), "--sources", str(sources), "--warehouse", str(warehouse)]
    args += ["--artifacts", str(artifacts), "--as-of", AS_OF.isoformat()]
    code, output = cli(args)
    (root / "output.txt").write_text(output)
    failures: list[dict[str, object]] = []
    runs = artifacts / "runs.jsonl"
    if runs.exists():
        last = json.loads(runs.read_text().splitlines()[-1])
        failures = list(last.get("details", {}).get("gate", {}).get("failures", []) or [])
    outcome = Outcome(code, output, failures, _sha(warehouse) == before, warehouse, artifacts)
    if code == 0:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            for table in ("customers", "orders"):
                with contextlib.suppress(duckdb.Error):
                    outcome.tables[table] = con.execute(f'SELECT * FROM "{PURPOSE}"."{table}"').df()
    return outcome


# -- finding a planted value --------------------------------------------------------------
def forms(value: str) -> set[str]:
    """The value and its normalised forms: lower-case, without spaces, digits only."""
    out = {value, value.lower(), re.sub(r"\s+", "", value).lower()}
    digits = re.sub(r"\D", "", value)
    if len(digits) >= 7:  # shorter digit runs occur by chance in any artefact
        out.add(digits)
    return {f for f in out if len(f) >= 4}


def reveals(published: str, core: str) -> bool:
    """Whether ``published`` still shows ``core`` (or a normalised form of it)."""
    squashed = re.sub(r"\s+", "", published).lower()
    if any(re.sub(r"\s+", "", f).lower() in squashed for f in forms(core)):
        return True
    digits = re.sub(r"\D", "", core)
    return len(digits) >= 7 and digits in re.sub(r"\D", "", published)


def _texts(root: Path) -> Iterable[tuple[Path, str]]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix not in {".duckdb", ".wal"}:
            yield path, path.read_bytes().decode("utf-8", errors="replace")


def artefact_hits(outcome: Outcome, cores: Iterable[str]) -> list[tuple[str, str]]:
    """(core, where) for every planted core found in the artefacts or the output.

    The warehouse is checked by the caller from its tables (a run that exits 3 must leave it
    byte-identical, which the hash shows)."""
    found: list[tuple[str, str]] = []
    texts = [("output", outcome.output), *((str(p), t) for p, t in _texts(outcome.artifacts))]
    lowered = [(where, text, text.lower()) for where, text in texts]
    for core in set(cores):
        needles = {f.lower() for f in forms(core) if not f.isdigit()}
        digits = {f for f in forms(core) if f.isdigit()}
        for where, text, low in lowered:
            if any(n in low for n in needles) or any(d in text for d in digits):
                found.append((core, where))
    return found


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def copy_sources(src: Path, to: Path) -> Path:
    shutil.copytree(src, to)
    return to
