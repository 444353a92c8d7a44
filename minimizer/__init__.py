"""minimizer: purpose policies in, a minimised warehouse out.

The public surface is small; everything else is reachable but internal::

    from minimizer import load_policy, run_policy_file
    report = run_policy_file(Path("configs/purposes/churn_analysis.yaml"),
                             sources=Path("sources"), warehouse="wh.duckdb")
"""

from minimizer.errors import (
    DataError,
    GateError,
    GuaranteeError,
    KeyMaterialError,
    MinimizerError,
    PolicyError,
    SourceError,
)
from minimizer.io.warehouse import open_warehouse
from minimizer.keys import KeyRing, load_keyring
from minimizer.pipeline import RunReport, Sources, run_purpose
from minimizer.plan import plan_policy
from minimizer.policy import Policy, load_policy
from minimizer.service import run_policy_file

__version__ = "0.1.0"

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
