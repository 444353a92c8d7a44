"""An embedded Airflow for a laptop: ``make demo`` runs the DAGs with it, ``make airflow`` serves
its UI. No server to install: SQLite metadata under ``demo/airflow``, this project's DAGs, and
connections to the demo's SQLite CRM, Parquet events and DuckDB warehouse.

The settings are environment variables, so that ``airflow`` sub-processes (the scheduler, the
DAG processor, the API server and the task workers of ``airflow standalone``) see them too.
Airflow reads them when first imported: set them before importing it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LocalAirflow"]


@dataclass(frozen=True)
class LocalAirflow:
    """Paths of the embedded setup; all of them absolute, as Airflow needs."""

    root: Path
    sources: Path
    warehouse: Path
    key_file: Path
    host: str = "127.0.0.1"
    port: int = 8080

    @classmethod
    def in_project(cls, root: Path, *, port: int | None = None) -> LocalAirflow:
        root = root.resolve()
        demo = root / "demo"
        port = port or int(os.environ.get("AIRFLOW_PORT", "8080"))
        return cls(
            root,
            demo / "sources",
            demo / "warehouse.duckdb",
            demo / "keys" / "keys.json",
            port=port,
        )

    @property
    def home(self) -> Path:
        return self.root / "demo" / "airflow"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def password_file(self) -> Path:
        """Where the simple auth manager writes the generated admin password."""
        return self.home / "simple_auth_manager_passwords.json.generated"

    @property
    def bin(self) -> Path:
        return Path(sys.executable).parent

    def environ(self) -> dict[str, str]:
        """Airflow settings, minimizer's connections and key file, as environment variables."""
        crm = {"conn_type": "sqlite", "host": str(self.sources / "crm.sqlite")}
        events = {"conn_type": "fs", "extra": {"path": str(self.sources / "events")}}
        warehouse = {"conn_type": "duckdb", "host": str(self.warehouse)}
        return {
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.root / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.home / 'airflow.db'}",
            "AIRFLOW__API__HOST": self.host,
            "AIRFLOW__API__PORT": str(self.port),
            # Workers reach the API server here; it must follow the port.
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW_CONN_MINIMIZER_CRM": json.dumps(crm),
            "AIRFLOW_CONN_MINIMIZER_EVENTS": json.dumps(events),
            "AIRFLOW_CONN_MINIMIZER_WAREHOUSE": json.dumps(warehouse),
            "MINIMIZER_KEY_FILE": os.environ.get("MINIMIZER_KEY_FILE", str(self.key_file)),
            "MINIMIZER_STAGING": str(self.root / "demo" / "staging"),
            "MINIMIZER_POLICY_DIR": str(self.root / "configs" / "purposes"),
            # `airflow standalone` starts its components as `airflow ...`: the venv's.
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
        }

    def migrate(self) -> None:
        """Create or upgrade the SQLite metadata database (quietly; the log stays in home)."""
        self.home.mkdir(parents=True, exist_ok=True)
        log = self.home / "migrate.log"
        with log.open("w") as out:
            done = subprocess.run(
                [str(self.bin / "airflow"), "db", "migrate"],
                env={**os.environ, **self.environ()},
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if done.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed; see {log}")

    def standalone(self) -> None:
        """Replace this process with ``airflow standalone`` on the embedded setup."""
        env = {**os.environ, **self.environ()}
        os.execve(str(self.bin / "airflow"), ["airflow", "standalone"], env)
