"""PII detectors and a free-text scrubber, vectorised over pandas Series.

- :mod:`~minimizer.pii.detect`: ``DETECTORS`` by name, ``detect`` (counts per kind) and
  ``unexpected_positions`` (row positions), for the leak gate.
- :mod:`~minimizer.pii.scrub`: ``scrub_text`` replaces detected spans and each row's own
  identifying values with tags, for the ``scrub`` transform.

Nothing here returns or raises with a data value: only kinds, counts and positions.
"""

from minimizer.pii.detect import (
    DEFAULT_MAX_DECIMALS,
    DETECTORS,
    Detector,
    detect,
    precise_coordinates,
    unexpected_positions,
)
from minimizer.pii.registry import PatternDetector, UnknownDetectorError
from minimizer.pii.scrub import NAME_TAG, PII_TAG, scrub_text

__all__ = [
    "DEFAULT_MAX_DECIMALS",
    "DETECTORS",
    "NAME_TAG",
    "PII_TAG",
    "Detector",
    "PatternDetector",
    "UnknownDetectorError",
    "detect",
    "precise_coordinates",
    "scrub_text",
    "unexpected_positions",
]
