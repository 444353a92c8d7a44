"""Shared fixtures: a fixed test key ring and a clean environment for key lookups."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from minimizer.keys import KeyRing, PurposeKey
from minimizer.transforms import TransformContext

# A fixed key so golden tokens stay stable. Test-only, never used outside tests.
TEST_MASTER = bytes(range(32))
TEST_MASTER_B64 = base64.b64encode(TEST_MASTER).decode()
AS_OF = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def keyring() -> KeyRing:
    return KeyRing(masters={1: TEST_MASTER}, current=1)


@pytest.fixture
def purpose_key(keyring: KeyRing) -> PurposeKey:
    return keyring.purpose_key("churn_analysis")


@pytest.fixture
def ctx(purpose_key: PurposeKey) -> TransformContext:
    return TransformContext("churn_analysis", AS_OF, purpose_key)


@pytest.fixture(autouse=True)
def _no_ambient_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("MINIMIZER_MASTER_KEY", "MINIMIZER_KEY_FILE", "MINIMIZER_KEY_VERSION"):
        monkeypatch.delenv(var, raising=False)


# -- synthetic sources, generated once per test session ------------------------------------
SYNTH_END = datetime(2026, 6, 14, tzinfo=UTC).date()


@pytest.fixture(scope="session")
def synth_sources(tmp_path_factory: pytest.TempPathFactory):
    """A small CRM (SQLite) and three days of events, deterministic."""
    from minimizer.synth import generate

    out = tmp_path_factory.mktemp("sources")
    generate(out, customers=300, days=3, seed=11, end=SYNTH_END)
    return out
