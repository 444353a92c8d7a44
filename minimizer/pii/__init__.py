"""PII detectors and a free-text scrubber, vectorised over pandas Series.

- :mod:`~minimizer.pii.detect`: ``DETECTORS`` by name, ``detect`` (counts per kind) and
  ``unexpected_positions`` (row positions), for the leak gate.
- :mod:`~minimizer.pii.scrub`: ``scrub_text`` replaces detected spans, names of the packaged
  name list and each row's own identifying values with tags, for the ``scrub`` transform.
- hooks for the gate: ``flag_all`` (every kind over distinct texts, the shared work done
  once), ``normalise`` (the text every detector sees), ``contains_name`` (the name list).

Nothing here returns or raises with a data value: only kinds, counts and positions.
"""

import typing as _typing

from minimizer._lazy import exports as _exports

if _typing.TYPE_CHECKING:
    from minimizer.pii.detect import (
        DEFAULT_MAX_DECIMALS,
        DETECTORS,
        Detector,
        detect,
        flag_all,
        precise_coordinates,
        unexpected_positions,
    )
    from minimizer.pii.names import contains_name
    from minimizer.pii.normalisation import normalise
    from minimizer.pii.registry import AnyOf, PatternDetector, UnknownDetectorError
    from minimizer.pii.scrub import NAME_TAG, PII_TAG, scrub_text

__all__ = [
    "DEFAULT_MAX_DECIMALS",
    "DETECTORS",
    "NAME_TAG",
    "PII_TAG",
    "AnyOf",
    "Detector",
    "PatternDetector",
    "UnknownDetectorError",
    "contains_name",
    "detect",
    "flag_all",
    "normalise",
    "precise_coordinates",
    "scrub_text",
    "unexpected_positions",
]

__getattr__, __dir__ = _exports(
    __name__,
    {
        "DEFAULT_MAX_DECIMALS": "minimizer.pii.detect",
        "DETECTORS": "minimizer.pii.detect",
        "Detector": "minimizer.pii.detect",
        "detect": "minimizer.pii.detect",
        "flag_all": "minimizer.pii.detect",
        "contains_name": "minimizer.pii.names",
        "normalise": "minimizer.pii.normalisation",
        "AnyOf": "minimizer.pii.registry",
        "precise_coordinates": "minimizer.pii.detect",
        "unexpected_positions": "minimizer.pii.detect",
        "PatternDetector": "minimizer.pii.registry",
        "UnknownDetectorError": "minimizer.pii.registry",
        "NAME_TAG": "minimizer.pii.scrub",
        "PII_TAG": "minimizer.pii.scrub",
        "scrub_text": "minimizer.pii.scrub",
    },
)
