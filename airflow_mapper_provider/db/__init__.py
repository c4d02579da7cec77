"""The only package that touches connections and cursors: open, stream, copy, transact, cancel, close.

One session class per database family (:mod:`.postgres`, :mod:`.sqlite`, :mod:`.oracle`, :mod:`.mysql`, and
:mod:`.sqlalchemy` for every other SQLAlchemy database), picked by the Airflow connection type through
:mod:`.registry`. Each chunk opens its own sessions and closes them on every path; nothing is shared between
workers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from airflow_mapper_provider.db import mysql as _mysql
from airflow_mapper_provider.db import oracle as _oracle
from airflow_mapper_provider.db import postgres as _postgres
from airflow_mapper_provider.db import sqlalchemy as _sqlalchemy
from airflow_mapper_provider.db import sqlite as _sqlite
from airflow_mapper_provider.db.base import SAMPLE_ROWS, Session
from airflow_mapper_provider.db.postgres import COPY_BLOCK, SIDE_APPLICATION, PgSession, load_for_portable_target
from airflow_mapper_provider.db.registry import connect as _connect
from airflow_mapper_provider.db.sqlalchemy import SaSession, merge_kinds
from airflow_mapper_provider.db.sqlite import SqliteSession

__all__ = [
    "COPY_BLOCK",
    "SAMPLE_ROWS",
    "SIDE_APPLICATION",
    "PgSession",
    "SaSession",
    "Session",
    "SqliteSession",
    "connect",
    "connect_side",
    "get_connection",
    "load_for_portable_target",
    "merge_kinds",
    "session",
]
_BUILT_IN = (_mysql, _oracle, _postgres, _sqlite, _sqlalchemy)


def connect(conn: Any, role: str) -> Session:
    """Open a session on an Airflow ``Connection`` object; ``role`` ("source"/"target") is for messages."""
    return _connect(conn, role)


def connect_side(conn: Any) -> Session:
    """A second connection to the target, for progress writes only: autocommit (each statement its own
    transaction, never the chunk's), no lock waits worth the name (PostgreSQL: lock_timeout 200 ms, statement
    timeout 2 s; SQLite: no busy wait at all, a locked database fails the write at once)."""
    return _connect(conn, "progress")


def get_connection(conn_id: str) -> Any:
    """Resolve an Airflow connection by id."""
    from airflow_mapper_provider._compat import BaseHook

    return BaseHook.get_connection(conn_id)


@contextlib.contextmanager
def session(conn_id: str, role: str, conn: Any = None) -> Iterator[Session]:
    """Open a session for ``conn_id`` (or the Airflow ``Connection`` ``conn`` already resolved); roll back what is
    uncommitted and close on every path."""
    sess = connect(conn if conn is not None else get_connection(conn_id), role)
    try:
        yield sess
    finally:
        with contextlib.suppress(Exception):
            sess.rollback()
        sess.close()
