"""Synthetic data: a Faker-made CRM and behavioural events with realistic movement.

>>> from minimizer.synth import generate  # doctest: +SKIP
>>> generate(Path("out"), customers=1000, days=7, seed=1)  # doctest: +SKIP

See docs/synthetic-data.md for what is generated, and which columns are PII or
quasi-identifiers.
"""

import typing as _typing

from minimizer._lazy import exports as _exports

if _typing.TYPE_CHECKING:
    from minimizer.synth.run import (
        DEFAULT_EVENTS_PER_CUSTOMER_DAY,
        Progress,
        SynthSummary,
        generate,
    )

__all__ = ["DEFAULT_EVENTS_PER_CUSTOMER_DAY", "Progress", "SynthSummary", "generate"]

__getattr__, __dir__ = _exports(
    __name__,
    {
        "DEFAULT_EVENTS_PER_CUSTOMER_DAY": "minimizer.synth.run",
        "Progress": "minimizer.synth.run",
        "SynthSummary": "minimizer.synth.run",
        "generate": "minimizer.synth.run",
    },
)
