"""Any other SQLAlchemy database (SQLite for the embedded demo): portable SQL, types compiled by SQLAlchemy."""

from __future__ import annotations

import re
from typing import Any

from airflow_mapper_provider.dialects.base import Dialect, UpdateSpec
from airflow_mapper_provider.dialects.types import ColumnType
from airflow_mapper_provider.exceptions import ConfigError
from airflow_mapper_provider.identifiers import TableName

_COLON_BIND = re.compile(r"(?<![:\w\\]):(?=\w)")


def _sa_type(ctype: ColumnType) -> Any:
    from sqlalchemy import types as sa

    k = ctype.kind
    simple = {
        "bool": sa.Boolean(),
        "smallint": sa.SmallInteger(),
        "int": sa.Integer(),
        "bigint": sa.BigInteger(),
        "real": sa.REAL(),
        "double": sa.Double(),
        "text": sa.Text(),
        "date": sa.Date(),
        "timestamp": sa.DateTime(),
        "timestamptz": sa.DateTime(timezone=True),
        "time": sa.Time(),
        "bytes": sa.LargeBinary(),
        "json": sa.Text(),
        "uuid": sa.String(36),
    }
    if k in simple:
        return simple[k]
    if k == "numeric":
        return sa.Numeric(ctype.precision, ctype.scale) if ctype.precision else sa.Numeric()
    if k == "varchar":
        return sa.String(ctype.length) if ctype.length else sa.Text()
    if k == "char":
        return sa.CHAR(ctype.length or 1)
    return sa.Text()


class GenericDialect(Dialect):
    """Portable SQL through SQLAlchemy ``text()`` (``:name`` parameters); DDL types compiled by SQLAlchemy.

    :param sa_dialect: the SQLAlchemy dialect of the engine (``engine.dialect``).
    """

    name = "generic"

    def __init__(self, sa_dialect: Any) -> None:
        self.sa_dialect = sa_dialect
        self.flavor = getattr(sa_dialect, "name", "generic")
        # SQLite's BINARY collation is memcmp of UTF-8: code point order, as PostgreSQL's "C" on UTF-8
        self.byte_collation = "BINARY" if self.flavor == "sqlite" else None

    def embed(self, source_sql: str) -> str:
        # SQLAlchemy text() reads ':word' as a bind parameter: escape the user's colons.
        return _COLON_BIND.sub(r"\\:", source_sql) + "\n"

    def kind_ddl(self, ctype: ColumnType) -> str:
        return str(_sa_type(ctype).compile(dialect=self.sa_dialect))

    def mod(self, a: str, b: str) -> str:
        return f"(({a}) % {b})" if self.flavor in ("sqlite", "mysql", "mssql") else super().mod(a, b)

    def offset_sql(self, param: str) -> str:
        if self.flavor == "sqlite":
            return f" LIMIT -1 OFFSET {self.param(param)}"
        return super().offset_sql(param)

    def create_schema_sql(self, schema: str) -> str:
        if self.flavor == "sqlite":
            raise ConfigError(
                f"SQLite has no schema {schema!r}: give target_table (and metadata_schema) without a schema"
            )
        return super().create_schema_sql(schema)

    def update_from_sql(self, target: TableName, source: str, upd: UpdateSpec) -> str:
        if self.flavor != "sqlite":
            return super().update_from_sql(target, source, upd)
        t = self.table(target)
        assigns = ", ".join(f"{self.quote(col)} = {expr}" for col, expr in upd.sets)
        cond = f"{self.key_join(upd.keys, t, 'd')} AND {upd.delta_where}"
        if upd.target_flag:
            cond += f" AND {t}.{self.quote(upd.target_flag)} = {self.true_sql}"
        return f"UPDATE {t} SET {assigns} FROM {self.temp_name(source)} d WHERE {cond}"
