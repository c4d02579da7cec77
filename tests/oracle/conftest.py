"""The real-Oracle layer: runs only where ``MAPPER_TEST_ORACLE_DSN`` names an Oracle database (a user's, or the
compose service: ``docker-compose --profile oracle up -d oracle``), else every test here is skipped with one reason.

``MAPPER_TEST_ORACLE_DSN`` is an Airflow connection URI (``oracle://mapper:mapper@127.0.0.1:1521/?service_name=
FREEPDB1``) or an Easy Connect string (``mapper/mapper@127.0.0.1:1521/FREEPDB1``). The user needs CREATE TABLE and
CREATE PROCEDURE in its own schema (the compose service's APP_USER has them); the tests create uniquely named
tables there and drop them. Where ``CI`` is set and the variable too, a failure to connect fails the tests.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.oracle.support import ENV, OracleDb, parse_dsn

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark this directory's tests ``oracle`` (each module skips itself, with the one reason, where no Oracle is
    named: :data:`tests.oracle.support.SKIP_REASON`)."""
    for item in items:
        if _HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.oracle)


@pytest.fixture(scope="session")
def oracle_server() -> dict[str, Any]:
    """The parsed ``MAPPER_TEST_ORACLE_DSN`` (user, password, host, port, service, Airflow URI)."""
    return parse_dsn(os.environ[ENV])


@pytest.fixture
def ora(oracle_server: dict[str, Any]) -> Iterator[OracleDb]:
    """The Oracle database, with a unique table suffix for this test; its tables are dropped afterwards."""
    db = OracleDb(oracle_server, suffix=uuid.uuid4().hex[:8])
    try:
        yield db
    finally:
        db.drop_created()
