"""Tests under a real Airflow: one scheduler, dag-processor and api-server for the whole session.

The stack (:mod:`tests.fault.airflow_stack`) runs LocalExecutor by default and, where Redis answers, also
CeleryExecutor with two workers (``[core] executor = LocalExecutor,CeleryExecutor``): a DAG's tasks pick Celery
with ``executor="CeleryExecutor"``. Each test brings its own databases (``pg_dbs``), registers them as Airflow
connections through the REST API (:func:`add_connections`, as a user would in the UI) and writes its own DAG files
into the stack's dags folder, with dag ids of its own: tests share the processes, nothing else.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fault.airflow_stack import AirflowStack, redis_unreachable
from tests.helpers import airflow_connection
from tests.pgserver import PgServer

WORKERS = ("worker-a", "worker-b")

#: Lines the tests add to the terminal summary (what was measured: waits, takeovers, hosts, wall times).
REPORT: list[str] = []


def report(line: str) -> None:
    REPORT.append(line)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if REPORT:
        terminalreporter.section("real scheduler")
        for line in REPORT:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def redis_problem() -> str | None:
    """Why the Celery workers could not be started (None: Redis answers and the stack has them)."""
    return redis_unreachable()


@pytest.fixture(scope="session")
def airflow_stack(
    tmp_path_factory: pytest.TempPathFactory, redis_problem: str | None, pg_server: PgServer
) -> Iterator[AirflowStack]:
    """One real Airflow for the session, its metadata database on PostgreSQL (as in production)."""
    started = time.monotonic()
    celery = redis_problem is None
    metadata = pg_server.create_database("airflow_meta")
    stack = AirflowStack(
        tmp_path_factory.mktemp("airflow"),
        {},
        executor="LocalExecutor,CeleryExecutor" if celery else "LocalExecutor",
        workers=WORKERS if celery else (),
        metadata_url=pg_server.dsn(metadata).replace("postgresql://", "postgresql+psycopg://", 1),
    )
    try:
        stack.start()
        report(f"stack: scheduler, dag-processor, api-server{' and 2 celery workers' if celery else ''} up in "
               f"{time.monotonic() - started:.0f} s")  # fmt: skip
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def celery_workers(airflow_stack: AirflowStack, redis_problem: str | None) -> tuple[str, ...]:
    """The stack's Celery worker names; skips without Redis (fails with ``CI`` set)."""
    if redis_problem is not None:
        if os.environ.get("CI"):
            pytest.fail(redis_problem, pytrace=False)
        pytest.skip(redis_problem)
    return airflow_stack.workers


def add_connections(stack: AirflowStack, prefix: str, dbs: Any) -> tuple[str, str]:
    """Register ``<prefix>_src`` / ``<prefix>_tgt`` for the test's databases (``POST /connections``)."""
    ids = (f"{prefix}_src", f"{prefix}_tgt")
    for conn_id, uri in zip(ids, (dbs.source_uri, dbs.target_uri), strict=True):
        conn = airflow_connection(conn_id, uri)
        stack.api("POST", "/connections", {
            "connection_id": conn_id, "conn_type": conn.conn_type, "host": conn.host, "port": conn.port,
            "login": conn.login, "password": conn.password, "schema": conn.schema, "extra": conn.extra,
        }, ok=(201,))  # fmt: skip
    return ids


def write_dag(stack: AirflowStack, dag_id: str, text: str) -> None:
    """Put a DAG file into the stack's dags folder and wait until the dag-processor has serialized it."""
    path: Path = stack.dags / f"{dag_id}.py"
    path.write_text(text)
    stack.wait_for(lambda: stack.get(f"/dags/{dag_id}", ok=(200, 404)).get("dag_id"), f"{dag_id} to be parsed")


def trigger(stack: AirflowStack, dag_id: str) -> str:
    """Start a run (``POST /dags/{dag_id}/dagRuns``); returns its REST path ``/dags/{dag_id}/dagRuns/{run_id}``."""
    run = stack.api("POST", f"/dags/{dag_id}/dagRuns", {"logical_date": None})
    return f"/dags/{dag_id}/dagRuns/{run['dag_run_id']}"


def finished(stack: AirflowStack, base: str) -> bool:
    return stack.get(base)["state"] in ("success", "failed")


def task_log(stack: AirflowStack, base: str, task_id: str, try_number: int = 1) -> str:
    """A task's log as the UI shows it (``GET .../logs/{try_number}``), one event per line."""
    got = stack.get(f"{base}/taskInstances/{task_id}/logs/{try_number}?full_content=true")
    content = got.get("content", [])
    if isinstance(content, str):
        return content
    return "\n".join(str(e.get("event", e)) if isinstance(e, dict) else str(e) for e in content)
