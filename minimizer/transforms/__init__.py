"""Column transforms, one small module per family, registered by their policy words.

Importing this package imports every transform module in it, and each registers itself with
``@register``; ``REGISTRY`` then maps ``(action, method)`` to the transform class. Modules
whose names start with ``_`` and the two support modules are helpers, not transforms.
"""

import importlib
import pkgutil

from minimizer.transforms.base import (
    REGISTRY,
    Outcome,
    Transform,
    TransformContext,
    allowed_forms,
    lookup,
    register,
)

__all__ = [
    "MODULES",
    "REGISTRY",
    "Outcome",
    "Transform",
    "TransformContext",
    "allowed_forms",
    "lookup",
    "register",
]

SUPPORT_MODULES = frozenset({"base", "geohash"})

MODULES = tuple(
    importlib.import_module(f"{__name__}.{info.name}")
    for info in pkgutil.iter_modules(__path__)
    if not info.name.startswith("_") and info.name not in SUPPORT_MODULES
)
