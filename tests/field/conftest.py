"""Field-test fixtures: source and target databases with chosen collations and session defaults.

``field_db(role, kind, settings)`` gives an :class:`~tests.field.support.Endpoint`; ``kind`` is ``pg-c``,
``pg-icu`` (ICU en-US), ``pg-libc`` (glibc en_US.UTF-8), ``pg`` (the server's default) or ``sqlite`` (a file under
``tmp_path``). PostgreSQL databases are dropped after the test. A collation the server cannot provide skips the
test with the reason (the libc one needs the OS locale: scripts/test generates it as root), or fails it when the
``CI`` environment variable is set.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from tests.field.support import Endpoint
from tests.pgserver import DatabaseLocaleError, PgServer

#: How each collation orders two probes: ('B' < 'a', ' x' < 'a'). C: bytes; ICU: case and accents second,
#: spaces count; glibc en_US: case second, spaces and punctuation ignored at first.
_PROBE = "SELECT 'B' < 'a', ' x' < 'a'"
_EXPECTED_ORDER = {"c": (True, True), "icu": (False, True), "libc": (False, False)}

EndpointFactory = Callable[..., Endpoint]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def field_db(pg_server: PgServer, tmp_path: Path) -> Iterator[EndpointFactory]:
    """Factory ``field_db(role, kind, settings=None) -> Endpoint`` (see the module docstring)."""
    created: list[str] = []

    def make(role: str, kind: str, settings: Mapping[str, str] | None = None) -> Endpoint:
        if kind == "sqlite":
            if settings:
                raise ValueError("SQLite has no session settings")
            path = tmp_path / f"{role}.db"
            return Endpoint(kind, f"sqlite:///{path}", path=path)
        collation = None if kind == "pg" else kind.removeprefix("pg-")
        try:
            name = pg_server.create_database(f"field_{role}", collation, settings)
        except DatabaseLocaleError as exc:
            _unavailable(str(exc))
            raise
        created.append(name)
        endpoint = Endpoint(kind, pg_server.dsn(name), dsn=pg_server.dsn(name))
        if collation is not None:
            order = endpoint.query(_PROBE)[0]
            assert order == _EXPECTED_ORDER[collation], f"database {name} does not collate as {kind}: {order}"
        return endpoint

    try:
        yield make
    finally:
        for name in reversed(created):
            pg_server.drop_database(name)
