"""The portable SQL vocabulary, part one: names and values, the simple statements on the mapper's own tables, types.

Dialects subclass :class:`~airflow_mapper_provider.dialects.base.Dialect` (which builds on this and
:mod:`.sql_plan`); identifiers always pass :meth:`CoreSql.quote` (validate, then quote) and values are always bind
parameters, spelled by :meth:`CoreSql.param`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from airflow_mapper_provider.dialects.capabilities import Capabilities
from airflow_mapper_provider.dialects.types import Column, ColumnType
from airflow_mapper_provider.identifiers import TableName, validate_identifier

Params = dict[str, Any]


@dataclass(frozen=True)
class UpdateSpec:
    """An UPDATE of the target from a delta table ``d`` joined on the key.

    :param keys: key columns joining target and delta.
    :param sets: (column, expression) pairs; expressions refer to the delta as ``d.``.
    :param delta_where: condition on the delta row (e.g. ``d.mapper_new = 0``).
    :param target_flag: a boolean target column that must be TRUE (scd2: ``is_current``).
    """

    keys: Sequence[str]
    sets: Sequence[tuple[str, str]]
    delta_where: str
    target_flag: str | None = None


#: Alias of the user's query inside every statement that wraps it.
SRC = "mapper_src"


class CoreSql:
    """Names, values, the mapper tables' simple statements and column types (portable, ANSI-leaning)."""

    name = "portable"
    #: What the database can do (README "What a new dialect implements"): callers ask these, never the name.
    caps = Capabilities()
    #: A collation comparing text in byte (code point) order, or None where none is known (text keys then get
    #: hash buckets instead of ranges).
    byte_collation: str | None = None
    true_sql = "TRUE"
    false_sql = "FALSE"

    # ---- names and values -------------------------------------------------------------------------------
    def quote(self, ident: str) -> str:
        """Validate ``ident`` and quote it: the name is used exactly as given (case included)."""
        return '"' + validate_identifier(ident, "identifier", self.caps.max_identifier) + '"'

    def table(self, name: TableName) -> str:
        quoted = self.quote(name.table)
        return f"{self.quote(name.schema)}.{quoted}" if name.schema else quoted

    def cols(self, names: Sequence[str], alias: str | None = None) -> str:
        prefix = f"{alias}." if alias else ""
        return ", ".join(prefix + self.quote(n) for n in names)

    def param(self, name: str) -> str:
        """Placeholder of the named bind parameter ``name``."""
        return f":{name}"

    def embed(self, source_sql: str) -> str:
        """The user's query, made safe to embed in a statement that also has bind parameters (the newline ends
        a trailing ``--`` comment before the wrapping parenthesis)."""
        return source_sql + "\n"

    def temp_name(self, base: str) -> str:
        return self.quote(base)

    # ---- simple statements on the mapper's own tables (equality conditions, all values bound) --------------
    def select_all_sql(self, table: TableName) -> str:
        return f"SELECT * FROM {self.table(table)}"

    def select_sql(self, table: TableName, names: Sequence[str], where: Sequence[str], order_by: str = "") -> str:
        order = f" ORDER BY {self.quote(order_by)}" if order_by else ""
        return f"SELECT {self.cols(names)} FROM {self.table(table)} WHERE {self._equal(where)}{order}"

    def insert_sql(self, table: TableName, names: Sequence[str]) -> str:
        values = ", ".join(self.param(n) for n in names)
        return f"INSERT INTO {self.table(table)} ({self.cols(names)}) VALUES ({values})"

    def insert_values_sql(self, table_sql: str, names: Sequence[str], params: Sequence[str]) -> str:
        """INSERT of one row into an already quoted table (staging or target), values bound by ``params``."""
        values = ", ".join(self.param(p) for p in params)
        return f"INSERT INTO {table_sql} ({self.cols(names)}) VALUES ({values})"

    def target_delete_sql(self, table: TableName, where: str) -> str:
        """DELETE of ``table``'s rows (alias ``t``) where ``where`` holds."""
        return f"DELETE FROM {self.table(table)} AS t WHERE {where}"

    def target_update_sql(self, table: TableName, sets: str, where: str) -> str:
        """UPDATE of ``table`` (alias ``t``) setting ``sets`` (``col = expr, ...``) where ``where`` holds."""
        return f"UPDATE {self.table(table)} AS t SET {sets} WHERE {where}"

    def delete_sql(self, table: TableName, where: Sequence[str]) -> str:
        return f"DELETE FROM {self.table(table)} WHERE {self._equal(where)}"

    def update_sql(self, table: TableName, names: Sequence[str], where: Sequence[str]) -> str:
        sets = ", ".join(f"{self.quote(n)} = {self.param(n)}" for n in names)
        return f"UPDATE {self.table(table)} SET {sets} WHERE {self._equal(where, prefix='w_')}"

    def ddl_lock_sql(self) -> str:
        """Serialize the mapper's DDL across concurrent plans ("" where transactions serialize anyway)."""
        return ""

    def mapref_lock_sql(self, lock_table: TableName | None = None) -> str:
        """Serialize plans of one mapref (``:mapref``) until commit ("" where transactions serialize anyway);
        ``lock_table``: the mapper_lock table, for dialects that lock the mapref's row in it."""
        return ""

    def alive_lock_sql(self) -> str:
        """Take a shared session lock on ``:alive`` (held until the connection closes); "" where none exists."""
        return ""

    def alive_probe_sql(self) -> str:
        """Try the exclusive lock on ``:alive``: true when no session holds it (then release it)."""
        return ""

    def alive_release_sql(self) -> str:
        return ""

    def for_update(self) -> str:
        """Row-lock suffix of a SELECT that will modify the row ("" where transactions serialize anyway)."""
        return ""

    #: Error codes (``errors.classify(exc).code``) of a row lock :meth:`for_update_nowait` could not get.
    lock_not_available: tuple[str, ...] = ("55P03",)
    #: Error codes of a unique-key violation (two plans inserting the same mapref's lock row at once, where
    #: :meth:`mapref_lock_sql` cannot serialize them).
    unique_violation: tuple[str, ...] = ("23505",)

    def for_update_nowait(self) -> str:
        """Like :meth:`for_update`, but failing at once (SQLSTATE 55P03) where another transaction holds the row."""
        return self.for_update()

    def for_share(self) -> str:
        """Shared row-lock suffix of a SELECT (held until the transaction ends)."""
        return ""

    def _equal(self, names: Sequence[str], prefix: str = "") -> str:
        return " AND ".join(f"{self.quote(n)} = {self.param(prefix + n)}" for n in names)

    # ---- types ------------------------------------------------------------------------------------------
    def type_ddl(self, ctype: ColumnType) -> str:
        """DDL type for a column of this dialect's tables."""
        if ctype.dialect == self.name and ctype.native:
            return ctype.native
        return self.kind_ddl(ctype)

    def kind_ddl(self, ctype: ColumnType) -> str:
        k = ctype.kind
        if k == "numeric" and ctype.precision:
            return f"NUMERIC({ctype.precision},{ctype.scale or 0})"
        if k in ("varchar", "char") and ctype.length:
            return f"{'VARCHAR' if k == 'varchar' else 'CHAR'}({ctype.length})"
        return _PORTABLE_TYPES.get(k, "TEXT")

    def check_source_types(self, columns: Sequence[Column]) -> None:
        """Refuse, at plan time and naming the column and the fix, source columns whose type this database
        cannot hold exactly (nothing to refuse here)."""

    def same_type(self, a: ColumnType, b: ColumnType) -> bool:
        """``a`` and ``b`` (both described by this database) are one type: no conversion between them."""
        return a.native == b.native

    def cast_sql(self, expr: str, src: ColumnType, dst: ColumnType) -> str:
        """``expr`` of type ``src`` converted to ``dst`` (both described by this database)."""
        return f"CAST({expr} AS {dst.native})"

    def lossy_sql(self, expr: str, src: ColumnType, dst: ColumnType) -> str | None:
        """Condition: converting ``expr`` from ``src`` to ``dst`` changes its value (evaluating it raises where
        the value does not convert at all); None where the conversion never changes a value. Portable form: the
        round trip back to ``src`` differs."""
        back = self.cast_sql(self.cast_sql(expr, src, dst), dst, src)
        return self.differs(back, expr)

    def differs(self, a: str, b: str) -> str:
        """Null-safe 'a and b differ'."""
        return f"({a} <> {b} OR ({a} IS NULL AND {b} IS NOT NULL) OR ({a} IS NOT NULL AND {b} IS NULL))"


def _where(cond: str) -> str:
    return f" WHERE {cond}" if cond else ""


_PORTABLE_TYPES = {
    "bool": "BOOLEAN",
    "smallint": "SMALLINT",
    "int": "INTEGER",
    "bigint": "BIGINT",
    "numeric": "NUMERIC",
    "real": "REAL",
    "double": "DOUBLE PRECISION",
    "text": "TEXT",
    "varchar": "VARCHAR",
    "char": "CHAR",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "timestamptz": "TIMESTAMP WITH TIME ZONE",
    "time": "TIME",
    "bytes": "BLOB",
    "json": "TEXT",
    "uuid": "CHAR(36)",
    "interval": "TEXT",
    "other": "TEXT",
}
