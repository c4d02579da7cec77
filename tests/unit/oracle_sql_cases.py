"""Every statement the Oracle dialect renders for the mapper, by name (the cases of ``test_oracle_sql.py``).

Each builder renders through the real callers where there is one (strategies' ``apply_plan``, ``SeenKeys``,
``MapperTables.ensure``), else through the dialect method a caller uses.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

from airflow_mapper_provider.dialects import Column, ColumnType
from airflow_mapper_provider.dialects.oracle import OracleDialect
from airflow_mapper_provider.identifiers import TableName
from airflow_mapper_provider.models import ChunkSpec, encode_value
from airflow_mapper_provider.state.tables import PROGRESS_COLUMNS, MapperTables
from airflow_mapper_provider.strategies import ApplyContext, apply_plan
from airflow_mapper_provider.strategies.base import DELTA, STAGE, Check, Step
from airflow_mapper_provider.strategies.deletes import SeenKeys
from airflow_mapper_provider.strategies.versions import VERSION_COLUMNS

ORA = OracleDialect()
TABLE = TableName("dim_customer", "dw")
SOURCE = "SELECT customer_id, name, balance FROM crm.customers;"
EFF = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
#: A PostgreSQL-described extract: ``text`` becomes CLOB on Oracle (so scd2 hashes in Python).
COLUMNS = [
    Column("customer_id", ColumnType("bigint")),
    Column("name", ColumnType("text")),
    Column("balance", ColumnType("numeric", precision=12, scale=2)),
]
#: An Oracle-described extract: every column hashable in SQL.
NATIVE = [
    Column("customer_id", ColumnType("int", "NUMBER(9)", "oracle", precision=9)),
    Column("name", ColumnType("varchar", "VARCHAR2(100 CHAR)", "oracle", length=100)),
    Column("born", ColumnType("timestamp", "DATE", "oracle", precision=0)),
    Column("seen", ColumnType("timestamptz", "TIMESTAMP(6) WITH TIME ZONE", "oracle", precision=6)),
]
TABLES = MapperTables("meta")
ROWID_SPEC = ChunkSpec(
    0, 4, "rowid", lower={"t": "rowid", "v": "AAAR3sAAEAAAACXAAA"}, upper={"t": "rowid", "v": "AAAR3sAAEAAAACfH//"}
)
RANGE_SPEC = ChunkSpec(1, 3, "range", ("customer_id",), encode_value(100), encode_value(200), key_kind="bigint")
#: The loader's narrowing of the compare join (loader._staged_slice), with bind variables.
LOADER_SLICE = 't."CUSTOMER_ID" >= :mapper_klo AND t."CUSTOMER_ID" <= :mapper_khi'
HASH_SPEC = ChunkSpec(2, 8, "hash", ("region", "customer_id"), bucket=2, buckets=8)


def context(strategy: str, columns: list[Column] | None = None, **kwargs: Any) -> ApplyContext:
    """As the loader builds it: python_hash where the dialect cannot hash the values in SQL."""
    cols = columns or COLUMNS
    ctx = ApplyContext(ORA, TABLE, cols, ["customer_id"], strategy, effective_time=EFF, **kwargs)
    python_hash = strategy == "scd2" and ORA.row_hash_expr(ctx.values, "s") is None
    return dataclasses.replace(ctx, python_hash=python_hash)


def strategy_sql(strategy: str, columns: list[Column] | None = None, **kwargs: Any) -> dict[str, str]:
    """Checks and steps of one strategy's apply, named ``<check or step name>``."""
    checks, steps = apply_plan(context(strategy, columns, **kwargs))
    items: list[Step | Check] = [*checks, *steps]
    return {item.name: item.sql for item in items}


class Recorder:
    """The session MapperTables.ensure talks to: no table exists yet; the statements are recorded."""

    def __init__(self) -> None:
        self.dialect = ORA
        self.sql: list[str] = []

    def table_exists(self, table: TableName) -> bool:
        return False

    def ensure_schema(self, schema: str) -> None:
        """The schema (an Oracle user) exists: OracleSession.schema_exists finds it."""

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> int:
        self.sql.append(sql)
        return 0


def mapper_tables_ddl() -> dict[str, str]:
    rec = Recorder()
    TABLES.ensure(rec)  # type: ignore[arg-type]
    names = ["joblog", "chunklog", "checkpoint", "lock", "rejects", "chunk_progress", "progress_view"]
    return {f"mapper-{n}": sql for n, sql in zip(names, rec.sql, strict=True)}


def _const(sql: str) -> Callable[[], str]:
    return lambda: sql


def _named(prefix: str, statements: dict[Any, str]) -> dict[str, Callable[[], str]]:
    return {f"{prefix}-{name}": _const(sql) for name, sql in statements.items()}


def _seen() -> SeenKeys:
    return SeenKeys(ORA, TABLE, ["customer_id"], "meta", "crm.customers->dw.dim_customer")


def _chunk(spec: ChunkSpec) -> str:
    return ORA.chunk_select(SOURCE, ["customer_id", "name"], spec)[0]


PLANNING: dict[str, Callable[[], str]] = {
    "describe": lambda: ORA.describe_sql(SOURCE),
    "sample": lambda: ORA.sample_sql(SOURCE),
    "count": lambda: ORA.count_sql(SOURCE, 'mapper_src."CUSTOMER_ID" > :cp_lo'),
    "bounded-count": lambda: ORA.bounded_count_sql(SOURCE),
    "max": lambda: ORA.max_sql(SOURCE, "customer_id"),
    "nulls": lambda: ORA.nulls_sql(SOURCE, "customer_id"),
    "quantile": lambda: ORA.quantile_sql(SOURCE, "customer_id"),
    "quantile-sampled-text": lambda: ORA.quantile_sql(SOURCE, "name", sampled=True, kind="varchar"),
    "explain": lambda: ORA.explain_sql(SOURCE),
    "explain-window": lambda: ORA.explain_sql(SOURCE, 'mapper_src."CUSTOMER_ID" > :cp_lo'),
    "explain-rows": ORA.explain_rows_sql,
    "explain-cleanup": ORA.explain_cleanup_sql,
    "table-rows": lambda: ORA.table_rows_sql() or "",
    "chunk-range": lambda: _chunk(RANGE_SPEC),
    "chunk-hash": lambda: _chunk(HASH_SPEC),
    "chunk-rowid": lambda: _chunk(ROWID_SPEC),
    "chunk-all": lambda: _chunk(ChunkSpec(0, 1, "all")),
    "chunk-rowid-excluding": lambda: _chunk(
        dataclasses.replace(ROWID_SPEC, index=1, exclude=[dataclasses.replace(ROWID_SPEC, index=0).region()])
    ),
    "chunk-window": lambda: _chunk(
        ChunkSpec(0, 1, "all", window={"column": "customer_id", "lower": encode_value(5), "upper": encode_value(9)})
    ),
    "chunk-keyset-after": lambda: _chunk(
        ChunkSpec(
            0, 1, "all", keyset={"order": ["region", "customer_id"], "after": [encode_value("N"), encode_value(7)]}
        )
    ),
    "chunk-keyset-offset": lambda: _chunk(ChunkSpec(0, 1, "all", keyset={"order": [], "offset": 5000})),
}

APPLY: dict[str, Callable[[], str]] = {
    **_named("append", strategy_sql("append")),
    **_named("scd1-empty", strategy_sql("scd1", empty_target=True)),
    **_named("scd1", strategy_sql("scd1")),
    **_named("scd1-salvage", strategy_sql("scd1", salvage=True)),
    **_named("scd1-sliced", strategy_sql("scd1", target_where=LOADER_SLICE, target_params={"mapper_klo": 1})),
    **_named("scd2-empty", strategy_sql("scd2", empty_target=True)),
    **_named("scd2", strategy_sql("scd2")),
    **_named("scd2-native", strategy_sql("scd2", NATIVE)),
    **_named("scd2-effective", strategy_sql("scd2", NATIVE, effective_column="born")),
}

STATE: dict[str, Callable[[], str]] = {
    **_named("ddl", mapper_tables_ddl()),
    "checkpoint-read": lambda: ORA.select_sql(
        TABLES.checkpoint, ["checkpoint_column", "value", "value_type"], ["mapref"]
    ),
    "upgrade-add-long-text": lambda: ORA.add_column_sql(TABLES.joblog, Column("plan_json", ColumnType("text"))),
    "upgrade-add-text": lambda: ORA.add_column_sql(TABLES.chunklog, Column("path", ColumnType("text"))),
    "checkpoint-delete": lambda: ORA.delete_sql(TABLES.checkpoint, ["mapref"]),
    "checkpoint-insert": lambda: ORA.insert_sql(TABLES.checkpoint, ["mapref", "checkpoint_column", "value"]),
    "lock-serialize": lambda: ORA.mapref_lock_sql(TABLES.lock),
    "lock-owner-nowait": lambda: (
        ORA.select_sql(TABLES.lock, ["run_id", "acquired_at"], ["mapref"]) + ORA.for_update_nowait()
    ),
    "lock-holds": lambda: ORA.select_sql(TABLES.lock, ["run_id"], ["mapref"]) + ORA.for_share(),
    "ledger-lookup": lambda: ORA.select_sql(
        TABLES.chunklog, ["chunk_index", "status"], ["mapref", "run_id", "lower_bound"], order_by="chunk_index"
    ),
    "joblog-update": lambda: ORA.update_sql(TABLES.joblog, ["status", "message"], ["mapref", "run_id"]),
    "rejects-insert": lambda: ORA.insert_values_sql(ORA.table(TABLES.rejects), ["mapref", "row_json"], ["p0", "p1"]),
    "progress-upsert": lambda: (
        ORA.upsert_sql(TABLES.progress, [n for n, _ in PROGRESS_COLUMNS][:6], ("mapref", "run_id", "chunk_index")) or ""
    ),
    "deletes-create": lambda: _seen().create_sql()[0],
    "deletes-index": lambda: _seen().create_sql()[1],
    "deletes-record": lambda: _seen().record_staged_sql(),
    "deletes-count-absent": lambda: _seen().count_sql(_seen().absent(["r1", "r0"], current_only=True)[0]),
    "deletes-forget": lambda: _seen().forget_sql(["r1"])[0],
    "deletes-delete": lambda: ORA.target_delete_sql(TABLE, _seen().absent(["r1"], current_only=False)[0]),
    "deletes-close": lambda: _seen().close_sql(_seen().absent(["r1"], True)[0]),
}

TARGET: dict[str, Callable[[], str]] = {
    "create-scd1": lambda: ORA.create_table_sql(TABLE, COLUMNS, primary_key=["customer_id"]),
    "create-scd2": lambda: ORA.create_table_sql(TABLE, [*COLUMNS, *VERSION_COLUMNS], keys=["customer_id", "name"]),
    "create-oracle-native": lambda: ORA.create_table_sql(
        TABLE, [*NATIVE, Column("code", ColumnType("text", "CLOB", "oracle"))], keys=["customer_id", "code"]
    ),
    "index-history": lambda: ORA.create_index_sql(
        TABLE, "dim_customer_key_from_ux", ["customer_id", "valid_from", "valid_to"], unique=True
    ),
    "index-current": lambda: ORA.create_index_sql(
        TABLE,
        "dim_customer_current_ux",
        ["customer_id", "name"],
        unique=True,
        where=f"{ORA.quote('is_current')} = {ORA.true_sql}",
    ),
    "add-column": lambda: ORA.add_column_sql(TABLE, Column("segment", ColumnType("varchar", length=20))),
    "alter-type": lambda: ORA.alter_column_type_sql(TABLE, "balance", "NUMBER(14,2)"),
    "staging": lambda: ORA.create_staging_sql(STAGE, COLUMNS, keys=["customer_id"]),
    "staging-text-key": lambda: ORA.create_staging_sql(STAGE, COLUMNS, keys=["name"]),
    **_named("number-rows", dict(enumerate(ORA.number_rows_sql(STAGE, STAGE + "_n", "mapper_rn", "mapper_ok")))),
    "savepoint-set": lambda: ORA.savepoint_sql("set", "mapper_salvage"),
    "savepoint-rollback": lambda: ORA.savepoint_sql("rollback", "mapper_salvage"),
    "staged-max": lambda: ORA.staged_max_sql(STAGE, "customer_id"),
    "staged-range": lambda: ORA.staged_range_sql(STAGE, "customer_id"),
    "staged-last": lambda: ORA.staged_last_sql(STAGE, ["region", "customer_id"]),
    "staged-slice": lambda: (
        f"SELECT 1 FROM {ORA.table(TABLE)} t WHERE {ORA.staged_slice_predicate(STAGE, 'customer_id')}"
    ),
    "newer-versions": lambda: ORA.newer_versions_sql(TABLE),
    "probe": lambda: ORA.probe_sql(TABLE, ORA.chunk_predicate(RANGE_SPEC, "t")[0]),
    "delta-table": lambda: ORA.create_temp_as_sql(DELTA, f"SELECT * FROM {ORA.temp_name(STAGE)}"),
}

ALL: dict[str, Callable[[], str]] = {
    **{f"plan-{k}": v for k, v in PLANNING.items()},
    **{f"apply-{k}": v for k, v in APPLY.items()},
    **{f"state-{k}": v for k, v in STATE.items()},
    **{f"target-{k}": v for k, v in TARGET.items()},
}
