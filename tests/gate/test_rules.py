"""Which columns are identifiers, and what each output column is checked for."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

import minimizer.gate.digests
import minimizer.gate.own_names
from minimizer.gate.rules import (
    identifier_plan,
    is_name_like,
    named_like_identifier,
    output_checks,
)
from minimizer.policy import Policy, load_policy

ROOT = Path(__file__).resolve().parents[2]
PURPOSES = ROOT / "configs" / "purposes"
FOOTFALL_ROWS = ROOT / "tests" / "fixtures" / "policies" / "footfall_rows.yaml"


def _policy(columns: dict[str, object], **source: object) -> Policy:
    return Policy.model_validate(
        {
            "purpose": "p",
            "description": "d",
            "legal_basis": "consent",
            "owner": "o",
            "retention": "30d",
            "sources": {"customers": {"key": "customer_id", "columns": columns, **source}},
        }
    )


@pytest.mark.parametrize("module", [minimizer.gate.digests, minimizer.gate.own_names])
def test_doctests_pass(module: object) -> None:
    assert doctest.testmod(module).failed == 0  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("column", "name", "identifier"),
    [
        ("first_name", True, True),
        ("LastName", True, True),
        ("email", False, True),
        ("twitter_handle", False, True),
        ("device_id", False, True),
        ("ip", False, True),
        ("zip", False, False),  # "ip" is a name part, not a substring
        ("description", False, False),
        ("loyalty_tier", False, False),
    ],
)
def test_names_and_identifiers_are_told_apart_by_name_parts(
    column: str, name: bool, identifier: bool
) -> None:
    assert is_name_like(column) is name
    assert named_like_identifier(column) is identifier


def test_marketing_identifiers_are_the_key_identifying_and_masked_columns() -> None:
    plan = identifier_plan(load_policy(PURPOSES / "marketing_segments.yaml"), "customers")
    assert plan.identifiers == ("customer_id", "email", "phone")
    assert plan.names == ("first_name", "last_name")
    # scrubbed text is published, so it is never an identifier; the kept city neither
    assert "notes" not in plan.candidates + plan.identifiers
    assert "city" not in plan.candidates + plan.identifiers
    assert "birth_date" in plan.candidates  # generalised: an identifier once a detector flags it
    # kept, scrubbed, masked or cut to a prefix: the row's own name could be in there
    assert set(plan.text_outputs) == {"city", "loyalty_tier", "notes", "phone_hint"}
    assert plan.key == "customer_id" and plan.checks_own_names


def test_the_time_column_never_becomes_an_identifier() -> None:
    """A rotating pseudonym reads the time column too; it hides the subject, not the time."""
    plan = identifier_plan(load_policy(PURPOSES / "footfall_heatmap.yaml"), "events")
    assert plan.identifiers == ("customer_id",)
    assert "ts" not in plan.candidates
    assert set(plan.candidates) == {"lat", "lon"}


def test_a_kept_identifier_stays_an_identifier_so_the_canary_fails_it() -> None:
    policy = _policy({"customer_id": "keep", "email": "keep"}, identifying=["email"])
    assert identifier_plan(policy, "customers").identifiers == ("customer_id", "email")


def test_unpublished_columns_named_like_identifiers_are_identifiers() -> None:
    policy = _policy(
        {
            "customer_id": "pseudonymise",
            "region": {"generalise": "prefix", "source": "street_address", "keep": 2},
        }
    )
    assert "street_address" in identifier_plan(policy, "customers").identifiers


def test_output_checks_follow_the_transforms() -> None:
    # Row-level footfall (token, cell, hour and kept page published): the demo one is an aggregate.
    checks, decimals = output_checks(load_policy(FOOTFALL_ROWS), "events")
    by_column = {c.column: c for c in checks}
    assert by_column["visitor"].format == "token"
    assert by_column["cell"].format == "h3"
    assert by_column["hour"].temporal and by_column["hour"].retention_unit == "hour"
    assert by_column["page"].text and not by_column["cell"].text
    assert decimals == 3


def test_the_policy_grid_sets_the_coordinate_precision() -> None:
    policy = _policy(
        {
            "customer_id": "pseudonymise",
            "spot": {"coarsen": "grid", "lat": "lat", "lon": "lon", "decimals": 2},
        }
    )
    assert output_checks(policy, "customers")[1] == 2
