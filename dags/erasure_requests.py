"""``erasure_requests``: serve data subjects' erasure requests (GDPR Art. 17) every hour.

collect >> erase >> acknowledge. Pending requests come from the CRM table
``erasure_requests(subject_id, requested_at, status)`` and from the drop folder (Variable
``minimizer_erasure_drop``); ``erase`` deletes the subjects from every warehouse table in one
transaction, records the erasure without the id and suppresses them for later loads;
``acknowledge`` marks the requests done. XCom carries a file path and counts, never an id.

Wiring only: the work is in minimizer.rights.requests, imported by each task when it runs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import dag, task


@dag(
    dag_id="erasure_requests",
    description="Erase data subjects on request: every table, one transaction, recorded.",
    schedule="@hourly",
    start_date=datetime(2024, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,  # two runs would serve the same pending requests
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5), "owner": "privacy"},
    tags=["minimizer", "data-subject-rights"],
)
def erasure_requests() -> None:
    @task
    def collect() -> str | None:
        """Pending requests into one owner-only request file; its path, or None."""
        from minimizer.orchestration.environment import erasure_settings
        from minimizer.rights.requests import collect_task

        return collect_task(erasure_settings())

    @task
    def erase(path: str | None) -> dict[str, Any]:
        """Erase every requested subject in the warehouse; counts and keyed ids only."""
        from minimizer.orchestration.environment import erasure_settings
        from minimizer.rights.requests import erase_task

        return erase_task(erasure_settings(), path)

    @task
    def acknowledge(path: str | None, summary: dict[str, Any]) -> int:
        """Mark the CRM requests done, archive the drop files, delete the request file."""
        from minimizer.orchestration.environment import erasure_settings
        from minimizer.rights.requests import acknowledge_task

        return acknowledge_task(erasure_settings(), path)

    path = collect()
    acknowledge(path, erase(path))


erasure_requests()
