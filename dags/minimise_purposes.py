"""One DAG per purpose policy in configs/purposes: ``minimise_<purpose>``.

extract >> minimise >> gate >> load >> publish, then the ``cleanup`` teardown, which deletes
the run's staging (raw data included) however the run ended. Each load emits
``warehouse://<purpose>/<table>`` for every table of the purpose.

Wiring only: at parse time the CLI's own policy reader (light: no pandas, Arrow or driver)
gives the purpose, schedule, owner and tables. The work is in minimizer.orchestration.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import Asset, CronDataIntervalTimetable, Param, dag, task, teardown

from minimizer.orchestration.spark import build_chain
from minimizer.policy import load_policy

POLICIES = Path(
    os.environ.get("MINIMIZER_POLICY_DIR")
    or Path(__file__).resolve().parents[1] / "configs" / "purposes"
)
DEFAULT_ARGS: dict[str, Any] = {
    # Only for what a retry can cure (a locked file, a lost connection); a check fails at once.
    "retries": int(os.environ.get("MINIMIZER_TASK_RETRIES", "2")),
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
}
STEPS = {
    "minimise": "Transform the staged raw chunks; delete them once done.",
    "gate": "Guarantees, then the leak gate, over the minimised files. Fails closed.",
    "load": "One transaction: the tables (or the run's range), retention and the audit row.",
    "publish": "Audit artefacts: final audit row, run report, runs.jsonl.",
}


def _schedule(text: str | None) -> Any:
    # Runs with a data interval (CronDataIntervalTimetable): each run loads its own days.
    return (
        text if text in (None, "@once", "@continuous") else CronDataIntervalTimetable(text, "UTC")
    )


def build(policy_file: Path) -> None:
    policy = load_policy(policy_file)
    purpose, path = policy.purpose, str(policy_file)
    assets = [Asset(f"warehouse://{purpose}/{table}") for table in policy.sources]

    @dag(
        dag_id=f"minimise_{purpose}",
        description=policy.description,
        doc_md=f"{policy.description}\n\nPolicy: `{policy_file.name}`, owner {policy.owner}.",
        schedule=_schedule(policy.schedule),
        start_date=datetime(2024, 1, 1, tzinfo=UTC),
        catchup=False,
        max_active_runs=1,  # so a run's staging that no task holds is a dead run's
        default_args={**DEFAULT_ARGS, "owner": policy.owner},
        tags=["minimizer", purpose, policy.legal_basis.value],
        params={"full_refresh": Param(False, type="boolean", description="Ignore the interval")},
    )
    def purpose_dag() -> None:
        @task
        def extract(**context: Any) -> str:
            """Stage the policy-named source columns (raw data, deleted by cleanup)."""
            from minimizer.orchestration.runner import call

            return call("extract", path, purpose, context)

        def step(name: str) -> Any:
            outlets = assets if name == "load" else []

            @task(task_id=name, doc_md=STEPS[name], outlets=outlets)
            def run(report: str, **context: Any) -> str:
                from minimizer.orchestration.runner import call

                return call(name, path, purpose, context, report)

            return run

        @teardown
        def cleanup(**context: Any) -> dict[str, Any]:
            """Delete the run's staging however the run ended (all done, without masking it)."""
            from minimizer.orchestration.runner import call_cleanup

            return call_cleanup(path, purpose, context)

        # extract >> STEPS, or on Spark (policy `engine: spark`): spark_stage >> gate >> ...
        build_chain(policy, path, extract, step, list(STEPS)) >> cleanup()

    purpose_dag()


for file in sorted(POLICIES.glob("*.yaml")):
    build(file)
