"""What the generator writes: the CRM tables and the event partitions, as Arrow schemas.

Writers derive SQL DDL from these schemas through a type mapping table, so the SQLite and the
PostgreSQL CRM cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

__all__ = ["CRM_TABLES", "CUSTOMERS", "EVENTS", "ORDERS", "TRUTH", "WEB_PROFILES", "TableSpec"]

AMOUNT = pa.decimal128(12, 2)


@dataclass(frozen=True)
class TableSpec:
    name: str
    schema: pa.Schema
    primary_key: str
    references_customers: bool = False  # customer_id is a foreign key to customers
    not_null: tuple[str, ...] = ()


CUSTOMERS = TableSpec(
    "customers",
    pa.schema(
        [
            ("customer_id", pa.string()),
            ("first_name", pa.string()),
            ("last_name", pa.string()),
            ("email", pa.string()),
            ("phone", pa.string()),
            ("street_address", pa.string()),
            ("postcode", pa.string()),
            ("city", pa.string()),
            ("birth_date", pa.date32()),
            ("iban", pa.string()),  # NULL for US residents, who pay by card
            ("signup_date", pa.date32()),
            ("loyalty_tier", pa.string()),
            ("notes", pa.string()),
        ]
    ),
    primary_key="customer_id",
    not_null=("first_name", "last_name", "email", "signup_date", "loyalty_tier"),
)
ORDERS = TableSpec(
    "orders",
    pa.schema(
        [
            ("order_id", pa.string()),
            ("customer_id", pa.string()),
            ("order_date", pa.timestamp("us")),  # UTC, without time zone
            ("amount", AMOUNT),
            ("currency", pa.string()),
            ("channel", pa.string()),
            ("payment_reference", pa.string()),
        ]
    ),
    primary_key="order_id",
    references_customers=True,
    not_null=("customer_id", "order_date", "amount", "currency"),
)
WEB_PROFILES = TableSpec(
    "web_profiles",
    pa.schema(
        [
            ("customer_id", pa.string()),
            ("twitter_handle", pa.string()),
            ("instagram_handle", pa.string()),
            ("profile_url", pa.string()),
            ("device_id", pa.string()),
            ("inferred_interests", pa.string()),
            ("inferred_income_band", pa.string()),
        ]
    ),
    primary_key="customer_id",
    references_customers=True,
)
CRM_TABLES: tuple[TableSpec, ...] = (CUSTOMERS, ORDERS, WEB_PROFILES)

EVENTS = pa.schema(
    [
        ("customer_id", pa.string()),
        ("session_id", pa.string()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("lat", pa.float64()),
        ("lon", pa.float64()),
        ("ip", pa.string()),
        ("user_agent", pa.string()),
        ("page", pa.string()),
        ("amount", pa.float64()),  # only for purchases (page /checkout/complete)
    ]
)

# Ground truth for evaluating attacks and detectors; never a pipeline source.
TRUTH = pa.schema(
    [
        ("customer_id", pa.string()),
        ("city", pa.string()),
        ("tz", pa.string()),
        ("origin_locale", pa.string()),
        ("home_lat", pa.float64()),
        ("home_lon", pa.float64()),
        ("work_lat", pa.float64()),  # NULL for people without a work place
        ("work_lon", pa.float64()),
        ("notes_has_pii", pa.bool_()),
    ]
)
