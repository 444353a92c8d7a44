import pkgutil

import pytest

import minimizer.transforms as transforms_pkg
from minimizer.transforms import MODULES, REGISTRY, lookup


def test_every_transform_module_is_imported_and_registers_something():
    names = {m.name for m in pkgutil.iter_modules(transforms_pkg.__path__)}
    helpers = {"base", "_parse", "_cmac", "geohash"}
    assert {m.__name__.rsplit(".", 1)[1] for m in MODULES} == names - helpers
    # A module that registers nothing would be a transform nobody can name in a policy.
    registered_modules = {cls.__module__.rsplit(".", 1)[1] for cls in REGISTRY.values()}
    assert registered_modules == names - helpers


def test_an_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"did you mean pseudonymise\?.*allowed: .*keep"):
        lookup("pseudonymize", None)
