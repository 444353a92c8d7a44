"""Package attributes imported on first use (PEP 562), so importing a package is cheap.

The command line imports ``minimizer`` and a few subpackages before every command; with eager
re-exports that alone pulled in pandas, Arrow and SQLAlchemy (seconds on a loaded machine).
A package lists where each name lives and gets ``__getattr__`` and ``__dir__`` from here::

    __getattr__, __dir__ = exports(__name__, {"EventSource": "minimizer.io.sources.parquet"})

``from package import name`` and ``package.name`` work as before; the defining module is
imported then, once, and the value cached in the package.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping

__all__ = ["exports"]


def exports(
    package: str, homes: Mapping[str, str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose public names live in ``homes``."""
    table = dict(homes)

    def __getattr__(name: str) -> object:
        home = table.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *table})

    return __getattr__, __dir__
