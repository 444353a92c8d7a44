"""The leak gate: Great Expectations suites derived from the policy, failing closed.

- :mod:`~minimizer.gate.rules`: identifier columns and the checks of each output column;
- :mod:`~minimizer.gate.canary`: the observer collecting keyed digests of raw identifiers;
- :mod:`~minimizer.gate.facts`: the vectorised measurements over a column's distinct values;
- :mod:`~minimizer.gate.expectations`: the custom expectations and their GX metrics (imports GX);
- :mod:`~minimizer.gate.suite`: ``build_suites(policy)``, one suite per table, stock GX
  expectations where they fit (imports GX);
- :mod:`~minimizer.gate.validate`: GX over the staged Parquet (DuckDB), the artefacts, and
  ``verify_warehouse`` for ``minimizer audit verify`` (imports GX);
- :mod:`~minimizer.gate.page`: the run's static page, and offline Data Docs;
- :mod:`~minimizer.gate.feature`: ``run_gate``, the run's gate step (see :mod:`minimizer.flow`).

Importing this package does not import Great Expectations (seconds of start-up): the check
imports it when it runs. See docs/gate.md.
"""

import typing as _typing
import warnings as _warnings

from minimizer._lazy import exports as _exports

# GX imports pyspark when it is installed (the Spark engine's extra), and pyspark warns at
# import that pandas 3 is not fully supported: noise in every gate run, not the user's concern.
_warnings.filterwarnings(
    "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
)

if _typing.TYPE_CHECKING:
    from minimizer.gate.canary import CanaryObserver, CanaryRecord
    from minimizer.gate.feature import gate_directory, run_gate
    from minimizer.gate.rules import IdentifierPlan, identifier_plan

__all__ = [
    "CanaryObserver",
    "CanaryRecord",
    "IdentifierPlan",
    "gate_directory",
    "identifier_plan",
    "run_gate",
]

__getattr__, __dir__ = _exports(
    __name__,
    {
        "CanaryObserver": "minimizer.gate.canary",
        "CanaryRecord": "minimizer.gate.canary",
        "gate_directory": "minimizer.gate.feature",
        "run_gate": "minimizer.gate.feature",
        "IdentifierPlan": "minimizer.gate.rules",
        "identifier_plan": "minimizer.gate.rules",
    },
)
