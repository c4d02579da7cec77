"""Oracle sessions: not built yet (connections of type ``oracle`` fail with a clear error)."""

from __future__ import annotations

from typing import Any

from airflow_mapper_provider.db.registry import register
from airflow_mapper_provider.exceptions import UnsupportedError


def connect(conn: Any, role: str) -> Any:
    raise UnsupportedError(
        f"{role} connection {conn.conn_id!r} is Oracle: Oracle support is not implemented in this version "
        "(see README, 'Databases'); use PostgreSQL or a SQLAlchemy URL for now"
    )


register(("oracle",), connect)
