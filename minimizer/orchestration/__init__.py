"""Running minimizer from an orchestrator (Airflow): one task per phase of a run.

- ``phases``: the run of ``minimizer.pipeline`` split into extract, minimise, check, load and
  retention, each continuing from a saved `RunReport`;
- ``staged``: raw chunks staged between the extract and the minimise task;
- ``tasks``: the task bodies, plain functions of paths and small JSON-able dicts;
- ``environment``: connections, variables and the master key from Airflow;
- ``runner``: Airflow's side of a task (context, failures that must not be retried);
- ``local``: an embedded Airflow (SQLite metadata, DuckDB warehouse) for ``make demo`` and
  ``make airflow``.

Nothing here is imported by the DAG files at parse time; the tasks import it when they run.
"""
