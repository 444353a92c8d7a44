"""minimizer: purpose policies in, a minimised warehouse out.

The public surface is small; everything else is reachable but internal::

    from minimizer import load_policy, run_policy_file
    report = run_policy_file(Path("configs/purposes/churn_analysis.yaml"),
                             sources=Path("sources"), warehouse="wh.duckdb")

Names are imported on first use (PEP 562): ``import minimizer`` alone, as the command line does
before every command, costs no pandas, Arrow or database driver.
"""

import typing as _typing

from minimizer._lazy import exports as _exports

if _typing.TYPE_CHECKING:
    from minimizer.errors import (
        DataError,
        GateError,
        GuaranteeError,
        KeyMaterialError,
        MinimizerError,
        PolicyError,
        SourceError,
    )
    from minimizer.flow import run_purpose
    from minimizer.io.warehouse import open_warehouse
    from minimizer.keys import KeyRing, load_keyring
    from minimizer.pipeline import RunReport, Sources
    from minimizer.plan import plan_policy
    from minimizer.policy import Policy, load_policy
    from minimizer.service import run_policy_file

__version__ = "0.1.0"

# Public name -> the module that defines it.
_HOMES = {
    "DataError": "minimizer.errors",
    "GateError": "minimizer.errors",
    "GuaranteeError": "minimizer.errors",
    "KeyMaterialError": "minimizer.errors",
    "MinimizerError": "minimizer.errors",
    "PolicyError": "minimizer.errors",
    "SourceError": "minimizer.errors",
    "open_warehouse": "minimizer.io.warehouse",
    "KeyRing": "minimizer.keys",
    "load_keyring": "minimizer.keys",
    "RunReport": "minimizer.pipeline",
    "Sources": "minimizer.pipeline",
    "run_purpose": "minimizer.flow",
    "plan_policy": "minimizer.plan",
    "Policy": "minimizer.policy",
    "load_policy": "minimizer.policy",
    "run_policy_file": "minimizer.service",
}

__all__ = [
    "DataError",
    "GateError",
    "GuaranteeError",
    "KeyMaterialError",
    "KeyRing",
    "MinimizerError",
    "Policy",
    "PolicyError",
    "RunReport",
    "SourceError",
    "Sources",
    "__version__",
    "load_keyring",
    "load_policy",
    "open_warehouse",
    "plan_policy",
    "run_policy_file",
    "run_purpose",
]


__getattr__, __dir__ = _exports(__name__, _HOMES)
