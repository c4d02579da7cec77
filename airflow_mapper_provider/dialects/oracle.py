"""Oracle Database 19c+ (23ai included): ``:name`` binds, upper-case folding, private temporary tables, MERGE.

README "Oracle SQL". The choices, each explained where it is made:

- **Names**: the mapper's canonical name is the user's; a plain lower-case identifier was unquoted and is
  Oracle's upper-case name (``customer_id`` -> ``"CUSTOMER_ID"``), any other keeps its case (``"CustomerId"``).
- **Temp tables**: private temporary tables (18c+, ``ORA$PTT_`` names, ``ON COMMIT DROP DEFINITION``). Their
  creation does not commit, and they vanish when the chunk's one transaction ends; a global temporary table
  would need permanent DDL per column layout (each an implicit commit) before the chunk. They take no index and
  no constraint, and no bind variable in ``CREATE ... AS SELECT`` (ORA-01027: DDL).
- **Booleans**: ``NUMBER(1)`` with ``CHECK (c IN (0, 1))``; TRUE/FALSE are ``1``/``0``.
- **Writes**: ``update_from_sql`` and ``upsert_sql`` are ``MERGE``; one current row per key is a unique
  function-based index (Oracle has no partial index).
- **Hashing**: ``ORA_HASH`` for chunk buckets, ``STANDARD_HASH(..., 'MD5')`` for the scd2 row hash.
- **Chunks**: ``ROWID BETWEEN`` ranges (kind ``rowid``) besides key ranges and hash buckets.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_mapper_provider.dialects import oracle_exprs
from airflow_mapper_provider.dialects.base import SRC, Params, UpdateSpec
from airflow_mapper_provider.dialects.capabilities import Capabilities
from airflow_mapper_provider.dialects.oracle_ddl import OracleDdl
from airflow_mapper_provider.dialects.oracle_exprs import family
from airflow_mapper_provider.dialects.oracle_types import to_oracle_name
from airflow_mapper_provider.dialects.types import Column
from airflow_mapper_provider.exceptions import UnsupportedError
from airflow_mapper_provider.identifiers import TableName, fit_identifier, validate_identifier
from airflow_mapper_provider.models import ChunkSpec, decode_value

if TYPE_CHECKING:
    from airflow_mapper_provider.strategies.base import ApplyContext, Check, Step

#: The staging table's base name (as strategies.base.STAGE; not imported: strategies import the dialects).
STAGE = "mapper_stage"


class OracleDialect(OracleDdl):
    """Oracle Database 19c and later through python-oracledb (``:name`` binds)."""

    name = "oracle"
    caps = Capabilities(
        array_dml_errors=True,
        merge=True,
        release_savepoint=False,
        # Oracle compares expression lists with = and IN only: (a, b) > (:x, :y) is ORA-00920
        tuple_compare=False,
        temp_tables="private",
        transactional_ddl=False,
        session_locks=False,
        hash_in_sql=True,
        converts_in_sql=False,
        enforces_types=True,
        max_identifier=128,
        folds_unquoted="upper",
        empty_string_is_null=True,
    )
    #: Not a COLLATE clause: Oracle compares VARCHAR2/CHAR in binary (AL32UTF8: code point) order while the
    #: session's NLS_COMP is BINARY, which the Oracle session sets (see :meth:`ordered`).
    byte_collation = "BINARY"
    true_sql = "1"
    false_sql = "0"

    # ---- names and values -------------------------------------------------------------------------------
    def quote(self, ident: str) -> str:
        """``customer_id`` -> ``"CUSTOMER_ID"`` (Oracle's name of an unquoted identifier); other names keep
        their case (``"CustomerId"``)."""
        return '"' + to_oracle_name(validate_identifier(ident, "identifier", self.caps.max_identifier)) + '"'

    def embed(self, source_sql: str) -> str:
        """The user's query without a trailing ``;`` (Oracle refuses one inside a subquery: ORA-00907), then a
        newline ending a trailing ``--`` comment. Its own ``:words`` outside literals would be binds: it has none."""
        return source_sql.rstrip().rstrip(";").rstrip() + "\n"

    def ordered(self, expr: str, kind: str) -> str:
        """As it is: with NLS_COMP=BINARY (Oracle's default, set again by the session) text compares in byte
        order, which in an AL32UTF8 database is code point order. A COLLATE clause would need
        MAX_STRING_SIZE=EXTENDED, and NLSSORT() would return RAW instead of the key."""
        return expr

    def limit_one(self) -> str:
        return " FETCH FIRST 1 ROWS ONLY"

    def offset_sql(self, param: str) -> str:
        return f" OFFSET {self.param(param)} ROWS"

    def _equal(self, names: Sequence[str], prefix: str = "") -> str:
        """Null-safe equality of the mapper tables' lookups: Oracle stores ``''`` as NULL, so a ledger bound
        or a message written as ``''`` reads back NULL and ``col = ''`` would never match it. On a NOT NULL
        column (the keys) the optimizer drops the NULL branch and uses the index."""
        return " AND ".join(self._same(self.quote(n), self.param(prefix + n)) for n in names)

    @staticmethod
    def _same(col: str, mark: str) -> str:
        return f"({col} = {mark} OR ({col} IS NULL AND {mark} IS NULL))"

    def for_update(self) -> str:
        return " FOR UPDATE"

    def for_update_nowait(self) -> str:
        """A row another transaction holds fails at once with ORA-00054 (resource busy, NOWAIT)."""
        return " FOR UPDATE NOWAIT"

    def for_share(self) -> str:
        """Oracle has no shared row lock (SELECT ... FOR UPDATE is the only one): "" (see README)."""
        return ""

    def mapref_lock_sql(self, lock_table: TableName | None = None) -> str:
        """Serialize plans of one mapref: the mapref's row of ``mapper_lock``, locked until commit (DBMS_LOCK would
        need an EXECUTE grant, and its ALLOCATE_UNIQUE commits). "" without the table: nothing to lock. A mapref's
        very first plans find no row to lock: the second one's insert then waits for the first and fails with
        ORA-00001 on the key (for the caller: a lock another plan took)."""
        if lock_table is None:
            return ""
        return f"SELECT {self.quote('mapref')} FROM {self.table(lock_table)} WHERE {self._equal(['mapref'])} FOR UPDATE"

    def ddl_lock_sql(self) -> str:
        """None (""): Oracle DDL commits before and after itself, releasing any lock the transaction took;
        concurrent creation of one mapper table fails with ORA-00955 (name already used), meaning it exists."""
        return ""

    def savepoint_sql(self, verb: str, name: str) -> str:
        """SAVEPOINT / ROLLBACK TO SAVEPOINT; "" for release (Oracle has none: callers skip "")."""
        if verb == "release":
            return ""
        prefix = {"set": "SAVEPOINT", "rollback": "ROLLBACK TO SAVEPOINT"}[verb]
        return f"{prefix} {self.quote(fit_identifier(name))}"

    # ---- planning ---------------------------------------------------------------------------------------
    def sample_sql(self, source_sql: str) -> str:
        return f"SELECT * FROM ({self.embed(source_sql)}) {SRC} FETCH FIRST {self.param('n')} ROWS ONLY"

    def bounded_count_sql(self, source_sql: str, where: str = "") -> str:
        cond = f" WHERE {where}" if where else ""
        first = f" FETCH FIRST {self.param('n')} ROWS ONLY"
        inner = f"SELECT 1 AS mapper_one FROM ({self.embed(source_sql)}) {SRC}{cond}{first}"
        return f"SELECT COUNT(*) FROM ({inner}) mapper_c"

    def sample_predicate(self, param: str) -> str | None:
        """Each row kept with probability ``:param``. Not ``SAMPLE (p)``: that clause attaches to a table, never
        to the wrapped query, takes no bind, and a row sample reads every block anyway (``SAMPLE BLOCK`` would
        bias the sample towards keys stored together, the very order being sampled). DBMS_RANDOM is PUBLIC."""
        return f"DBMS_RANDOM.VALUE < {self.param(param)}"

    def explain_sql(self, source_sql: str, where: str = "", statement_id: str = oracle_exprs.STATEMENT_ID) -> str:
        return oracle_exprs.explain_sql(self, source_sql, where, statement_id)

    def explain_rows_sql(self) -> str:
        return oracle_exprs.EXPLAIN_ROWS

    def explain_cleanup_sql(self) -> str:
        return oracle_exprs.EXPLAIN_CLEANUP

    def table_rows_sql(self) -> str | None:
        return oracle_exprs.TABLE_ROWS

    # ---- chunks -----------------------------------------------------------------------------------------
    def hash_bucket(self, keys: Sequence[str], alias: str, buckets: int) -> str:
        return oracle_exprs.hash_bucket(self, keys, alias, buckets)

    def can_hash(self, columns: Sequence[Column]) -> bool:
        """ORA_HASH takes every scalar type but LOBs, LONG and user-defined types."""
        return all(family(self.type_ddl(c.type)) not in ("lob", "other") for c in columns)

    def chunk_predicate(self, spec: ChunkSpec, alias: str, prefix: str = "") -> tuple[str, Params]:
        """Kind ``rowid``: ``ROWID BETWEEN`` the plan's inclusive bounds (as DBMS_PARALLEL_EXECUTE chunks are),
        on the source's one table (the wrapped query's ROWID is that table's); other kinds as the base does."""
        if spec.kind != "rowid":
            return super().chunk_predicate(spec, alias, prefix)
        parts, params = [], {}
        for bound, name, op in ((spec.lower, "lo", ">="), (spec.upper, "hi", "<=")):
            if bound is not None:
                parts.append(f"{alias}.ROWID {op} CHARTOROWID({self.param(prefix + name)})")
                params[prefix + name] = decode_value(bound)
        if len(parts) == 2:
            lo, hi = self.param(prefix + "lo"), self.param(prefix + "hi")
            return f"{alias}.ROWID BETWEEN CHARTOROWID({lo}) AND CHARTOROWID({hi})", params
        return " AND ".join(parts), params

    def _keyset(self, keyset: dict[str, Any] | None) -> tuple[str, Params, str]:
        """As the base, with ``(a, b) > (:x, :y)`` spelled out (Oracle has no row-value ``>``)."""
        cond, params, tail = super()._keyset(keyset)
        order = list((keyset or {}).get("order") or ())
        if len(order) > 1 and params and cond:
            cond = oracle_exprs.after_sql(self, order, [f"ks{i}" for i in range(len(params))])
        return cond, params, tail

    # ---- apply ------------------------------------------------------------------------------------------
    def differs(self, a: str, b: str) -> str:
        """Null-safe 'a and b differ': DECODE treats two NULLs as equal."""
        return f"DECODE({a}, {b}, 0, 1) = 1"

    def column_differs(self, a: str, b: str, column: Column) -> str:
        """DECODE, except for LOBs (no ``=``, no DECODE): DBMS_LOB.COMPARE, NULLs handled first."""
        if family(self.type_ddl(column.type)) != "lob":
            return self.differs(a, b)
        return (
            f"(CASE WHEN {a} IS NULL AND {b} IS NULL THEN 0 WHEN {a} IS NULL OR {b} IS NULL THEN 1 "
            f"ELSE DBMS_LOB.COMPARE({a}, {b}) END) <> 0"
        )

    def update_from_sql(self, target: TableName, source: str, upd: UpdateSpec) -> str:
        """MERGE updating the target rows matched by key in the delta ``d`` where ``upd.delta_where`` holds.

        Never an ON column in SET (ORA-38104): the keys are only joined on, and the target flag (scd2's
        ``is_current``, which the expire step sets) is a condition of the UPDATE, not of ON. Never two source rows
        for one target row (ORA-30926): the delta holds one row per key already (staging passed the duplicate-key
        check or had its duplicates flagged, and the join matched the one target row of the key: scd1's primary
        key, scd2's current version); the ROW_NUMBER() over the key keeps that true even for an scd1 target whose
        rows repeat a key (each repeat would copy the staged row into the delta once more).
        """
        bad = [col for col, _ in upd.sets if col in upd.keys]
        if bad:
            raise UnsupportedError(f"MERGE cannot update the key column(s) {bad} it joins on (ORA-38104)")
        assigns = ", ".join(f"t.{self.quote(col)} = {expr}" for col, expr in upd.sets)
        ranked = (
            f"SELECT d.*, ROW_NUMBER() OVER (PARTITION BY {self.cols(upd.keys, 'd')} ORDER BY NULL) AS mapper_dn "
            f"FROM {self.temp_name(source)} d WHERE {upd.delta_where}"
        )
        flag = f" WHERE t.{self.quote(upd.target_flag)} = {self.true_sql}" if upd.target_flag else ""
        return (
            f"MERGE INTO {self.table(target)} t USING (SELECT * FROM ({ranked}) WHERE mapper_dn = 1) d "
            f"ON ({self.key_join(upd.keys, 't', 'd')}) WHEN MATCHED THEN UPDATE SET {assigns}{flag}"
        )

    def row_hash_expr(self, columns: Sequence[Column], alias: str) -> str | None:
        return oracle_exprs.row_hash(self, columns, alias)

    def target_delete_sql(self, table: TableName, where: str) -> str:
        """DELETE of target rows (alias ``t``) where ``where`` holds (Oracle takes no ``AS`` before an alias)."""
        return f"DELETE FROM {self.table(table)} t WHERE {where}"

    def target_update_sql(self, table: TableName, sets: str, where: str) -> str:
        """UPDATE of target rows (alias ``t``) setting ``sets`` (Oracle takes no ``AS`` before an alias)."""
        return f"UPDATE {self.table(table)} t SET {sets} WHERE {where}"

    # ---- whole strategy writes (Strategy.write calls <strategy>_steps) -----------------------------------
    def scd1_steps(self, ctx: ApplyContext) -> list[Step | Check]:
        """The portable scd1 steps (MERGE comes from :meth:`update_from_sql`), made runnable on Oracle."""
        from airflow_mapper_provider.strategies import scd1

        return _runnable(scd1.steps(self._bind_free(ctx)))

    def scd2_steps(self, ctx: ApplyContext) -> list[Step | Check]:
        from airflow_mapper_provider.strategies import scd2

        return _runnable(scd2.steps(self._bind_free(ctx)))

    def _bind_free(self, ctx: ApplyContext) -> ApplyContext:
        """The delta is a CREATE ... AS SELECT (DDL: no bind variables, ORA-01027): the narrowing of the compare
        join to the staged key range becomes :meth:`staged_slice_predicate`, the same rows without binds."""
        if not ctx.target_where:
            return ctx
        where = self.staged_slice_predicate(STAGE, ctx.keys[0]) if len(ctx.keys) == 1 else ""
        return dataclasses.replace(ctx, target_where=where, target_params={})

    # ---- progress ---------------------------------------------------------------------------------------
    def upsert_sql(self, table: TableName, names: Sequence[str], key: Sequence[str]) -> str | None:
        """MERGE of one row bound from ``dual``. Two sessions inserting one new key at once: the second fails with
        ORA-00001 (a MERGE is not atomic against a concurrent insert); the progress writer skips that tick."""
        row = ", ".join(f"{self.param(n)} AS {self.quote(n)}" for n in names)
        sets = ", ".join(f"t.{self.quote(n)} = s.{self.quote(n)}" for n in names if n not in key)
        update = f" WHEN MATCHED THEN UPDATE SET {sets}" if sets else ""
        return (
            f"MERGE INTO {self.table(table)} t USING (SELECT {row} FROM dual) s ON ({self.key_join(key, 't', 's')})"
            f"{update} WHEN NOT MATCHED THEN INSERT ({self.cols(names)}) VALUES ({self.cols(names, 's')})"
        )


def _runnable(items: Sequence[Step | Check]) -> list[Step | Check]:
    """Without the statements Oracle leaves out (""): the delta's index in salvage mode."""
    return [item for item in items if item.sql]
