"""Identifiers, the public surface and the doctests of minimizer.synth."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import numpy as np
import pytest

import minimizer.synth
from minimizer.synth.ids import encode_base32, random_ids, unique_random_ids


def test_base32_encoding_is_fixed_width_and_positional() -> None:
    encoded = encode_base32(np.array([0, 1, 31, 32, 2**45 - 1]), "C", 9)
    assert encoded.tolist() == [
        "CAAAAAAAAA",
        "CAAAAAAAAB",
        "CAAAAAAAA7",
        "CAAAAAAABA",
        "C777777777",
    ]
    assert encode_base32(np.array([], dtype=np.int64), "C", 9).tolist() == []


def test_unique_ids_are_unique_even_when_the_space_is_nearly_full() -> None:
    ids = unique_random_ids(np.random.default_rng(0), 1000, "C", 2)  # 1,024 possible ids
    assert len(set(ids.tolist())) == 1000


def test_ids_depend_only_on_the_generator_state() -> None:
    a = random_ids(np.random.default_rng(9), 5, "S", 12)
    b = random_ids(np.random.default_rng(9), 5, "S", 12)
    assert a.tolist() == b.tolist() and all(len(s) == 13 for s in a.tolist())


def test_the_public_surface_is_explicit() -> None:
    assert minimizer.synth.__all__ == [
        "DEFAULT_EVENTS_PER_CUSTOMER_DAY",
        "Progress",
        "SynthSummary",
        "generate",
    ]
    for name in minimizer.synth.__all__:
        assert hasattr(minimizer.synth, name)


MODULES = [m.name for m in pkgutil.iter_modules(minimizer.synth.__path__, "minimizer.synth.")]


@pytest.mark.parametrize("name", MODULES)
def test_doctests_pass(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
