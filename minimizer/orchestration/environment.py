"""Where a run reads, stages and loads, and its key: from Airflow connections and variables.

===========================  ===============================================================
Airflow name                 what it gives
===========================  ===============================================================
``minimizer_crm``            the CRM: ``sqlite`` (``host`` = the file) or ``postgres``
                             (URL built by the postgres provider's hook from the connection)
``minimizer_events``         the day-partitioned events: ``fs`` (``extra.path``) or ``host``
``minimizer_warehouse``      ``postgres`` (as for the CRM), anything else a DuckDB file
                             (``host`` or ``extra.path``); ``extra.artifacts`` optional
                             (else ``MINIMIZER_ARTIFACTS``, else beside the DuckDB file or
                             ``~/minimizer-artifacts``): run records, rejected rows
``minimizer_master_key``     Variable: base64 master key (a secrets backend can serve it);
                             without it, ``MINIMIZER_MASTER_KEY`` / ``MINIMIZER_KEY_FILE``
``minimizer_key_version``    Variable, optional: version of that master key (default 1)
``minimizer_staging``        Variable, optional: staging root shared by the tasks of a run
                             (else ``MINIMIZER_STAGING``, else the system temp directory)
===========================  ===============================================================

The CRM and warehouse URLs can hold passwords and the master key is secret: they live in an
`Environment` inside a task and are never returned from one (XCom), logged or templated.
The key is registered with Airflow's secrets masker as soon as it is read. Airflow is
imported here lazily, only when `from_airflow` is called inside a task.
"""

from __future__ import annotations

import base64
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from minimizer.errors import MinimizerError
from minimizer.keys import KeyRing, load_keyring
from minimizer.service import default_artifacts

if TYPE_CHECKING:
    from minimizer.rights.requests import ErasureSettings

__all__ = [
    "CONNECTIONS",
    "Environment",
    "SetupError",
    "erasure_settings",
    "from_airflow",
    "warehouse_options",
    "warehouse_target",
]

CONNECTIONS = {
    "crm": "minimizer_crm",
    "events": "minimizer_events",
    "warehouse": "minimizer_warehouse",
}
KEY_VARIABLE = "minimizer_master_key"
KEY_VERSION_VARIABLE = "minimizer_key_version"
STAGING_VARIABLE = "minimizer_staging"
_POSTGRES_TYPES = ("postgres", "postgresql")


class SetupError(MinimizerError):
    """Airflow is not set up for minimizer: a connection is missing or of the wrong type."""

    exit_code = 2


@dataclass(frozen=True, repr=False)
class Environment:
    """Everything a task needs besides the policy. Its repr shows no URL and no key."""

    crm: str
    events: Path
    warehouse: str
    artifacts: Path
    staging: Path
    keyring: Callable[[], KeyRing] = field(default=load_keyring)

    def __repr__(self) -> str:
        return f"Environment(staging={str(self.staging)!r}, artifacts={str(self.artifacts)!r})"

    @property
    def warehouse_options(self) -> dict[str, Any]:
        return warehouse_options(self.warehouse)


def warehouse_options(target: str) -> dict[str, Any]:
    """Options for ``open_warehouse``: a DuckDB file takes one process at a time, so a task
    waits for another DAG's task to let go of it instead of failing at once."""
    return {} if target.startswith("postgresql") else {"lock_timeout": 120.0}


def _connection(conn_id: str) -> Any:
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return Connection.get(conn_id)
    except AirflowNotFoundException:
        raise SetupError(
            f"Airflow connection {conn_id!r} is not defined (set it in the UI, a secrets backend "
            f"or AIRFLOW_CONN_{conn_id.upper()}; see docs/airflow.md)"
        ) from None


def _path_of(conn: Any) -> str:
    path = conn.extra_dejson.get("path") or conn.host or conn.schema
    if not path:
        raise SetupError(f"Airflow connection {conn.conn_id!r} names no path (host or extra.path)")
    return str(path)


def _postgres_url(conn_id: str) -> str:
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    url = PostgresHook(postgres_conn_id=conn_id).sqlalchemy_url
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _database(conn_id: str, *, allow_duckdb: bool) -> str:
    conn = _connection(conn_id)
    if conn.conn_type in _POSTGRES_TYPES:
        return _postgres_url(conn_id)
    if conn.conn_type == "sqlite" or allow_duckdb:
        return _path_of(conn)
    raise SetupError(
        f"Airflow connection {conn_id!r} has type {conn.conn_type!r}; use sqlite or postgres"
    )


def _variable(name: str) -> str | None:
    from airflow.sdk import Variable

    value = Variable.get(name, default=None)
    return None if value in (None, "") else str(value)


def _keyring_from_airflow() -> KeyRing:
    from airflow.sdk.log import mask_secret

    key = _variable(KEY_VARIABLE)
    if key is not None:
        mask_secret(key)  # no name: a name not on the sensitive list would disable the mask
        version = _variable(KEY_VERSION_VARIABLE) or os.environ.get("MINIMIZER_KEY_VERSION", "1")
        env = {"MINIMIZER_MASTER_KEY": key, "MINIMIZER_KEY_VERSION": version}
        return load_keyring(env)
    if os.environ.get("MINIMIZER_MASTER_KEY"):
        mask_secret(os.environ["MINIMIZER_MASTER_KEY"])
    ring = load_keyring()
    for master in ring.masters.values():
        if master:  # a key file holds urlsafe base64; either spelling must never show
            mask_secret(base64.urlsafe_b64encode(master).decode())
            mask_secret(base64.b64encode(master).decode())
    return ring


def warehouse_target() -> str:
    """The warehouse alone (DuckDB path or PostgreSQL URL), for analysts' tasks."""
    return _database(CONNECTIONS["warehouse"], allow_duckdb=True)


def from_airflow() -> Environment:
    """The environment of the running task, from its connections and variables."""
    warehouse = warehouse_target()
    events_conn = _connection(CONNECTIONS["events"])
    extra = _connection(CONNECTIONS["warehouse"]).extra_dejson
    staging = (
        _variable(STAGING_VARIABLE)
        or os.environ.get("MINIMIZER_STAGING")
        or str(Path(tempfile.gettempdir()) / "minimizer-staging")
    )
    return Environment(
        crm=_database(CONNECTIONS["crm"], allow_duckdb=False),
        events=Path(_path_of(events_conn)),
        warehouse=warehouse,
        artifacts=Path(extra["artifacts"]) if extra.get("artifacts") else _artifacts(warehouse),
        staging=Path(staging),
        keyring=_keyring_from_airflow,
    )


def _artifacts(warehouse: str) -> Path:
    if os.environ.get("MINIMIZER_ARTIFACTS"):
        return Path(os.environ["MINIMIZER_ARTIFACTS"])
    if warehouse.startswith("postgresql"):
        # A worker's working directory is a temporary one: keep the records in a fixed place.
        return Path.home() / "minimizer-artifacts"
    return default_artifacts(warehouse)


def erasure_settings() -> ErasureSettings:
    """Inside a task of the erasure DAG: the warehouse, CRM and key ring of the ``minimise_*``
    DAGs (connections ``minimizer_warehouse``, ``minimizer_crm``; see docs/airflow.md), and the
    drop folder from the Variable ``minimizer_erasure_drop`` or MINIMIZER_ERASURE_DROP."""
    from airflow.sdk import Variable

    from minimizer.rights.requests import ErasureSettings, drop_folder, policy_dir, work_dir

    env = from_airflow()
    drop = Variable.get("minimizer_erasure_drop", default=None)
    return ErasureSettings(
        warehouses=(env.warehouse,),
        purposes=policy_dir(dict(os.environ)),
        crm=env.crm,
        drop=drop_folder(drop or os.environ.get("MINIMIZER_ERASURE_DROP")),
        work=work_dir(dict(os.environ)),
        keyring=env.keyring,
    )
