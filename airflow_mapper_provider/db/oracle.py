"""Oracle sessions (python-oracledb, thin mode unless the connection asks for thick): array fetch and array DML.

Connections open through the Oracle provider's own ``OracleHook`` (host, port, ``schema`` or extras
``service_name``/``sid``/``dsn``, wallets, ``thick_mode``...). The hook sets process-global ``oracledb.defaults``
(``fetch_decimals``, ``fetch_lobs``) from the connection's extras: they are restored right after it connects, so
nothing leaks into other connections of the process; this session fetches exact values per cursor instead
(:func:`~airflow_mapper_provider.dialects.oracle_types.output_type_handler`). ``thick_mode`` loads the Oracle
Client libraries into the process for good (python-oracledb cannot go back to thin mode).

Connection extras of the mapper: ``mapper_arraysize`` (rows per fetch round trip and prefetch, default 10,000;
rows holding LOBs fetch :data:`LOB_ARRAYSIZE` at a time, whatever it says).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from airflow_mapper_provider.db import oracle_catalog as catalog
from airflow_mapper_provider.db.base import Codec, Session
from airflow_mapper_provider.db.registry import register
from airflow_mapper_provider.dialects import Column, rounding
from airflow_mapper_provider.dialects import oracle_types as ot
from airflow_mapper_provider.dialects.oracle import OracleDialect
from airflow_mapper_provider.identifiers import TableName

CONN_TYPES = ("oracle",)
ARRAYSIZE = 10_000
#: Rows per round trip when a row holds LOBs (fetched inline as str/bytes: 1 MB values x 10,000 would be 10 GB).
LOB_ARRAYSIZE = 100
#: The progress connection: at most this long per round trip (it must never wait on a lock for long).
SIDE_CALL_TIMEOUT_MS = 2000
#: EXPLAIN PLAN's statement id of the row estimates (PLAN_TABLE rows are the session's own).
ESTIMATE_ID = "mapper_estimate"
#: ``oracledb.defaults`` attributes saved before the hook connects and restored after.
SAVED_DEFAULTS = ("fetch_decimals", "fetch_lobs", "arraysize", "prefetchrows", "stmtcachesize")
_LOBS = ("DB_TYPE_CLOB", "DB_TYPE_NCLOB", "DB_TYPE_BLOB", "DB_TYPE_LONG", "DB_TYPE_LONG_RAW", "DB_TYPE_JSON")
_STRINGS = ("DB_TYPE_VARCHAR", "DB_TYPE_NVARCHAR", "DB_TYPE_CHAR", "DB_TYPE_NCHAR")


class OracleSession(Session):
    """One python-oracledb connection (not autocommit unless it is the progress connection).

    :param conn: an open ``oracledb.Connection``.
    :param arraysize: rows per fetch round trip (``mapper_arraysize``).
    :param dialect: the Oracle dialect (default: :class:`~airflow_mapper_provider.dialects.oracle.OracleDialect`).
    """

    dialect: OracleDialect

    def __init__(self, conn: Any, arraysize: int = ARRAYSIZE, dialect: OracleDialect | None = None) -> None:
        self.conn = conn
        self.arraysize = arraysize
        self.dialect = dialect or OracleDialect()
        #: the SCN this session reads as of (DBMS_FLASHBACK enabled), "" when it reads the present
        self._scn = ""

    # ---- statements -------------------------------------------------------------------------------------
    def execute(self, sql: str, params: dict[str, Any] | None = None) -> int:
        with self.conn.cursor() as cur:
            cur.execute(sql, params or {})
            return int(cur.rowcount or 0)

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        with self.conn.cursor() as cur:
            cur.outputtypehandler = ot.output_type_handler()
            cur.execute(sql, params or {})
            return list(cur.fetchall())

    def _description(self, sql: str, params: dict[str, Any] | None = None) -> list[Any]:
        """``cursor.description`` of ``sql`` (wrapped so that it reads no row)."""
        with self.conn.cursor() as cur:
            cur.execute(self.dialect.describe_sql(sql), params or {})
            return list(cur.description or ())

    def row_encoders(self, table: TableName, columns: Sequence[Column]) -> list[tuple[int, Codec]] | None:
        """As a target: a value the target column would round without an error (more decimal places than its
        NUMBER(p,s) keeps, a fraction into an integer NUMBER, fractional seconds its DATE or TIMESTAMP(n) drops)
        fails the chunk instead (:mod:`~airflow_mapper_provider.dialects.rounding`); the rest are bound as read."""
        declared = {c.name: c.type for c in self.describe(self.dialect.select_all_sql(table))}
        found = [(i, rounding.guard(c, None, declared.get(c.name), ot.fraction_digits)) for i, c in enumerate(columns)]
        return [(i, f) for i, f in found if f is not None]

    def describe(self, source_sql: str) -> list[Column]:
        """The query's columns by ``cursor.description`` (no row read); names in the mapper's spelling
        (``CUSTOMER_ID`` -> ``customer_id``, ``CustomerId`` kept)."""
        return [Column(ot.from_oracle_name(d.name), _column_type(d)) for d in self._description(source_sql)]

    def estimate_rows(self, source_sql: str, where: str = "", params: dict[str, Any] | None = None) -> tuple[int, str]:
        """The optimizer's cardinality (``EXPLAIN PLAN``); a count where the plan gives none or cannot be had."""
        stmt = {"mapper_stmt": ESTIMATE_ID}
        try:
            self.execute(self.dialect.explain_sql(source_sql, where, ESTIMATE_ID), params)
            rows = self.scalar(self.dialect.explain_rows_sql(), stmt)
            self.execute(self.dialect.explain_cleanup_sql(), stmt)
        except Exception as exc:
            if not catalog.is_oracle_error(exc):
                raise
            rows = None  # no PLAN_TABLE, or a statement EXPLAIN PLAN refuses: count instead
        if rows is None:
            return super().estimate_rows(source_sql, where, params)
        return int(rows), "explain"

    def stream(self, sql: str, params: dict[str, Any], batch: int) -> Iterator[list[tuple[Any, ...]]]:
        """Array fetches of ``batch`` rows; zoned timestamps read as UTC instants (``SYS_EXTRACT_UTC``)."""
        described = self._description(sql, params)
        zoned = [(d.name, ot.is_zoned(d.type_code)) for d in described]
        if any(z for _, z in zoned):
            sql = ot.utc_select(sql, zoned)
        lobs = any(getattr(d.type_code, "name", "") in _LOBS for d in described)
        size = min(self.arraysize, LOB_ARRAYSIZE) if lobs else self.arraysize
        cur = self.conn.cursor()
        try:
            cur.arraysize, cur.prefetchrows = size, size
            cur.outputtypehandler = ot.output_type_handler(frozenset(n for n, z in zoned if z))
            cur.execute(sql, params or {})
            while rows := cur.fetchmany(batch):
                yield rows
        finally:
            cur.close()

    # ---- writing ----------------------------------------------------------------------------------------
    def _insert_sql(self, table: str, columns: Sequence[str]) -> str:
        return self.dialect.insert_values_sql(table, columns, [f"p{i}" for i in range(len(columns))])

    def insert_batches(self, table: str, columns: Sequence[str], batches: Iterable[list[tuple[Any, ...]]]) -> int:
        """Array DML: one ``executemany`` per batch (the first refused row fails the statement)."""
        sql, n = self._insert_sql(table, columns), 0
        for rows in batches:
            if rows:
                with self.conn.cursor() as cur:  # input types are per statement: one cursor per batch
                    self._executemany(cur, sql, ot.bindable(rows))
                n += len(rows)
        return n

    def _executemany(self, cur: Any, sql: str, rows: list[tuple[Any, ...]], batcherrors: bool = False) -> None:
        types = ot.input_types(rows)
        if types is not None:
            cur.setinputsizes(*types)
        cur.executemany(sql, rows, batcherrors=batcherrors)

    def insert_rows_reporting(
        self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
    ) -> list[tuple[int, str, str]]:
        """Insert ``rows``, the batch continuing past refused rows (``batcherrors``); returns each refused row's
        (position in ``rows``, ORA- code, the database's message). A refusal that is not the row's fault (the
        connection, a missing grant) raises."""
        if not rows:
            return []
        with self.conn.cursor() as cur:
            self._executemany(cur, self._insert_sql(table, columns), ot.bindable(rows), batcherrors=True)
            errors = list(cur.getbatcherrors())
        refused = [(int(e.offset), str(e.full_code), str(e.message)) for e in errors]
        for error, (_, code, _) in zip(errors, refused, strict=True):
            if not catalog.is_row_error(code):
                raise error.exc_type(error)
        return refused

    # ---- catalog ----------------------------------------------------------------------------------------
    def _owner_and_name(self, table: TableName) -> dict[str, Any]:
        owner = ot.to_oracle_name(table.schema) if table.schema else None
        return {"o": owner, "t": ot.to_oracle_name(table.table)}

    def table_exists(self, table: TableName) -> bool:
        return bool(self.scalar(catalog.TABLE_EXISTS, self._owner_and_name(table)))

    def schema_exists(self, schema: str) -> bool:
        return bool(self.scalar(catalog.SCHEMA_EXISTS, {"s": ot.to_oracle_name(schema)}))

    def has_primary_key(self, table: TableName, keys: Sequence[str]) -> bool:
        found = [str(r[0]) for r in self.query(catalog.PRIMARY_KEY, self._owner_and_name(table))]
        return bool(found) and sorted(found) == sorted(ot.to_oracle_name(k) for k in keys)

    # ---- one read point for every chunk (DESIGN: snapshot / begin_snapshot / rowid_ranges) --------------------
    def snapshot(self) -> str:
        """The current SCN, as decimal text (needs no grant)."""
        return str(int(self.scalar(catalog.CURRENT_SCN)))

    def begin_snapshot(self, snapshot: str) -> None:
        """Read as of SCN ``snapshot`` for the rest of the session (``DBMS_FLASHBACK``; "" = the present).
        Idempotent: salvage mode reads a chunk twice on one session."""
        if snapshot == self._scn:
            return
        self._end_snapshot()
        if not snapshot:
            return
        try:
            self.execute(catalog.FLASHBACK_ON, {"scn": int(snapshot)})
        except Exception as exc:
            missing_grant = catalog.flashback_error(exc)
            if missing_grant is None:
                raise
            raise missing_grant from exc
        self._scn = snapshot

    def _end_snapshot(self) -> None:
        if self._scn:
            self._scn = ""
            self.execute(catalog.FLASHBACK_OFF)

    def rowid_ranges(self, table: TableName, chunks: int) -> list[tuple[str, str]]:
        """ROWID ranges covering ``table`` in about ``chunks`` parts of equal blocks (see
        :func:`~airflow_mapper_provider.db.oracle_catalog.rowid_ranges`)."""
        return catalog.rowid_ranges(self, self._owner_and_name(table), chunks)

    # ---- transaction and connection ---------------------------------------------------------------------
    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        self.conn.rollback()

    def cancel(self) -> None:
        """Interrupt the round trip in flight (called from another thread by on_kill)."""
        self.conn.cancel()

    def close(self) -> None:
        try:
            with contextlib.suppress(Exception):  # a broken connection cannot end it: closing ends it too
                self._end_snapshot()
        finally:
            self.conn.close()


def _column_type(d: Any) -> ot.ColumnType:
    name = getattr(d.type_code, "name", "")
    size = d.display_size if name in _STRINGS else d.internal_size
    return ot.from_description(d.type_code, d.precision, d.scale, size)


def connect(conn: Any, role: str) -> OracleSession:
    """A session on the Airflow connection ``conn`` (``role``: source, target or progress), opened by
    ``OracleHook.get_conn()`` with ``oracledb.defaults`` restored after; the progress connection autocommits and
    gives up on any round trip after :data:`SIDE_CALL_TIMEOUT_MS`."""
    extras = conn.extra_dejson or {}
    raw = open_connection(conn)
    try:
        with raw.cursor() as cur:
            for statement in catalog.SESSION_SETTINGS:
                cur.execute(statement)
        if role == "progress":
            raw.autocommit = True
            raw.call_timeout = SIDE_CALL_TIMEOUT_MS
        return OracleSession(raw, arraysize=int(extras.get("mapper_arraysize") or ARRAYSIZE))
    except BaseException:
        raw.close()
        raise


def open_connection(conn: Any) -> Any:
    """``OracleHook(...).get_conn()`` on exactly this ``Connection`` object, the process-global
    ``oracledb.defaults`` restored whatever happens."""
    import oracledb
    from airflow.providers.oracle.hooks.oracle import OracleHook

    saved = {name: getattr(oracledb.defaults, name) for name in SAVED_DEFAULTS}
    try:
        hook = OracleHook(oracle_conn_id=conn.conn_id, connection=conn)
        hook.get_connection = lambda _conn_id: conn  # this object, not a lookup by id
        return hook.get_conn()
    finally:
        for name, value in saved.items():
            setattr(oracledb.defaults, name, value)


register(CONN_TYPES, connect)
