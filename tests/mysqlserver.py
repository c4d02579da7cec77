"""A MySQL / MariaDB server for tests: ``MAPPER_TEST_MYSQL_URL`` (``mysql://user:pw@host:port``), else the local
server at 127.0.0.1:3306 as root without a password (the project machines and CI run MariaDB 10.11 there).

Each test gets throwaway databases ``mapper_test_<random>``, dropped afterwards. With no server answering, the
tests skip with one reason, or fail when the ``CI`` environment variable is set (as tests/conftest.py treats
PostgreSQL). Fixtures: ``mysql_server`` (session) and ``mysql_db`` (one fresh database per test); a test
module imports ``mysql_server_fixture`` and ``mysql_db_fixture`` to use them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest

URL_ENV = "MAPPER_TEST_MYSQL_URL"
DEFAULT_URL = "mysql://root@127.0.0.1:3306"


class MySqlUnavailableError(RuntimeError):
    """No MySQL / MariaDB server answers at the configured address."""


@dataclass
class MySqlServer:
    host: str
    port: int
    user: str
    password: str
    version: str = ""

    def connect(self, database: str | None = None, autocommit: bool = True) -> Any:
        import pymysql

        return pymysql.connect(host=self.host, port=self.port, user=self.user, password=self.password,
                               database=database, charset="utf8mb4", autocommit=autocommit)  # fmt: skip

    def create_database(self) -> str:
        name = f"mapper_test_{uuid.uuid4().hex[:12]}"
        self.run(None, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        return name

    def drop_database(self, name: str) -> None:
        self.run(None, f"DROP DATABASE IF EXISTS `{name}`")

    def uri(self, database: str) -> str:
        auth = self.user + (f":{self.password}" if self.password else "")
        return f"mysql://{auth}@{self.host}:{self.port}/{database}"

    def run(self, database: str | None, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        """One statement in autocommit (``%s`` parameters); its rows, if any."""
        conn = self.connect(database)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return list(cur.fetchall()) if cur.description else []
        finally:
            conn.close()

    def run_many(self, database: str, sql: str, rows: list[tuple[Any, ...]]) -> None:
        conn = self.connect(database)
        try:
            with conn.cursor() as cur:
                cur.executemany(sql, rows)
        finally:
            conn.close()


def find_server() -> MySqlServer:
    """The configured server, checked by one connection; :class:`MySqlUnavailableError` when none answers."""
    url = urlsplit(os.environ.get(URL_ENV) or DEFAULT_URL)
    server = MySqlServer(url.hostname or "127.0.0.1", url.port or 3306, url.username or "root", url.password or "")
    try:
        import pymysql
    except ImportError as exc:
        raise MySqlUnavailableError("PyMySQL is not installed (pip install 'airflow-mapper-provider[mysql]')") from exc
    try:
        server.version = str(server.run(None, "SELECT VERSION()")[0][0])
    except pymysql.err.MySQLError as exc:
        raise MySqlUnavailableError(f"no server at {server.host}:{server.port} ({exc.args[-1]})") from None
    return server


@pytest.fixture(scope="session", name="mysql_server")
def mysql_server_fixture() -> MySqlServer:
    try:
        return find_server()
    except MySqlUnavailableError as exc:
        reason = f"MySQL/MariaDB unavailable: {exc}; set {URL_ENV}"
        if os.environ.get("CI"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)


@pytest.fixture(name="mysql_db")
def mysql_db_fixture(mysql_server: MySqlServer) -> Iterator[str]:
    """A fresh database, dropped after the test."""
    name = mysql_server.create_database()
    try:
        yield name
    finally:
        mysql_server.drop_database(name)
