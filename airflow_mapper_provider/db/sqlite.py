"""SQLite sessions (the embedded demo): declared types read from the database, values in canonical text forms.

The rows path encodes each value by the target column's declared type and decodes by the source column's
(README "Type maps", :mod:`dialects.sqlite`); targets take the write lock at BEGIN (``BEGIN IMMEDIATE``) so
parallel chunks queue on the busy timeout instead of failing with a lock-upgrade deadlock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_mapper_provider.db.base import Codec, Session
from airflow_mapper_provider.db.registry import register
from airflow_mapper_provider.db.sqlalchemy import SaSession
from airflow_mapper_provider.dialects import Column, ColumnType, sqlite
from airflow_mapper_provider.dialects.sqlite_dialect import SqliteDialect
from airflow_mapper_provider.exceptions import ConfigError
from airflow_mapper_provider.identifiers import TableName


class SqliteSession(SaSession):
    """A pysqlite connection through SQLAlchemy."""

    dialect: SqliteDialect

    def __init__(self, engine: Any) -> None:
        super().__init__(engine, SqliteDialect(engine.dialect))

    def describe(self, source_sql: str) -> list[Column]:
        return self._describe_sqlite(source_sql)

    def _describe_sqlite(self, source_sql: str) -> list[Column]:
        """Declared types of the query's columns (a TEMP VIEW of it and ``PRAGMA table_info``, in this session's
        transaction, dropped after); columns without one (expressions) are typed from the storage classes of all
        of their values (one pass over the query), never from a sample."""
        d = self.dialect
        names = list(self.conn.execute(self._text(d.describe_sql(source_sql))).keys())
        run = self.conn.exec_driver_sql
        try:
            for sql in d.describe_view_sql(source_sql):
                run(sql)
            info = run(d.describe_view_info_sql()).fetchall()
            types = [sqlite.column_type(str(row[2] or "")) for row in info]
            untyped = [i for i, t in enumerate(types) if t is None]
            if untyped:
                found = run(d.storage_classes_sql([str(info[i][1]) for i in untyped])).fetchone()
                for i, classes in zip(untyped, found or [None] * len(untyped), strict=True):
                    types[i] = ColumnType(sqlite.kind_of_storage(str(classes or "").split(",")), "", sqlite.DIALECT)
        finally:
            run(d.drop_describe_view_sql())
        return [Column(name, t or ColumnType("text")) for name, t in zip(names, types, strict=True)]

    def declared_types(self, table: TableName) -> dict[str, ColumnType | None]:
        """SQLite: each column of ``table`` with its declared type (None: declared without one); no scan."""
        info = self.conn.exec_driver_sql(self.dialect.table_info_sql(self.dialect.table(table))).fetchall()
        return {str(row[1]): sqlite.column_type(str(row[2] or "")) for row in info}

    def row_encoders(self, table: TableName, columns: Sequence[Column]) -> list[tuple[int, Codec]] | None:
        """Each value encoded by the target column's declared type (tables the mapper created and existing ones
        alike)."""
        declared = self.declared_types(table)
        return [(i, sqlite.encoder(declared.get(c.name))) for i, c in enumerate(columns)
                if not sqlite.reads_plain(c.type)]  # fmt: skip

    def row_decoders(self, columns: Sequence[Column]) -> list[tuple[int, Codec]]:
        """Each value decoded by the source column's declared type, for another database."""
        decoders = [(i, sqlite.decoder(c.type)) for i, c in enumerate(columns)]
        return [(i, f) for i, f in decoders if f is not sqlite.identity]


def connect(conn: Any, role: str) -> Session:
    return SqliteSession(_engine(conn, role))


def _engine(conn: Any, role: str) -> Any:
    from sqlalchemy import create_engine, event
    from sqlalchemy.pool import NullPool

    _register_sqlite_adapters()
    begin = "BEGIN IMMEDIATE" if role == "target" else "BEGIN"
    path = conn.host or conn.schema
    if not path:
        raise ConfigError(f"{role} connection {conn.conn_id!r}: a sqlite connection needs the file path as host")
    wait = 0 if role == "progress" else 120  # progress writes never wait for the lock a chunk holds
    engine = create_engine(
        f"sqlite:///{path}",
        # PARSE_COLNAMES: only result columns aliased "name [mapper_<kind>]" are converted (typed checkpoints)
        connect_args={"timeout": wait, "isolation_level": None, "detect_types": _sqlite3().PARSE_COLNAMES},
        poolclass=NullPool,
        hide_parameters=True,
    )
    if role == "progress":  # autocommit: each statement is its own transaction (isolation_level None)
        return engine

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, record: Any) -> None:  # decimal texts compare by value
        dbapi_connection.create_collation(sqlite.DECIMAL_COLLATION, sqlite.decimal_order)

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:  # pysqlite: make every transaction explicit (DDL included)
        connection.exec_driver_sql(begin)

    return engine


def _sqlite3() -> Any:
    import sqlite3

    return sqlite3


def _register_sqlite_adapters() -> None:
    """Bound parameters (chunk bounds, checkpoints, effective times) in the canonical forms the rows path stores
    (dialects/sqlite.py): Decimal as its exact text, an aware datetime in UTC, UUID and JSON as text. Row values
    are encoded per target column before they are bound (transfer.py). Also the converters of typed result
    columns (``[mapper_<kind>]``, :data:`sqlite.CONVERTERS`)."""
    import datetime as dt
    import decimal
    import functools
    import uuid

    sqlite3 = _sqlite3()
    sqlite3.register_adapter(decimal.Decimal, sqlite.decimal_text)
    sqlite3.register_adapter(uuid.UUID, str)
    sqlite3.register_adapter(dict, sqlite.json_text)
    sqlite3.register_adapter(list, sqlite.json_text)
    sqlite3.register_adapter(dt.datetime, sqlite.timestamp_text)
    sqlite3.register_adapter(dt.date, dt.date.isoformat)
    sqlite3.register_adapter(dt.time, dt.time.isoformat)
    for kind in sqlite.CONVERTERS:
        sqlite3.register_converter(f"mapper_{kind}", functools.partial(sqlite.convert_fetched, kind))


register(("sqlite",), connect)
