"""In a real run, one customer copied five times into a city nobody else lives in is one person:
the class is never published, whether the policy publishes the key as a pseudonym or drops it.
Checked on the warehouse with a plain group-by."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from minimizer.flow import Steps, run_purpose
from minimizer.io.warehouse import open_warehouse
from minimizer.pipeline import Sources
from minimizer.policy import load_policy
from tests.conftest import AS_OF

ROOT = Path(__file__).resolve().parents[2]
PURPOSES = ROOT / "configs" / "purposes"
QIS = ["age_band", "city", "loyalty_tier"]


def _clone(synth_sources: Path, tmp_path: Path, copies: int, city: str) -> Path:
    sources = tmp_path / "src"
    shutil.copytree(synth_sources, sources)
    with sqlite3.connect(sources / "crm.sqlite") as db:
        # A CRM without a unique key (an export, a merge gone wrong): copies are possible.
        db.execute("CREATE TABLE loose AS SELECT * FROM customers")
        db.execute("DROP TABLE customers")
        db.execute("ALTER TABLE loose RENAME TO customers")
        row = db.execute("SELECT * FROM customers LIMIT 1").fetchone()
        names = [d[1] for d in db.execute("PRAGMA table_info(customers)")]
        hermit = dict(zip(names, row, strict=True))
        hermit.update(customer_id="CHERMIT0001", city=city, birth_date="1971-03-04")
        marks = ", ".join("?" for _ in names)
        db.executemany(f"INSERT INTO customers VALUES ({marks})", [list(hermit.values())] * copies)
        db.execute("UPDATE customers SET city = '' WHERE rowid % 17 = 0")
    return sources


def _run(policy_path: Path, sources: Path, tmp_path: Path, keyring):
    policy = load_policy(policy_path)
    with open_warehouse(str(tmp_path / "w.duckdb")) as wh:
        guarantees = Steps(suppression=False, gate=False)
        report = run_purpose(
            policy, Sources.from_dir(sources), wh, keyring, as_of=AS_OF, steps=guarantees
        )
        return report, wh.read(policy.purpose, "customers")


@pytest.mark.parametrize("published", [True, False])
def test_five_copies_of_one_customer_never_make_a_class(
    tmp_path, synth_sources, keyring, published
):
    path = PURPOSES / "marketing_segments.yaml"
    if not published:
        text = path.read_text().replace(
            "      customer_id: pseudonymise\n      age_band",
            "      customer_id: drop\n      age_band",
            1,
        )
        path = tmp_path / "marketing_segments.yaml"
        path.write_text(text)
    sources = _clone(synth_sources, tmp_path, 5, "Wanne-Eickel")
    report, customers = _run(path, sources, tmp_path, keyring)
    measured = report.guarantees["k_anonymity"]
    assert measured["counted_over"] == "subjects"
    assert measured["subjects"] == measured["rows"] - 4  # the five copies are one subject
    # Nobody else lives there: the city must never reach the warehouse.
    assert "Wanne-Eickel" not in set(customers.city.dropna())
    # And '' is data: it became the missing class, not a failed policy.
    assert "" not in set(customers.city.dropna())
    if published:
        masked = (customers[QIS] == "*").all(axis=1)
        sizes = customers.loc[~masked].groupby(QIS, dropna=False).customer_id.nunique()
        assert sizes.min() >= 5
    else:
        assert "customer_id" not in customers.columns
        assert not list((tmp_path / "a").rglob("*.subjects.parquet"))  # staging is gone
