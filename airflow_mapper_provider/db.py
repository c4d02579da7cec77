"""The only module that touches connections and cursors: open, stream, copy, transact, cancel, close.

Two session kinds share one small interface: :class:`PgSession` (psycopg 3: COPY in and out, server-side
cursors) and :class:`SaSession` (any SQLAlchemy database: ``text()`` statements, batched executemany).
Each chunk opens its own sessions and closes them on every path; nothing is shared between workers.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from airflow_mapper_provider.dialects import Column, ColumnType, Dialect, GenericDialect, PostgresDialect, sqlite
from airflow_mapper_provider.dialects.postgres import column_type_from_display
from airflow_mapper_provider.dialects.types import kind_of_python
from airflow_mapper_provider.exceptions import ConfigError, UnsupportedError
from airflow_mapper_provider.identifiers import TableName

log = logging.getLogger(__name__)

_PG_CONN_TYPES = ("postgres", "postgresql")
_PG_EXTRAS = (
    "sslmode",
    "sslcert",
    "sslkey",
    "sslrootcert",
    "connect_timeout",
    "options",
    "target_session_attrs",
)
SAMPLE_ROWS = 1000
#: Bytes per block relayed from a ``COPY TO`` into a ``COPY FROM`` (rows are joined up to this size).
COPY_BLOCK = 1 << 17


class Session:
    """One open connection and its transaction."""

    dialect: Dialect

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> int:
        raise NotImplementedError

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def scalar(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        rows = self.query(sql, params)
        return rows[0][0] if rows else None

    def describe(self, source_sql: str) -> list[Column]:
        raise NotImplementedError

    def estimate_rows(self, source_sql: str, where: str = "", params: dict[str, Any] | None = None) -> tuple[int, str]:
        """Row estimate of ``source_sql`` (restricted by ``where``) and its method; the portable way counts."""
        return int(self.scalar(self.dialect.count_sql(source_sql, where), params) or 0), "count"

    def has_primary_key(self, table: TableName, keys: Sequence[str]) -> bool:
        """The table's primary key is exactly ``keys`` (then a bulk insert cannot duplicate a key)."""
        return False

    def stream(self, sql: str, params: dict[str, Any], batch: int) -> Iterator[list[tuple[Any, ...]]]:
        raise NotImplementedError

    def insert_batches(self, table: str, columns: Sequence[str], batches: Iterable[list[tuple[Any, ...]]]) -> int:
        raise NotImplementedError

    def table_exists(self, table: TableName) -> bool:
        raise NotImplementedError

    def schema_exists(self, schema: str) -> bool:
        raise NotImplementedError

    def ensure_schema(self, schema: str) -> None:
        """Create ``schema`` if it is missing. Only then: ``CREATE SCHEMA IF NOT EXISTS`` needs the CREATE
        privilege on the database even when the schema exists (PostgreSQL), which a least-privilege role lacks."""
        if not self.schema_exists(schema):
            self.execute(self.dialect.create_schema_sql(schema))

    def commit(self) -> None:
        raise NotImplementedError

    def rollback(self) -> None:
        raise NotImplementedError

    def cancel(self) -> None:
        """Cancel the statement in flight (called from another thread by on_kill)."""

    def close(self) -> None:
        raise NotImplementedError


class PgSession(Session):
    """A psycopg 3 connection (not autocommit).

    Statements always go with a parameter dict (possibly empty), so psycopg always reads ``%%`` as ``%``: the
    dialect doubles every ``%`` of the user's query. COPY is formatted only when parameters are given.
    """

    dialect: PostgresDialect

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.dialect = PostgresDialect(type_exists=self._type_exists)
        self._types: dict[str, bool] = {}

    def _type_exists(self, name: str) -> bool:
        """Does this database know the type ``name`` (as another PostgreSQL database spelled it)?"""
        if name not in self._types:
            self._types[name] = bool(self.scalar("SELECT to_regtype(%(t)s) IS NOT NULL", {"t": name}))
        return self._types[name]

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> int:
        with self.conn.cursor() as cur:
            cur.execute(sql, params or {})
            return int(cur.rowcount)

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        with self.conn.cursor() as cur:
            cur.execute(sql, params or {})
            return list(cur.fetchall())

    def describe(self, source_sql: str) -> list[Column]:
        with self.conn.cursor() as cur:
            # the extended protocol runs exactly one statement: a source_sql that closes the wrapping subquery
            # and adds statements of its own is refused by the server (the simple protocol would run them)
            cur.execute(self.dialect.describe_sql(source_sql), {}, binary=True)
            described = [(c.name, c.type_display, c.type_code, getattr(c, "_fmod", -1)) for c in cur.description or ()]
        return [Column(name, column_type_from_display(self._type_name(shown, oid, fmod)))
                for name, shown, oid, fmod in described]  # fmt: skip

    def _type_name(self, shown: str, oid: int, fmod: int) -> str:
        """psycopg shows a type it does not know (an enum, an extension type such as citext) as its OID: ask
        the server for the type's name, qualified where the search path needs it."""
        if not shown.isdigit():
            return shown
        return str(self.scalar("SELECT format_type(%(oid)s, %(mod)s)", {"oid": oid, "mod": fmod}))

    def estimate_rows(self, source_sql: str, where: str = "", params: dict[str, Any] | None = None) -> tuple[int, str]:
        import psycopg

        with psycopg.ClientCursor(self.conn) as cur:
            cur.execute(self.dialect.explain_sql(source_sql, where), params or {})
            found = cur.fetchone()
        rows = found[0][0]["Plan"].get("Plan Rows") if found else None
        if rows is None:
            return super().estimate_rows(source_sql, where, params)
        return int(rows), "explain"

    def has_primary_key(self, table: TableName, keys: Sequence[str]) -> bool:
        return bool(self.scalar(self.dialect.primary_key_sql(), {"t": self.dialect.table(table), "k": sorted(keys)}))

    def stream(self, sql: str, params: dict[str, Any], batch: int) -> Iterator[list[tuple[Any, ...]]]:
        with self.conn.cursor(name="mapper_stream") as cur:
            cur.itersize = batch
            cur.execute(sql, params or {})
            while rows := cur.fetchmany(batch):
                yield rows

    def copy_out(self, sql: str, params: dict[str, Any]) -> Iterator[bytes | bytearray | memoryview]:
        """Stream ``COPY ... TO STDOUT`` as raw blocks of rows (never decoded): what libpq has received at once, up
        to :data:`COPY_BLOCK` bytes. A block is handed over once and never touched again."""
        if not params:
            sql = sql.replace("%%", "%")
        with self.conn.cursor() as cur, cur.copy(sql, params or None) as copy:
            yield from self._copied_blocks(copy)

    def _copied_blocks(self, copy: Any) -> Iterator[bytes | bytearray | memoryview]:
        """The rows of a running ``COPY TO``, joined into blocks.

        The server sends one message per row, and the driver's ``Copy.read()`` runs a small protocol generator for
        each (about 2 us of Python per row, 2.8 s of CPU per million rows measured here). Rows already received are
        taken straight from libpq (``PQgetCopyData``, non-blocking) and joined; only when none is buffered does
        ``Copy.read()`` wait for the socket as usual (so a cancel or a signal is handled as before). Should libpq
        report the end of the COPY here, its final result is read and checked the way the driver does.
        """
        from psycopg import errors, generators
        from psycopg.pq import ExecStatus

        pgconn, block = self.conn.pgconn, bytearray()
        while True:
            nbytes, data = pgconn.get_copy_data(1)
            if nbytes > 0:
                block += data
                if len(block) >= COPY_BLOCK:
                    yield block
                    block = bytearray()
                continue
            if block:
                yield block
                block = bytearray()
            if nbytes < 0:  # the COPY ended (or failed) while draining: its result says which
                for result in self.conn.wait(generators.fetch_many(pgconn)):
                    if result.status != ExecStatus.COMMAND_OK:
                        raise errors.error_from_result(result, encoding=self.conn.info.encoding)
                return
            row = copy.read()  # nothing buffered: the driver waits for the socket (b"" at the end)
            if not row:
                return
            block += row

    def copy_in(self, sql: str, data: Iterable[bytes | bytearray | memoryview]) -> int:
        with self.conn.cursor() as cur:
            with cur.copy(sql) as copy:
                for block in data:
                    copy.write(block)
            return int(cur.rowcount)

    def copy_rows(self, sql: str, batches: Iterable[list[tuple[Any, ...]]]) -> int:
        n = 0
        with self.conn.cursor() as cur, cur.copy(sql) as copy:
            for rows in batches:
                for row in rows:
                    copy.write_row(row)
                n += len(rows)
        return n

    def insert_batches(self, table: str, columns: Sequence[str], batches: Iterable[list[tuple[Any, ...]]]) -> int:
        return self.copy_rows(self.dialect.copy_in_sql(table, columns, binary=False), batches)

    def table_exists(self, table: TableName) -> bool:
        return bool(self.scalar("SELECT to_regclass(%(t)s) IS NOT NULL", {"t": self.dialect.table(table)}))

    def schema_exists(self, schema: str) -> bool:
        return bool(self.scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = %(s)s)", {"s": schema}))

    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        self.conn.rollback()

    def cancel(self) -> None:
        cancel = getattr(self.conn, "cancel_safe", None) or self.conn.cancel
        cancel()

    def backend_pid(self) -> int:
        """The server process of this connection (``pg_stat_activity.pid``); no round trip."""
        return int(self.conn.info.backend_pid)

    def close(self) -> None:
        self.conn.close()


class SaSession(Session):
    """A SQLAlchemy connection with an open transaction."""

    dialect: GenericDialect

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.conn = engine.connect()  # SQLAlchemy 2 begins a transaction on first use
        self.dialect = GenericDialect(engine.dialect)

    def _text(self, sql: str) -> Any:
        from sqlalchemy import text

        return text(sql)

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> int:
        result = self.conn.execute(self._text(sql), params or {})
        return int(result.rowcount)

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.conn.execute(self._text(sql), params or {})]

    def describe(self, source_sql: str) -> list[Column]:
        if self.dialect.flavor == "sqlite":
            return self._describe_sqlite(source_sql)
        # other SQLAlchemy databases: the DBAPI reports no usable types, so they come from the first rows
        result = self.conn.execute(self._text(self.dialect.sample_sql(source_sql)), {"n": SAMPLE_ROWS})
        names = list(result.keys())
        rows = result.fetchall()
        return [Column(name, ColumnType(merge_kinds(r[i] for r in rows))) for i, name in enumerate(names)]

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


def connect(conn: Any, role: str) -> Session:
    """Open a session on an Airflow ``Connection`` object; ``role`` ("source"/"target") is for messages."""
    conn_type = (conn.conn_type or "").lower()
    if conn_type in _PG_CONN_TYPES:
        return _connect_pg(conn)
    if conn_type == "oracle":
        raise UnsupportedError(
            f"{role} connection {conn.conn_id!r} is Oracle: Oracle support is not implemented in this version "
            "(see README, 'Databases'); use PostgreSQL or a SQLAlchemy URL for now"
        )
    return SaSession(_sa_engine(conn, role))


def _connect_pg(conn: Any, side: bool = False) -> PgSession:
    import psycopg

    extra = conn.extra_dejson or {}
    kwargs = {k: extra[k] for k in _PG_EXTRAS if k in extra}
    if side:  # progress writes: autocommit, and never waiting long for a lock or a statement
        kwargs["options"] = f"{kwargs.get('options', '')} {SIDE_PG_OPTIONS}".strip()
        kwargs.setdefault("connect_timeout", SIDE_CONNECT_TIMEOUT_S)
    pg = psycopg.connect(
        host=conn.host or "localhost",
        port=conn.port or 5432,
        user=conn.login or None,
        password=conn.password or None,
        dbname=conn.schema or None,
        application_name=SIDE_APPLICATION if side else "airflow-mapper",
        autocommit=side,
        **kwargs,
    )
    # values travel in binary or ISO text: a session DateStyle of 'German' or 'SQL' would make timestamps
    # unreadable as text. Only the output format is set; the day/month order and TimeZone stay the database's.
    pg.execute("SET DateStyle TO ISO")
    pg.commit()
    return PgSession(pg)


#: The progress connection (db.connect_side): its name in pg_stat_activity, and its limits.
SIDE_APPLICATION = "airflow-mapper-progress"
SIDE_PG_OPTIONS = "-c lock_timeout=200 -c statement_timeout=2000 -c idle_in_transaction_session_timeout=10000"
SIDE_CONNECT_TIMEOUT_S = 5


def connect_side(conn: Any) -> Session:
    """A second connection to the target, for progress writes only: autocommit (each statement its own
    transaction, never the chunk's), no lock waits worth the name (PostgreSQL: lock_timeout 200 ms, statement
    timeout 2 s; SQLite: no busy wait at all, a locked database fails the write at once)."""
    conn_type = (conn.conn_type or "").lower()
    if conn_type in _PG_CONN_TYPES:
        return _connect_pg(conn, side=True)
    return SaSession(_sa_engine(conn, "progress"))


def _sa_engine(conn: Any, role: str) -> Any:
    """SQLAlchemy engine; SQLite targets take the write lock at BEGIN (BEGIN IMMEDIATE) so parallel chunks
    queue on the busy timeout instead of failing with a lock-upgrade deadlock."""
    from sqlalchemy import create_engine, event

    conn_type = (conn.conn_type or "").lower()
    extra = conn.extra_dejson or {}
    if conn_type == "sqlite":
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
            poolclass=_null_pool(),
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
    url = extra.get("sqlalchemy_url")
    if not url:
        raise ConfigError(
            f"{role} connection {conn.conn_id!r} has type {conn_type!r}: set extra 'sqlalchemy_url' "
            "to a SQLAlchemy URL for it (PostgreSQL and SQLite connections need nothing extra)"
        )
    more = {"isolation_level": "AUTOCOMMIT"} if role == "progress" else {}
    return create_engine(url, poolclass=_null_pool(), hide_parameters=True, **more)


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


def load_for_portable_target(session: PgSession) -> None:
    """A PostgreSQL source read for another database (text-format loaders of this connection; the rows path
    streams in text): json and jsonb come back as the server's JSON text, exactly (not parsed: the JSON ``null``
    is not SQL NULL, numbers keep their digits); ``infinity``/``-infinity`` dates and timestamps and the time
    ``24:00:00``, which Python cannot hold, come back as their text instead of failing the read."""
    import psycopg
    from psycopg.adapt import Loader
    from psycopg.pq import Format

    class JsonText(Loader):
        def load(self, data: Any) -> str:
            return bytes(data).decode("utf-8")

    adapters = session.conn.adapters
    for name in ("json", "jsonb"):
        adapters.register_loader(name, JsonText)
    for name in ("date", "timestamp", "timestamptz", "time", "timetz"):
        oid = adapters.types[name].oid
        base = adapters.get_loader(oid, Format.TEXT)
        if base is not None and not getattr(base, "mapper_lenient", False):
            adapters.register_loader(oid, _lenient_loader(base, psycopg.DataError))


def _lenient_loader(base: Any, data_error: type[Exception]) -> Any:
    """A loader that parses as ``base`` does (the driver's own, often compiled) and keeps the texts Python cannot
    hold (``infinity``, ``-infinity``, ``24:00:00``) as text."""
    from psycopg.adapt import Loader

    class Lenient(Loader):
        mapper_lenient = True

        def __init__(self, oid: int, context: Any = None) -> None:
            super().__init__(oid, context)
            self._inner = base(oid, context)

        def load(self, data: Any) -> Any:
            try:
                return self._inner.load(data)
            except data_error:
                text = bytes(data).decode("ascii", "replace")
                if text in sqlite.INFINITIES or text.startswith("24:00:00"):
                    return text
                raise

    return Lenient


def _null_pool() -> Any:
    from sqlalchemy.pool import NullPool

    return NullPool


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
