"""Every trick of issue 9 against the canary, in kept, scrubbed, masked and prefixed columns.

The row's own subject written another way (transliterated, genitive, decomposed umlaut, a
zero-width space inside, half of a hyphenated first name, the e-mail's local part, the
customer number glued to a label) and another customer's raw phone written in another
notation; alone and in a sentence; in 1 row of 10,000 and in 49% of rows. The source reads
no name column and has no ``identifying:``: the names come from the CRM through the key.

Every planted row must be flagged, and no other row (the rest hold harmless text). This is
the canary's own answer, without GX (tests/gate/test_canary_leaks_e2e.py runs the CLI).
"""

from __future__ import annotations

import sqlite3
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from minimizer.gate.canary import (
    CanaryObserver,
    CanaryRecord,
    CrmIndex,
    raw_identifier_hits,
)
from minimizer.gate.rules import IdentifierPlan
from minimizer.pipeline import SourceReport
from minimizer.transforms.base import TransformContext
from minimizer.transforms.mask import Mask
from minimizer.transforms.prefix import Prefix
from minimizer.transforms.scrub import Scrub

SECRET = b"t" * 32
N = 10_000
FIRST = np.array(["Anna-Lena", "Hans-Jörg", "Eva-Maria", "Karl-Heinz", "Jan-Erik"])
LAST = np.array(["Börner", "Dörr", "Müller", "Weiß", "Öztürk", "Jäger", "Schäfer", "Kühn"])
HARMLESS = "Prefers evening delivery."


def _customers() -> pd.DataFrame:
    i = np.arange(N)
    ids = pd.Series(i).map(lambda k: f"C{k:09d}X")  # one per customer: not a loop over data
    return pd.DataFrame(
        {
            "customer_id": ids,
            "first_name": FIRST[i % len(FIRST)],
            "last_name": LAST[(i // len(FIRST)) % len(LAST)],
            "email": [f"kd.{k:05d}.mail@example.org" for k in range(N)],
            "phone": [f"+49 30 {7_000_000 + k}" for k in range(N)],
        }
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, CrmIndex]:
    crm = tmp_path_factory.mktemp("crm") / "crm.sqlite"
    customers = _customers()
    with sqlite3.connect(crm) as con:
        customers.assign(notes=HARMLESS).to_sql("customers", con, index=False)
    index = CrmIndex.read(str(crm), SECRET)
    assert index is not None
    return customers, index


def _translit(s: pd.Series) -> pd.Series:
    return (
        s.str.replace("ö", "oe")
        .str.replace("ü", "ue")
        .str.replace("ä", "ae")
        .str.replace("ß", "ss")
        .str.replace("Ö", "Oe")
    )


def _nfd(s: pd.Series) -> pd.Series:
    return s.map(lambda v: unicodedata.normalize("NFD", v))


def _other_phone(c: pd.DataFrame) -> pd.Series:
    """Another customer's phone, national notation, grouped: "030 - 700 00 17"."""
    other = c["phone"].shift(-1).fillna(c["phone"].iloc[0]).str.replace("+49 30 ", "", regex=False)
    return "030 - " + other.str[:3] + " " + other.str[3:5] + " " + other.str[5:]


# trick -> (planted value from the customers frame, which check must catch it)
TRICKS: dict[str, tuple[Callable[[pd.DataFrame], pd.Series], str]] = {
    "transliterated": (lambda c: _translit(c["last_name"]), "own"),
    "genitive": (lambda c: c["last_name"] + "s", "own"),
    "decomposed umlaut": (lambda c: _nfd(c["last_name"]), "own"),
    "zero-width space inside": (lambda c: c["last_name"].str[:2] + "\u200b" + c["last_name"].str[2:], "own"),
    "half a hyphenated first name": (lambda c: c["first_name"].str.split("-").str[1], "own"),
    "e-mail local part": (lambda c: c["email"].str.split("@").str[0], "own"),
    "customer number glued to a label": (lambda c: "Kd-Nr.:" + c["customer_id"], "raw"),
    "another customer's phone, other notation": (_other_phone, "raw"),
}  # fmt: skip
SHARES = {"1 row of 10,000": 1, "49% of rows": int(N * 0.49)}
FORMS = {"alone": "{}", "in a sentence": "Kunde meldet: {} wegen Paket"}
OUTPUTS = {"kept": "keep", "scrubbed": "scrub", "masked": "mask", "prefixed": "prefix"}
PLAN = IdentifierPlan(
    source="customers",
    identifiers=("customer_id",),
    names=(),  # no identifying: and no name column read
    candidates=(),
    text_outputs=tuple(OUTPUTS),
    key="customer_id",
)


def _publish(text: pd.Series) -> pd.DataFrame:
    ctx = TransformContext("probe", datetime(2026, 1, 1, tzinfo=UTC))  # no identifying values
    frame = pd.DataFrame({"text": text})
    mask = Mask(method="first", n=64, source="text")
    prefix = Prefix(method="prefix", keep=32, source="text")
    return pd.DataFrame(
        {
            "kept": text,
            "scrubbed": Scrub(source="text").apply(frame, "scrubbed", ctx).values,
            "masked": mask.apply(frame, "masked", ctx).values,
            "prefixed": prefix.apply(frame, "prefixed", ctx).values,
        }
    )


def _flagged_rows(record: CanaryRecord, column: pd.Series) -> int:
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    texts = pa.array([str(u) for u in uniques], pa.large_string())
    hit = raw_identifier_hits(texts, record, SECRET)
    return int(np.isin(codes, np.flatnonzero(hit)).sum())


@pytest.mark.parametrize("share", SHARES, ids=list(SHARES))
@pytest.mark.parametrize("form", FORMS, ids=list(FORMS))
@pytest.mark.parametrize("trick", TRICKS, ids=list(TRICKS))
def test_every_planted_row_is_flagged_and_no_other(
    trick: str, form: str, share: str, world: tuple[pd.DataFrame, CrmIndex], tmp_path: Path
) -> None:
    customers, crm = world
    make, check = TRICKS[trick]
    planted = np.zeros(N, dtype=bool)
    planted[np.random.default_rng(7).choice(N, SHARES[share], replace=False)] = True
    values = make(customers).map(FORMS[form].format)
    text = pd.Series(np.where(planted, values, HARMLESS), dtype=object)
    published = _publish(text)

    observer = CanaryObserver(PLAN, SECRET, crm=crm)
    observer.observe(customers[["customer_id"]], published)
    report = SourceReport(source="customers", staged=tmp_path / "customers.parquet")
    observer.finish(report)
    record = CanaryRecord.load(report.canary)

    for output in OUTPUTS:
        own = record.own_names[output].leaked_rows
        raw = _flagged_rows(record, published[output])
        if output == "scrubbed":  # scrubbing may remove it; whatever is left must be flagged
            still = int((published[output] == published["kept"]).sum()) - int((~planted).sum())
            assert max(own, raw) >= still, (output, own, raw, still)
            assert max(own, raw) <= planted.sum(), (output, own, raw)
            continue
        found = own if check == "own" else raw
        assert found == planted.sum(), (output, own, raw)
        assert max(own, raw) <= planted.sum(), (output, own, raw)  # nothing else flagged
