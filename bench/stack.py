"""A real Airflow for the benchmark: scheduler (LocalExecutor), dag-processor and api-server as subprocesses.

The approach of ``tests/fault/airflow_stack.py``, with what a measurement needs instead of a test: the metadata
database on PostgreSQL (as in production; SQLite serializes the scheduler and the tasks), ``[core] parallelism``
set, the provider imported from a chosen directory (``PYTHONPATH`` of every Airflow process, so tasks run exactly
that code), and run timelines read back through the REST API. Processes are stopped by their pids.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.pgserver import free_port

START_GUARD_S = 180


class Stack:
    """Start with :meth:`start`, always :meth:`stop`.

    :param home: an empty directory for AIRFLOW_HOME.
    :param metadata_url: SQLAlchemy URL of the metadata database.
    :param env: extra environment (connections ``AIRFLOW_CONN_*``, ``PYTHONPATH``).
    :param parallelism: ``[core] parallelism`` (LocalExecutor worker processes).
    """

    def __init__(self, home: Path, metadata_url: str, env: dict[str, str], parallelism: int = 4) -> None:
        self.home = home
        self.dags = home / "dags"
        self.dags.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # not this process's Airflow settings; and byte-code caching on, as in any installation (a sandbox's
        # PYTHONDONTWRITEBYTECODE makes every task compile the provider from source: +0.2 s per task here)
        base = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW") and k != "PYTHONDONTWRITEBYTECODE"}
        self.env = {
            **base,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(parallelism),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            **env,
        }
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._token: str | None = None
        self.client = httpx.Client(base_url=self.url, timeout=60)

    def airflow(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "airflow", *args]

    def start(self) -> None:
        subprocess.run(self.airflow("db", "migrate"), env=self.env, cwd=self.home, check=True, capture_output=True,
                       timeout=600)  # fmt: skip
        self._spawn("api-server", "api-server", "--port", str(self.port), "--host", "127.0.0.1", "--workers", "1")
        self._spawn("dag-processor", "dag-processor")
        self._spawn("scheduler", "scheduler")
        self.wait_for(self._health_ok, "the api-server to answer")

    def _spawn(self, name: str, *args: str) -> None:
        log = (self.home / f"{name}.log").open("wb")
        # cwd: AIRFLOW_HOME, since ``python -m`` puts the working directory first on sys.path (a checkout there
        # would shadow the provider named by PYTHONPATH)
        self.procs[name] = subprocess.Popen(self.airflow(*args), env=self.env, cwd=self.home, stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)  # fmt: skip

    def stop(self) -> None:
        """SIGTERM each process by pid (scheduler first), wait, then SIGKILL what is left of its process group."""
        self.client.close()
        for name in ("scheduler", "dag-processor", "api-server"):
            proc = self.procs.get(name)
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)

    def log_tail(self, name: str, chars: int = 3000) -> str:
        path = self.home / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def wait_for(self, ready: Any, what: str, guard: float = START_GUARD_S, poll: float = 0.5) -> Any:
        """Poll ``ready()`` until truthy; fail when an Airflow process exits or after ``guard`` seconds."""
        deadline = time.monotonic() + guard
        while True:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"airflow {name} exited ({proc.returncode}):\n{self.log_tail(name)}")
            if found := ready():
                return found
            if time.monotonic() > deadline:
                tails = "\n".join(f"--- {n}:\n{self.log_tail(n, 1500)}" for n in self.procs)
                raise RuntimeError(f"waited {guard:.0f} s for {what}\n{tails}")
            time.sleep(poll)

    def _health_ok(self) -> bool:
        try:
            return self.client.get("/api/v2/monitor/health").status_code == 200
        except httpx.HTTPError:
            return False

    # ---- REST --------------------------------------------------------------------------------------------
    def token(self) -> str:
        if self._token is None:
            pw_file = self.home / "simple_auth_manager_passwords.json.generated"
            password = json.loads(pw_file.read_text())["admin"]
            got = self.client.post("/auth/token", json={"username": "admin", "password": password})
            got.raise_for_status()
            self._token = str(got.json()["access_token"])
        return self._token

    def api(self, method: str, path: str, body: dict[str, Any] | None = None, ok: tuple[int, ...] = (200,)) -> Any:
        got = self.client.request(method, "/api/v2" + path, json=body,
                                  headers={"Authorization": f"Bearer {self.token()}"})  # fmt: skip
        if got.status_code not in ok:
            raise RuntimeError(f"{method} {path}: {got.status_code} {got.text[:500]}")
        return got.json() if got.content else None

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

        return dict(self.wait_for(ended, f"run {dag_id}/{run_id}", guard=guard, poll=0.25))

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        got = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=1000")
        return list(got["task_instances"])


def stamp(value: str | None) -> float | None:
    """An API timestamp as epoch seconds."""
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() if value else None
