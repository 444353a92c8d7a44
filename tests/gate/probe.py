"""Planted leaks for the gate's tests: synthetic sources with one leak per column, and the
policies of a probe purpose that handles each column correctly or leaks one of them.

Every planted value is fake; the tests assert that none of them ever reaches an artefact.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pandas as pd

from minimizer.cli import main
from minimizer.io.warehouse import open_warehouse
from minimizer.policy import SourceSpec
from tests.conftest import AS_OF

PURPOSE = "leak_probe"

# column -> (planted text on every third row, a harmless text on the others)
PLANTED: dict[str, str] = {
    "note_email": "Forward invoices to billing.desk@example.org please",
    "note_phone": "Call back on +49 30 12345678 after six",
    "note_card": "Paid with card 4111 1111 1111 1111 at the till",
    "note_ipv6": "Last login from 2001:db8:85a3::8a2e:370:7334 today",
    "note_ipv4": "Last login from 192.168.10.23 today",
    "note_coords": "Parcel seen at 52.520008, 13.404954 by the courier",
    "note_address": "Parcel left at 221 Baker Street with the porter",
    "note_birth": "Birthday on 1985-03-12, send a voucher",
}
HARMLESS = "Prefers evening delivery."
_REASON = "        reason: a probe of the leak gate"
# Policies that refuse publishing identifiers take reasoned exceptions (docs/policy.md).
_EXCEPTIONS = "allow" in getattr(SourceSpec, "model_fields", {})
IBAN_TEXT = "Refund to DE89 3704 0044 0532 0130 00 done"
# Columns of the synthetic customers table the probe policy drops by name.
_DROPPED = (
    "email", "phone", "street_address", "postcode", "city", "birth_date", "iban", "signup_date",
)  # fmt: skip


def plant(sources: Path) -> Path:
    """Add the planted columns to a copy's CRM (in place) and a drifted e-mail column."""
    with sqlite3.connect(sources / "crm.sqlite") as con:
        for column, text in PLANTED.items():
            con.execute(f"ALTER TABLE customers ADD COLUMN {column} TEXT")
            con.execute(
                f"UPDATE customers SET {column} = CASE WHEN rowid % 3 = 0 THEN ? ELSE ? END",
                (text, HARMLESS),
            )
        con.execute("ALTER TABLE customers ADD COLUMN note_name TEXT")
        con.execute(
            "UPDATE customers SET note_name = CASE WHEN rowid % 3 = 0 "
            "THEN 'Spoke to ' || first_name || ' ' || last_name || ' about the parcel' "
            "ELSE ? END",
            (HARMLESS,),
        )
        con.execute("ALTER TABLE customers ADD COLUMN ref TEXT")
        con.execute("UPDATE customers SET ref = customer_id")
        con.execute("ALTER TABLE customers ADD COLUMN contact_email TEXT")  # schema drift
        con.execute("UPDATE customers SET contact_email = email")
        con.execute(
            "UPDATE orders SET payment_reference = CASE WHEN rowid % 4 = 0 THEN ? "
            "ELSE order_id END",
            (IBAN_TEXT,),
        )
    return sources


def probe_sources(synth: Path, to: Path) -> Path:
    shutil.copytree(synth, to)
    return plant(to)


def policy_text(
    customers: dict[str, str],
    orders: dict[str, str] | None = None,
    allow: dict[str, str] | None = None,
) -> str:
    """The probe policy; ``customers``/``orders`` override or add column actions; ``allow``
    states reasoned exceptions (customers column -> what it publishes) so that a leak the
    policy check would refuse still reaches the gate."""
    columns = {
        "customer_id": "pseudonymise",
        "loyalty_tier": "keep",
        "notes": "scrub",
        "note_name": "scrub",
        **dict.fromkeys(PLANTED, "scrub"),
        "ref": "drop",
        **dict.fromkeys(_DROPPED, "drop"),
        **customers,
    }
    order_columns = {
        "customer_id": "pseudonymise",
        "order_month": "{generalise: month, source: order_date}",
        "channel": "keep",
        "payment_reference": "scrub",
        "order_id": "drop",
        "currency": "drop",
        "amount": "drop",
        **(orders or {}),
    }
    lines = [
        f"purpose: {PURPOSE}",
        "description: Probe of the leak gate with planted values.",
        "legal_basis: legitimate_interest",
        "owner: gate-tests",
        "retention: 3650d",
        "sources:",
        "  customers:",
        "    key: customer_id",
        "    identifying: [first_name, last_name, email, phone]",
        "    columns:",
        *(f"      {c}: {a}" for c, a in columns.items()),
        *(["    allow:"] if allow and _EXCEPTIONS else []),
        *(
            line
            for c, what in ((allow or {}) if _EXCEPTIONS else {}).items()
            for line in (f"      {c}:", f"        publishes: {what}", _REASON)
        ),
        "  orders:",
        "    key: customer_id",
        "    time: order_date",
        "    on_invalid: reject",
        "    columns:",
        *(f"      {c}: {a}" for c, a in order_columns.items()),
    ]
    return "\n".join(lines) + "\n"


def write_policy(directory: Path, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{PURPOSE}.yaml"
    path.write_text(text)
    return path


def run_cli(policy: Path, sources: Path, warehouse: Path, artifacts: Path) -> int:
    return main(
        [
            "run",
            str(policy),
            "--sources",
            str(sources),
            "--warehouse",
            str(warehouse),
            "--artifacts",
            str(artifacts),
            "--as-of",
            AS_OF.isoformat(),
        ]
    )


def contents(warehouse: Path) -> dict[str, pd.DataFrame]:
    """Every table, the audit table included, in a stable row order."""
    with open_warehouse(str(warehouse)) as wh:
        out = {}
        for schema, table in wh.tables():
            frame = wh.read(schema, table)
            cols = [c for c in frame.columns if frame[c].map(type).ne(dict).all()]
            out[f"{schema}.{table}"] = frame.sort_values(cols).reset_index(drop=True)
        return out
