"""Any other SQLAlchemy database: portable SQL, names quoted and types compiled by SQLAlchemy's own dialect."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Any

from airflow_mapper_provider.dialects import sqlite
from airflow_mapper_provider.dialects.base import Dialect
from airflow_mapper_provider.dialects.capabilities import Capabilities
from airflow_mapper_provider.dialects.types import Column, ColumnType
from airflow_mapper_provider.identifiers import TableName, validate_identifier

_PERCENT_MOD = frozenset({"sqlite", "mysql", "mariadb", "mssql"})
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
    """Portable SQL through SQLAlchemy ``text()`` (``:name`` parameters) for any database without a dialect of its
    own here: names quoted by SQLAlchemy's identifier preparer for that database, DDL types compiled by SQLAlchemy.

    :param sa_dialect: the SQLAlchemy dialect of the engine (``engine.dialect``).
    """

    name = "generic"
    caps = Capabilities()

    def __init__(self, sa_dialect: Any) -> None:
        self.sa_dialect = sa_dialect
        #: SQLAlchemy's name of the database (``mssql``, ``db2``...), for messages.
        self.flavor = str(getattr(sa_dialect, "name", "generic"))
        limit = getattr(sa_dialect, "max_identifier_length", None)
        if isinstance(limit, int) and limit < self.caps.max_identifier:
            self.caps = dataclasses.replace(self.caps, max_identifier=limit)

    def quote(self, ident: str) -> str:
        """Validate ``ident``, then quote it as this database quotes (MySQL backticks, MSSQL brackets...)."""
        name = validate_identifier(ident, "identifier", self.caps.max_identifier)
        return str(self.sa_dialect.identifier_preparer.quote_identifier(name))

    def embed(self, source_sql: str) -> str:
        # SQLAlchemy text() reads ':word' as a bind parameter: escape the user's colons.
        return _COLON_BIND.sub(r"\\:", source_sql) + "\n"

    def kind_ddl(self, ctype: ColumnType) -> str:
        return str(_sa_type(ctype).compile(dialect=self.sa_dialect))

    def check_source_types(self, columns: Sequence[Column]) -> None:
        """Refuse (plan time) source columns whose type this database cannot hold exactly: interval."""
        sqlite.refuse_unsupported(columns, f"a {self.flavor} target")

    def column_defs(self, columns: Sequence[Column], not_null: Sequence[str] = ()) -> list[str]:
        self.check_source_types(columns)
        return super().column_defs(columns, not_null)

    def mod(self, a: str, b: str) -> str:
        # the databases whose SQL has no MOD() function spell it as an operator
        return f"(({a}) % {b})" if self.flavor in _PERCENT_MOD else super().mod(a, b)

    def upsert_sql(self, table: TableName, names: Sequence[str], key: Sequence[str]) -> str | None:
        return None
