"""MySQL / MariaDB sessions (connection types ``mysql`` and ``mariadb``) through SQLAlchemy.

The engine comes from the connection's ``sqlalchemy_url`` extra, else its provider hook's
``get_sqlalchemy_engine()`` when ``apache-airflow-providers-mysql`` is installed (every connection feature the
hook knows: SSL extras, IAM tokens...), else ``mysql+pymysql://`` built from host, port, login, password and
schema (``pip install airflow-mapper-provider[mysql]``). Each session sets ``time_zone = '+00:00'`` (TIMESTAMP
values read and written as UTC) and adds ``STRICT_ALL_TABLES`` to ``sql_mode`` (a value that does not fit is an
error, never a silent truncation, temporary tables included).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from typing import Any

from airflow_mapper_provider.db.base import Codec
from airflow_mapper_provider.db.registry import register
from airflow_mapper_provider.db.sqlalchemy import SaSession, _dbapi_hook, engine_kwargs
from airflow_mapper_provider.dialects import Column, ColumnType, rounding
from airflow_mapper_provider.dialects import mysql_types as types
from airflow_mapper_provider.dialects.mysql import UTC_COLUMN, MySqlDialect
from airflow_mapper_provider.exceptions import ConfigError
from airflow_mapper_provider.identifiers import TableName

CONN_TYPES = ("mysql", "mariadb")
_DESCRIBE = "mapper_describe"
_SETUP = (
    "SET time_zone = '+00:00'",
    "SET SESSION sql_mode = CONCAT_WS(',', NULLIF(@@SESSION.sql_mode, ''), 'STRICT_ALL_TABLES')",
)


class MySqlSession(SaSession):
    """A MySQL or MariaDB connection with an open transaction (REPEATABLE READ, the server's default)."""

    dialect: MySqlDialect

    def __init__(self, engine: Any) -> None:
        super().__init__(engine, MySqlDialect(sa_dialect=engine.dialect))
        for sql in _SETUP:
            self.conn.exec_driver_sql(sql)
        version, self.thread_id = self.conn.exec_driver_sql("SELECT VERSION(), CONNECTION_ID()").one()
        self.dialect = MySqlDialect("mariadb" if "mariadb" in str(version).lower() else "mysql", engine.dialect)
        self.version = str(version)
        self.conn.commit()

    # ---- values: aware datetimes are bound as UTC wall times (what DATETIME(6) stores here) --------------
    def execute(self, sql: str, params: dict[str, Any] | None = None) -> int:
        return super().execute(sql, _utc(params))

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Rows of ``sql``; a column named ``mapper_utc`` (a timestamptz stored as UTC DATETIME) comes back aware."""
        result = self.conn.execute(self._text(sql), _utc(params) or {})
        found = [tuple(r) for r in result]
        utc = [i for i, k in enumerate(result.keys()) if k == UTC_COLUMN]
        if not utc or not found:
            return found
        decode = types.decoder(ColumnType("timestamptz"))
        return [tuple(decode(v) if i in utc and decode else v for i, v in enumerate(r)) for r in found]

    def stream(self, sql: str, params: dict[str, Any], batch: int) -> Any:
        """An unbuffered cursor (PyMySQL ``SSCursor``): memory stays flat at any chunk size."""
        return super().stream(sql, _utc(params) or {}, batch)

    def insert_batches(self, table: str, columns: Sequence[str], batches: Iterable[list[tuple[Any, ...]]]) -> int:
        """Batched ``executemany`` of ``INSERT ... VALUES (...)``: PyMySQL sends each batch as multi-row INSERTs."""
        return super().insert_batches(table, columns, ([tuple(map(types.utc_naive, r)) for r in b] for b in batches))

    # ---- catalog ----------------------------------------------------------------------------------------
    def describe(self, source_sql: str) -> list[Column]:
        """The exact column types (``SHOW COLUMNS`` of an empty TEMPORARY copy of the query: no row is read);
        where the session may not create temporary tables, the result metadata's types."""
        run, quoted = self.conn.exec_driver_sql, self.dialect.quote(_DESCRIBE)
        query = source_sql.replace("%", "%%")  # the driver formats even a statement without parameters
        run(self.dialect.drop_temp_sql(_DESCRIBE))
        try:
            run(self.dialect.describe_temp_sql(_DESCRIBE, query))
        except Exception as exc:
            if _code(exc) not in (1044, 1142):  # no CREATE TEMPORARY TABLES privilege
                raise
            return self._describe_metadata(source_sql)
        try:
            found = run(f"SHOW COLUMNS FROM {quoted}").fetchall()
        finally:
            run(self.dialect.drop_temp_sql(_DESCRIBE))
        return [Column(str(row[0]), types.column_type(_text(row[1]))) for row in found]

    def _describe_metadata(self, source_sql: str) -> list[Column]:
        result = self.conn.execute(self._text(self.dialect.describe_sql(source_sql)))
        desc = result.cursor.description or []
        result.close()
        return [Column(str(d[0]), ColumnType(_kind_of_field(d[1], d[4], d[5]), "", "")) for d in desc]

    def estimate_rows(self, source_sql: str, where: str = "", params: dict[str, Any] | None = None) -> tuple[int, str]:
        """The optimizer's estimate where the query reads one table (EXPLAIN rows x filtered), else a count."""
        result = self.conn.execute(self._text(self.dialect.explain_sql(source_sql, where)), _utc(params) or {})
        names = [str(k).lower() for k in result.keys()]  # noqa: SIM118 (a Result, not a dict)
        plan = [dict(zip(names, row, strict=True)) for row in result]
        tables = [p for p in plan if p.get("table") and not str(p["table"]).startswith("<")]
        if len(plan) == 1 and len(tables) == 1 and plan[0].get("rows") is not None:
            filtered = float(plan[0].get("filtered") or 100.0)
            return int(int(plan[0]["rows"]) * filtered / 100.0), "explain"
        return super().estimate_rows(source_sql, where, params)

    def has_primary_key(self, table: TableName, keys: Sequence[str]) -> bool:
        sql = (
            "SELECT COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = COALESCE(:s, DATABASE()) "
            "AND TABLE_NAME = :t AND INDEX_NAME = 'PRIMARY'"
        )
        found = sorted(str(r[0]) for r in self.query(sql, {"s": table.schema, "t": table.table}))
        return bool(found) and found == sorted(keys)

    def table_exists(self, table: TableName) -> bool:
        sql = (
            "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = COALESCE(:s, DATABASE()) AND TABLE_NAME = :t"
        )
        return bool(self.query(sql, {"s": table.schema, "t": table.table}))

    def schema_exists(self, schema: str) -> bool:
        return bool(self.query("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = :s", {"s": schema}))

    # ---- the rows path ----------------------------------------------------------------------------------
    def row_encoders(self, table: TableName, columns: Sequence[Column]) -> list[tuple[int, Codec]] | None:
        """As a target: values another database's driver read, bound as MySQL stores them (aware datetimes as UTC
        wall times, UUIDs as text); [] still asks a PostgreSQL source for JSON as its exact text. A value the
        target's column would round silently (more decimal places than its DECIMAL keeps, fractional seconds its
        DATETIME/TIME drops: MySQL only notes those, even in strict mode) fails the chunk instead."""
        declared = self.declared_types(table)
        digits = types.fraction_digits
        found = [
            (i, rounding.guard(c, types.encoder(c.type), declared.get(c.name), digits)) for i, c in enumerate(columns)
        ]
        return [(i, f) for i, f in found if f is not None]

    def declared_types(self, table: TableName) -> dict[str, ColumnType]:
        """Each column of ``table`` with its declared type (``SHOW COLUMNS``; {} where the table does not exist)."""
        if not self.table_exists(table):
            return {}
        found = self.conn.exec_driver_sql(f"SHOW COLUMNS FROM {self.dialect.table(table)}").fetchall()
        return {str(row[0]): types.column_type(_text(row[1])) for row in found}

    def row_decoders(self, columns: Sequence[Column]) -> list[tuple[int, Codec]]:
        """As a source: TINYINT(1) as bool, TIMESTAMP as an aware UTC datetime, TIME as a time of day."""
        found = [(i, types.decoder(c.type)) for i, c in enumerate(columns)]
        return [(i, f) for i, f in found if f is not None]

    def cancel(self) -> None:
        """``KILL QUERY`` of this session's statement, from a second connection."""
        with contextlib.suppress(Exception), self.engine.connect() as other:
            other.exec_driver_sql(f"KILL QUERY {int(self.thread_id)}")


def _utc(params: dict[str, Any] | None) -> dict[str, Any] | None:
    return {k: types.utc_naive(v) for k, v in params.items()} if params else params


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _code(exc: BaseException) -> int | None:
    args = getattr(getattr(exc, "orig", exc), "args", ())
    return args[0] if args and isinstance(args[0], int) else None


#: PyMySQL FIELD_TYPE codes to neutral kinds (the metadata fallback of describe).
_FIELD_KINDS = {0: "numeric", 1: "smallint", 2: "smallint", 3: "int", 4: "real", 5: "double", 7: "timestamptz",
                8: "bigint", 9: "int", 10: "date", 11: "time", 12: "timestamp", 13: "smallint", 245: "json",
                246: "numeric", 253: "text", 254: "text", 252: "text", 15: "text"}  # fmt: skip


def _kind_of_field(type_code: int, precision: Any, scale: Any) -> str:
    return _FIELD_KINDS.get(int(type_code), "text")


def engine(conn: Any, role: str) -> Any:
    """The connection's ``sqlalchemy_url``, else its provider hook's engine, else ``mysql+pymysql://``."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import URL

    extra = conn.extra_dejson or {}
    if extra.get("sqlalchemy_url"):
        return create_engine(extra["sqlalchemy_url"], **engine_kwargs(role))
    hook = _dbapi_hook(conn)
    if hook is not None:
        return hook.get_sqlalchemy_engine(engine_kwargs=engine_kwargs(role))
    try:
        import pymysql  # noqa: F401
    except ImportError:
        raise ConfigError(
            f"{role} connection {conn.conn_id!r} is MySQL: install PyMySQL (pip install "
            "'airflow-mapper-provider[mysql]') or apache-airflow-providers-mysql"
        ) from None
    url = URL.create(
        "mysql+pymysql", username=conn.login or None, password=conn.password or None, host=conn.host or "localhost",
        port=conn.port or 3306, database=conn.schema or None, query={"charset": "utf8mb4"},
    )  # fmt: skip
    return create_engine(url, **engine_kwargs(role))


def connect(conn: Any, role: str) -> MySqlSession:
    return MySqlSession(engine(conn, role))


register(CONN_TYPES, connect)
