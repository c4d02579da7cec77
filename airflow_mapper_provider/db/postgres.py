"""PostgreSQL sessions (psycopg 3): binary COPY in and out, server-side cursors, EXPLAIN estimates.

Connections open through the Postgres provider's own ``PostgresHook`` (its extras, ``options``, SSL settings and
AWS IAM tokens work as they do for every other task), then get the session settings the mapper relies on.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from airflow_mapper_provider.db import pg_binary
from airflow_mapper_provider.db.base import Session
from airflow_mapper_provider.db.registry import register
from airflow_mapper_provider.dialects import Column, PostgresDialect, sqlite
from airflow_mapper_provider.dialects.postgres import column_type_from_display
from airflow_mapper_provider.identifiers import TableName

CONN_TYPES = ("postgres", "postgresql")
#: Bytes per block relayed from a ``COPY TO`` into a ``COPY FROM`` (rows are joined up to this size).
COPY_BLOCK = 1 << 17
#: The progress connection (db.connect_side): its name in pg_stat_activity, and its limits.
SIDE_APPLICATION = "airflow-mapper-progress"
SIDE_SETTINGS = {"lock_timeout": "200", "statement_timeout": "2000", "idle_in_transaction_session_timeout": "10000"}
SIDE_CONNECT_TIMEOUT_S = 5


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
        """COPY rows into ``table`` (already quoted): binary, typed by the table's column types, for batches whose
        values those types' binary form holds exactly; text COPY for the rest (:mod:`.pg_binary`)."""
        text_sql = self.dialect.copy_in_sql(table, columns, binary=False)
        found = [(str(name), str(typ)) for name, typ in self.query(pg_binary.COLUMN_TYPES, {"t": table})]
        types = pg_binary.binary_types(found, columns)
        if types is None:
            return self.copy_rows(text_sql, batches)
        binary_sql = self.dialect.copy_in_sql(table, columns, binary=True)
        return pg_binary.copy_batches(self.conn, binary_sql, text_sql, types, batches)

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

    def backend_pid(self) -> int | None:
        """The server process of this connection (``pg_stat_activity.pid``); no round trip."""
        return int(self.conn.info.backend_pid)

    def close(self) -> None:
        self.conn.close()

    def prepare_read_for(self, target: Session) -> None:
        load_for_portable_target(self)


def connect(conn: Any, role: str) -> PgSession:
    """A session on the Airflow connection ``conn`` (``role``: source, target or progress), opened by
    ``PostgresHook.get_conn()``; the progress connection is autocommit, with short lock and statement timeouts."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook
    from psycopg.rows import tuple_row

    side = role == "progress"
    if side and "connect_timeout" not in (conn.extra_dejson or {}):
        conn = copy.deepcopy(conn)
        conn.extra = json.dumps({**(conn.extra_dejson or {}), "connect_timeout": SIDE_CONNECT_TIMEOUT_S})
    pg: Any = PostgresHook(postgres_conn_id=conn.conn_id, connection=conn).get_conn()
    pg.row_factory = tuple_row  # the hook may set a dict or namedtuple cursor from the connection's extras
    settings = {"application_name": SIDE_APPLICATION if side else "airflow-mapper", **(SIDE_SETTINGS if side else {})}
    # values travel in binary or ISO text: a session DateStyle of 'German' or 'SQL' would make timestamps
    # unreadable as text. Only the output format is set; the day/month order and TimeZone stay the database's.
    with pg.cursor() as cur:
        cur.execute("SET DateStyle TO ISO")
        for name, value in settings.items():
            cur.execute("SELECT set_config(%s, %s, false)", (name, value))
    pg.commit()
    pg.autocommit = side
    return PgSession(pg)


register(CONN_TYPES, connect)


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
