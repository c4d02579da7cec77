"""Delete detection in the field: refused rows are not deletes, and a guard against mass deletes.

Contracts:
1. With ``detect_deletes`` and ``max_error_rows`` > 0, a row the target refuses keeps its key's previous target
   row (scd1: the old row; scd2: the current version stays open); ``rows_deleted`` == 0; the row is in
   ``mapper_rejects``.
2. Deletes are applied by finalize once every chunk succeeded and counted in the job log's ``rows_deleted``.
   ``max_delete_fraction`` (default 0.5) caps the share of the target's current rows one run may delete or
   close; ``allow_empty_extract`` (default False) refuses an empty extract against a non-empty target. A refused
   run fails in finalize (job log 'failed', the message naming the parameter) and leaves the target unchanged.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3

import pytest

from airflow_mapper_provider.exceptions import ChunkFailedError, MapperError
from airflow_mapper_provider.finalizer import finalize_run
from airflow_mapper_provider.loader import ChunkJob
from airflow_mapper_provider.models import ChunkSpec
from airflow_mapper_provider.planner import plan_run
from tests.field.test_scd2_history import assert_scd2_invariants
from tests.helpers import config, pg_exec, rows, run_all, sessions

UTC = dt.timezone.utc
RUN1, RUN2, RUN3 = (f"2026-06-0{n}T00:00:00+00:00" for n in (1, 2, 3))
T0 = dt.datetime(2026, 3, 1, tzinfo=UTC)
N = 2_000
ITEMS = "SELECT id, name, amount, updated_at FROM items"
COLS = "id, name, amount, updated_at"


def make_items(dsn: str, n: int = N) -> None:
    pg_exec(dsn, "CREATE TABLE items (id bigint PRIMARY KEY, name text, amount numeric(12,2), updated_at timestamptz)")
    pg_exec(dsn, "INSERT INTO items SELECT g, 'item ' || g, g, %(t)s + g * interval '1 second' "
                 "FROM generate_series(1, %(n)s) g", {"t": T0, "n": n})  # fmt: skip
    pg_exec(dsn, "ANALYZE items")


def _cfg(strategy: str, table: str, **kw):
    return config(strategy, table, keys=("id",), detect_deletes=True, chunk_size=500, min_rows_for_parallel=1_000,
                  **kw)  # fmt: skip


def snapshot(dsn: str, table: str) -> list[tuple]:
    return rows(dsn, f"SELECT * FROM {table} ORDER BY 1, 2")


def current(dsn: str, table: str, strategy: str) -> list[tuple]:
    cond = " WHERE is_current" if strategy == "scd2" else ""
    return rows(dsn, f"SELECT {COLS} FROM {table}{cond} ORDER BY id")


def source(dsn: str, where: str = "true") -> list[tuple]:
    return rows(dsn, f"SELECT {COLS} FROM items WHERE {where} ORDER BY id")


def joblog(dsn: str, run_id: str) -> list[tuple]:
    return rows(dsn, f"SELECT status, rows_deleted, message FROM dw.mapper_joblog WHERE run_id = '{run_id}'")


def closed_at(dsn: str, table: str, run: str) -> list[tuple]:
    """scd2: keys whose version was closed at the effective time ``run`` without a newer version."""
    newer = f"SELECT 1 FROM {table} n WHERE n.id = t.id AND n.valid_from = t.valid_to"
    return rows(dsn, f"SELECT id FROM {table} t WHERE valid_to = '{run}' AND NOT is_current AND NOT EXISTS ({newer}) "
                     "ORDER BY id")  # fmt: skip


# ---- 1. a refused row is not a delete ----------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["scd1", "scd2"])
def test_rows_the_target_refuses_keep_their_previous_target_row(pg_dbs, strategy):
    """A CHECK and a NOT NULL the user added to the target, and a value out of range for the target's smallint."""
    src, tgt, table = pg_dbs.source_dsn, pg_dbs.target_dsn, "dw.items_r"
    make_items(src)
    pg_exec(src, "ALTER TABLE items ADD COLUMN qty int NOT NULL DEFAULT 1")
    sql = "SELECT id, name, amount, updated_at, qty FROM items"
    cfg = _cfg(strategy, table, max_error_rows=10)
    run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r1", sql, RUN1)
    pg_exec(tgt, f"ALTER TABLE {table} ADD CONSTRAINT amount_ok CHECK (amount >= 0); "
                 f"ALTER TABLE {table} ALTER COLUMN name SET NOT NULL; "
                 f"ALTER TABLE {table} ALTER COLUMN qty TYPE smallint")  # fmt: skip
    before = snapshot(tgt, table)
    old = {r[0]: r for r in current(tgt, table, strategy)}
    pg_exec(src, "UPDATE items SET amount = -1 WHERE id IN (100, 900, 1700)")  # CHECK 23514
    pg_exec(src, "UPDATE items SET name = NULL WHERE id IN (400, 1200)")  # NOT NULL 23502
    pg_exec(src, "UPDATE items SET qty = 100000 WHERE id = 1900")  # out of smallint range 22003
    pg_exec(src, "UPDATE items SET amount = amount + 1 WHERE id % 100 = 50")  # 20 good changes
    _, _, s2 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r2", sql, RUN2)
    refused = [100, 400, 900, 1200, 1700, 1900]
    assert (s2.status, s2.rows_read, s2.rows_rejected, s2.rows_deleted) == ("success", N, 6, 0)
    assert (s2.rows_updated, s2.rows_inserted) == (20, 0)
    assert joblog(tgt, "r2")[0][:2] == ("success", 0)
    got = {r[0]: r for r in current(tgt, table, strategy)}
    assert sorted(got) == list(range(1, N + 1))  # no key was deleted or closed
    assert [got[k] for k in refused] == [old[k] for k in refused]  # the previous row, unchanged
    good = source(src, f"id NOT IN ({', '.join(map(str, refused))})")
    assert [got[r[0]] for r in good] == good
    rejects = rows(tgt, "SELECT key_values, error_code FROM dw.mapper_rejects WHERE run_id = 'r2'")
    assert sorted((json.loads(k)["id"], code) for k, code in rejects) == [
        (100, "23514"), (400, "23502"), (900, "23514"), (1200, "23502"), (1700, "23514"), (1900, "22003")
    ]  # fmt: skip
    if strategy == "scd2":
        assert_scd2_invariants(tgt, table)
        assert rows(tgt, f"SELECT count(*) FROM {table} WHERE NOT is_current") == [(20,)]
        changed = {r for r in snapshot(tgt, table) if r not in before}
        assert len(changed) == 40  # 20 closed old versions + 20 new ones; refused keys untouched


@pytest.mark.parametrize("strategy", ["scd1", "scd2"])
def test_value_the_staging_refuses_keeps_its_previous_target_row(pg_dbs, tmp_path, strategy):
    """From a source without column types (SQLite): a value that does not convert is refused while staging."""
    tgt, table = pg_dbs.target_dsn, "dw.items_s"
    src_file = tmp_path / "src.db"
    with sqlite3.connect(src_file) as c:
        c.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, amount NUMERIC)")
        c.executemany("INSERT INTO items VALUES (?, ?, ?)", [(i, f"item {i}", i) for i in range(1, 3001)])
    uri, sql = f"sqlite:///{src_file}", "SELECT id, name, amount FROM items"
    cfg = config(strategy, table, keys=("id",), detect_deletes=True, max_error_rows=10)
    run_all(cfg, uri, pg_dbs.target_uri, "r1", sql, RUN1)
    cond = " WHERE is_current" if strategy == "scd2" else ""
    before = rows(tgt, f"SELECT id, name, amount FROM {table}{cond} ORDER BY id")
    with sqlite3.connect(src_file) as c:  # past the 1,000 rows sampled for types: 'n/a' is no numeric
        c.execute("UPDATE items SET amount = 'n/a' WHERE id IN (2500, 2600)")
    _, _, s2 = run_all(cfg, uri, pg_dbs.target_uri, "r2", sql, RUN2)
    assert (s2.status, s2.rows_read, s2.rows_rejected, s2.rows_deleted) == ("success", 3_000, 2, 0)
    assert rows(tgt, f"SELECT id, name, amount FROM {table}{cond} ORDER BY id") == before
    rejects = rows(tgt, "SELECT key_values, error_code FROM dw.mapper_rejects WHERE run_id = 'r2'")
    assert sorted((json.loads(k)["id"], code) for k, code in rejects) == [(2500, "22P02"), (2600, "22P02")]
    if strategy == "scd2":
        assert_scd2_invariants(tgt, table)
        assert rows(tgt, f"SELECT count(*) FROM {table} WHERE NOT is_current") == [(0,)]


# ---- 2. the delete guard -----------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["scd1", "scd2"])
def test_empty_extract_is_refused_unless_allowed(pg_dbs, strategy):
    src, tgt, table = pg_dbs.source_dsn, pg_dbs.target_dsn, "dw.items_e"
    make_items(src)
    run_all(_cfg(strategy, table), pg_dbs.source_uri, pg_dbs.target_uri, "r1", ITEMS, RUN1)
    before = snapshot(tgt, table)
    pg_exec(src, "TRUNCATE items")  # an upstream job failed and left the source empty
    with pytest.raises(MapperError, match="allow_empty_extract"):
        run_all(_cfg(strategy, table), pg_dbs.source_uri, pg_dbs.target_uri, "r2", ITEMS, RUN2)
    assert snapshot(tgt, table) == before
    status, deleted, message = joblog(tgt, "r2")[0]
    assert (status, deleted) == ("failed", 0) and "allow_empty_extract" in message

    cfg = _cfg(strategy, table, allow_empty_extract=True, max_delete_fraction=1.0)
    _, _, s3 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r3", ITEMS, RUN3)
    assert (s3.status, s3.rows_read, s3.rows_deleted, s3.rows_inserted, s3.rows_updated) == ("success", 0, N, 0, 0)
    assert joblog(tgt, "r3")[0][:2] == ("success", N)
    assert current(tgt, table, strategy) == []
    if strategy == "scd2":  # every version closed at the run's effective time, none removed
        assert rows(tgt, f"SELECT count(*), count(*) FILTER (WHERE valid_to = '{RUN3}') FROM {table}") == [(N, N)]
        assert_scd2_invariants(tgt, table)


@pytest.mark.parametrize("strategy", ["scd1", "scd2"])
def test_truncated_extract_is_refused_by_max_delete_fraction(pg_dbs, strategy):
    src, tgt, table = pg_dbs.source_dsn, pg_dbs.target_dsn, "dw.items_t"
    make_items(src)
    run_all(_cfg(strategy, table), pg_dbs.source_uri, pg_dbs.target_uri, "r1", ITEMS, RUN1)
    before = snapshot(tgt, table)
    partial = ITEMS + " WHERE id % 10 < 3"  # a broken join upstream: 30% of the keys arrive
    with pytest.raises(MapperError, match="max_delete_fraction"):
        run_all(_cfg(strategy, table), pg_dbs.source_uri, pg_dbs.target_uri, "r2", partial, RUN2)
    assert snapshot(tgt, table) == before  # every row kept
    status, deleted, message = joblog(tgt, "r2")[0]
    assert (status, deleted) == ("failed", 0) and "max_delete_fraction" in message

    cfg = _cfg(strategy, table, max_delete_fraction=1.0)
    _, _, s3 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r3", partial, RUN3)
    assert (s3.status, s3.rows_read, s3.rows_deleted, s3.rows_unchanged) == ("success", 600, 1_400, 600)
    assert joblog(tgt, "r3")[0][:2] == ("success", 1_400)
    assert current(tgt, table, strategy) == source(src, "id % 10 < 3")
    if strategy == "scd2":
        assert closed_at(tgt, table, RUN3) == [(k,) for k in range(1, N + 1) if k % 10 >= 3]
        assert_scd2_invariants(tgt, table)


@pytest.mark.parametrize("strategy", ["scd1", "scd2"])
def test_normal_run_deleting_five_percent_passes_with_exact_counts(pg_dbs, strategy):
    src, tgt, table = pg_dbs.source_dsn, pg_dbs.target_dsn, "dw.items_n"
    make_items(src)
    chunks, _, _ = run_all(_cfg(strategy, table), pg_dbs.source_uri, pg_dbs.target_uri, "r1", ITEMS, RUN1)
    assert len(chunks) == 4
    pg_exec(src, "DELETE FROM items WHERE id % 20 = 3")  # 100 keys = 5%, in every chunk
    pg_exec(src, "UPDATE items SET name = name || '*' WHERE id % 50 = 0")  # 40 keys
    pg_exec(src, "INSERT INTO items SELECT g, 'new', 0, now() FROM generate_series(2001, 2010) g")
    _, _, s2 = run_all(_cfg(strategy, table), pg_dbs.source_uri, pg_dbs.target_uri, "r2", ITEMS, RUN2)
    assert (s2.status, s2.rows_read, s2.rows_deleted) == ("success", 1_910, 100)
    assert (s2.rows_inserted, s2.rows_updated, s2.rows_unchanged) == (10, 40, 1_860)
    assert joblog(tgt, "r2")[0][:2] == ("success", 100)
    assert current(tgt, table, strategy) == source(src)
    if strategy == "scd2":
        assert s2.rows_expired == 40
        assert closed_at(tgt, table, RUN2) == [(k,) for k in range(3, N + 1, 20)]
        assert rows(tgt, f"SELECT count(*) FROM {table}") == [(N + 40 + 10,)]
        assert_scd2_invariants(tgt, table)


def test_max_delete_fraction_is_an_inclusive_share_of_the_current_rows(pg_dbs):
    src, tgt, table = pg_dbs.source_dsn, pg_dbs.target_dsn, "dw.items_f"
    make_items(src)
    cfg = _cfg("scd1", table, max_delete_fraction=0.1)
    run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r1", ITEMS, RUN1)
    pg_exec(src, "DELETE FROM items WHERE id <= 201")  # 201 of 2,000: just over 10%
    before = snapshot(tgt, table)
    with pytest.raises(MapperError, match="max_delete_fraction"):
        run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r2", ITEMS, RUN2)
    assert snapshot(tgt, table) == before
    pg_exec(src, "INSERT INTO items VALUES (1, 'item 1', 1, %(t)s)", {"t": T0 + dt.timedelta(seconds=1)})
    _, _, s3 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r3", ITEMS, RUN3)  # exactly 10%: allowed
    assert (s3.status, s3.rows_deleted, s3.rows_unchanged) == ("success", 200, 1_800)
    assert current(tgt, table, "scd1") == source(src)


@pytest.mark.parametrize("strategy", ["scd1", "scd2"])
def test_no_delete_is_applied_while_a_chunk_failed(pg_dbs, strategy):
    """Deletes wait for finalize: chunks that succeeded next to a failed one delete nothing; resuming the failed
    chunk and finalizing again applies them all."""
    src, tgt, table = pg_dbs.source_dsn, pg_dbs.target_dsn, "dw.items_c"
    make_items(src)
    pg_exec(src, "ALTER TABLE items ADD COLUMN one int NOT NULL DEFAULT 1")
    sql = "SELECT id, name, amount / one AS amount, updated_at FROM items"
    cfg = _cfg(strategy, table)
    run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r1", sql, RUN1)
    before = snapshot(tgt, table)
    pg_exec(src, "DELETE FROM items WHERE id % 50 = 7")  # 40 keys, spread over the chunks
    pg_exec(src, "UPDATE items SET one = 0 WHERE id = 1990")  # the last chunk fails in the source
    with sessions(pg_dbs.source_uri, pg_dbs.target_uri) as (s, t):
        chunks = plan_run(cfg, sql, "r2", RUN2, 1024, s, t)
        assert len(chunks) == 4
        for c in chunks[:-1]:
            ChunkJob(cfg, ChunkSpec.from_dict(c), sql, "r2", 1, s, t).run()
        with pytest.raises(Exception, match=r"(?i)division by zero"):
            ChunkJob(cfg, ChunkSpec.from_dict(chunks[-1]), sql, "r2", 1, s, t).run()
        with pytest.raises(ChunkFailedError):
            finalize_run(cfg, "r2", chunks, t)
    assert snapshot(tgt, table) == before  # nothing changed in the source but deletes: nothing applied
    assert joblog(tgt, "r2")[0][:2] == ("failed", 0)
    pg_exec(src, "UPDATE items SET one = 1 WHERE id = 1990")  # fixed; resume the failed chunk (new task, new sessions)
    with sessions(pg_dbs.source_uri, pg_dbs.target_uri) as (s, t):
        ChunkJob(cfg, ChunkSpec.from_dict(chunks[-1]), sql, "r2", 2, s, t).run()
        summary = finalize_run(cfg, "r2", chunks, t)
    assert (summary.status, summary.rows_deleted) == ("success", 40)
    assert joblog(tgt, "r2")[0][:2] == ("success", 40)
    assert current(tgt, table, strategy) == source(src)
    if strategy == "scd2":
        assert_scd2_invariants(tgt, table)


def test_scd2_delete_share_is_of_current_versions_not_history(pg_dbs):
    """1,000 keys with 3 versions each: closing 600 keys is 60% of the current rows (refused at 0.5), though only
    20% of the table's rows."""
    src, tgt, table = pg_dbs.source_dsn, pg_dbs.target_dsn, "dw.items_h"
    make_items(src, 1_000)
    cfg = _cfg("scd2", table)
    for n, run in enumerate((RUN1, RUN2, RUN3), start=1):
        if n > 1:
            pg_exec(src, "UPDATE items SET name = name || '+'")
        run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, f"r{n}", ITEMS, run)
    assert rows(tgt, f"SELECT count(*), count(*) FILTER (WHERE is_current) FROM {table}") == [(3_000, 1_000)]
    before = snapshot(tgt, table)
    with pytest.raises(MapperError, match="max_delete_fraction"):
        run_all(
            cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r4", ITEMS + " WHERE id <= 400", "2026-06-04T00:00:00+00:00"
        )
    assert snapshot(tgt, table) == before
    assert joblog(tgt, "r4")[0][:2] == ("failed", 0)
