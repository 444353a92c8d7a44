"""Running minimizer from an orchestrator (Airflow): the steps of :mod:`minimizer.flow`, one
task per group of them.

- ``tasks``: the task bodies (extract, minimise, gate, load, publish, cleanup), plain functions
  of paths and a `~minimizer.flow.RunState` saved as JSON between them;
- ``staged``: raw chunks staged between the extract and the minimise task;
- ``environment``: connections, variables and the master key from Airflow;
- ``runner``: Airflow's side of a task (context, failures that must not be retried);
- ``local``: an embedded Airflow (SQLite metadata, DuckDB warehouse) for ``make demo`` and
  ``make airflow``.

Nothing here is imported by the DAG files at parse time; the tasks import it when they run.
"""
