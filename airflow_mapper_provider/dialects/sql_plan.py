"""The portable SQL vocabulary, part two: planning (estimates, bounds, samples) and the chunk predicates."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_mapper_provider.dialects.sql_core import SRC, CoreSql, Params, _where
from airflow_mapper_provider.dialects.types import TEXT_KINDS, Column
from airflow_mapper_provider.exceptions import UnsupportedError
from airflow_mapper_provider.identifiers import TableName
from airflow_mapper_provider.models import ChunkSpec, decode_value


class PlanSql(CoreSql):
    """What plan and a chunk's read ask of the source: counts, maxima, quantiles, hash buckets, chunk filters."""

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
