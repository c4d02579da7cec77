"""The portable SQL vocabulary every dialect shares; dialect modules override what their database does better.

This is one of the two places SQL text is built (with the dialect modules beside it). Identifiers always pass
:meth:`Dialect.quote` (validate, then quote); values are always bind parameters, spelled by :meth:`Dialect.param`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from airflow_mapper_provider.dialects.capabilities import Capabilities
from airflow_mapper_provider.dialects.types import TEXT_KINDS, Column, ColumnType
from airflow_mapper_provider.exceptions import UnsupportedError
from airflow_mapper_provider.identifiers import TableName, derived_name, fit_identifier, validate_identifier
from airflow_mapper_provider.models import ChunkSpec, decode_value

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


class Dialect:
    """Portable (ANSI-leaning) SQL. Subclasses set ``name`` and override the pieces their database differs on."""

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

    # ---- planning ---------------------------------------------------------------------------------------
    def describe_sql(self, source_sql: str) -> str:
        return f"SELECT * FROM ({self.embed(source_sql)}) {SRC} WHERE 1 = 0"

    def sample_sql(self, source_sql: str) -> str:
        """The first ``:n`` rows of the query (to infer types where the driver reports none)."""
        return f"SELECT * FROM ({self.embed(source_sql)}) {SRC} LIMIT {self.param('n')}"

    def count_sql(self, source_sql: str, where: str = "") -> str:
        return f"SELECT COUNT(*) FROM ({self.embed(source_sql)}) {SRC}{_where(where)}"

    def max_sql(self, source_sql: str, column: str, where: str = "", kind: str = "") -> str:
        """The largest value of ``column`` in the query (the KEY checkpoint window's frozen upper bound)."""
        col = self.ordered(f"{SRC}.{self.quote(column)}", kind)
        return f"SELECT MAX({col}) FROM ({self.embed(source_sql)}) {SRC}{_where(where)}"

    def quantile_sql(self, source_sql: str, key: str, where: str = "", sampled: bool = False, kind: str = "") -> str:
        """Every ``step``-th key in key order (the first excluded): the lower bounds of chunks 2..n, in the order
        the chunks' predicates compare them (:meth:`ordered`; the caller keeps this order, never re-sorts).

        ``sampled``: rank only a random sample of the keys (each kept with probability ``:fraction``); only
        where :meth:`sample_predicate` is not None.
        """
        k = f"{SRC}.{self.quote(key)}"
        cond = f"{k} IS NOT NULL" + (f" AND {where}" if where else "")
        if sampled:
            cond += f" AND {self.sample_predicate('fraction')}"
        ranked = (
            f"SELECT {k} AS mapper_k, ROW_NUMBER() OVER (ORDER BY {self.ordered(k, kind)}) AS mapper_rn "
            f"FROM ({self.embed(source_sql)}) {SRC} WHERE {cond}"
        )
        return (
            f"SELECT mapper_k FROM ({ranked}) mapper_q "
            f"WHERE {self.mod('mapper_rn - 1', self.param('step'))} = 0 AND mapper_rn > 1 ORDER BY mapper_rn"
        )

    def sample_predicate(self, param: str) -> str | None:
        """Condition keeping each row with probability ``:param`` (None: this database cannot sample in SQL)."""
        return None

    def window_predicate(
        self, window: dict[str, Any] | None, alias: str, open_upper: bool = False, prefix: str = ""
    ) -> tuple[str, Params]:
        """``lower < column <= upper`` of a KEY checkpoint window on the source ("" without a window).

        A frozen window without an upper bound is empty (nothing was above the checkpoint at plan time), unless
        ``open_upper`` (plan, while it looks for the upper bound). ``window["nulls"]``: rows whose column is NULL
        belong to every window (scd loads re-read them every run; they cannot be placed in a window). Text
        columns compare in byte order (:meth:`ordered`), as everywhere a bound is compared.
        """
        if not window:
            return "", {}
        raw = f"{alias}.{self.quote(window['column'])}"
        col = self.ordered(raw, window.get("kind", ""))
        parts, params = [], {}
        if window.get("lower") is not None:
            parts.append(f"{col} > {self.param(prefix + 'cp_lo')}")
            params[prefix + "cp_lo"] = decode_value(window["lower"])
        if window.get("upper") is not None:
            parts.append(f"{col} <= {self.param(prefix + 'cp_hi')}")
            params[prefix + "cp_hi"] = decode_value(window["upper"])
        elif window.get("lower") is not None and not open_upper:
            parts.append("1 = 0")  # nothing above the stored checkpoint at plan time: an empty window
        cond = " AND ".join(parts)
        if cond and window.get("nulls") and not open_upper:
            cond = f"({cond} OR {raw} IS NULL)"
        return cond, params

    def ordered(self, expr: str, kind: str) -> str:
        """``expr`` in the one order every bound is compared in: text kinds in byte (code point) order, whatever
        the database's or the column's collation; other kinds as they are."""
        if kind not in TEXT_KINDS:
            return expr
        if self.byte_collation is None:
            raise UnsupportedError(
                f"the {self.name} dialect knows no byte-order collation: text keys cannot be range-chunked here"
            )
        return f"{expr} COLLATE {self.byte_collation}"

    def nulls_sql(self, source_sql: str, column: str, where: str = "") -> str:
        """One row if ``column`` is NULL in some row of the query (restricted by ``where``), else none."""
        cond = f"{SRC}.{self.quote(column)} IS NULL" + (f" AND {where}" if where else "")
        return f"SELECT 1 FROM ({self.embed(source_sql)}) {SRC} WHERE {cond}{self.limit_one()}"

    def bounded_count_sql(self, source_sql: str, where: str = "") -> str:
        """The query's rows, counted up to ``:n`` (a cheap check of a low estimate)."""
        inner = f"SELECT 1 AS mapper_one FROM ({self.embed(source_sql)}) {SRC}{_where(where)} LIMIT {self.param('n')}"
        return f"SELECT COUNT(*) FROM ({inner}) mapper_c"

    def mod(self, a: str, b: str) -> str:
        return f"MOD({a}, {b})"

    # ---- chunks -----------------------------------------------------------------------------------------
    def hash_bucket(self, keys: Sequence[str], alias: str, buckets: int) -> str:
        """SQL expression: the key's hash bucket in ``0..buckets-1`` (only when ``hash_in_sql``)."""
        raise NotImplementedError(f"the {self.name} dialect computes hash buckets in Python")

    def can_hash(self, columns: Sequence[Column]) -> bool:
        """:meth:`hash_bucket` can hash keys of these columns."""
        return self.caps.hash_in_sql

    def chunk_predicate(self, spec: ChunkSpec, alias: str, prefix: str = "") -> tuple[str, Params]:
        """WHERE condition selecting the chunk's keys on the source (alias ``alias``; "" for no condition).

        Evaluated on the source only, never on the target: a text key compares in byte order
        (:meth:`ordered`), the order the plan froze the bounds in.
        """
        if spec.kind == "range":
            k = self.ordered(f"{alias}.{self.quote(spec.key_columns[0])}", spec.key_kind)
            parts, params = [], {}
            if spec.lower is not None:
                parts.append(f"{k} >= {self.param(prefix + 'lo')}")
                params[prefix + "lo"] = decode_value(spec.lower)
            if spec.upper is not None:
                upper = f"{k} < {self.param(prefix + 'hi')}"
                parts.append(upper if spec.lower is not None else f"({upper} OR {k} IS NULL)")
                params[prefix + "hi"] = decode_value(spec.upper)
            return " AND ".join(parts), params
        if spec.kind == "hash" and not self.filters_in_python(spec):
            bucket = self.hash_bucket(spec.key_columns, alias, spec.buckets)
            return f"{bucket} = {self.param(prefix + 'bucket')}", {prefix + "bucket": spec.bucket}
        return "", {}

    def filters_in_python(self, spec: ChunkSpec) -> bool:
        """The chunk's rows must be picked in Python (hash chunk on a database without SQL hashing)."""
        return spec.kind == "hash" and (spec.py_hash or not self.caps.hash_in_sql)

    def chunk_select(self, source_sql: str, columns: Sequence[str], spec: ChunkSpec) -> tuple[str, Params]:
        """The query that reads exactly the chunk's rows (window, key range or bucket, keyset), less the regions
        committed by unfinished earlier runs."""
        window, wparams = self.window_predicate(spec.window, SRC)
        keys, kparams = self.chunk_predicate(spec, SRC)
        skip, sparams = self.exclusion(spec.exclude, SRC)
        after, aparams, tail = self._keyset(spec.keyset)
        where = " AND ".join(p for p in (window, keys, skip, after) if p)
        sql = f"SELECT {self.cols(columns, SRC)} FROM ({self.embed(source_sql)}) {SRC}{_where(where)}{tail}"
        return sql, {**wparams, **kparams, **sparams, **aparams}

    def exclusion(self, regions: Sequence[dict[str, Any]], alias: str) -> tuple[str, Params]:
        """Rows outside every region (NULL-safe: a row a region's condition cannot decide is kept)."""
        parts, params = [], {}
        for i, region in enumerate(regions):
            spec = ChunkSpec.from_dict(region)
            if self.filters_in_python(spec):
                raise UnsupportedError(
                    f"the {self.name} dialect cannot select hash bucket regions in SQL: resume the unfinished run "
                    "by clearing its tasks instead of starting a new one"
                )
            window, wparams = self.window_predicate(spec.window, alias, prefix=f"x{i}_")
            keys, kparams = self.chunk_predicate(spec, alias, prefix=f"x{i}_")
            inside = " AND ".join(p for p in (window, keys) if p) or "1 = 1"
            parts.append(f"(CASE WHEN {inside} THEN 1 ELSE 0 END) = 0")
            params.update({**wparams, **kparams})
        return " AND ".join(parts), params

    def _keyset(self, keyset: dict[str, Any] | None) -> tuple[str, Params, str]:
        """PYTHON checkpoints: rows after the last key processed, in key order (or past an offset)."""
        if not keyset:
            return "", {}, ""
        order = list(keyset.get("order") or ())
        if not order:
            return "", {"offset": int(keyset.get("offset") or 0)}, self.offset_sql("offset")
        cols = self.cols(order, SRC)
        tail = f" ORDER BY {cols}"
        after = keyset.get("after")
        if not after:
            return "", {}, tail
        params = {f"ks{i}": decode_value(v) for i, v in enumerate(after)}
        marks = ", ".join(self.param(f"ks{i}") for i in range(len(after)))
        cond = f"({cols}) > ({marks})" if len(order) > 1 else f"{cols} > {marks}"
        return cond, params, tail

    def offset_sql(self, param: str) -> str:
        return f" OFFSET {self.param(param)}"

    def staged_max_sql(self, stage: str, column: str, kind: str = "") -> str:
        return f"SELECT MAX({self.ordered(self.quote(column), kind)}) FROM {self.temp_name(stage)}"

    def staged_range_sql(self, stage: str, key: str) -> str:
        """Smallest and largest staged key (non-text keys: their order is the same on every database)."""
        k = self.quote(key)
        return f"SELECT MIN({k}), MAX({k}) FROM {self.temp_name(stage)}"

    def staged_last_sql(self, stage: str, order: Sequence[str]) -> str:
        """The order key of the last staged row (PYTHON checkpoints)."""
        desc = ", ".join(f"{self.quote(c)} DESC" for c in order)
        return f"SELECT {self.cols(order)} FROM {self.temp_name(stage)} ORDER BY {desc}{self.limit_one()}"

    def newer_versions_sql(self, table: TableName) -> str:
        """Any scd2 version of ``table`` with valid_from after ``:eff``? (one row or none)"""
        newer = f"t.{self.quote('valid_from')} > {self.param('eff')}"
        return f"SELECT 1 FROM {self.table(table)} t WHERE {newer}{self.limit_one()}"

    def probe_sql(self, table: TableName, where: str) -> str:
        """One row of the target (alias ``t``) where ``where`` holds, or none: is the chunk's slice empty?"""
        cond = f" WHERE {where}" if where else ""
        return f"SELECT 1 FROM {self.table(table)} t{cond}{self.limit_one()}"

    def limit_one(self) -> str:
        return " LIMIT 1"

    # ---- DDL --------------------------------------------------------------------------------------------
    def column_defs(self, columns: Sequence[Column], not_null: Sequence[str] = ()) -> list[str]:
        return [
            f"{self.quote(c.name)} {self.type_ddl(c.type)}{' NOT NULL' if c.name in not_null else ''}" for c in columns
        ]

    def create_table_sql(
        self, table: TableName, columns: Sequence[Column], primary_key: Sequence[str] = (), keys: Sequence[str] = ()
    ) -> str:
        """``keys``: columns that will be indexed or joined on (a dialect whose text type cannot be indexed, such
        as Oracle's CLOB, gives them an indexable type); the primary key counts as such too."""
        defs = self.column_defs(columns, primary_key)
        if primary_key:
            defs.append(f"PRIMARY KEY ({self.cols(primary_key)})")
        return f"CREATE TABLE {self.table(table)} (\n  " + ",\n  ".join(defs) + "\n)"

    def create_index_sql(
        self, table: TableName, name: str, columns: Sequence[str], unique: bool = False, where: str = ""
    ) -> str:
        index = self.quote(name)  # an index lives in its table's schema
        cond = f" WHERE {where}" if where else ""
        kind = "UNIQUE INDEX" if unique else "INDEX"
        return f"CREATE {kind} {index} ON {self.table(table)} ({self.cols(columns)}){cond}"

    def typed_null(self, ctype: ColumnType) -> str:
        """A NULL of type ``ctype`` (``CREATE TABLE ... AS SELECT`` takes the column's type from it)."""
        return f"CAST(NULL AS {self.type_ddl(ctype)})"

    def add_column_sql(self, table: TableName, column: Column) -> str:
        return f"ALTER TABLE {self.table(table)} ADD COLUMN {self.quote(column.name)} {self.type_ddl(column.type)}"

    def alter_column_type_sql(self, table: TableName, column: str, type_ddl: str) -> str:
        """Change a column's declared type (only where :attr:`enforces_types`)."""
        raise UnsupportedError(f"the {self.name} dialect does not change column types")

    def create_schema_sql(self, schema: str) -> str:
        return f"CREATE SCHEMA IF NOT EXISTS {self.quote(schema)}"

    def create_staging_sql(self, name: str, columns: Sequence[Column], keys: Sequence[str] = ()) -> str:
        """A temp table for staged rows; ``keys`` as in :meth:`create_table_sql`."""
        defs = ", ".join(self.column_defs(columns))
        return f"CREATE TEMPORARY TABLE {self.temp_name(name)} ({defs})"

    def create_temp_as_sql(self, name: str, select_sql: str) -> str:
        return f"CREATE TEMPORARY TABLE {self.temp_name(name)} AS {select_sql}"

    def drop_temp_sql(self, name: str) -> str:
        """Drop a temp table left by an earlier chunk on this connection ("" where temp tables drop on commit)."""
        return f"DROP TABLE IF EXISTS {self.temp_name(name)}"

    def create_temp_index_sql(self, name: str, column: str) -> str:
        """An index on ``column`` of temp table ``name``, named ``<name>_<column>`` (shortened with a digest where
        that passes the identifier limit: a 63-character column)."""
        index = self.quote(derived_name(name, column))
        return f"CREATE INDEX {index} ON {self.temp_name(name)} ({self.quote(column)})"

    def number_rows_sql(self, source: str, name: str, rn: str, ok: str) -> list[str]:
        """Replace temp table ``source`` by a copy whose rows are numbered 1..n (``rn``) and flagged ``ok`` = 1."""
        numbered = f"ROW_NUMBER() OVER () AS {self.quote(rn)}, 1 AS {self.quote(ok)}"
        select = f"SELECT s.*, {numbered} FROM {self.temp_name(source)} s"
        return [
            self.create_temp_as_sql(name, select),
            f"DROP TABLE {self.temp_name(source)}",
            f"ALTER TABLE {self.temp_name(name)} RENAME TO {self.quote(source)}",
            self.create_temp_index_sql(source, rn),
        ]

    def table_rows_sql(self) -> str | None:
        """The planner's row estimate of table ``:t`` (a catalog lookup, no scan); None where unknown."""
        return None

    def prefer_index_joins_sql(self) -> list[str]:
        """Settings, for the rest of the transaction, that make a small delta probe the target's key index
        instead of scanning the whole target."""
        return []

    def savepoint_sql(self, verb: str, name: str) -> str:
        """``SAVEPOINT``, ``RELEASE SAVEPOINT`` or ``ROLLBACK TO SAVEPOINT`` (``verb``: set/release/rollback)."""
        prefix = {"set": "SAVEPOINT", "release": "RELEASE SAVEPOINT", "rollback": "ROLLBACK TO SAVEPOINT"}[verb]
        return f"{prefix} {self.quote(fit_identifier(name))}"

    # ---- apply building blocks -------------------------------------------------------------------------
    def differs(self, a: str, b: str) -> str:
        """Null-safe 'a and b differ'."""
        return f"({a} <> {b} OR ({a} IS NULL AND {b} IS NOT NULL) OR ({a} IS NOT NULL AND {b} IS NULL))"

    def column_differs(self, a: str, b: str, column: Column) -> str:
        """Null-safe 'the values of ``column`` differ' for change detection, by identity of the value (where a
        type's ``=`` is not identity, a dialect compares a canonical form)."""
        return self.differs(a, b)

    def key_join(self, keys: Sequence[str], left: str, right: str) -> str:
        return " AND ".join(f"{left}.{self.quote(k)} = {right}.{self.quote(k)}" for k in keys)

    def update_from_sql(self, target: TableName, source: str, upd: UpdateSpec) -> str:
        """UPDATE target rows matched by key in ``source`` (alias ``d``) where ``upd.delta_where`` holds.

        Portable form: correlated subqueries (works on every SQL database).
        """
        t = self.table(target)
        match = self.key_join(upd.keys, "d", t)
        src = self.temp_name(source)
        assigns = ", ".join(
            f"{self.quote(col)} = (SELECT {expr} FROM {src} d WHERE {match})"
            if expr.startswith("d.")
            else f"{self.quote(col)} = {expr}"
            for col, expr in upd.sets
        )
        cond = f"EXISTS (SELECT 1 FROM {src} d WHERE {match} AND {upd.delta_where})"
        if upd.target_flag:
            cond += f" AND {t}.{self.quote(upd.target_flag)} = {self.true_sql}"
        return f"UPDATE {t} SET {assigns} WHERE {cond}"

    def analyze_sql(self, name: str, columns: Sequence[str] = ()) -> str:
        """Refresh planner statistics of a temp table, of ``columns`` only if given ("" where the database needs
        nothing)."""
        return ""

    def row_hash_expr(self, columns: Sequence[Column], alias: str) -> str | None:
        """SQL for the scd2 row hash over ``columns``; None when the hash is computed in Python at staging."""
        return None

    # ---- binary COPY (only where ``caps.binary_copy``) --------------------------------------------------
    def copy_out_sql(self, select_sql: str) -> str:
        """``select_sql``'s rows as a binary COPY to the client."""
        raise UnsupportedError(f"the {self.name} dialect has no binary COPY")

    def copy_in_sql(self, table: str, columns: Sequence[str], binary: bool = True) -> str:
        """A COPY of rows from the client into the already quoted ``table``."""
        raise UnsupportedError(f"the {self.name} dialect has no COPY")

    def scd2_versions_select(self, select_sql: str, values: Sequence[Column], eff_param: str) -> str:
        """The rows of ``select_sql`` as new current scd2 versions (for a COPY straight into the target)."""
        raise UnsupportedError(f"the {self.name} dialect computes no scd2 versions in the source")

    # ---- progress (written on a separate autocommit connection, never in a chunk's transaction) ----------
    def upsert_sql(self, table: TableName, names: Sequence[str], key: Sequence[str]) -> str | None:
        """Insert one row or update the row with its ``key`` (PostgreSQL 9.5+, SQLite 3.24+: ``ON CONFLICT``);
        None where the database has no such statement (the caller then deletes and inserts)."""
        values = ", ".join(self.param(n) for n in names)
        sets = ", ".join(f"{self.quote(n)} = excluded.{self.quote(n)}" for n in names if n not in key)
        return (
            f"INSERT INTO {self.table(table)} ({self.cols(names)}) VALUES ({values}) "
            f"ON CONFLICT ({self.cols(key)}) DO UPDATE SET {sets}"
        )

    def copy_progress_sql(self) -> str | None:
        """Rows a COPY running in backend ``:pid`` has processed so far (None: the database cannot tell)."""
        return None

    def progress_view_sql(self, view: TableName, joblog: TableName, chunklog: TableName, live: TableName) -> str:
        """``mapper_progress``: per run, chunks done / running / failed of the planned ones, rows so far (rows read
        by committed chunks plus rows read by running ones) against the plan's estimate, the reading rate of the
        running chunks and the ETA at that rate. A chunk's state is its ledger row's, unless its live row shows a
        later attempt running. Running counts, rate and ETA only while the job log says 'running'. The column
        names are the mapper tables' own; only the table names vary."""
        j, c, p = self.table(joblog), self.table(chunklog), self.table(live)
        on = "{a}.mapref = u.mapref AND {a}.run_id = u.run_id AND {a}.chunk_index = u.chunk_index"
        chunks = (
            "SELECT u.mapref, u.run_id, u.chunk_index, "
            "CASE WHEN c.status = 'success' THEN 'success' "
            "WHEN p.status = 'running' AND (c.status IS NULL OR p.attempt > c.attempt) THEN 'running' "
            "ELSE COALESCE(c.status, p.status) END AS state, "
            "CASE WHEN c.status = 'success' THEN c.rows_read ELSE p.rows_read END AS rows_read, "
            "p.rows_per_s, p.updated_at "
            f"FROM (SELECT mapref, run_id, chunk_index FROM {c} UNION SELECT mapref, run_id, chunk_index FROM {p}) u "
            f"LEFT JOIN {c} c ON {on.format(a='c')} LEFT JOIN {p} p ON {on.format(a='p')}"
        )
        runs = (
            "SELECT k.mapref, k.run_id, "
            "SUM(CASE WHEN k.state = 'success' THEN 1 ELSE 0 END) AS chunks_done, "
            "SUM(CASE WHEN k.state = 'running' THEN 1 ELSE 0 END) AS chunks_running, "
            "SUM(CASE WHEN k.state IN ('failed', 'stopped') THEN 1 ELSE 0 END) AS chunks_failed, "
            "SUM(CASE WHEN k.state = 'success' THEN k.rows_read ELSE 0 END) AS rows_done, "
            "SUM(CASE WHEN k.state = 'running' THEN k.rows_read ELSE 0 END) AS rows_running, "
            "SUM(CASE WHEN k.state = 'running' THEN k.rows_per_s END) AS rows_per_s, "
            f"MAX(k.updated_at) AS progress_at FROM ({chunks}) k GROUP BY k.mapref, k.run_id"
        )
        live_ = "j.status = 'running'"
        so_far = f"COALESCE(s.rows_done, 0) + CASE WHEN {live_} THEN COALESCE(s.rows_running, 0) ELSE 0 END"
        return (
            f"CREATE VIEW {self.table(view)} AS SELECT j.mapref, j.run_id, j.status, j.load_strategy, "
            "j.target_table, j.chunks_planned, COALESCE(s.chunks_done, 0) AS chunks_done, "
            f"CASE WHEN {live_} THEN COALESCE(s.chunks_running, 0) ELSE 0 END AS chunks_running, "
            f"COALESCE(s.chunks_failed, 0) AS chunks_failed, {so_far} AS rows_so_far, j.rows_estimated, "
            f"CASE WHEN {live_} THEN s.rows_per_s END AS rows_per_s, "
            f"CASE WHEN {live_} AND s.rows_per_s > 0 AND j.rows_estimated > {so_far} "
            f"THEN (j.rows_estimated - ({so_far})) / s.rows_per_s END AS eta_seconds, "
            f"j.started_at, s.progress_at, j.finished_at FROM {j} j LEFT JOIN ({runs}) s "
            "ON s.mapref = j.mapref AND s.run_id = j.run_id"
        )


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
