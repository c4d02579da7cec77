"""Bad input, table-driven: each kind fails with a clear error naming the fix, and no target data changes.

Configuration mistakes fail when the DAG file is parsed (``MapperOperator(...)`` raises ConfigError). Run-time
mistakes (data, schema, SQL) run against a real PostgreSQL whose target already holds a good load; they go
through the Airflow boundary, so the test also checks that none of them would spend a retry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from airflow_mapper_provider._compat import AirflowFailException
from airflow_mapper_provider.config import MapperConfig
from airflow_mapper_provider.exceptions import ConfigError
from airflow_mapper_provider.finalizer import finalize_run
from airflow_mapper_provider.loader import ChunkJob
from airflow_mapper_provider.models import ChunkSpec
from airflow_mapper_provider.operators.common import airflow_errors
from airflow_mapper_provider.planner import plan_run
from tests.helpers import CUSTOMER_COLUMNS, config, make_customers, pg_exec, rows, run_all, sessions

GOOD_SQL = f"SELECT {CUSTOMER_COLUMNS} FROM customers"
BASE: dict[str, Any] = {
    "source_conn_id": "src", "target_conn_id": "tgt", "target_table": "dw.t", "mapref": "m",
    "key_columns": ("id",), "load_strategy": "scd1",
}  # fmt: skip

CONFIG_CASES = [
    ("unknown strategy", {"load_strategy": "scd3"}, "unknown load_strategy 'scd3': use one of"),
    ("scd without key", {"key_columns": ()}, "needs key_columns: give the business key"),
    ("key as a string", {"key_columns": "id"}, "must be a list of column names"),
    ("injection in table name", {"target_table": "dw.t; DROP TABLE x"}, "target_table"),
    ("zero chunk size", {"chunk_size": 0}, "chunk_size must be an integer >= 1"),
    ("negative error budget", {"max_error_rows": -1}, "max_error_rows must be an integer >= 0"),
    ("unknown checkpoint strategy", {"checkpoint_strategy": "SOMETIMES"}, "unknown checkpoint_strategy"),
    ("KEY without column", {"checkpoint_strategy": "KEY"}, "needs checkpoint_column"),
    ("negative lookback", {"checkpoint_column": "u", "checkpoint_lookback": dt.timedelta(hours=-1)},
     "non-negative"),
    ("deletes with a checkpoint", {"checkpoint_column": "u", "detect_deletes": True}, "detect_deletes needs a full"),
    ("scd2 key named like an scd2 column", {"load_strategy": "scd2", "key_columns": ("valid_from",)},
     "clash with the scd2 columns"),
    ("effective column on scd1", {"scd2_effective_time": "changed_at"}, "load_strategy is not 'scd2'"),
]  # fmt: skip


@pytest.mark.parametrize(("what", "change", "message"), CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_bad_configuration_fails_at_parse_time(what: str, change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=None) as info:
        MapperConfig(**{**BASE, **change})
    assert message in str(info.value), f"{what}: {info.value}"


def test_bad_configuration_through_the_operator_at_parse_time() -> None:
    from airflow.sdk import DAG

    from airflow_mapper_provider import MapperOperator

    with DAG("bad_cfg", schedule=None, start_date=dt.datetime(2026, 1, 1)), pytest.raises(ConfigError, match="scd3"):
        MapperOperator(task_id="m", source_conn_id="s", target_conn_id="t", source_sql=GOOD_SQL,
                       target_table="dw.t", key_columns=["id"], load_strategy="scd3")  # fmt: skip


@dataclass
class Case:
    what: str
    sql: str
    message: str
    cfg: dict[str, Any]
    prepare: Callable[[Any], None] | None = None


def _target_lacks_column(pg_dbs: Any) -> None:
    pg_exec(pg_dbs.target_dsn, "ALTER TABLE dw.dim DROP COLUMN notes")


def _short_target_column(pg_dbs: Any) -> None:
    pg_exec(pg_dbs.source_dsn, "UPDATE customers SET name = repeat('n', 80) WHERE customer_id = 77")
    pg_exec(pg_dbs.target_dsn, "ALTER TABLE dw.dim ALTER COLUMN name TYPE varchar(60)")


RUN_CASES = [
    Case("key missing from the source", "SELECT name, email FROM customers", "key column(s) ['customer_id'] are "
         "not among the source columns", {}),
    Case("unnamed expression", "SELECT customer_id, name || '!' FROM customers", "alias the expression", {}),
    Case("a column returned twice", "SELECT customer_id, name, name FROM customers", "more than once", {}),
    Case("not a SELECT", "DELETE FROM customers", "SELECT", {}),
    Case("two statements", "SELECT customer_id FROM customers; DROP TABLE customers", "single SELECT statement", {}),
    Case("source table missing", "SELECT customer_id, name FROM no_such_table", "SQLSTATE 42P01", {}),
    Case("source column missing", "SELECT customer_id, nme FROM customers", "SQLSTATE 42703", {}),
    Case("duplicate keys", f"SELECT {CUSTOMER_COLUMNS} FROM customers UNION ALL "
         f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE customer_id < 5", "repeat a key already in the extract", {}),
    Case("NULL keys", "SELECT NULLIF(customer_id, 3) AS customer_id, name, email, country, balance, created_at, "
         "active, birth, notes FROM customers", "NULL in a key column", {}),
    Case("value too long for the target", GOOD_SQL, "SQLSTATE 22001", {"on_schema_change": "ignore"},
         _short_target_column),
    Case("target lacks a source column", GOOD_SQL, "notes", {"on_schema_change": "fail"}, _target_lacks_column),
    Case("source error in one row", "SELECT customer_id, name, 1 / (customer_id - 500) AS x FROM customers",
         "SQLSTATE 22012", {"target_table": "dw.other"}),
    Case("NULL effective time", "SELECT customer_id, name, CASE WHEN customer_id = 9 THEN NULL ELSE created_at END "
         "AS changed_at FROM customers", "NULL in the scd2_effective_time column",
         {"load_strategy": "scd2", "scd2_effective_time": "changed_at", "target_table": "dw.hist"}),
]  # fmt: skip


def _snapshot(dsn: str) -> dict[str, Any]:
    """Content digest of every target table (not the mapper's own); an empty table digests to None."""
    found = rows(dsn, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'dw' "
                 "AND table_name NOT LIKE 'mapper_%' ORDER BY 1")  # fmt: skip
    return {
        t: rows(dsn, f"SELECT md5(string_agg(x::text, ',' ORDER BY x::text)) FROM dw.{t} x")[0][0] for (t,) in found
    }


def _run(cfg: MapperConfig, sql: str, pg_dbs: Any) -> None:
    with airflow_errors(), sessions(pg_dbs.source_uri, pg_dbs.target_uri) as (src, tgt):
        chunks = plan_run(cfg, sql, "bad", "2026-06-02T00:00:00+00:00", 1024, src, tgt)
        for c in chunks:
            ChunkJob(cfg, ChunkSpec.from_dict(c), sql, "bad", 1, src, tgt).run()
        finalize_run(cfg, "bad", chunks, tgt)


@pytest.mark.pg
def test_bad_input_at_run_time_clear_error_no_data_changed(pg_dbs):
    make_customers(pg_dbs.source_dsn, 3_000)
    good = config("scd1", "dw.dim", chunk_size=1_000)
    run_all(good, pg_dbs.source_uri, pg_dbs.target_uri, "good", GOOD_SQL)
    failures = []
    for case in RUN_CASES:
        if case.prepare:
            case.prepare(pg_dbs)
        before = _snapshot(pg_dbs.target_dsn)
        cfg = config("scd1", "dw.dim", chunk_size=1_000, mapref=f"bad.{case.what}", **case.cfg)
        try:
            _run(cfg, case.sql, pg_dbs)
            failures.append(f"{case.what}: no error")
        except AirflowFailException as exc:  # fails at once: no retry spent
            if case.message not in str(exc):
                failures.append(f"{case.what}: unclear error {exc}")
        after = _snapshot(pg_dbs.target_dsn)
        if {t: after[t] for t in before} != before or any(after[t] is not None for t in set(after) - set(before)):
            failures.append(f"{case.what}: target data changed")
        if case.prepare is _short_target_column:
            pg_exec(pg_dbs.target_dsn, "ALTER TABLE dw.dim ALTER COLUMN name TYPE text")
    assert not failures
    assert len(RUN_CASES) + len(CONFIG_CASES) >= 15
