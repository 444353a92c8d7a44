"""Column transforms, one small module per family, registered by their policy words.

Importing this package registers every transform; ``REGISTRY`` then maps
``(action, method)`` to the transform class.
"""

from minimizer.transforms import (
    age_band,
    coarsen,
    encrypt,
    hierarchy,
    mask,
    numeric_bucket,
    passthrough,
    prefix,
    pseudonymise,
    scrub,
    truncate_time,
)
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

MODULES = (
    age_band,
    coarsen,
    encrypt,
    hierarchy,
    mask,
    numeric_bucket,
    passthrough,
    prefix,
    pseudonymise,
    scrub,
    truncate_time,
)
