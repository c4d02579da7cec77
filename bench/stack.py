"""A real Airflow for the benchmark: the tests' stack (``tests/fault/airflow_stack.py``) with what a measurement
needs instead of a test: the metadata database on PostgreSQL (as in production; SQLite serializes the scheduler
and the tasks), ``[core] parallelism`` set, Airflow's own scheduler heartbeat and hostname (the tests shorten and
rename them), the provider imported from a chosen directory (``PYTHONPATH`` of every Airflow process, the
processes started in AIRFLOW_HOME so that no checkout shadows it), byte-code caching on, and run timelines read
back through the REST API.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import httpx

from tests.fault.airflow_stack import AirflowStack


class Stack(AirflowStack):
    """Start with :meth:`start`, always :meth:`stop`.

    :param home: an empty directory for AIRFLOW_HOME.
    :param metadata_url: SQLAlchemy URL of the metadata database.
    :param env: extra environment (connections ``AIRFLOW_CONN_*``, ``PYTHONPATH``).
    :param parallelism: ``[core] parallelism`` (LocalExecutor worker processes).
    """

    def __init__(self, home: Path, metadata_url: str, env: dict[str, str], parallelism: int = 4) -> None:
        production = {
            "AIRFLOW__CORE__PARALLELISM": str(parallelism),
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "5",
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "airflow.utils.net.getfqdn",
        }
        super().__init__(home, {**production, **env}, executor="LocalExecutor", metadata_url=metadata_url)
        # a sandbox's PYTHONDONTWRITEBYTECODE makes every task compile the provider from source (+0.2 s per task)
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.cwd = home

    def dag_ready(self, dag_id: str) -> bool:
        try:
            return bool(self.api("GET", f"/dags/{dag_id}", ok=(200, 404)).get("dag_id"))
        except (httpx.HTTPError, AttributeError):
            return False

    def trigger(self, dag_id: str) -> tuple[str, float]:
        """Trigger a run now; returns (run_id, wall clock at the trigger)."""
        at = time.time()
        run = self.api("POST", f"/dags/{dag_id}/dagRuns", {"logical_date": None})
        return str(run["dag_run_id"]), at

    def wait_run(self, dag_id: str, run_id: str, guard: float) -> dict[str, Any]:
        """Poll the run until it ended (success or failed); returns the run."""

        def ended() -> dict[str, Any] | None:
            run = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}")
            return run if run["state"] in ("success", "failed") else None

        return dict(self.wait_for(ended, f"run {dag_id}/{run_id}", guard=guard, every=0.25))

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        got = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=1000")
        return list(got["task_instances"])


def stamp(value: str | None) -> float | None:
    """An API timestamp as epoch seconds."""
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() if value else None
