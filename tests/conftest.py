"""Shared fixtures: Airflow test environment, a PostgreSQL server, source/target databases.

The environment block below runs before anything imports airflow (none of the imports above it does):
Airflow reads its configuration once, at import time.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pgserver import PgDatabases, PgServer, PgUnavailableError, start_server

REPO_ROOT = Path(__file__).resolve().parent.parent
_AIRFLOW_TMP = tempfile.mkdtemp(prefix="mapper-airflow-")
atexit.register(shutil.rmtree, _AIRFLOW_TMP, ignore_errors=True)
for _key, _value in {
    "AIRFLOW_HOME": _AIRFLOW_TMP,
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_TMP}/airflow.db",
}.items():
    os.environ.setdefault(_key, _value)

_pg_notes: list[str] = []


def _interrupt_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"received signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    """Turn SIGTERM (a CI timeout, ``timeout``) into KeyboardInterrupt so fixtures still tear down:
    otherwise the throwaway PostgreSQL cluster would outlive the test run."""
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupt_on_sigterm)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs PostgreSQL with ``pg``, so ``-m "not pg"`` deselects it; every test under
    tests/dag/ is a ``dag`` test whether or not its module says so."""
    for item in items:
        if {"pg_server", "pg_dbs"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.pg)
        if item.nodeid.startswith("tests/dag/") and item.get_closest_marker("dag") is None:
            item.add_marker(pytest.mark.dag)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for note in _pg_notes:
        terminalreporter.write_line(note)


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """Reset the Airflow metadata database (SQLite in a temp dir unless the environment says otherwise)."""
    from airflow.utils import db

    db.resetdb()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A PostgreSQL server: ``MAPPER_TEST_PG_DSN`` if set, else a throwaway local cluster.

    Skips the test when none can be had, or fails it when the ``CI`` environment variable is set.
    """
    try:
        server = start_server()
    except PgUnavailableError as exc:
        reason = f"PostgreSQL unavailable: {exc}"
        if os.environ.get("CI"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    if server.is_throwaway:
        _pg_notes.append(f"PostgreSQL: throwaway cluster on port {server.port}, {server.startup_seconds:.2f}s")
    else:
        _pg_notes.append(f"PostgreSQL: server from MAPPER_TEST_PG_DSN at {server.host}:{server.port}")
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def pg_dbs(pg_server: PgServer) -> Iterator[PgDatabases]:
    """Two fresh databases on the same server, source and target, dropped after the test."""
    source = pg_server.create_database("mapper_src")
    try:
        target = pg_server.create_database("mapper_tgt")
    except BaseException:
        pg_server.drop_database(source)
        raise
    try:
        yield PgDatabases(source, target, pg_server.dsn(source), pg_server.dsn(target))
    finally:
        try:
            pg_server.drop_database(target)
        finally:
            pg_server.drop_database(source)
