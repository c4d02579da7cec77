"""What plan reads: KEY checkpoints over a column with NULLs, and row estimates far below the real count.

Contracts:
3. scd1/scd2 KEY runs read the rows whose ``checkpoint_column`` is NULL in every run (they cannot be placed in a
   window; re-reading them is idempotent), so they are loaded and later changes to them are picked up. An append
   KEY run over such rows fails at plan with a MapperError naming ``checkpoint_column`` and suggesting COALESCE or
   filtering in source_sql, and loads nothing.
6. An estimate below ``min_rows_for_parallel`` is confirmed by a bounded count before a single chunk is chosen.
"""

from __future__ import annotations

import datetime as dt

import pytest

from airflow_mapper_provider.exceptions import ChunkFailedError, MapperError
from airflow_mapper_provider.finalizer import finalize_run
from airflow_mapper_provider.planner import plan_run
from tests.field.test_scd2_history import assert_scd2_invariants
from tests.helpers import config, pg_exec, rows, run_all, sessions

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 3, 1, tzinfo=UTC)
RUN1, RUN2, RUN3 = (f"2026-06-0{n}T00:00:00+00:00" for n in (1, 2, 3))
ACCOUNTS = "SELECT id, name, balance, updated_at FROM accounts"
NULLS = 30  # keys 100, 200, ..., 3000 have no updated_at


def make_accounts(dsn: str, n: int = 3_000) -> None:
    pg_exec(dsn, "CREATE TABLE accounts (id bigint PRIMARY KEY, name text, balance numeric(12,2), "
                 "updated_at timestamptz)")  # fmt: skip
    pg_exec(dsn, "INSERT INTO accounts SELECT g, 'a' || g, g, CASE WHEN g %% 100 = 0 THEN NULL "
                 "ELSE %(t0)s + g * interval '1 second' END FROM generate_series(1, %(n)s) g",
            {"t0": T0, "n": n})  # fmt: skip
    pg_exec(dsn, "ANALYZE accounts")


def source(dsn: str) -> list[tuple]:
    return rows(dsn, "SELECT id, name, balance, updated_at FROM accounts ORDER BY id")


def current(dsn: str, table: str, strategy: str) -> list[tuple]:
    cond = " WHERE is_current" if strategy == "scd2" else ""
    return rows(dsn, f"SELECT id, name, balance, updated_at FROM {table}{cond} ORDER BY id")


def stored_checkpoint(dsn: str) -> list[tuple]:
    return rows(dsn, "SELECT checkpoint_column, value FROM dw.mapper_checkpoint")


def counts(summary) -> tuple[int, ...]:
    return summary.rows_read, summary.rows_inserted, summary.rows_updated, summary.rows_unchanged


# ---- 3. NULL checkpoint values -----------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["scd1", "scd2"])
def test_key_runs_read_null_checkpoint_rows_every_run(pg_dbs, strategy):
    src, tgt, table = pg_dbs.source_dsn, pg_dbs.target_dsn, "dw.acc"
    make_accounts(src)
    cfg = config(strategy, table, keys=("id",), checkpoint_column="updated_at")
    chunks, _, s1 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r1", ACCOUNTS, RUN1)
    assert len(chunks) >= 2
    assert (s1.status, *counts(s1)) == ("success", 3_000, 3_000, 0, 0)
    assert current(tgt, table, strategy) == source(src)
    high = T0 + dt.timedelta(seconds=2_999)  # the largest non-NULL value (key 3000 has none)
    assert stored_checkpoint(tgt) == [("updated_at", high.isoformat())]

    # a NULL-checkpoint row changes (still NULL), and 10 rows move past the checkpoint
    pg_exec(src, "UPDATE accounts SET name = 'renamed' WHERE id = 100")
    pg_exec(src, "UPDATE accounts SET balance = balance + 1, updated_at = %(t)s WHERE id BETWEEN 11 AND 20",
            {"t": T0 + dt.timedelta(days=1)})  # fmt: skip
    _, _, s2 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r2", ACCOUNTS, RUN2)
    assert (s2.status, *counts(s2)) == ("success", NULLS + 10, 0, 11, NULLS - 1)
    assert current(tgt, table, strategy) == source(src)
    assert stored_checkpoint(tgt) == [("updated_at", (T0 + dt.timedelta(days=1)).isoformat())]

    # nothing past the checkpoint: the window (c, c] is empty, the NULL rows are still read; key 5 loses its value
    pg_exec(src, "UPDATE accounts SET name = 'again' WHERE id = 200")
    pg_exec(src, "UPDATE accounts SET name = 'nulled', updated_at = NULL WHERE id = 5")
    _, _, s3 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r3", ACCOUNTS, RUN3)
    assert (s3.status, *counts(s3)) == ("success", NULLS + 1, 0, 2, NULLS - 1)
    assert current(tgt, table, strategy) == source(src)
    assert stored_checkpoint(tgt) == [("updated_at", (T0 + dt.timedelta(days=1)).isoformat())]
    log = rows(tgt, "SELECT run_id, status, rows_read, rows_updated FROM dw.mapper_joblog ORDER BY run_id")
    assert log == [("r1", "success", 3_000, 0), ("r2", "success", 40, 11), ("r3", "success", 31, 2)]
    if strategy == "scd2":
        assert (s2.rows_expired, s3.rows_expired) == (11, 2)
        assert rows(tgt, f"SELECT count(*) FROM {table} WHERE id = 100") == [(2,)]
        assert_scd2_invariants(tgt, table)


def test_append_key_run_over_null_checkpoints_fails_at_plan(pg_dbs):
    src, tgt, table = pg_dbs.source_dsn, pg_dbs.target_dsn, "dw.acc_log"
    make_accounts(src)
    cfg = config("append", table, keys=("id",), checkpoint_column="updated_at")
    with sessions(pg_dbs.source_uri, pg_dbs.target_uri) as (s, t), pytest.raises(MapperError) as info:
        plan_run(cfg, ACCOUNTS, "a1", RUN1, 1024, s, t)
    # as in Airflow, finalize runs after a failed plan (trigger rule ALL_DONE), on its own connection
    with sessions(pg_dbs.source_uri, pg_dbs.target_uri) as (_, t), pytest.raises(ChunkFailedError):
        finalize_run(cfg, "a1", None, t)
    assert rows(tgt, "SELECT status FROM dw.mapper_joblog WHERE run_id = 'a1'") == [("failed",)]
    assert "checkpoint_column" in str(info.value) and "COALESCE" in str(info.value)
    if rows(tgt, f"SELECT to_regclass('{table}') IS NOT NULL") == [(True,)]:  # plan may create it before failing
        assert rows(tgt, f"SELECT count(*) FROM {table}") == [(0,)]
    assert rows(tgt, "SELECT count(*) FROM dw.mapper_checkpoint") == [(0,)]

    # the advice works: COALESCE the column in source_sql
    fixed = ACCOUNTS.replace("updated_at", "COALESCE(updated_at, timestamptz '1970-01-01 00:00:00+00') AS updated_at")
    _, _, s2 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "a2", fixed, RUN2)
    assert (s2.status, s2.rows_read, s2.rows_inserted) == ("success", 3_000, 3_000)
    assert rows(tgt, f"SELECT count(*), count(DISTINCT id) FROM {table}") == [(3_000, 3_000)]


# ---- 6. estimates far below the real row count -------------------------------------------------------------


def _explain_rows(dsn: str, sql: str) -> int:
    plan = rows(dsn, f"EXPLAIN (FORMAT JSON) {sql}")[0][0]
    return int(plan[0]["Plan"]["Plan Rows"])


def _assert_parallel_plan(pg_dbs, sql: str, table: str) -> None:
    cfg = config("scd1", table, keys=("id",), chunk_size=500, min_rows_for_parallel=1_000)
    chunks, results, summary = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r1", sql, RUN1)
    assert len(chunks) > 1, f"one chunk for 5,000 rows: {chunks[0].get('estimated_rows')} estimated"
    assert [r.rows_read for r in results] == [500] * 10
    assert (summary.status, summary.rows_read, summary.rows_inserted) == ("success", 5_000, 5_000)
    assert rows(pg_dbs.target_dsn, f"SELECT id, v FROM {table} ORDER BY id") == rows(
        pg_dbs.source_dsn, f"{sql} ORDER BY id"
    )


def test_view_over_a_set_returning_function_is_counted_before_one_chunk(pg_dbs):
    src = pg_dbs.source_dsn
    pg_exec(src, "CREATE FUNCTION gen_rows() RETURNS TABLE (id int, v text) LANGUAGE sql ROWS 10 "
                 "AS $$ SELECT g, 'v' || g FROM generate_series(1, 5000) g $$")  # fmt: skip
    pg_exec(src, "CREATE VIEW gen_view AS SELECT id, v FROM gen_rows()")
    sql = "SELECT id, v FROM gen_view"
    assert _explain_rows(src, sql) == 10  # what the planner believes
    _assert_parallel_plan(pg_dbs, sql, "dw.gen")


def test_table_analysed_while_small_is_counted_before_one_chunk(pg_dbs):
    src = pg_dbs.source_dsn
    pg_exec(src, "CREATE TABLE grown (id int PRIMARY KEY, v text) WITH (autovacuum_enabled = false)")
    pg_exec(src, "INSERT INTO grown SELECT g, 'v' || g FROM generate_series(1, 5) g")
    pg_exec(src, "ANALYZE grown")
    pg_exec(src, "INSERT INTO grown SELECT g, 'v' || g FROM generate_series(6, 5000) g")
    pg_exec(src, "CREATE VIEW grown_view AS SELECT id, v FROM grown")
    sql = "SELECT id, v FROM grown_view"
    assert _explain_rows(src, sql) < 1_000  # about 135: the 5 rows of one page, scaled to the pages now
    _assert_parallel_plan(pg_dbs, sql, "dw.grown")
