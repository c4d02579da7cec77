"""Incremental loads on a real PostgreSQL: checkpoints, lookback, PYTHON, deletes, the run lock."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

from airflow_mapper_provider.exceptions import ChunkFailedError, EffectiveTimeError
from airflow_mapper_provider.finalizer import finalize_run
from airflow_mapper_provider.loader import ChunkJob
from airflow_mapper_provider.models import ChunkSpec
from airflow_mapper_provider.planner import plan_run
from airflow_mapper_provider.state.checkpoint import RunLockedError
from tests.helpers import config, pg_exec, rows, run_all, sessions

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
ACCOUNTS = "SELECT id, name, balance, updated_at FROM accounts"


def make_accounts(dsn: str, n: int) -> None:
    pg_exec(dsn, "CREATE TABLE accounts (id bigint PRIMARY KEY, name text, balance numeric(12,2), "
                 "updated_at timestamptz NOT NULL)")  # fmt: skip
    pg_exec(dsn, "INSERT INTO accounts SELECT g, 'a' || g, g, %(t0)s + g * interval '1 second' "
                 "FROM generate_series(1, %(n)s) g", {"t0": T0, "n": n})  # fmt: skip
    pg_exec(dsn, "ANALYZE accounts")


def touch(dsn: str, where: str, at: dt.datetime) -> int:
    return len(pg_exec(dsn, f"UPDATE accounts SET balance = balance + 1, updated_at = %(at)s WHERE {where} "
                            "RETURNING id", {"at": at}))  # fmt: skip


def stored_checkpoint(dsn: str) -> list[tuple]:
    return rows(dsn, "SELECT checkpoint_column, value, value_type FROM dw.mapper_checkpoint")


def current(dsn: str, table: str, scd2: bool) -> list[tuple]:
    cond = " WHERE is_current" if scd2 else ""
    return rows(dsn, f"SELECT id, name, balance, updated_at FROM {table}{cond} ORDER BY id")


@pytest.mark.parametrize("strategy", ["scd1", "scd2"])
def test_key_checkpoint_reads_only_changes(pg_dbs, strategy):
    make_accounts(pg_dbs.source_dsn, 4_000)
    cfg = config(strategy, "dw.acc", keys=("id",), checkpoint_column="updated_at")
    src = lambda: rows(pg_dbs.source_dsn, "SELECT id, name, balance, updated_at FROM accounts ORDER BY id")  # noqa: E731
    chunks, _, s1 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r1", ACCOUNTS, "2026-06-01T00:00:00+00:00")
    assert len(chunks) >= 2 and s1.rows_read == 4_000
    assert current(pg_dbs.target_dsn, "dw.acc", strategy == "scd2") == src()
    assert stored_checkpoint(pg_dbs.target_dsn) == [("updated_at", (T0 + dt.timedelta(seconds=4_000)).isoformat(),
                                                     "datetime")]  # fmt: skip

    changed = touch(pg_dbs.source_dsn, "mod(id, 100) = 0", T0 + dt.timedelta(days=1))
    pg_exec(pg_dbs.source_dsn, "INSERT INTO accounts SELECT g, 'new', 0, %(t)s FROM generate_series(4001, 4030) g",
            {"t": T0 + dt.timedelta(days=1, seconds=5)})  # fmt: skip
    _, _, s2 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r2", ACCOUNTS, "2026-06-02T00:00:00+00:00")
    assert (s2.rows_read, s2.rows_inserted, s2.rows_updated) == (changed + 30, 30, changed)
    assert current(pg_dbs.target_dsn, "dw.acc", strategy == "scd2") == src()

    changed3 = touch(pg_dbs.source_dsn, "id BETWEEN 10 AND 19", T0 + dt.timedelta(days=2))
    _, _, s3 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r3", ACCOUNTS, "2026-06-03T00:00:00+00:00")
    assert (s3.rows_read, s3.rows_updated) == (changed3, changed3) == (10, 10)
    assert current(pg_dbs.target_dsn, "dw.acc", strategy == "scd2") == src()
    log = rows(pg_dbs.target_dsn, "SELECT run_id, rows_read, checkpoint_before, checkpoint_after FROM dw.mapper_joblog "
                                  "ORDER BY run_id")  # fmt: skip
    assert [r[1] for r in log] == [4_000, 70, 10]
    assert log[0][2] is None and log[1][2] == log[0][3] and log[2][2] == log[1][3]
    assert log[2][3] == (T0 + dt.timedelta(days=2)).isoformat()


def test_failed_chunk_keeps_checkpoint_and_next_run_loads_what_it_missed(pg_dbs):
    make_accounts(pg_dbs.source_dsn, 3_000)
    pg_exec(pg_dbs.source_dsn, "ALTER TABLE accounts ADD COLUMN bad int NOT NULL DEFAULT 1")
    sql = "SELECT id, name, balance / bad AS balance, updated_at FROM accounts"
    cfg = config("scd1", "dw.acc", keys=("id",), checkpoint_column="updated_at", min_rows_for_parallel=500)
    run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r1", sql)
    before = stored_checkpoint(pg_dbs.target_dsn)
    touch(pg_dbs.source_dsn, "id > 500", T0 + dt.timedelta(days=1))  # 2,500 changed rows: 3 chunks
    pg_exec(pg_dbs.source_dsn, "UPDATE accounts SET bad = 0 WHERE id = 2900")  # breaks the last chunk only
    pg_exec(pg_dbs.source_dsn, "ANALYZE accounts")  # so the estimate sees the 2,500 changed rows
    with pytest.raises(ChunkFailedError), sessions(pg_dbs.source_uri, pg_dbs.target_uri) as (src, tgt):
        chunks = plan_run(cfg, sql, "r2", "2026-06-02T00:00:00+00:00", 1024, src, tgt)
        assert len(chunks) >= 2
        for c in chunks:
            try:
                ChunkJob(cfg, ChunkSpec.from_dict(c), sql, "r2", 1, src, tgt).run()
            except Exception as exc:
                assert "DivisionByZero" in type(exc).__name__
        finalize_run(cfg, "r2", chunks, tgt)
    assert stored_checkpoint(pg_dbs.target_dsn) == before
    assert rows(pg_dbs.target_dsn, "SELECT status, checkpoint_after FROM dw.mapper_joblog WHERE run_id = 'r2'") == [
        ("failed", before[0][1])
    ]
    pg_exec(pg_dbs.source_dsn, "UPDATE accounts SET bad = 1 WHERE id = 2900")  # fixed, updated_at untouched
    _, _, s3 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r3", sql)
    assert s3.rows_read == 2_500 and s3.rows_updated > 0  # the missed chunk's rows arrive now
    assert rows(pg_dbs.target_dsn, "SELECT id, balance FROM dw.acc ORDER BY id") == rows(
        pg_dbs.source_dsn, "SELECT id, balance FROM accounts ORDER BY id"
    )


def test_frozen_upper_bound_and_lookback_never_skip_a_row(pg_dbs):
    make_accounts(pg_dbs.source_dsn, 100)
    cfg = config("scd1", "dw.acc", keys=("id",), checkpoint_column="updated_at",
                 checkpoint_lookback=dt.timedelta(minutes=10))  # fmt: skip
    with sessions(pg_dbs.source_uri, pg_dbs.target_uri) as (src, tgt):
        chunks = plan_run(cfg, ACCOUNTS, "r1", "2026-06-01T00:00:00+00:00", 1024, src, tgt)
        # committed after plan froze the window, with a newer timestamp: not this run's, but not lost
        pg_exec(pg_dbs.source_dsn, "INSERT INTO accounts VALUES (101, 'after plan', 1, %(t)s)",
                {"t": T0 + dt.timedelta(hours=1)})  # fmt: skip
        for c in chunks:
            ChunkJob(cfg, ChunkSpec.from_dict(c), ACCOUNTS, "r1", 1, src, tgt).run()
        s1 = finalize_run(cfg, "r1", chunks, tgt)
    assert s1.rows_read == 100 and s1.checkpoint_after == (T0 + dt.timedelta(seconds=100)).isoformat()
    # a transaction that took its timestamp before the checkpoint but committed late (within the lookback)
    pg_exec(pg_dbs.source_dsn, "INSERT INTO accounts VALUES (102, 'late commit', 1, %(t)s)",
            {"t": T0 + dt.timedelta(seconds=30)})  # fmt: skip
    _, _, s2 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r2", ACCOUNTS)
    assert rows(pg_dbs.target_dsn, "SELECT id FROM dw.acc WHERE id > 100 ORDER BY id") == [(101,), (102,)]
    assert s2.rows_inserted == 2 and s2.rows_unchanged == s2.rows_read - 2  # lookback re-reads are no-ops


def test_python_checkpoint_is_one_chunk_and_resumes_after_the_last_row(pg_dbs):
    make_accounts(pg_dbs.source_dsn, 5_000)
    cfg = config("append", "dw.acc_log", keys=("id",), checkpoint_strategy="PYTHON")
    chunks, _, s1 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r1", ACCOUNTS)
    assert len(chunks) == 1 and s1.rows_read == 5_000  # 5,000 rows > min_rows_for_parallel, still one chunk
    _, _, s2 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r2", ACCOUNTS)
    assert s2.rows_read == 0
    pg_exec(pg_dbs.source_dsn, "INSERT INTO accounts SELECT g, 'n', 0, now() FROM generate_series(5001, 5040) g")
    _, _, s3 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r3", ACCOUNTS)
    assert s3.rows_read == 40
    assert rows(pg_dbs.target_dsn, "SELECT count(*), count(DISTINCT id), max(id) FROM dw.acc_log") == [
        (5_040, 5_040, 5_040)
    ]
    assert rows(pg_dbs.target_dsn, "SELECT value FROM dw.mapper_checkpoint") == [
        ('{"rows":5040,"after":[{"t":"int","v":"5040"}]}',)
    ]


@pytest.mark.parametrize("strategy", ["scd1", "scd2"])
def test_delete_detection_and_a_key_that_comes_back(pg_dbs, strategy):
    make_accounts(pg_dbs.source_dsn, 3_000)
    cfg = config(strategy, "dw.acc", keys=("id",), detect_deletes=True)
    chunks, _, _ = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r1", ACCOUNTS, "2026-06-01T00:00:00+00:00")
    assert len(chunks) >= 2
    pg_exec(pg_dbs.source_dsn, "DELETE FROM accounts WHERE id % 500 = 7")  # 6 keys, spread over the chunks
    _, _, s2 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r2", ACCOUNTS, "2026-06-02T00:00:00+00:00")
    assert s2.rows_deleted == 6 and s2.rows_updated == 0
    src = rows(pg_dbs.source_dsn, "SELECT id, name, balance, updated_at FROM accounts ORDER BY id")
    assert current(pg_dbs.target_dsn, "dw.acc", strategy == "scd2") == src
    pg_exec(pg_dbs.source_dsn, "INSERT INTO accounts VALUES (7, 'back again', 7, now())")
    _, _, s3 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r3", ACCOUNTS, "2026-06-03T00:00:00+00:00")
    assert (s3.rows_inserted, s3.rows_deleted) == (1, 0)
    src = rows(pg_dbs.source_dsn, "SELECT id, name, balance, updated_at FROM accounts ORDER BY id")
    assert current(pg_dbs.target_dsn, "dw.acc", strategy == "scd2") == src
    if strategy == "scd2":
        history = rows(pg_dbs.target_dsn, "SELECT name, valid_from::date, valid_to::date, is_current FROM dw.acc "
                                          "WHERE id = 7 ORDER BY valid_from")  # fmt: skip
        assert history == [
            ("a7", dt.date(2026, 6, 1), dt.date(2026, 6, 2), False),
            ("back again", dt.date(2026, 6, 3), None, True),
        ]


def test_scd2_refuses_an_effective_time_older_than_the_target(pg_dbs):
    make_accounts(pg_dbs.source_dsn, 50)
    cfg = config("scd2", "dw.acc", keys=("id",))
    run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r2", ACCOUNTS, "2026-06-02T00:00:00+00:00")
    with pytest.raises(EffectiveTimeError, match=r"older than versions already in dw\.acc"):
        run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r1", ACCOUNTS, "2026-06-01T00:00:00+00:00")
    assert rows(pg_dbs.target_dsn, "SELECT count(*), count(DISTINCT valid_from) FROM dw.acc") == [(50, 1)]


def test_overlapping_runs_of_one_mapref_are_refused(pg_dbs):
    make_accounts(pg_dbs.source_dsn, 2_000)
    cfg = config("scd2", "dw.acc", keys=("id",))
    with sessions(pg_dbs.source_uri, pg_dbs.target_uri) as (src, tgt):
        first = plan_run(cfg, ACCOUNTS, "scheduled", "2026-06-02T00:00:00+00:00", 1024, src, tgt)
        # a task of 'scheduled' is executing (its session is open): the other run's plan, in its own process,
        # is refused
        with (
            sessions(pg_dbs.source_uri, pg_dbs.target_uri) as (src2, tgt2),
            pytest.raises(RunLockedError, match=r"'scheduled'.*a task of it is executing\. Runs of one mapref"),
        ):
            plan_run(cfg, ACCOUNTS, "backfill", "2026-06-01T00:00:00+00:00", 1024, src2, tgt2)
        for c in first:
            ChunkJob(cfg, ChunkSpec.from_dict(c), ACCOUNTS, "scheduled", 1, src, tgt).run()
        finalize_run(cfg, "scheduled", first, tgt)
    touch(pg_dbs.source_dsn, "id <= 100", T0 + dt.timedelta(days=3))
    run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "next", ACCOUNTS, "2026-06-03T00:00:00+00:00")
    assert rows(pg_dbs.target_dsn, "SELECT count(*), count(*) FILTER (WHERE is_current) FROM dw.acc") == [
        (2_100, 2_000)
    ]


def test_two_concurrent_runs_end_state_is_correct(pg_dbs):
    make_accounts(pg_dbs.source_dsn, 20_000)
    cfg = config("scd2", "dw.acc", keys=("id",), chunk_size=2_000)
    outcomes: dict[str, str] = {}

    def run(run_id: str, eff: str) -> None:
        try:
            run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, run_id, ACCOUNTS, eff)
            outcomes[run_id] = "success"
        except Exception as exc:
            outcomes[run_id] = f"{type(exc).__name__}: {exc}"

    threads = [threading.Thread(target=run, args=(f"run{i}", f"2026-06-0{i}T00:00:00+00:00")) for i in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["run1", "run2"] and "success" in outcomes.values(), outcomes
    refused = [o for o in outcomes.values() if o != "success"]
    assert all(o.startswith(("RunLockedError", "EffectiveTimeError")) for o in refused), outcomes
    assert rows(pg_dbs.target_dsn, "SELECT count(*) FROM (SELECT id FROM dw.acc WHERE is_current GROUP BY id "
                                   "HAVING count(*) > 1) x") == [(0,)]  # fmt: skip
    assert rows(pg_dbs.target_dsn, "SELECT count(*), count(*) FILTER (WHERE is_current) FROM dw.acc") == [
        (20_000, 20_000)
    ]


@pytest.mark.parametrize("how", ["failed", "dead"])
def test_next_append_run_after_a_partial_run_loads_no_row_twice(pg_dbs, how):
    """append + KEY: run r1 commits 2 of its chunks, then fails (finalize writes 'failed') or dies (job log stays
    'running', no task of it executes). The next run takes it over: no row twice, none missing, r1's job log
    counts what it committed, and clearing r1 later changes nothing."""
    make_accounts(pg_dbs.source_dsn, 5_000)
    cfg = config("append", "dw.acc_log", keys=("id",), checkpoint_column="updated_at")
    with sessions(pg_dbs.source_uri, pg_dbs.target_uri) as (src, tgt):
        chunks = plan_run(cfg, ACCOUNTS, "r1", "2026-06-01T00:00:00+00:00", 1024, src, tgt)
        assert len(chunks) == 5
        done = [ChunkJob(cfg, ChunkSpec.from_dict(c), ACCOUNTS, "r1", 1, src, tgt).run() for c in chunks[1:3]]
        if how == "failed":
            with pytest.raises(ChunkFailedError):
                finalize_run(cfg, "r1", chunks, tgt)
    # the session of r1 is closed: no task of it executes
    _, _, s2 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r2", ACCOUNTS, "2026-06-02T00:00:00+00:00")
    committed = sum(r.rows_inserted for r in done)
    assert (s2.status, s2.rows_read, s2.rows_inserted) == ("success", 5_000 - committed, 5_000 - committed)
    assert rows(pg_dbs.target_dsn, "SELECT count(*), count(DISTINCT id) FROM dw.acc_log") == [(5_000, 5_000)]
    assert rows(pg_dbs.target_dsn, "SELECT status, rows_inserted FROM dw.mapper_joblog WHERE run_id = 'r1'") == [
        ("abandoned", committed)
    ]
    stored = rows(pg_dbs.target_dsn, "SELECT value FROM dw.mapper_checkpoint")
    assert stored == [((T0 + dt.timedelta(seconds=5_000)).isoformat(),)]
    with sessions(pg_dbs.source_uri, pg_dbs.target_uri) as (src, tgt):  # someone clears r1 later
        assert plan_run(cfg, ACCOUNTS, "r1", "2026-06-01T00:00:00+00:00", 1024, src, tgt) == []
        assert finalize_run(cfg, "r1", [], tgt).status == "abandoned"
    assert rows(pg_dbs.target_dsn, "SELECT count(*) FROM dw.acc_log") == [(5_000,)]


def test_a_plan_that_has_taken_the_lock_blocks_others_while_it_is_still_measuring(pg_dbs):
    """The lock row commits (with the DDL) before the plan is frozen: the run's job log row says 'running' from
    then on, so a second plan in that window is refused instead of finding an owner without a job log row."""
    make_accounts(pg_dbs.source_dsn, 3_000)
    slow = f"SELECT * FROM ({ACCOUNTS}) a WHERE pg_sleep(0.001) IS NOT NULL"  # ~3 s per full read (the count)
    cfg = config("scd1", "dw.acc", keys=("id",), min_rows_for_parallel=100_000)
    outcome: dict[str, str] = {}

    def first() -> None:
        with sessions(pg_dbs.source_uri, pg_dbs.target_uri) as (src, tgt):
            plan_run(cfg, slow, "first", "2026-06-02T00:00:00+00:00", 1024, src, tgt)
            outcome["first"] = "planned"

    thread = threading.Thread(target=first)
    thread.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not rows(pg_dbs.target_dsn, "SELECT to_regclass('dw.mapper_lock')")[0][0]:
        time.sleep(0.05)
    while time.monotonic() < deadline and rows(pg_dbs.target_dsn, "SELECT count(*) FROM dw.mapper_lock") == [(0,)]:
        time.sleep(0.05)  # the first plan's lock row has committed; it is now counting the source
    assert "first" not in outcome, "the first plan finished before the second started: the test proves nothing"
    with (
        sessions(pg_dbs.source_uri, pg_dbs.target_uri) as (src2, tgt2),
        pytest.raises(RunLockedError, match=r"run 'first' .* job log says 'running'"),
    ):
        plan_run(cfg, slow, "second", "2026-06-01T00:00:00+00:00", 1024, src2, tgt2)
    thread.join(60)
    assert outcome == {"first": "planned"}
    assert rows(pg_dbs.target_dsn, "SELECT run_id FROM dw.mapper_lock") == [("first",)]
