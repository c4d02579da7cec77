"""MySQL 8 and MariaDB 10.3+: backtick names (SQLAlchemy's MySQL identifier preparer), ``:name`` binds (SQLAlchemy
``text()``), multi-table ``UPDATE t JOIN d``, ``ON DUPLICATE KEY UPDATE``, hash buckets by ``CRC32``.

What the database changes for a chunk's one transaction (README "MySQL / MariaDB"):

- DDL commits implicitly, except ``CREATE TEMPORARY TABLE`` and ``DROP TEMPORARY TABLE`` (checked on MariaDB
  10.11: ``CREATE INDEX``, ``ALTER TABLE`` and a ``DROP TABLE`` without ``TEMPORARY`` commit even on a temporary
  table, as does ``DROP TABLE IF EXISTS`` of a table that does not exist, and ``ANALYZE TABLE``). So a chunk runs
  only those two: staging indexes are declared in the ``CREATE TEMPORARY TABLE`` itself
  (:meth:`MySqlDialect.number_rows_sql`), :meth:`create_temp_index_sql` is a no-op ``DO 0``, and nothing is
  analyzed. Non-temporary DDL (target, mapper tables, key table) runs at plan time only.
- MySQL (not MariaDB 10.2+) cannot name one TEMPORARY table twice in a statement (error 1137): the scd1/scd2 update
  is one join (:meth:`update_from_sql`), never correlated subqueries over the delta.
- No partial index: one current scd2 row per key is a unique index over the key and an invisible generated
  marker ``CASE WHEN is_current = TRUE THEN 1 END`` (NULL elsewhere; unique indexes allow many NULLs).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_mapper_provider.dialects import mysql_types as types
from airflow_mapper_provider.dialects.base import SRC, Dialect, UpdateSpec
from airflow_mapper_provider.dialects.capabilities import Capabilities
from airflow_mapper_provider.dialects.generic import GenericDialect
from airflow_mapper_provider.dialects.types import TEXT_KINDS, Column, ColumnType
from airflow_mapper_provider.identifiers import TableName, derived_name

#: A binary NO PAD utf8mb4 collation per server family: ``=`` on text is identity of the characters.
COLLATIONS = {"mariadb": "utf8mb4_nopad_bin", "mysql": "utf8mb4_0900_bin"}
#: Seconds GET_LOCK waits for the DDL and plan locks.
LOCK_WAIT_S = 60
#: A result column of a naive UTC DATETIME that MySqlSession returns as an aware datetime.
UTC_COLUMN = "mapper_utc"
#: The largest LIMIT (MySQL has no OFFSET without LIMIT).
_NO_LIMIT = "18446744073709551615"


class MySqlDialect(GenericDialect):
    """MySQL 8.0.1+ / MariaDB 10.3+ (window functions, ``NOWAIT``, invisible columns need 8.0.23 / 10.3).

    :param flavor: ``mariadb`` or ``mysql`` (the session reads it from the server's version).
    :param sa_dialect: the engine's SQLAlchemy dialect (default: SQLAlchemy's PyMySQL dialect).
    """

    name = "mysql"
    caps = Capabilities(
        update_from=True,  # as a multi-table UPDATE t JOIN d
        tuple_compare=True,
        transactional_ddl=False,
        hash_in_sql=True,
        enforces_types=True,
        max_identifier=64,
        folds_unquoted="none",
    )
    byte_collation = "utf8mb4_bin"  # text bounds compare as bytes: see ordered()

    def __init__(self, flavor: str = "mariadb", sa_dialect: Any = None) -> None:
        if sa_dialect is None:
            from sqlalchemy.dialects.mysql import pymysql

            sa_dialect = pymysql.dialect()
        super().__init__(sa_dialect)
        self.flavor = flavor
        self.collation = COLLATIONS.get(flavor, COLLATIONS["mysql"])

    def mod(self, a: str, b: str) -> str:
        return Dialect.mod(self, a, b)

    def typed_null(self, ctype: ColumnType) -> str:
        """MySQL 8's CAST takes CHAR(n) and SIGNED, not VARCHAR(n) or INTEGER (MariaDB takes both)."""
        if ctype.kind in TEXT_KINDS:
            return f"CAST(NULL AS CHAR({ctype.length or 255}))"
        if ctype.kind in ("smallint", "int", "bigint"):
            return "CAST(NULL AS SIGNED)"
        return super().typed_null(ctype)

    def kind_ddl(self, ctype: ColumnType) -> str:
        return types.kind_ddl(ctype)

    def check_source_types(self, columns: Sequence[Column]) -> None:
        types.refuse_unsupported(columns)

    def ordered(self, expr: str, kind: str) -> str:
        # bytes of the text (utf8mb4: code point order), whatever the column's collation or PAD attribute
        return f"CAST({expr} AS BINARY)" if kind in TEXT_KINDS else expr

    # ---- locks (GET_LOCK: held until released or the session ends, not until commit) ---------------------
    def ddl_lock_sql(self) -> str:
        return f"SELECT GET_LOCK('airflow_mapper_provider.ddl', {LOCK_WAIT_S})"

    def mapref_lock_sql(self, lock_table: TableName | None = None) -> str:
        return f"SELECT GET_LOCK(LEFT(CONCAT('airflow_mapper_provider.run:', :mapref), 64), {LOCK_WAIT_S})"

    #: Lock wait timeout (what MariaDB's NOWAIT raises too) and MySQL 8's NOWAIT error.
    lock_not_available = ("MYSQL-1205", "MYSQL-3572")
    unique_violation = ("MYSQL-1062",)

    def for_update(self) -> str:
        return " FOR UPDATE"

    def for_update_nowait(self) -> str:
        return " FOR UPDATE NOWAIT"

    def for_share(self) -> str:
        return " LOCK IN SHARE MODE"  # MySQL 8 and MariaDB; FOR SHARE is MySQL 8 only

    # ---- planning ---------------------------------------------------------------------------------------
    def sample_predicate(self, param: str) -> str | None:
        return f"RAND() < {self.param(param)}"

    def describe_temp_sql(self, name: str, source_sql: str) -> str:
        """An empty TEMPORARY table with the query's columns (run without parameters: ``source_sql`` as is)."""
        return f"CREATE TEMPORARY TABLE {self.temp_name(name)} AS SELECT * FROM ({source_sql}\n) {SRC} LIMIT 0"

    def explain_sql(self, source_sql: str, where: str = "") -> str:
        cond = f" WHERE {where}" if where else ""
        return f"EXPLAIN SELECT * FROM ({self.embed(source_sql)}) {SRC}{cond}"

    def staged_max_sql(self, stage: str, column: str, kind: str = "") -> str:
        """A timestamptz checkpoint comes back as the aware UTC instant (the session converts columns named
        :data:`UTC_COLUMN`), not as DATETIME's naive wall time."""
        if kind != "timestamptz":
            return super().staged_max_sql(stage, column, kind)
        return f"SELECT MAX({self.quote(column)}) AS {UTC_COLUMN} FROM {self.temp_name(stage)}"

    def offset_sql(self, param: str) -> str:
        return f" LIMIT {_NO_LIMIT} OFFSET {self.param(param)}"

    def hash_bucket(self, keys: Sequence[str], alias: str, buckets: int) -> str:
        """CRC32 of the key's canonical text (each column length-prefixed, NULL marked): the same bucket for the
        same key on every run; a NULL key has a bucket too."""
        return f"MOD(CRC32({self._canonical([f'{alias}.{self.quote(k)}' for k in keys])}), {int(buckets)})"

    def _canonical(self, exprs: Sequence[str]) -> str:
        """One text for a row of values, unambiguous: ``<length>:<value>`` per value, ``N`` for NULL."""
        parts = [f"IFNULL(CONCAT(LENGTH({e}), ':', {e}), 'N')" for e in exprs]
        return f"CONCAT_WS(',', {', '.join(parts)})"

    # ---- DDL --------------------------------------------------------------------------------------------
    def _table_options(self) -> str:
        return f" DEFAULT CHARSET=utf8mb4 COLLATE={self.collation}"

    def create_table_sql(
        self, table: TableName, columns: Sequence[Column], primary_key: Sequence[str] = (), keys: Sequence[str] = ()
    ) -> str:
        """Key columns (``primary_key`` and ``keys``) get indexable types (text as VARCHAR(n)); the rest as
        :meth:`type_ddl` says."""
        indexed = {*primary_key, *keys}
        text_keys = sum(1 for c in columns if c.name in indexed and types.needs_key_ddl(c.type))
        self.check_source_types(columns)
        defs = []
        for c in columns:
            ddl = types.key_ddl(c.type, text_keys) if c.name in indexed else self.type_ddl(c.type)
            defs.append(f"{self.quote(c.name)} {ddl}{' NOT NULL' if c.name in primary_key else ''}")
        if primary_key:
            defs.append(f"PRIMARY KEY ({self.cols(primary_key)})")
        body = ",\n  ".join(defs)
        return f"CREATE TABLE {self.table(table)} (\n  {body}\n) ENGINE=InnoDB{self._table_options()}"

    def create_index_sql(
        self, table: TableName, name: str, columns: Sequence[str], unique: bool = False, where: str = ""
    ) -> str:
        """MySQL has no partial index: a unique index with ``where`` (one current row per key) covers the columns
        plus an invisible generated marker ``CASE WHEN <where> THEN 1 END``, NULL where ``where`` is false (a
        unique index allows any number of rows with a NULL part)."""
        t, kind = self.table(table), "UNIQUE INDEX" if unique else "INDEX"
        if not (unique and where):  # a plain index over every row is a superset of a partial one
            return f"CREATE {kind} {self.quote(name)} ON {t} ({self.cols(columns)})"
        marker = self.quote(derived_name(name, "on"))
        return (
            f"ALTER TABLE {t} ADD COLUMN {marker} TINYINT AS (CASE WHEN {where} THEN 1 END) VIRTUAL INVISIBLE, "
            f"ADD {kind} {self.quote(name)} ({self.cols(columns)}, {marker})"
        )

    def add_column_sql(self, table: TableName, column: Column) -> str:
        return f"ALTER TABLE {self.table(table)} ADD COLUMN {self.quote(column.name)} {self.type_ddl(column.type)}"

    def alter_column_type_sql(self, table: TableName, column: str, type_ddl: str) -> str:
        return f"ALTER TABLE {self.table(table)} MODIFY COLUMN {self.quote(column)} {type_ddl}"

    def create_schema_sql(self, schema: str) -> str:
        """A MySQL schema is a database."""
        return f"CREATE DATABASE IF NOT EXISTS {self.quote(schema)} CHARACTER SET utf8mb4 COLLATE {self.collation}"

    def create_staging_sql(self, name: str, columns: Sequence[Column], keys: Sequence[str] = ()) -> str:
        defs = ", ".join(self.column_defs(columns))
        return f"CREATE TEMPORARY TABLE {self.temp_name(name)} ({defs}){self._table_options()}"

    def drop_temp_sql(self, name: str) -> str:
        return f"DROP TEMPORARY TABLE IF EXISTS {self.temp_name(name)}"  # TEMPORARY: no implicit commit

    def create_temp_index_sql(self, name: str, column: str) -> str:
        return "DO 0"  # CREATE INDEX commits even on a temporary table; indexes come with the CREATE instead

    def number_rows_sql(self, source: str, name: str, rn: str, ok: str) -> list[str]:
        """Only CREATE/DROP TEMPORARY TABLE (no implicit commit), the row-number index declared in the CREATE."""
        index = f"(INDEX {self.quote(derived_name(source, rn))} ({self.quote(rn)}))"
        numbered = f"ROW_NUMBER() OVER () AS {self.quote(rn)}, 1 AS {self.quote(ok)}"
        return [
            f"CREATE TEMPORARY TABLE {self.temp_name(name)} AS SELECT s.*, {numbered} FROM {self.temp_name(source)} s",
            f"DROP TEMPORARY TABLE {self.temp_name(source)}",
            f"CREATE TEMPORARY TABLE {self.temp_name(source)} {index} AS SELECT * FROM {self.temp_name(name)}",
            f"DROP TEMPORARY TABLE {self.temp_name(name)}",
        ]

    # ---- apply ------------------------------------------------------------------------------------------
    def differs(self, a: str, b: str) -> str:
        return f"NOT ({a} <=> {b})"

    def column_differs(self, a: str, b: str, column: Column) -> str:
        """Text and JSON compare as bytes (a user's target may have a case-insensitive or PAD SPACE collation)."""
        if column.type.kind in (*TEXT_KINDS, "json", "other"):
            return self.differs(f"CAST({a} AS BINARY)", f"CAST({b} AS BINARY)")
        return self.differs(a, b)

    def update_from_sql(self, target: TableName, source: str, upd: UpdateSpec) -> str:
        """``UPDATE target t JOIN delta d ON key SET ...``: the delta is named once (MySQL error 1137)."""
        assigns = ", ".join(f"t.{self.quote(col)} = {expr}" for col, expr in upd.sets)
        cond = f"{self.key_join(upd.keys, 't', 'd')} AND {upd.delta_where}"
        if upd.target_flag:
            cond += f" AND t.{self.quote(upd.target_flag)} = {self.true_sql}"
        return f"UPDATE {self.table(target)} t JOIN {self.temp_name(source)} d ON {cond} SET {assigns}"

    def target_delete_sql(self, table: TableName, where: str) -> str:
        """MariaDB has no ``DELETE FROM x AS t`` (before 11.6); both have the multi-table form."""
        return f"DELETE t FROM {self.table(table)} t WHERE {where}"

    def row_hash_expr(self, columns: Sequence[Column], alias: str) -> str | None:
        if not columns:
            return "'0'"
        return f"MD5({self._canonical([f'{alias}.{self.quote(c.name)}' for c in columns])})"

    # ---- progress ---------------------------------------------------------------------------------------
    def upsert_sql(self, table: TableName, names: Sequence[str], key: Sequence[str]) -> str | None:
        values = ", ".join(self.param(n) for n in names)
        sets = ", ".join(f"{self.quote(n)} = VALUES({self.quote(n)})" for n in names if n not in key)
        return f"INSERT INTO {self.table(table)} ({self.cols(names)}) VALUES ({values}) ON DUPLICATE KEY UPDATE {sets}"
