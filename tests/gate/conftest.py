"""Fixtures of the gate's tests: the key in the environment, and no network at all."""

from tests.gate.isolation import _no_network, _test_key

__all__ = ["_no_network", "_test_key"]
