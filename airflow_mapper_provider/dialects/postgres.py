"""PostgreSQL: COPY in and out (binary), hash buckets in SQL, EXPLAIN estimates, UPDATE ... FROM."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from airflow_mapper_provider.dialects.base import SRC, Dialect, UpdateSpec
from airflow_mapper_provider.dialects.capabilities import Capabilities
from airflow_mapper_provider.dialects.types import Column, ColumnType
from airflow_mapper_provider.identifiers import TableName

_KINDS = {
    "int2": "smallint",
    "int4": "int",
    "int8": "bigint",
    "numeric": "numeric",
    "float4": "real",
    "float8": "double",
    "text": "text",
    "varchar": "varchar",
    "bpchar": "char",
    "bool": "bool",
    "date": "date",
    "timestamp": "timestamp",
    "timestamptz": "timestamptz",
    "time": "time",
    "bytea": "bytes",
    "json": "json",
    "jsonb": "json",
    "uuid": "uuid",
    "interval": "interval",
}

#: Types whose values hash_record_extended can hash (everything with a hash opclass we expect in a row).
_HASHABLE = frozenset(_KINDS) - {"json"}
#: Types whose ``=`` is identity of the value: change detection compares them as they are. Every other type
#: (box compares areas, citext ignores case, json/point/xml have no ``=``, interval '1 day' = '24 hours',
#: arrays, enums, extension types) is compared by its text form.
_IDENTITY_EQ = frozenset(_KINDS) - {"json", "interval"}
_IDENTITY_KINDS = frozenset(_KINDS.values()) - {"json", "interval", "other"}

#: Types whose values are text: converting text to another type runs that type's input function, which refuses
#: what it cannot read exactly; only a length limit can still change a text value.
_TEXT_TYPES = frozenset({"text", "varchar", "bpchar", "name", "citext"})
#: (from, to) conversions that never change a value (no check needed).
_WIDENING = frozenset(
    {("int2", "int4"), ("int2", "int8"), ("int4", "int8"), ("int2", "float8"), ("int4", "float8"),
     ("float4", "float8"), ("date", "timestamp"), ("date", "timestamptz"), ("json", "jsonb"), ("jsonb", "json")}
)  # fmt: skip

_PG_TYPES = {
    "bool": "boolean",
    "double": "double precision",
    "bytes": "bytea",
    "json": "jsonb",
    "uuid": "uuid",
    "interval": "interval",
    "timestamptz": "timestamptz",
}


def _base(native: str) -> str:
    """The type's name without its modifier (``numeric(12,2)`` -> ``numeric``); arrays keep their ``[]``."""
    return re.sub(r"\(.*?\)", "", native).strip()


def column_type_from_display(display: str) -> ColumnType:
    """ColumnType from psycopg's ``Column.type_display`` (e.g. ``numeric(12,2)``, ``bpchar(2)``)."""
    match = re.match(r"^([a-z0-9_ ]+?)(?:\((\d+)(?:,(\d+))?\))?(\[\])?$", display)
    if not match:
        return ColumnType("other", display, PostgresDialect.name)
    base, a, b, array = match.groups()
    kind = "other" if array else _KINDS.get(base, "other")
    length = int(a) if a and kind in ("varchar", "char") else None
    precision = int(a) if a and kind == "numeric" else None
    scale = int(b) if b and kind == "numeric" else (0 if precision is not None else None)
    return ColumnType(kind, display, PostgresDialect.name, length, precision, scale)


#: Kinds whose declared fractional-seconds precision (another database's) the DDL keeps.
_FRACTIONAL_SECONDS = ("timestamp", "timestamptz")


class PostgresDialect(Dialect):
    """PostgreSQL 12+ through psycopg 3 (``%(name)s`` parameters)."""

    name = "postgres"
    caps = Capabilities(
        binary_copy=True,
        copy_rows=True,
        partial_index=True,
        update_from=True,
        merge=True,  # PostgreSQL 15+; the strategies use UPDATE ... FROM, which every supported version has
        tuple_compare=True,
        session_locks=True,
        hash_in_sql=True,
        converts_in_sql=True,
        enforces_types=True,
        max_identifier=63,
        folds_unquoted="lower",
    )
    byte_collation = '"C"'

    def __init__(self, type_exists: Callable[[str], bool] | None = None) -> None:
        #: Asks this database whether a type name exists (a session sets it); None: assume every type exists.
        self.type_exists = type_exists

    def type_ddl(self, ctype: ColumnType) -> str:
        """The source's own type where this database has it; a user-defined or extension type it lacks (an
        enum, citext, or an array of them, from another database) becomes text, holding the value's text form."""
        if ctype.dialect == self.name and ctype.native and self.type_exists is not None:
            base = _base(ctype.native).removesuffix("[]")
            if base not in _KINDS and not self.type_exists(ctype.native):
                return "text"
        return super().type_ddl(ctype)

    def param(self, name: str) -> str:
        return f"%({name})s"

    def embed(self, source_sql: str) -> str:
        # psycopg reads '%' as a placeholder marker whenever parameters are passed.
        return source_sql.replace("%", "%%") + "\n"

    def kind_ddl(self, ctype: ColumnType) -> str:
        if ctype.kind in _FRACTIONAL_SECONDS and ctype.precision is not None and 0 <= ctype.precision < 6:
            return f"{ctype.kind}({ctype.precision})"  # Oracle DATE: timestamp(0); 6 digits is the default
        if ctype.kind in _PG_TYPES:
            return _PG_TYPES[ctype.kind]
        return super().kind_ddl(ctype)

    # ---- conversion into an existing target's types ------------------------------------------------------

    def alter_column_type_sql(self, table: TableName, column: str, type_ddl: str) -> str:
        return f"ALTER TABLE {self.table(table)} ALTER COLUMN {self.quote(column)} TYPE {type_ddl}"

    def cast_sql(self, expr: str, src: ColumnType, dst: ColumnType) -> str:
        """Naive timestamps are UTC instants: timestamp <-> timestamptz convert at UTC, whatever the session's
        TimeZone; every other pair by an explicit CAST."""
        pair = (_base(src.native), _base(dst.native))
        if pair in (("timestamp", "timestamptz"), ("timestamptz", "timestamp")):
            expr = f"({expr} AT TIME ZONE 'UTC')"
            if "(" not in dst.native:
                return expr
        return f"CAST({expr} AS {dst.native})"

    def lossy_sql(self, expr: str, src: ColumnType, dst: ColumnType) -> str | None:
        sb, db = _base(src.native), _base(dst.native)
        if (sb, db) in _WIDENING or ((sb, db) == ("numeric", "numeric") and "(" not in dst.native):
            return None
        if sb in _TEXT_TYPES:
            if db in _TEXT_TYPES:  # text to text: only a length limit (an explicit CAST would truncate)
                limit = re.search(r"\((\d+)\)", dst.native)
                return f"char_length({expr}) > {int(limit.group(1))}" if limit else None
            # the target type's input function reads the text or raises; it never guesses
            return f"(CAST({expr} AS {dst.native}) IS NULL AND {expr} IS NOT NULL)"
        back = self.cast_sql(self.cast_sql(expr, src, dst), dst, src)
        return self.column_differs(back, expr, Column("value", src))

    # ---- planning ---------------------------------------------------------------------------------------
    def explain_sql(self, source_sql: str, where: str = "") -> str:
        """EXPLAIN of the (windowed) query; run with client-side binding (EXPLAIN takes no server parameters)."""
        if not where:
            return f"EXPLAIN (FORMAT JSON) {self.embed(source_sql)}"
        return f"EXPLAIN (FORMAT JSON) SELECT * FROM ({self.embed(source_sql)}) {SRC} WHERE {where}"

    def sample_predicate(self, param: str) -> str | None:
        # Bernoulli sample of the query's rows (random() is parallel restricted; the sample is tiny anyway)
        return f"random() < {self.param(param)}"

    def primary_key_sql(self) -> str:
        """Is the primary key of table %(t)s exactly the sorted column names %(k)s?"""
        return (
            "SELECT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = to_regclass(%(t)s) AND i.indisprimary "
            "AND (SELECT array_agg(a.attname::text ORDER BY a.attname::text) FROM pg_attribute a "
            "WHERE a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)) = %(k)s::text[])"
        )

    def describe_sql(self, source_sql: str) -> str:
        return f"SELECT * FROM ({self.embed(source_sql)}) {SRC} LIMIT 0"

    # ---- chunks -----------------------------------------------------------------------------------------
    def hash_bucket(self, keys: Sequence[str], alias: str, buckets: int) -> str:
        # the types' own hash functions over the binary values (PostgreSQL 14+): session-independent, unlike a
        # hash of the text form (timestamptz, numeric, floats and dates print per TimeZone/DateStyle/extra digits)
        row = f"ROW({self.cols(keys, alias)})"
        return f"mod(hash_record_extended({row}, 0) & 9223372036854775807, {int(buckets)})"

    def can_hash(self, columns: Sequence[Column]) -> bool:
        """Every key column has a type hash_record_extended can hash."""
        return all(c.type.dialect == self.name and c.type.native.split("(")[0] in _HASHABLE for c in columns)

    def copy_out_sql(self, select_sql: str) -> str:
        return f"COPY ({select_sql}) TO STDOUT (FORMAT BINARY)"

    def copy_in_sql(self, table: str, columns: Sequence[str], binary: bool = True) -> str:
        fmt = " (FORMAT BINARY)" if binary else ""
        return f"COPY {table} ({self.cols(columns)}) FROM STDIN{fmt}"

    # ---- DDL / staging ----------------------------------------------------------------------------------
    def create_staging_sql(self, name: str, columns: Sequence[Column], keys: Sequence[str] = ()) -> str:
        defs = ", ".join(self.column_defs(columns))
        return f"CREATE TEMPORARY TABLE {self.temp_name(name)} ({defs}) ON COMMIT DROP"

    def create_temp_as_sql(self, name: str, select_sql: str) -> str:
        return f"CREATE TEMPORARY TABLE {self.temp_name(name)} ON COMMIT DROP AS {select_sql}"

    def ddl_lock_sql(self) -> str:
        # CREATE ... IF NOT EXISTS is not safe against a concurrent CREATE of the same name
        return "SELECT pg_advisory_xact_lock(hashtext('airflow_mapper_provider.ddl'))"

    def mapref_lock_sql(self, lock_table: TableName | None = None) -> str:
        return "SELECT pg_advisory_xact_lock(hashtext('airflow_mapper_provider.run:' || %(mapref)s))"

    def alive_lock_sql(self) -> str:
        return "SELECT pg_advisory_lock_shared(hashtextextended(%(alive)s, 0))"

    def alive_probe_sql(self) -> str:
        return "SELECT pg_try_advisory_lock(hashtextextended(%(alive)s, 0))"

    def alive_release_sql(self) -> str:
        return "SELECT pg_advisory_unlock(hashtextextended(%(alive)s, 0))"

    def for_update(self) -> str:
        return " FOR UPDATE"

    def for_update_nowait(self) -> str:
        return " FOR UPDATE NOWAIT"

    def for_share(self) -> str:
        return " FOR SHARE"

    def drop_temp_sql(self, name: str) -> str:
        return ""  # ON COMMIT DROP

    def table_rows_sql(self) -> str | None:
        # reltuples is -1 until the first ANALYZE; the statistics collector's live-row count fills the gap
        return (
            "SELECT GREATEST(c.reltuples, s.n_live_tup)::bigint FROM pg_class c "
            f"LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid WHERE c.oid = to_regclass({self.param('t')})"
        )

    def prefer_index_joins_sql(self) -> list[str]:
        return ["SET LOCAL enable_hashjoin = off", "SET LOCAL enable_mergejoin = off"]

    def analyze_sql(self, name: str, columns: Sequence[str] = ()) -> str:
        # the compare join needs the row count and the key's statistics only (the other columns cost ~6x more)
        cols = f" ({self.cols(columns)})" if columns else ""
        return f"ANALYZE {self.temp_name(name)}{cols}"

    # ---- apply ------------------------------------------------------------------------------------------
    def differs(self, a: str, b: str) -> str:
        return f"{a} IS DISTINCT FROM {b}"

    def column_differs(self, a: str, b: str, column: Column) -> str:
        ctype = column.type
        native = ctype.native.split("(")[0] if ctype.dialect == self.name else ""
        if native in _IDENTITY_EQ or (not native and ctype.kind in _IDENTITY_KINDS):
            return self.differs(a, b)
        return self.differs(f"{a}::text", f"{b}::text")

    def update_from_sql(self, target: TableName, source: str, upd: UpdateSpec) -> str:
        assigns = ", ".join(f"{self.quote(col)} = {expr}" for col, expr in upd.sets)
        cond = f"{self.key_join(upd.keys, 't', 'd')} AND {upd.delta_where}"
        if upd.target_flag:
            cond += f" AND t.{self.quote(upd.target_flag)}"
        return f"UPDATE {self.table(target)} t SET {assigns} FROM {self.temp_name(source)} d WHERE {cond}"

    def scd2_versions_select(self, select_sql: str, values: Sequence[Column], eff_param: str) -> str:
        """The rows of ``select_sql`` as new current scd2 versions, for a binary COPY straight into the target:
        valid_from = the bound effective time, valid_to NULL, is_current true, the row hash computed here."""
        row_hash = self.row_hash_expr(values, "v")
        return (
            f"SELECT v.*, {self.param(eff_param)}::timestamptz AS valid_from, NULL::timestamptz AS valid_to, "
            f"true AS is_current, ({row_hash})::text AS row_hash FROM ({select_sql}) v"
        )

    def row_hash_expr(self, columns: Sequence[Column], alias: str) -> str | None:
        if not columns:
            return "'0'"
        row = f"ROW({self.cols([c.name for c in columns], alias)})"
        if all(c.type.dialect == self.name and c.type.native.split("(")[0] in _HASHABLE for c in columns):
            return f"hash_record_extended({row}, 0)::text"
        return f"md5({row}::text)"

    # ---- progress ---------------------------------------------------------------------------------------
    def copy_progress_sql(self) -> str | None:
        # PostgreSQL 14+; a role sees the progress of its own backends (and all with pg_read_all_stats)
        return f"SELECT tuples_processed FROM pg_stat_progress_copy WHERE pid = {self.param('pid')}"
