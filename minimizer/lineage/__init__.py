"""OpenLineage run events for every run, CLI and Airflow alike (see docs/lineage.md).

The CLI emits through ``openlineage-python`` with the transport the user configured
(``OPENLINEAGE_URL``, ``OPENLINEAGE_CONFIG`` / ``openlineage.yml``, ``OPENLINEAGE__TRANSPORT__*``).
Nothing configured means no events and no network: the client's own fallback (printing events
to the console) is never used. Inside Airflow the events go through the OpenLineage provider's
adapter, so they follow the ``[openlineage]`` section and the provider's secret redaction.

Emitting never fails a run: a transport error is logged by its type, and the run's outcome
stands.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from minimizer.pipeline import RunReport, Sources
    from minimizer.policy import Policy

# The events module (and the OpenLineage client, slow to import) loads only when events go out.
__all__ = ["Emitter", "cli_emitter", "emit_run", "is_configured"]

log = logging.getLogger("minimizer.lineage")


class Emitter(Protocol):
    def emit(self, event: Any) -> Any: ...


def is_configured() -> bool:
    """Whether the user configured an OpenLineage transport (and did not disable it)."""
    if os.getenv("OPENLINEAGE_DISABLED", "").strip().lower() == "true":
        return False
    if os.getenv("OPENLINEAGE_URL") or os.getenv("OPENLINEAGE_CONFIG"):
        return True
    if any(k.startswith("OPENLINEAGE__TRANSPORT") and v for k, v in os.environ.items()):
        return True
    files = (Path.cwd() / "openlineage.yml", Path.home() / ".openlineage" / "openlineage.yml")
    return any(f.is_file() for f in files)


def cli_emitter() -> Emitter | None:
    """The client with the user's transport, or None when none is configured."""
    if not is_configured():
        return None
    from openlineage.client import OpenLineageClient

    return OpenLineageClient()


def emit_run(
    policy: Policy,
    report: RunReport,
    *,
    warehouse: str,
    sources: Sources | None = None,
    emitter: Callable[[], Emitter | None] = cli_emitter,
) -> int:
    """Emit the run's START and COMPLETE/FAIL events; returns how many were sent."""
    target = emitter()
    if target is None:
        return 0
    from minimizer.lineage.events import run_events

    sent = 0
    try:
        for event in run_events(policy, report, warehouse=warehouse, sources=sources):
            target.emit(event)
            sent += 1
    except Exception as exc:
        # Its message may quote a URL or a payload: the type only.
        log.warning("OpenLineage events of run %s not sent (%s)", report.run_id, type(exc).__name__)
    return sent
