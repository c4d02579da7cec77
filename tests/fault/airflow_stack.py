"""A real Airflow for a test: scheduler (LocalExecutor), dag-processor and api-server as subprocesses.

Everything lives in a temporary AIRFLOW_HOME with a SQLite metadata database and its own dags folder; the REST
API is reached with a token from ``POST /auth/token`` (simple auth manager, user ``admin``, password from the
generated passwords file), as a script or the UI would. :meth:`AirflowStack.stop` stops each process by its pid
(scheduler first), then kills what is left of each one's own process group.
"""

from __future__ import annotations

import contextlib
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

START_GUARD_S = 120


class AirflowStack:
    """Start with :meth:`start`, always :meth:`stop` (a ``finally``).

    :param home: an empty directory for AIRFLOW_HOME.
    :param env: extra environment (connections ``AIRFLOW_CONN_*``).
    """

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home = home
        self.dags = home / "dags"
        self.dags.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        base = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}  # not the pytest process's
        self.env = {
            **base,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            **env,
        }
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._token: str | None = None
        self.client = httpx.Client(base_url=self.url, timeout=30)

    # ---- processes ---------------------------------------------------------------------------------------
    def airflow(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "airflow", *args]

    def start(self) -> None:
        subprocess.run(self.airflow("db", "migrate"), env=self.env, check=True, capture_output=True, timeout=300)
        self._spawn("api-server", "api-server", "--port", str(self.port), "--host", "127.0.0.1", "--workers", "1")
        self._spawn("dag-processor", "dag-processor")
        self._spawn("scheduler", "scheduler")
        self._wait(lambda: self._health_ok(), "the api-server to answer")

    def _spawn(self, name: str, *args: str) -> None:
        log = (self.home / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen(self.airflow(*args), env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip

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
        for proc in self.procs.values():  # children (task supervisors, api workers) live in the group
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)

    def log_tail(self, name: str, chars: int = 4000) -> str:
        path = self.home / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def _wait(self, ready: Any, what: str, guard: float = START_GUARD_S) -> Any:
        deadline = time.monotonic() + guard
        while True:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise AssertionError(f"airflow {name} exited ({proc.returncode}):\n{self.log_tail(name)}")
            if found := ready():
                return found
            if time.monotonic() > deadline:
                tails = "\n".join(f"--- {n}:\n{self.log_tail(n, 1500)}" for n in self.procs)
                raise AssertionError(f"hang guard: waited {guard:.0f} s for {what}\n{tails}")
            time.sleep(0.5)

    def wait_for(self, ready: Any, what: str, guard: float = START_GUARD_S) -> Any:
        """Poll ``ready()`` until truthy (hang guard only: the processes must stay alive)."""
        return self._wait(ready, what, guard)

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
            assert got.status_code == 201, got.text
            self._token = got.json()["access_token"]
        return self._token

    def api(self, method: str, path: str, body: dict[str, Any] | None = None, ok: tuple[int, ...] = (200,)) -> Any:
        got = self.client.request(method, "/api/v2" + path, json=body,
                                  headers={"Authorization": f"Bearer {self.token()}"})  # fmt: skip
        assert got.status_code in ok, f"{method} {path}: {got.status_code} {got.text}"
        return got.json() if got.content else None

    def get(self, path: str, ok: tuple[int, ...] = (200,)) -> Any:
        return self.api("GET", path, ok=ok)
