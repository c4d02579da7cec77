"""Unit-test fixtures: no database server, no Airflow metadata database.

Airflow reads its configuration once, when it is first imported, so the environment is set here at import time.
``setdefault`` lets the top-level ``tests/conftest.py`` (which is loaded first) win.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest

_AIRFLOW_HOME = tempfile.mkdtemp(prefix="mapper-unit-airflow-")
atexit.register(shutil.rmtree, _AIRFLOW_HOME, ignore_errors=True)
os.environ.setdefault("AIRFLOW_HOME", _AIRFLOW_HOME)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")


@pytest.fixture
def sqlite_conn() -> Iterator[Any]:
    """One SQLAlchemy connection to a private in-memory SQLite database (temp tables live on it)."""
    from sqlalchemy import create_engine

    engine = create_engine("sqlite://")
    conn = engine.connect()
    try:
        yield conn
    finally:
        conn.close()
        engine.dispose()


@pytest.fixture(scope="session")
def sqlite_dialect() -> Any:
    """The GenericDialect the mapper uses for SQLite databases."""

    from airflow_mapper_provider.dialects import SqliteDialect

    return SqliteDialect()
