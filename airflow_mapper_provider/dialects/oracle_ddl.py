"""Oracle DDL of the tables the mapper creates: targets, its own tables, private temporary tables, indexes.

Key columns get indexable types (never a LOB: ORA-02327), sized so a whole key fits the index of an 8 KB block;
the mapper's own text columns are VARCHAR2 where SQL compares them (a CLOB cannot be: ORA-00932) and CLOB where
they hold long text. Temp tables are private temporary tables (README "Oracle SQL"): created without a commit,
dropped with the chunk's transaction, never indexed, and (being DDL) never with a bind variable (ORA-01027).
"""

from __future__ import annotations

from collections.abc import Sequence

from airflow_mapper_provider.dialects.base import Dialect
from airflow_mapper_provider.dialects.oracle_types import ddl, to_oracle_name
from airflow_mapper_provider.dialects.types import Column, ColumnType
from airflow_mapper_provider.exceptions import ConfigError
from airflow_mapper_provider.identifiers import RESERVED_PREFIX, TableName, validate_identifier

#: Oracle's default ``PRIVATE_TEMP_TABLE_PREFIX``: a private temporary table's name must start with it.
PTT_PREFIX = "ORA$PTT_"
#: Mapper-table text columns holding long text (JSON, messages, values): CLOB, never compared in SQL.
_MAPPER_LONG_TEXT = frozenset(
    {"plan_json", "message", "row_json", "key_values", "error_message", "checkpoint_max", "value",
     "checkpoint_before", "checkpoint_after"}
)  # fmt: skip
#: Other mapper-table text columns are compared in WHERE clauses (a CLOB cannot be: ORA-00932); the key columns
#: (mapref, run_id) share one width in every mapper table (three keys of 2,000 bytes fit an 8 KB block's index).
_MAPPER_SHORT_TEXT = ColumnType("varchar", length=1000)
_MAPPER_KEY_TEXT = ColumnType("varchar", length=500)


class OracleDdl(Dialect):
    """The DDL half of :class:`~airflow_mapper_provider.dialects.oracle.OracleDialect`."""

    def temp_name(self, base: str) -> str:
        """A private temporary table: ``mapper_stage`` -> ``"ORA$PTT_MAPPER_STAGE"``."""
        return '"' + PTT_PREFIX + to_oracle_name(validate_identifier(base, "temp table name")) + '"'

    # ---- types ------------------------------------------------------------------------------------------
    def kind_ddl(self, ctype: ColumnType) -> str:
        return ddl(ctype)

    def column_ddl(self, column: Column, key_parts: int = 0, check: bool = True, mapper: bool = False) -> str:
        """``"NAME" type`` of a column of a table the mapper creates.

        :param key_parts: the column is part of an indexed key with this many parts (0: not indexed): text and
            bytes then get indexable types, never LOB (ORA-02327), sized so the whole key fits an 8 KB block.
        :param check: a boolean gets its ``CHECK (c IN (0, 1))`` (not in temp tables: staging refuses nothing).
        :param mapper: a column of the mapper's own (its tables' and its staging columns): text that is compared
            is VARCHAR2, long text CLOB.
        """
        name, ctype = self.quote(column.name), column.type
        if mapper and ctype.kind == "text" and (key_parts or column.name not in _MAPPER_LONG_TEXT):
            ctype = _MAPPER_KEY_TEXT if key_parts else _MAPPER_SHORT_TEXT
        return f"{name} {ddl(ctype, key=bool(key_parts), key_parts=max(key_parts, 1), column=name if check else '')}"

    def _defs(self, columns: Sequence[Column], indexed: Sequence[str], not_null: Sequence[str],
              mapper: bool = False, check: bool = True) -> list[str]:  # fmt: skip
        """Column definitions; ``mapper``: of one of the mapper's own tables."""
        by_name = {c.name: c for c in columns}
        parts = sum(1 for k in indexed if k in by_name and by_name[k].type.kind in _SIZED_KINDS)
        return [
            self.column_ddl(c, parts if c.name in indexed else 0, check, mapper or _reserved(c.name))
            + (" NOT NULL" if c.name in not_null else "")
            for c in columns
        ]

    def column_defs(self, columns: Sequence[Column], not_null: Sequence[str] = ()) -> list[str]:
        return self._defs(columns, (), not_null)

    def create_table_sql(
        self, table: TableName, columns: Sequence[Column], primary_key: Sequence[str] = (), keys: Sequence[str] = ()
    ) -> str:
        """CREATE TABLE; ``keys`` (default: the primary key): the columns the mapper will index (scd2's current
        row index, append's key index), given indexable types."""
        indexed = list(keys or primary_key)
        defs = self._defs(columns, indexed, primary_key, _reserved(table.table))
        if primary_key:
            defs.append(f"PRIMARY KEY ({self.cols(primary_key)})")
        return f"CREATE TABLE {self.table(table)} (\n  " + ",\n  ".join(defs) + "\n)"

    def add_column_sql(self, table: TableName, column: Column) -> str:
        defs = self._defs([column], (), (), _reserved(table.table))
        return f"ALTER TABLE {self.table(table)} ADD ({defs[0]})"

    def alter_column_type_sql(self, table: TableName, column: str, type_ddl: str) -> str:
        return f"ALTER TABLE {self.table(table)} MODIFY ({self.quote(column)} {type_ddl})"

    def create_schema_sql(self, schema: str) -> str:
        raise ConfigError(
            f"Oracle has no schema {schema!r} to create: an Oracle schema is a user. Ask the DBA to create it "
            f"(CREATE USER {to_oracle_name(schema)} ... QUOTA ... ON <tablespace>) and grant this connection's user "
            "CREATE ANY TABLE there, or give target_table (and metadata_schema) in an existing schema"
        )

    def create_index_sql(
        self, table: TableName, name: str, columns: Sequence[str], unique: bool = False, where: str = ""
    ) -> str:
        """An index in its table's schema. ``where`` (Oracle has no partial index) becomes a function-based
        index on ``CASE WHEN <where> THEN column END`` per column: rows where it does not hold have an entirely
        NULL entry, which a B-tree does not store, so a unique index allows one current row per key."""
        index = self.table(TableName(name, table.schema))
        cols = self.cols(columns)
        if where:
            cols = ", ".join(f"CASE WHEN {where} THEN {self.quote(c)} END" for c in columns)
        kind = "UNIQUE INDEX" if unique else "INDEX"
        return f"CREATE {kind} {index} ON {self.table(table)} ({cols})"

    # ---- temp tables ------------------------------------------------------------------------------------
    def create_staging_sql(self, name: str, columns: Sequence[Column], keys: Sequence[str] = ()) -> str:
        """A private temporary table; ``keys``: the key columns, typed as in the target (a CLOB cannot be joined
        on, grouped or counted DISTINCT)."""
        defs = ", ".join(self._defs(columns, keys, (), check=False))
        return f"CREATE PRIVATE TEMPORARY TABLE {self.temp_name(name)} ({defs}) ON COMMIT DROP DEFINITION"

    def create_temp_as_sql(self, name: str, select_sql: str) -> str:
        """``select_sql`` must hold no bind variable (DDL: ORA-01027)."""
        return f"CREATE PRIVATE TEMPORARY TABLE {self.temp_name(name)} ON COMMIT DROP DEFINITION AS {select_sql}"

    def drop_temp_sql(self, name: str) -> str:
        return ""  # ON COMMIT DROP DEFINITION: gone when the chunk's transaction ends

    def create_temp_index_sql(self, name: str, column: str) -> str:
        return ""  # a private temporary table takes no index (callers skip "")

    def number_rows_sql(self, source: str, name: str, rn: str, ok: str) -> list[str]:
        """Numbered copy under ``name``, then back under ``source`` (a private temporary table cannot be renamed):
        ROWNUM numbers the rows 1..n (ROW_NUMBER() needs an ORDER BY in Oracle)."""
        numbered = f"SELECT s.*, ROWNUM AS {self.quote(rn)}, 1 AS {self.quote(ok)} FROM {self.temp_name(source)} s"
        return [
            self.create_temp_as_sql(name, numbered),
            f"DROP TABLE {self.temp_name(source)}",
            self.create_temp_as_sql(source, f"SELECT * FROM {self.temp_name(name)}"),
            f"DROP TABLE {self.temp_name(name)}",
        ]

    def analyze_sql(self, name: str, columns: Sequence[str] = ()) -> str:
        """ "": temp tables have no statistics to gather; Oracle samples them when it plans (dynamic sampling)."""
        return ""

    def staged_slice_predicate(self, stage: str, key: str, alias: str = "t") -> str:
        """The target rows between the smallest and largest staged key, without bind variables (the delta is a
        CREATE ... AS SELECT, DDL: no binds, ORA-01027)."""
        k, s = self.quote(key), self.temp_name(stage)
        return f"{alias}.{k} BETWEEN (SELECT MIN(m.{k}) FROM {s} m) AND (SELECT MAX(m.{k}) FROM {s} m)"


def _reserved(name: str) -> bool:
    """A column of the mapper's own (``mapper_row_hash``...): users' columns never start with ``mapper_``."""
    return name.lower().startswith(RESERVED_PREFIX)


#: Kinds that become text or bytes in a key (they share the index's key length).
_SIZED_KINDS = frozenset({"text", "varchar", "char", "json", "other", "bytes"})
