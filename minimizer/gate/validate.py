"""Validate the staged tables of a run with their suites, and write what auditors read.

GX validates the real rows: each staged Parquet file is a view in a throw-away DuckDB database
(``read_parquet`` of the file, with the ``<bucket>_from`` bounds the load adds beside sortable
buckets), and GX reads it through its SQL datasource, as it reads a loaded warehouse table in
``minimizer audit verify`` (:func:`verify_warehouse`). Every
result identifies what it checked: its ``batch_markers`` hold the staged file, its SHA-256, its
row count (which the stock ``expect_table_row_count_to_equal`` re-counts through GX) and the
run id. One ephemeral GX context per run; nothing persisted but the artefacts under
``<artifacts>/gate/<run_id>/``::

    index.html                the outcome as a static page, linking GX's pages (works offline)
    gate.json                 the outcome: per table, expectations evaluated and failed (counts)
    suites/<table>.json       the suite that ran, published for re-running (audit verify)
    suites/<table>.loaded.json  for an aggregate table, the suite of the loaded counts (the
                              run checked the staged rows): what audit verify re-runs
    results/<table>.json      the GX validation result
    data_docs/index.html      the static Data Docs site (assets: <artifacts>/gate/_assets/)

``RESULT_FORMAT`` keeps raw values out of all of them: GX's default (SUMMARY) lists failing
values in ``partial_unexpected_list``; BASIC with ``exclude_unexpected_values`` and
``partial_unexpected_count: 0`` keeps only counts (and our custom expectations and SQL checks
only ever return counts).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import duckdb_engine
import pyarrow as pa
import pyarrow.parquet as pq

from minimizer.gate.canary import CanaryRecord
from minimizer.gate.page import write_page
from minimizer.gate.suite import RETENTION_PARAMETER, build_suites, subject_column
from minimizer.guarantees.scratch import scratch_config
from minimizer.hierarchy import TOP
from minimizer.policy import Policy
from minimizer.sortable import SUFFIX, lower_bounds, sortable_buckets

__all__ = [
    "RESULT_FORMAT",
    "GateDuckDBDialect",
    "GateOutcome",
    "VerifyOutcome",
    "add_sql_source",
    "context",
    "dispose",
    "duckdb_url",
    "failure_of",
    "quiet_gx",
    "validate_tables",
    "verify_warehouse",
]

log = logging.getLogger("minimizer.gate")

RESULT_FORMAT: dict[str, Any] = {
    "result_format": "BASIC",
    "partial_unexpected_count": 0,
    "exclude_unexpected_values": True,
    "include_unexpected_rows": False,
    "return_unexpected_index_query": False,
}
_SITE = "gate"
_DIALECT = "duckdb.minimizer"


class GateDuckDBDialect(duckdb_engine.Dialect):
    """duckdb_engine without transaction statements, for reading only.

    GX fetches a query's rows after it has returned the connection to the pool; duckdb_engine
    issues ROLLBACK on return, and a DuckDB connection's ROLLBACK discards its pending result,
    so every metric would come back empty. The gate never writes, so it needs no transaction.
    """

    supports_statement_cache = False

    def create_connect_args(self, url: Any) -> Any:
        # ``?search_path=`` is ours, not a DuckDB option: set after connecting (below)
        path = url.query.get("search_path")
        if path is not None:
            url = url.difference_update_query(["search_path"])
        cargs, cparams = super().create_connect_args(url)
        if path is not None:
            cparams["minimizer_search_path"] = path
        return cargs, cparams

    def connect(self, *cargs: Any, **cparams: Any) -> Any:
        path = cparams.pop("minimizer_search_path", None)
        connection = super().connect(*cargs, **cparams)
        if path is not None:
            # GX's column reflection falls back, on DuckDB, to an unqualified table name
            connection.execute(f"SET search_path = {_literal(str(path))}")
        return connection

    def do_begin(self, connection: Any) -> None:
        pass

    def do_rollback(self, connection: Any) -> None:
        pass

    def do_commit(self, connection: Any) -> None:
        pass


def duckdb_url(path: Path, search_path: str | None = None) -> str:
    """The SQLAlchemy URL GX reads a DuckDB file through (the dialect above)."""
    from urllib.parse import quote

    from sqlalchemy.dialects import registry

    registry.register(_DIALECT, __name__, "GateDuckDBDialect")
    query = f"?search_path={quote(search_path)}" if search_path else ""
    return f"duckdb+minimizer:///{path.resolve()}{query}"


def quiet_gx() -> None:
    """GX logs at INFO (about 200 lines a run: store set-ups, column introspection fallbacks);
    warnings and errors stay. Set where the gate runs, so the CLI and Airflow task logs show
    the gate's own lines."""
    logging.getLogger("great_expectations").setLevel(logging.WARNING)


@dataclass
class GateOutcome:
    """What the gate found, as names and counts."""

    run_id: str
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    measured: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    directory: Path | None = None

    @property
    def success(self) -> bool:
        return not self.failures

    def summary(self) -> dict[str, Any]:
        """JSON-able, for ``RunReport.gate`` and so the audit record."""
        return {
            "success": self.success,
            "evaluated": sum(t["evaluated"] for t in self.tables.values()),
            "failed": len(self.failures),
            "tables": self.tables,
            "failures": self.failures,
            "measured": self.measured,
            "seconds": self.seconds,
            "artifacts": str(self.directory) if self.directory else None,
        }


def context(docs: Path | None) -> Any:
    """An in-memory context whose only Data Docs site is ``docs`` (or none)."""
    quiet_gx()  # before the import: GX logs while it sets itself up
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    sites = {}
    if docs is not None:
        sites[_SITE] = {
            "class_name": "SiteBuilder",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(docs),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        data_docs_sites=sites,
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def add_sql_source(gx_context: Any, name: str, url: str, **engine: Any) -> Any:
    """A GX SQL datasource; on DuckDB, GX's PostgreSQL regex operators (``~``, ``!~``), which
    DuckDB shares, so the stock regex expectations run there too (GX knows no DuckDB regex)."""
    import sqlalchemy.dialects.postgresql as postgresql

    sources = gx_context.data_sources
    if url.startswith(("postgresql://", "postgresql+")):
        source = sources.add_postgres(name, connection_string=url, kwargs=engine)
    else:
        source = sources.add_sql(name, connection_string=url, kwargs=engine)
    execution = source.get_execution_engine()
    if execution.engine.dialect.name == "duckdb":
        execution.dialect_module = postgresql
    return source


def dispose(source: Any) -> None:
    """Close every connection a GX SQL datasource opened: its own engine (GX tests the
    connection with it) and its execution engine's. A DuckDB file stays open in the process
    otherwise, and the next connection with other settings is refused."""
    source.get_engine().dispose()
    source.get_execution_engine().close()


def _error(info: Any) -> str | None:
    """The first error GX caught for an expectation (flat, or per metric it depends on)."""
    if not isinstance(info, dict):
        return None
    if info.get("raised_exception"):
        return str(info.get("exception_message") or "error")
    for nested in info.values():
        if message := _error(nested):
            return message
    return None


def failure_of(table: str, result: Any) -> dict[str, Any]:
    """One failed expectation as names and numbers (never a value)."""
    config = result.expectation_config
    kwargs, meta = config.kwargs, config.meta or {}
    column = kwargs.get("column") or ",".join(meta.get("columns", []))
    counts = result.result or {}
    failure: dict[str, Any] = {
        "table": table,
        "column": column or None,
        "expectation": config.type,
        "check": meta.get("check") or config.type.removeprefix("expect_"),
        "reason": "expectation_failed",
        # numbers are all that is copied (stock results hold lists of column names, too)
        **{k: v for k, v in counts.items() if isinstance(v, int | float) and v is not True},
    }
    failure.setdefault("unexpected_count", counts.get("observed_value"))
    failure["count"] = failure["unexpected_count"]
    if (message := _error(result.exception_info)) is not None:
        failure["reason"] = "error"
        failure["error"] = message.splitlines()[0][:200]
    return failure


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _staged_view(
    con: duckdb.DuckDBPyConnection, table: str, path: Path, buckets: Sequence[str]
) -> str:
    """The staged file as the load will publish it: ``<bucket>_from`` beside each sortable
    bucket, by :func:`minimizer.sortable.lower_bounds` (as the load computes it) of the
    distinct labels, kept in a small lookup table. The view looks a row's label up in a MAP
    of that table, an expression DuckDB leaves out of every query that does not read the
    bound (a join would cost every check of the table a probe per row)."""
    source = f"read_parquet({_literal(str(path.resolve()))})"
    if not buckets:
        return f"SELECT * FROM {source}"
    con.execute("CREATE SCHEMA IF NOT EXISTS _bounds")
    added = []
    for bucket in buckets:
        labels = con.sql(
            f"SELECT DISTINCT {_ident(bucket)} AS label FROM {source} "
            f"WHERE {_ident(bucket)} IS NOT NULL"
        ).to_arrow_table()
        lookup = pa.table({"label": labels["label"], "bound": lower_bounds(labels["label"])})
        name = f"_bounds.{_ident(f'{table}.{bucket}')}"
        con.register("_lookup", lookup)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM _lookup")
        con.unregister("_lookup")
        bounds = f"(SELECT map(list(label), list(bound)) FROM {name})"
        added.append(f"{bounds}[s.{_ident(bucket)}] AS {_ident(bucket + SUFFIX)}")
    return f"SELECT s.*, {', '.join(added)} FROM {source} AS s"


@contextmanager
def _staged_database(
    staged: Mapping[str, Path],
    root: Path | None = None,
    sortable: Mapping[str, Sequence[str]] | None = None,
) -> Iterator[Path]:
    """A DuckDB file with one view per staged table over ``read_parquet`` of its file (and the
    bounds of its ``sortable`` buckets, see :func:`_staged_view`)."""
    work = Path(tempfile.mkdtemp(prefix="minimizer-gate-", dir=root))
    database = work / "staged.duckdb"
    try:
        with duckdb.connect(str(database)) as con:
            for table, path in staged.items():
                buckets = (sortable or {}).get(table, ())
                con.execute(
                    f"CREATE VIEW {_ident(table)} AS {_staged_view(con, table, path, buckets)}"
                )
        yield database
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _record_path(record: CanaryRecord | Path, directory: Path) -> Path:
    if isinstance(record, CanaryRecord):
        return record.save(directory)
    return Path(record)


def _measure(engine: Any, policy: Policy, table: str) -> dict[str, Any]:
    """The guarantees' figures re-counted from the staged rows, for the audit record (the
    pass/fail decision is GX's; these are the numbers a reader wants beside it)."""
    found: dict[str, Any] = {}
    g, loc = policy.guarantees.k_anonymity, policy.guarantees.location
    with engine.connect() as sql:
        con = sql.connection.driver_connection  # DuckDB's own: FILTER, fetchone
        if g is not None and g.source == table:
            subject = subject_column(policy.sources[table])
            qis = ", ".join(_ident(q) for q in g.quasi_identifiers)
            top = " AND ".join(
                f"COALESCE(CAST({_ident(q)} AS VARCHAR) = {_literal(TOP)}, FALSE)"
                for q in g.quasi_identifiers
            )
            size = f"COUNT(DISTINCT {_ident(subject)})" if subject else "COUNT(*)"
            row = con.execute(
                f"SELECT MIN(n), COUNT(*), COUNT(*) FILTER (WHERE n < {int(g.k)}), "
                f"SUM(n) FILTER (WHERE n < {int(g.k)}) FROM (SELECT {size} AS n "
                f"FROM {_ident(table)} WHERE NOT ({top}) GROUP BY {qis})"
            ).fetchone()
            rows = con.execute(
                f"SELECT COUNT(*), COUNT(*) FILTER (WHERE {top}) FROM {_ident(table)}"
            ).fetchone()
            assert row is not None and rows is not None
            found["k_anonymity"] = {
                "min_class_size": int(row[0] or 0),
                "classes": int(row[1]),
                "classes_below_k": int(row[2]),
                "rows_in_small_classes": int(row[3] or 0),
                "suppressed_rows": int(rows[1]),
                "rows": int(rows[0]),
                "counted": f"distinct {subject}" if subject else "rows",
            }
        if loc is not None and loc.source == table:
            c, b, s = (_ident(x) for x in (loc.cell, loc.bucket, loc.subject))
            m = int(loc.min_distinct_subjects_per_cell)
            row = con.execute(
                f"SELECT MIN(n), COUNT(*), COUNT(*) FILTER (WHERE n < {m}) FROM (SELECT "
                f"COUNT(DISTINCT {s}) AS n FROM {_ident(table)} WHERE {c} IS NOT NULL AND "
                f"{b} IS NOT NULL AND {s} IS NOT NULL GROUP BY {c}, {b})"
            ).fetchone()
            assert row is not None
            found["location"] = {
                "min_distinct_subjects": int(row[0] or 0),
                "groups": int(row[1]),
                "groups_below_min": int(row[2]),
            }
    return found


def _identify(result: Any, identity: dict[str, Any]) -> None:
    """Put what was checked into the result's batch markers (GX's SQL batches carry only a
    load time there)."""
    result.meta.setdefault("batch_markers", {}).update(identity)


def _store_again(gx_context: Any, result: Any) -> None:
    """The identified result in GX's store, which Data Docs are built from."""
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    key = ValidationResultIdentifier(
        expectation_suite_identifier=ExpectationSuiteIdentifier(name=result.suite_name),
        run_id=result.meta["run_id"],
        batch_identifier=result.batch_id,
    )
    gx_context.validation_results_store.set(key, result)


def validate_tables(
    policy: Policy,
    staged: dict[str, Path],
    records: Mapping[str, CanaryRecord | Path],
    *,
    secret: bytes,
    retention_cutoff: datetime,
    run_id: str,
    directory: Path | None,
    work: Path | None = None,
) -> GateOutcome:
    """Validate each staged table against its suite; write the artefacts when ``directory``.

    ``records``: each table's canary record, or the path of its saved form."""
    from great_expectations import ValidationDefinition
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.expectations import ExpectTableRowCountToEqual

    from minimizer.gate.expectations import CANARY_PARAMETER, canary_key

    started = time.perf_counter()
    outcome = GateOutcome(run_id=run_id, directory=directory)
    gx_context = context(directory / "data_docs" if directory else None)
    gx_run = RunIdentifier(run_name=run_id)
    results, suites = {}, {}
    schemas = {table: pq.read_schema(path) for table, path in staged.items()}
    # The load adds a bound beside each sortable bucket (minimizer.sortable): the gate checks
    # the table with them, as the suite and a later `audit verify` expect it.
    sortable = {
        table: [c for c in sortable_buckets(policy, table) if c in schemas[table].names]
        for table in staged
    }
    with _staged_database(staged, work, sortable) as database, canary_key(secret):
        # Capped and spilling into the run's folder: the group-bys over a staged table of any
        # size cost the same memory (without a cap DuckDB takes up to 80 % of the machine).
        limits = scratch_config(database.parent / "spill")
        source = add_sql_source(
            gx_context,
            "staged",
            duckdb_url(database),
            connect_args={"read_only": True, "config": limits},
        )
        try:
            for table, suite in build_suites(policy, schemas).items():
                path = staged[table]
                identity = {
                    "staged_file": str(path),
                    "staged_sha256": _sha256(path),
                    "staged_rows": pq.ParquetFile(path).metadata.num_rows,
                    "run_id": run_id,
                }
                suite.add_expectation(ExpectTableRowCountToEqual(value=identity["staged_rows"]))
                batch = source.add_table_asset(
                    table, table_name=table
                ).add_batch_definition_whole_table("staged")
                suites[table] = gx_context.suites.add(suite)
                definition = gx_context.validation_definitions.add(
                    ValidationDefinition(name=table, data=batch, suite=suites[table])
                )
                record = _record_path(records[table], database.parent)
                result = definition.run(
                    expectation_parameters={
                        RETENTION_PARAMETER: retention_cutoff.isoformat(),
                        CANARY_PARAMETER: str(record),
                    },
                    result_format=RESULT_FORMAT,
                    run_id=gx_run,
                )
                _identify(result, identity)
                results[table] = result
                failed = [failure_of(table, r) for r in result.results if not r.success]
                outcome.failures += failed
                outcome.tables[table] = {
                    "evaluated": len(result.results),
                    "failed": len(failed),
                    "rows": identity["staged_rows"],
                    "sha256": identity["staged_sha256"],
                }
                if measured := _measure(source.get_execution_engine().engine, policy, table):
                    outcome.measured[table] = measured
        finally:
            dispose(source)
    outcome.seconds["validate"] = round(time.perf_counter() - started, 3)
    if directory is not None:
        started = time.perf_counter()
        from minimizer.gate.suite import loaded_aggregate_suites

        loaded = loaded_aggregate_suites(policy)
        _write(
            directory,
            policy.purpose,
            outcome,
            results,
            suites,
            loaded,
            retention_cutoff,
            gx_context,
        )
        outcome.seconds["artifacts"] = round(time.perf_counter() - started, 3)
    return outcome


def _write(
    directory: Path,
    purpose: str,
    outcome: GateOutcome,
    results: dict[str, Any],
    suites: dict[str, Any],
    loaded: Mapping[str, Any],
    retention_cutoff: datetime,
    gx_context: Any,
) -> None:
    from minimizer.gate.page import make_offline

    for sub in ("results", "suites"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    for table, result in results.items():
        _store_again(gx_context, result)
        doc = result.to_json_dict()
        (directory / "results" / f"{table}.json").write_text(json.dumps(doc, indent=1) + "\n")
        suite = suites[table].to_json_dict()
        (directory / "suites" / f"{table}.json").write_text(json.dumps(suite, indent=1) + "\n")
    for table, suite in loaded.items():
        doc = suite.to_json_dict()
        (directory / "suites" / f"{table}.loaded.json").write_text(json.dumps(doc, indent=1) + "\n")
    published = {
        "format": "minimizer-gate-suites/1",
        "purpose": purpose,
        "run_id": outcome.run_id,
        "parameters": {RETENTION_PARAMETER: retention_cutoff.isoformat()},
        "tables": {
            table: f"suites/{table}.loaded.json" if table in loaded else f"suites/{table}.json"
            for table in results
        },
    }
    (directory / "suites" / "index.json").write_text(json.dumps(published, indent=1) + "\n")
    gx_context.build_data_docs(site_names=[_SITE])
    make_offline(directory / "data_docs", directory.parent / "_assets")
    (directory / "gate.json").write_text(json.dumps(outcome.summary(), indent=1) + "\n")
    write_page(directory, purpose, outcome.summary())


# ---------------------------------------------------------------- re-running a published suite


@dataclass
class VerifyOutcome:
    """What ``minimizer audit verify`` found: per purpose and table, counts only."""

    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # purposes loaded without a suite

    @property
    def success(self) -> bool:
        return not self.failures and not self.missing and bool(self.tables)


def _loaded_runs(warehouse: str) -> dict[str, str]:
    """The last loaded run of each purpose, from the warehouse's audit table."""
    from minimizer.io.warehouse import WarehouseError, open_warehouse

    with open_warehouse(warehouse) as wh:
        try:
            frame = wh.audit_runs()
        except WarehouseError:
            return {}
    if frame.empty:
        return {}
    loaded = frame[frame["status"] == "loaded"].sort_values("finished_at")
    return {str(p): str(r) for p, r in zip(loaded["purpose"], loaded["run_id"], strict=True)}


def _published(directory: Path) -> dict[str, Any] | None:
    index = directory / "suites" / "index.json"
    if not index.exists():
        return None
    doc: dict[str, Any] = json.loads(index.read_text())
    return doc if doc.get("format") == "minimizer-gate-suites/1" else None


def _suite_for_warehouse(doc: dict[str, Any]) -> tuple[Any, int]:
    """The published suite without the expectations that need the run's raw side."""
    from great_expectations import ExpectationSuite

    import minimizer.gate.expectations as ours  # registers the custom expectation types

    kept = [e for e in doc["expectations"] if e["type"] not in ours.RUN_ONLY]
    for e in kept:
        e.pop("id", None)
    suite = ExpectationSuite(name=doc["name"], expectations=kept, meta=doc.get("meta") or {})
    return suite, len(doc["expectations"]) - len(kept)


def verify_warehouse(
    warehouse: str, artifacts: Path, purposes: Sequence[str] | None = None
) -> VerifyOutcome:
    """Re-run, with GX through its SQL datasource, the published suite of every purpose's (or
    of ``purposes``') last loaded run against the loaded tables (DuckDB file or PostgreSQL URL).

    Expectations that need the run's raw side (:data:`~minimizer.gate.expectations.RUN_ONLY`:
    the canary, own names, the staged row count) are left out and counted."""
    from great_expectations import ValidationDefinition

    from minimizer.gate.suite import suite_name

    outcome = VerifyOutcome()
    runs = _loaded_runs(warehouse)
    if purposes:
        outcome.missing += [p for p in purposes if p not in runs]
        runs = {p: r for p, r in runs.items() if p in purposes}
    gx_context = context(None)
    sources = []
    try:
        for purpose, run_id in sorted(runs.items()):
            published = _published(artifacts / "gate" / run_id)
            if published is None:
                outcome.missing.append(purpose)
                continue
            if warehouse.startswith(("postgresql://", "postgresql+")):
                source = add_sql_source(gx_context, purpose, warehouse)
            else:
                url = duckdb_url(Path(warehouse), search_path=purpose)
                source = add_sql_source(gx_context, purpose, url, connect_args={"read_only": True})
            sources.append(source)
            for table, file in sorted(published["tables"].items()):
                doc = json.loads((artifacts / "gate" / run_id / file).read_text())
                suite, skipped = _suite_for_warehouse(doc)
                name = suite_name(purpose, table)
                asset = source.add_table_asset(table, table_name=table, schema_name=purpose)
                definition = gx_context.validation_definitions.add(
                    ValidationDefinition(
                        name=name,
                        data=asset.add_batch_definition_whole_table("loaded"),
                        suite=gx_context.suites.add(suite),
                    )
                )
                result = definition.run(
                    expectation_parameters=dict(published.get("parameters") or {}),
                    result_format=RESULT_FORMAT,
                )
                failed = [failure_of(name, r) for r in result.results if not r.success]
                outcome.failures += failed
                outcome.tables[name] = {
                    "run_id": run_id,
                    "evaluated": len(result.results),
                    "failed": len(failed),
                    "left_out": skipped,
                }
    finally:
        for source in sources:
            dispose(source)
    return outcome
