"""The keyed digest that decides whether a re-run may re-publish a day: it sees exactly the true
counts per group (not row order, not which token is whose), is keyed, and a key that can no
longer be derived means a fresh release, never a guess."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pyarrow as pa
import pytest

from minimizer.aggregate.ledger import Release
from minimizer.aggregate.republish import DPInput, day_digests, decide, true_count_texts
from minimizer.errors import KeyMaterialError
from minimizer.keys import KeyRing

CELL = "861f1d48fffffff"
H0 = datetime(2026, 6, 1, 9, tzinfo=UTC)
DAYS = ("2026-06-01", "2026-06-02")
PARAMS = {"events": "{}"}


def _rows(subjects: list[str], hours: list[datetime]) -> pa.Table:
    return pa.table(
        {
            "cell": [CELL] * len(subjects),
            "hour": pa.array(hours, pa.timestamp("us", tz="UTC")),
            "visitor": subjects,
        }
    )


def _texts(rows: pa.Table) -> dict[str, str]:
    return true_count_texts(rows, cell="cell", hour="hour", subject="visitor", days=DAYS)


def _input(rows: pa.Table) -> DPInput:
    return DPInput("events", rows, "cell", "hour", 6, DAYS, _texts(rows))


BASE = _rows(["a", "a", "b"], [H0, H0, H0])


def test_the_texts_see_the_counts_not_the_row_order_nor_whose_token_is_whose():
    texts = _texts(BASE)
    assert texts["2026-06-02"] == ""  # a day without events
    assert _texts(BASE.take([2, 0, 1])) == texts
    assert _texts(_rows(["x", "x", "y"], [H0, H0, H0])) == texts  # other tokens, same counts
    assert _texts(_rows(["a", "b", "b"], [H0, H0, H0])) == texts  # 3 events, 2 subjects
    assert _texts(_rows(["a", "a", "b", "c"], [H0] * 4)) != texts  # a late event
    later = [H0, H0, H0 + pd.Timedelta(hours=1)]
    assert _texts(_rows(["a", "a", "b"], later)) != texts  # an event in another hour


def test_the_digest_is_keyed_and_versioned(keyring):
    digests = day_digests(keyring, [_input(BASE)], PARAMS, 1)
    version, hexed = digests["2026-06-01"].split(":")
    assert version == "1" and len(hexed) == 32 and set(hexed) <= set("0123456789abcdef")
    other = KeyRing(masters={1: b"\x01" * 32}, current=1)
    assert day_digests(other, [_input(BASE)], PARAMS, 1) != digests
    assert day_digests(keyring, [_input(BASE)], {"events": '{"epsilon": 2}'}, 1) != digests


def test_a_day_whose_digest_key_is_retired_is_released_afresh(keyring):
    old = day_digests(keyring, [_input(BASE)], PARAMS, 1)
    rotated = KeyRing(masters={**keyring.masters, 2: b"\x02" * 32}, current=2, retired={1})
    with pytest.raises(KeyMaterialError):
        day_digests(rotated, [_input(BASE)], PARAMS, 1)
    history = [Release("2026-06-01", "r1", 1.0, "r1", old["2026-06-01"], {"events": 1})]
    stored = {"events": pd.DataFrame({"_day": ["2026-06-01"]})}
    decision = decide(rotated, 2, [_input(BASE)], PARAMS, history, stored)
    assert "2026-06-01" in decision.fresh and decision.why["2026-06-01"] == "its key is retired"
    # A live old version still re-publishes: a key rotation alone does not spend again.
    live = KeyRing(masters={**keyring.masters, 2: b"\x02" * 32}, current=2)
    decision = decide(live, 2, [_input(BASE)], PARAMS, history, stored)
    assert decision.republished == {"2026-06-01": "r1"}
    assert decision.digests["2026-06-01"] == old["2026-06-01"]


def test_two_dp_sources_a_day_one_of_them_lacks_is_still_republished(keyring):
    """The rows kept per source and day include the zeros: a day only one source has events on
    is re-published when unchanged, and released afresh when the other source gains rows."""
    one = _input(BASE)
    other = DPInput("visits", BASE.slice(0, 0), "cell", "hour", 6, (), {})
    params = {"events": "{}", "visits": "{}"}
    digest = day_digests(keyring, [one, other], params, 1)["2026-06-01"]
    rows = {"events": 1, "visits": 0}
    history = [Release("2026-06-01", "r1", 1.0, "r1", digest, rows)]
    stored = {
        "events": pd.DataFrame({"_day": ["2026-06-01"]}),
        "visits": pd.DataFrame({"_day": pd.Series([], dtype=str)}),
    }
    decision = decide(keyring, 1, [one, other], params, history, stored)
    # 2026-06-02 has never been released: a first release.
    assert decision.republished == {"2026-06-01": "r1"} and decision.fresh == ("2026-06-02",)
    gained = DPInput("visits", BASE, "cell", "hour", 6, ("2026-06-01",), _texts(BASE))
    decision = decide(keyring, 1, [one, gained], params, history, stored)
    assert decision.fresh == DAYS and decision.republished == {}
