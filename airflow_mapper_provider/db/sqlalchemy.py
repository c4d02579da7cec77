"""Any SQLAlchemy database without a session class of its own: ``text()`` statements, batched executemany.

The engine comes from the connection's ``sqlalchemy_url`` extra, else from the connection's own provider hook
(``DbApiHook.get_sqlalchemy_engine()``: MySQL, MSSQL, Trino... when their provider is installed).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from airflow_mapper_provider.db.base import SAMPLE_ROWS, Session
from airflow_mapper_provider.db.registry import register_fallback
from airflow_mapper_provider.dialects import Column, ColumnType, GenericDialect
from airflow_mapper_provider.dialects.types import kind_of_python
from airflow_mapper_provider.exceptions import ConfigError
from airflow_mapper_provider.identifiers import TableName


class SaSession(Session):
    """A SQLAlchemy connection with an open transaction."""

    dialect: GenericDialect

    def __init__(self, engine: Any, dialect: GenericDialect | None = None) -> None:
        self.engine = engine
        self.conn = engine.connect()  # SQLAlchemy 2 begins a transaction on first use
        self.dialect = dialect or GenericDialect(engine.dialect)

    def _text(self, sql: str) -> Any:
        from sqlalchemy import text

        return text(sql)

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> int:
        result = self.conn.execute(self._text(sql), params or {})
        return int(result.rowcount)

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.conn.execute(self._text(sql), params or {})]

    def describe(self, source_sql: str) -> list[Column]:
        # the DBAPI reports no usable types here, so they come from the first rows
        result = self.conn.execute(self._text(self.dialect.sample_sql(source_sql)), {"n": SAMPLE_ROWS})
        names = list(result.keys())
        rows = result.fetchall()
        return [Column(name, ColumnType(merge_kinds(r[i] for r in rows))) for i, name in enumerate(names)]

    def stream(self, sql: str, params: dict[str, Any], batch: int) -> Iterator[list[tuple[Any, ...]]]:
        result = self.conn.execution_options(stream_results=True).execute(self._text(sql), params or {})
        while rows := result.fetchmany(batch):
            yield [tuple(r) for r in rows]

    def insert_batches(self, table: str, columns: Sequence[str], batches: Iterable[list[tuple[Any, ...]]]) -> int:
        names = [f"p{i}" for i in range(len(columns))]
        stmt, n = self._text(self.dialect.insert_values_sql(table, columns, names)), 0
        for rows in batches:
            if rows:
                self.conn.execute(stmt, [dict(zip(names, row, strict=True)) for row in rows])
                n += len(rows)
        return n

    def table_exists(self, table: TableName) -> bool:
        from sqlalchemy import inspect

        return bool(inspect(self.conn).has_table(table.table, schema=table.schema))

    def schema_exists(self, schema: str) -> bool:
        from sqlalchemy import inspect

        return bool(inspect(self.conn).has_schema(schema))

    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        self.conn.rollback()

    def cancel(self) -> None:
        with contextlib.suppress(Exception):
            raw = self.conn.connection.dbapi_connection
            if hasattr(raw, "interrupt"):
                raw.interrupt()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()
        self.engine.dispose()


def merge_kinds(values: Iterable[Any]) -> str:
    """One neutral kind for a column from sampled values (SQLite stores 100.0 in a NUMERIC column as 100)."""
    kinds = {kind_of_python(v) for v in values if v is not None}
    if not kinds:
        return "text"
    if len(kinds) == 1:
        return kinds.pop()
    if kinds <= {"bigint", "numeric"}:
        return "numeric"
    if kinds <= {"bigint", "double", "numeric"}:
        return "double"
    if kinds <= {"timestamp", "timestamptz"}:
        return "timestamptz"
    return "text"


def engine_kwargs(role: str) -> dict[str, Any]:
    """No pool (a chunk opens one connection and closes it), no values in SQLAlchemy's error messages; the
    progress connection autocommits."""
    from sqlalchemy.pool import NullPool

    more = {"isolation_level": "AUTOCOMMIT"} if role == "progress" else {}
    return {"poolclass": NullPool, "hide_parameters": True, **more}


def engine_for(conn: Any, role: str) -> Any:
    """The SQLAlchemy engine of the Airflow connection ``conn``: its ``sqlalchemy_url`` extra, else its provider
    hook's ``get_sqlalchemy_engine()``."""
    from sqlalchemy import create_engine

    url = (conn.extra_dejson or {}).get("sqlalchemy_url")
    if url:
        return create_engine(url, **engine_kwargs(role))
    hook = _dbapi_hook(conn)
    if hook is None:
        raise ConfigError(
            f"{role} connection {conn.conn_id!r} has type {conn.conn_type!r}, which no installed provider serves "
            "with a SQL hook: install that database's Airflow provider, or set extra 'sqlalchemy_url' to a "
            "SQLAlchemy URL for it"
        )
    return hook.get_sqlalchemy_engine(engine_kwargs=engine_kwargs(role))


def _dbapi_hook(conn: Any) -> Any:
    """The connection's provider hook, where it is a common-sql ``DbApiHook``; else None."""
    from airflow.providers.common.sql.hooks.sql import DbApiHook

    try:
        hook = conn.get_hook()
    except Exception:  # no provider for this connection type, or one that cannot build a hook from it
        return None
    return hook if isinstance(hook, DbApiHook) else None


def connect(conn: Any, role: str) -> SaSession:
    return SaSession(engine_for(conn, role))


register_fallback(connect)
