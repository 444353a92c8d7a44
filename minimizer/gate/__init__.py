"""The leak gate: Great Expectations suites derived from the policy, failing closed.

- :mod:`~minimizer.gate.rules`: identifier columns and the checks of each output column;
- :mod:`~minimizer.gate.canary`: the observer collecting keyed digests of raw identifiers;
- :mod:`~minimizer.gate.facts`: the vectorised measurements, once per column;
- :mod:`~minimizer.gate.expectations`: the custom expectations reading them (imports GX);
- :mod:`~minimizer.gate.suite`: ``build_suites(policy)``, one suite per table (imports GX);
- :mod:`~minimizer.gate.validate`: the validation run and the artefacts (imports GX);
- :mod:`~minimizer.gate.feature`: ``gate_feature`` for ``minimizer.service.FEATURES``.

Importing this package does not import Great Expectations (seconds of start-up): the check
imports it when it runs. See docs/gate.md.
"""

from minimizer.gate.canary import CanaryObserver, CanaryRecord
from minimizer.gate.feature import gate_directory, gate_feature, gate_hooks, run_gate
from minimizer.gate.rules import IdentifierPlan, identifier_plan

__all__ = [
    "CanaryObserver",
    "CanaryRecord",
    "IdentifierPlan",
    "gate_directory",
    "gate_feature",
    "gate_hooks",
    "identifier_plan",
    "run_gate",
]
