"""SQLite (the embedded demo): portable SQL through SQLAlchemy, values stored in canonical text forms.

README "Type maps": exact decimals as ``DECIMAL_TEXT`` compared by value, timestamptz as UTC text; describe reads
declared types through a TEMP VIEW and ``PRAGMA table_info``. The codecs live in :mod:`dialects.sqlite`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_mapper_provider.dialects import sqlite
from airflow_mapper_provider.dialects.base import SRC, Dialect, UpdateSpec
from airflow_mapper_provider.dialects.capabilities import Capabilities
from airflow_mapper_provider.dialects.generic import GenericDialect
from airflow_mapper_provider.dialects.types import Column, ColumnType
from airflow_mapper_provider.exceptions import ConfigError
from airflow_mapper_provider.identifiers import TableName


class SqliteDialect(GenericDialect):
    """SQLite 3.35+ (``UPDATE ... FROM``, ``ON CONFLICT``, ``RETURNING``).

    :param sa_dialect: the engine's SQLAlchemy dialect (default: SQLAlchemy's pysqlite dialect).
    """

    name = "sqlite"
    caps = Capabilities(update_from=True, tuple_compare=True, max_identifier=63, folds_unquoted="none")
    # SQLite's BINARY collation is memcmp of UTF-8: code point order, as PostgreSQL's "C" on UTF-8
    byte_collation = "BINARY"

    def __init__(self, sa_dialect: Any = None) -> None:
        if sa_dialect is None:
            from sqlalchemy.dialects import sqlite as sa_sqlite

            sa_dialect = sa_sqlite.dialect()
        super().__init__(sa_dialect)

    def quote(self, ident: str) -> str:
        return Dialect.quote(self, ident)

    def kind_ddl(self, ctype: ColumnType) -> str:
        return sqlite.ddl(ctype)

    def mod(self, a: str, b: str) -> str:
        return f"(({a}) % {b})"

    # ---- SQLite describe: declared types of a query's columns ------------------------------------------------
    DESCRIBE_VIEW = "mapper_describe"

    def describe_view_sql(self, source_sql: str) -> list[str]:
        """A TEMP VIEW of the query (run without bind parameters: the query is not escaped for ``text()``)."""
        view = self.quote(self.DESCRIBE_VIEW)
        return [self.drop_describe_view_sql(), f"CREATE TEMP VIEW {view} AS SELECT * FROM ({source_sql}\n) {SRC}"]

    def drop_describe_view_sql(self) -> str:
        return f"DROP VIEW IF EXISTS temp.{self.quote(self.DESCRIBE_VIEW)}"

    def table_info_sql(self, table_sql: str) -> str:
        """Columns and declared types of an already quoted table or view (``temp.`` for the describe view)."""
        return f"PRAGMA table_info({table_sql})"

    def describe_view_info_sql(self) -> str:
        return f"PRAGMA temp.table_info({self.quote(self.DESCRIBE_VIEW)})"

    def storage_classes_sql(self, view_columns: Sequence[str]) -> str:
        """The storage classes (``typeof``) of all values of the describe view's columns, comma separated. The view's
        column names are SQLite's (a repeated name gets a ``:1`` suffix): quoted here, not validated."""
        quoted = ['"' + name.replace('"', '""') + '"' for name in view_columns]
        picks = ", ".join(f"group_concat(DISTINCT typeof({q}))" for q in quoted)
        return f"SELECT {picks} FROM temp.{self.quote(self.DESCRIBE_VIEW)}"

    def check_source_types(self, columns: Sequence[Column]) -> None:
        """Refuse (plan time) source columns whose type this database cannot hold exactly: interval."""
        sqlite.refuse_unsupported(columns, "SQLite")

    def column_defs(self, columns: Sequence[Column], not_null: Sequence[str] = ()) -> list[str]:
        self.check_source_types(columns)
        return super().column_defs(columns, not_null)

    def ordered(self, expr: str, kind: str) -> str:
        # decimals stored as text (DECIMAL_TEXT) compare by value, not as text ('10' > '9'); numbers stored as
        # INTEGER or REAL are not affected by a collation
        if kind == "numeric":
            return f"{expr} COLLATE {sqlite.DECIMAL_COLLATION}"
        return super().ordered(expr, kind)

    def staged_max_sql(self, stage: str, column: str, kind: str = "") -> str:
        if kind not in sqlite.CONVERTERS:
            return super().staged_max_sql(stage, column, kind)
        # the checkpoint comes back typed (sqlite3.PARSE_COLNAMES converts "[mapper_<kind>]"), not as text
        col = self.ordered(self.quote(column), kind)
        return f'SELECT MAX({col}) AS "mapper_max [mapper_{kind}]" FROM {self.temp_name(stage)}'

    def offset_sql(self, param: str) -> str:
        return f" LIMIT -1 OFFSET {self.param(param)}"

    def create_schema_sql(self, schema: str) -> str:
        raise ConfigError(f"SQLite has no schema {schema!r}: give target_table (and metadata_schema) without a schema")

    def update_from_sql(self, target: TableName, source: str, upd: UpdateSpec) -> str:
        t = self.table(target)
        assigns = ", ".join(f"{self.quote(col)} = {expr}" for col, expr in upd.sets)
        cond = f"{self.key_join(upd.keys, t, 'd')} AND {upd.delta_where}"
        if upd.target_flag:
            cond += f" AND {t}.{self.quote(upd.target_flag)} = {self.true_sql}"
        return f"UPDATE {t} SET {assigns} FROM {self.temp_name(source)} d WHERE {cond}"

    def upsert_sql(self, table: TableName, names: Sequence[str], key: Sequence[str]) -> str | None:
        return Dialect.upsert_sql(self, table, names, key)
