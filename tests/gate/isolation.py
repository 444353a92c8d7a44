"""Fixtures shared by the gate's and the audit's tests: the test key in the environment, and
no network at all (nothing may download)."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import TEST_MASTER_B64


@pytest.fixture(autouse=True)
def _test_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINIMIZER_MASTER_KEY", TEST_MASTER_B64)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a network connection fails the test."""
    real = socket.socket.connect

    def connect(self: socket.socket, address: object) -> None:
        if self.family == socket.AF_UNIX:
            return real(self, address)
        raise AssertionError(f"network access attempted ({self.family.name})")

    monkeypatch.setattr(socket.socket, "connect", connect)
