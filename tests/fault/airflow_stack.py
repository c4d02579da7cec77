"""A real Airflow for a test: scheduler, dag-processor, api-server (and Celery workers) as subprocesses.

Everything lives in a temporary AIRFLOW_HOME with a SQLite metadata database and its own dags folder; the REST
API is reached with a token from ``POST /auth/token`` (simple auth manager, user ``admin``, password from the
generated passwords file), as a script or the UI would. :meth:`AirflowStack.stop` stops each process by its pid
(scheduler first), then kills what is left of each one's own process group.

LocalExecutor by default. ``AirflowStack(home, env, executor="CeleryExecutor", workers=("a", "b"))`` starts one
``airflow celery worker`` per name, broker and result backend on the Redis database :func:`redis_url` names
(flushed before and after), each worker reporting its name as the hostname of the task instances it runs
(``[core] hostname_callable`` = :func:`tests.fault.worker_name.hostname`). ``executor`` may list several
executors (``"LocalExecutor,CeleryExecutor"``, the first is the default): a DAG then picks one per task with the
``executor`` task argument.
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

from tests.fault.worker_name import ENV as HOSTNAME_ENV
from tests.pgserver import free_port

START_GUARD_S = 120
#: One REST request; a busy 2-core machine has seen the api-server take over 30 s (it also serves the tasks).
REST_TIMEOUT_S = 60
#: A GET that timed out or lost its connection is sent again (GETs change nothing), this many times.
GET_RETRIES = 2
REPO_ROOT = Path(__file__).resolve().parents[2]
#: Redis for the Celery tests: a database number of their own on the machine's Redis, flushed before and after.
REDIS_ENV = "MAPPER_TEST_REDIS_URL"
REDIS_DEFAULT = "redis://127.0.0.1:6379/13"
#: A simple auth manager user without a role: authenticated, but allowed nothing (a 403 everywhere).
NO_ACCESS_USER = "outsider"


def redis_url() -> str:
    return os.environ.get(REDIS_ENV, REDIS_DEFAULT)


def redis_unreachable() -> str | None:
    """Why :func:`redis_url` cannot be used (None when it answers PING)."""
    import redis

    try:
        client = redis.Redis.from_url(redis_url(), socket_connect_timeout=2, socket_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
    except redis.RedisError as exc:
        return f"Redis at {redis_url()} ({REDIS_ENV}) does not answer: {exc}"
    return None


def flush_redis() -> None:
    import redis

    client = redis.Redis.from_url(redis_url(), socket_connect_timeout=5, socket_timeout=10)
    try:
        client.flushdb()
    finally:
        client.close()


class AirflowStack:
    """Start with :meth:`start`, always :meth:`stop` (a ``finally``).

    :param home: an empty directory for AIRFLOW_HOME.
    :param env: extra environment (connections ``AIRFLOW_CONN_*``).
    :param executor: ``[core] executor`` (one executor, or several separated by commas).
    :param workers: Celery worker names (hostnames), one ``airflow celery worker`` each.
    :param worker_concurrency: task slots of each Celery worker.
    :param metadata_url: SQLAlchemy URL of Airflow's metadata database (None: SQLite in ``home``). PostgreSQL is
        what production runs; SQLite serializes every write (a UI call can fail with "database is locked" on a
        busy machine).
    """

    def __init__(
        self,
        home: Path,
        env: dict[str, str],
        executor: str = "LocalExecutor",
        workers: tuple[str, ...] = (),
        worker_concurrency: int = 2,
        metadata_url: str | None = None,
    ) -> None:
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
            "AIRFLOW__CORE__EXECUTOR": executor,
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url or f"sqlite:///{home}/airflow.db",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            # admin; and a user without a role, whom Airflow denies every resource (tests/scheduler/test_ui.py: 403)
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"admin:admin,{NO_ACCESS_USER}:",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tests.fault.worker_name.hostname",
            "PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT), base.get("PYTHONPATH", "")) if p),
            **env,
        }
        self.metadata_url = metadata_url
        #: Working directory of the Airflow processes (None: this process's). ``python -m`` puts it first on
        #: sys.path: a checkout there shadows a provider given by ``PYTHONPATH``.
        self.cwd: Path | None = None
        self.workers = workers
        self.worker_concurrency = worker_concurrency
        if workers:
            self.env.update({
                "AIRFLOW__CELERY__BROKER_URL": redis_url(),
                "AIRFLOW__CELERY__RESULT_BACKEND": redis_url(),
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(worker_concurrency),
            })  # fmt: skip
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._token: str | None = None
        self.client = httpx.Client(base_url=self.url, timeout=REST_TIMEOUT_S)

    # ---- processes ---------------------------------------------------------------------------------------
    def airflow(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "airflow", *args]

    def start(self) -> None:
        if self.workers:
            flush_redis()
        subprocess.run(self.airflow("db", "migrate"), env=self.env, cwd=self.cwd, check=True, capture_output=True,
                       timeout=600)  # fmt: skip
        self._spawn("api-server", "api-server", "--port", str(self.port), "--host", "127.0.0.1", "--workers", "1")
        self._spawn("dag-processor", "dag-processor")
        self._spawn("scheduler", "scheduler")
        for name in self.workers:
            # no log server (two on one port would clash; the api-server reads the task logs from this home)
            self._spawn(name, "celery", "worker", "--celery-hostname", f"{name}@%h", "--skip-serve-logs",
                        "--concurrency", str(self.worker_concurrency), "--pid", str(self.home / f"{name}.pid"),
                        "--without-mingle", "--without-gossip", env={HOSTNAME_ENV: name})  # fmt: skip
        self._wait(lambda: self._health_ok(), "the api-server to answer")
        for name in self.workers:  # celery logs "<node> ready." once it consumes the queue
            self._wait(lambda n=name: " ready." in self.log_tail(n, 100_000), f"celery worker {name} to be ready")

    def _spawn(self, name: str, *args: str, env: dict[str, str] | None = None) -> None:
        log = (self.home / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen(self.airflow(*args), env={**self.env, **(env or {})}, cwd=self.cwd,
                                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)  # fmt: skip

    def stop(self) -> None:
        """SIGTERM each process by pid: the scheduler first (no new task is queued), then the others at once;
        wait, SIGKILL what is left of each process group; flush the Celery tests' Redis database."""
        self.client.close()
        self._terminate(["scheduler"])
        self._terminate([*self.workers, "dag-processor", "api-server"])
        for proc in self.procs.values():  # children (task supervisors, api workers, celery pool) live in the group
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        if self.workers:
            flush_redis()

    def _terminate(self, names: list[str]) -> None:
        procs = [p for n in names if (p := self.procs.get(n)) is not None and p.poll() is None]
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)

    def log_tail(self, name: str, chars: int = 4000) -> str:
        path = self.home / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def _wait(self, ready: Any, what: str, guard: float = START_GUARD_S, every: float = 0.5) -> Any:
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
            time.sleep(every)

    def wait_for(self, ready: Any, what: str, guard: float = START_GUARD_S, every: float = 0.5) -> Any:
        """Poll ``ready()`` every ``every`` seconds until truthy (hang guard only: the processes must stay alive)."""
        return self._wait(ready, what, guard, every)

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

    def user_token(self, username: str) -> str:
        """A fresh JWT of ``username`` (one of ``[core] simple_auth_manager_users``) from ``POST /auth/token``."""
        pw_file = self.home / "simple_auth_manager_passwords.json.generated"
        password = json.loads(pw_file.read_text())[username]
        got = self.client.post("/auth/token", json={"username": username, "password": password})
        assert got.status_code == 201, got.text
        return str(got.json()["access_token"])

    def api(self, method: str, path: str, body: dict[str, Any] | None = None, ok: tuple[int, ...] = (200,)) -> Any:
        retries = GET_RETRIES if method == "GET" else 0
        while True:
            try:
                got = self.client.request(method, "/api/v2" + path, json=body,
                                          headers={"Authorization": f"Bearer {self.token()}"})  # fmt: skip
                break
            except httpx.TransportError:
                if retries <= 0:
                    raise
                retries -= 1
        assert got.status_code in ok, f"{method} {path}: {got.status_code} {got.text}"
        return got.json() if got.content else None

    def metadata_query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Read Airflow's metadata database directly (``%s`` placeholders), read-only."""
        if self.metadata_url is not None:
            import psycopg

            dsn = self.metadata_url.replace("postgresql+psycopg://", "postgresql://", 1)
            with psycopg.connect(dsn, autocommit=True) as conn:
                return [tuple(r) for r in conn.execute(sql, params).fetchall()]
        import sqlite3

        uri = f"file:{self.home / 'airflow.db'}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=30)) as db:
            return [tuple(r) for r in db.execute(sql.replace("%s", "?"), params).fetchall()]

    def get(self, path: str, ok: tuple[int, ...] = (200,)) -> Any:
        return self.api("GET", path, ok=ok)
