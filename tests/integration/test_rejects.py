"""Rejected rows on a real PostgreSQL: max_error_rows, mapper_rejects, the duplicate-key rule, atomicity."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from airflow_mapper_provider.exceptions import DataError
from airflow_mapper_provider.loader import ChunkJob
from airflow_mapper_provider.models import ChunkSpec
from airflow_mapper_provider.planner import plan_run
from tests.helpers import CUSTOMER_COLUMNS, config, make_customers, pg_exec, rows, run_all, sessions

pytestmark = pytest.mark.pg

TARGET_DDL = """
CREATE SCHEMA IF NOT EXISTS dw;
CREATE TABLE dw.dim_customer (
    customer_id bigint PRIMARY KEY, name text NOT NULL, email text, country char(2),
    balance numeric(12,2) CHECK (balance >= 0), created_at timestamptz, active boolean, birth date,
    notes varchar(50)
)"""
NULL_KEYS = (11, 12, 13)
# 10 bad rows, all in the first chunk (keys 1..5000; NULL keys fall in the first chunk too):
# 4 break the CHECK, 3 are too long for varchar(50), 3 have a NULL key.
BAD = """
UPDATE customers SET balance = -1 WHERE customer_id IN (100, 200, 300, 400);
UPDATE customers SET notes = repeat('y', 60) WHERE customer_id IN (1000, 2000, 3000)"""
SQL = (
    "SELECT CASE WHEN customer_id IN (11, 12, 13) THEN NULL ELSE customer_id END AS customer_id, "
    "name, email, country, balance, created_at, active, birth, notes FROM customers"
)


def _setup(pg_dbs) -> None:
    make_customers(pg_dbs.source_dsn, 20_000)
    pg_exec(pg_dbs.source_dsn, BAD)
    pg_exec(pg_dbs.target_dsn, TARGET_DDL)


def _cfg(budget: int, strategy: str = "scd1", table: str = "dw.dim_customer", **kw):
    kw.setdefault("on_schema_change", "ignore")  # the user's varchar(50) stays: longer notes are refused
    return config(strategy, table, chunk_size=5_000, min_rows_for_parallel=1_000, max_error_rows=budget, **kw)


def test_ten_bad_rows_in_twenty_thousand_are_rejected_exactly(pg_dbs):
    _setup(pg_dbs)
    chunks, results, summary = run_all(_cfg(100), pg_dbs.source_uri, pg_dbs.target_uri, "r1", SQL)
    assert len(chunks) == 4
    assert summary.status == "success"
    assert (summary.rows_read, summary.rows_inserted, summary.rows_rejected) == (20_000, 19_990, 10)
    assert rows(pg_dbs.target_dsn, "SELECT count(*) FROM dw.dim_customer") == [(19_990,)]
    assert [r.path for r in results].count("copy-salvage") == 1  # only the chunk holding bad rows
    rejects = rows(
        pg_dbs.target_dsn,
        "SELECT chunk_index, key_values, row_json, error_code, error_message, rejected_at IS NOT NULL "
        "FROM dw.mapper_rejects WHERE run_id = 'r1' ORDER BY error_code, key_values",
    )
    assert len(rejects) == 10
    by_code: dict[str, list[dict]] = {}
    for chunk_index, keys, row, code, message, stamped in rejects:
        assert chunk_index == 0 and stamped and message
        assert json.loads(row)["customer_id"] == json.loads(keys)["customer_id"]
        by_code.setdefault(code, []).append(json.loads(row))
    assert sorted(r["customer_id"] for r in by_code["23514"]) == [100, 200, 300, 400]  # check violation
    assert sorted(r["customer_id"] for r in by_code["22001"]) == [1000, 2000, 3000]  # value too long
    assert [r["customer_id"] for r in by_code["23502"]] == [None, None, None]  # NULL key
    assert sorted(r["name"] for r in by_code["23502"]) == [f"name {k}" for k in NULL_KEYS]
    # every other row arrived exactly as in the source
    good = rows(pg_dbs.source_dsn, f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE customer_id NOT IN "
                "(11, 12, 13, 100, 200, 300, 400, 1000, 2000, 3000) ORDER BY 1")  # fmt: skip
    assert rows(pg_dbs.target_dsn, f"SELECT {CUSTOMER_COLUMNS} FROM dw.dim_customer ORDER BY 1") == good
    joblog = rows(pg_dbs.target_dsn, "SELECT rows_rejected, status FROM dw.mapper_joblog WHERE run_id = 'r1'")
    assert joblog == [(10, "success")]


def test_over_the_budget_the_chunk_fails_and_commits_nothing(pg_dbs):
    _setup(pg_dbs)
    cfg = _cfg(5)
    with sessions(pg_dbs.source_uri, pg_dbs.target_uri) as (src, tgt):
        chunks = plan_run(cfg, SQL, "r1", "2026-06-01T00:00:00+00:00", 1024, src, tgt)
        specs = [ChunkSpec.from_dict(c) for c in chunks]
        with pytest.raises(DataError, match=r"more than max_error_rows=5 rows refused"):
            ChunkJob(cfg, specs[0], SQL, "r1", 1, src, tgt).run()
        for spec in specs[1:]:
            ChunkJob(cfg, spec, SQL, "r1", 1, src, tgt).run()
    first_kept = int(specs[1].lower["v"])  # chunk 1 holds every key below the second chunk's lower bound
    assert rows(pg_dbs.target_dsn, "SELECT count(*), min(customer_id) FROM dw.dim_customer") == [
        (20_001 - first_kept, first_kept)
    ]
    assert rows(pg_dbs.target_dsn, "SELECT count(*) FROM dw.mapper_rejects") == [(0,)]
    ledger = rows(pg_dbs.target_dsn, "SELECT status, message FROM dw.mapper_chunklog WHERE chunk_index = 0")
    assert ledger[0][0] == "failed" and "max_error_rows=5" in ledger[0][1]


def test_zero_budget_fails_on_the_first_bad_row_with_its_code_and_no_values(pg_dbs):
    _setup(pg_dbs)
    pg_exec(pg_dbs.source_dsn, "UPDATE customers SET balance = 0 WHERE balance < 0")
    pg_exec(pg_dbs.source_dsn, "UPDATE customers SET notes = 'ok' WHERE length(notes) > 50")
    pg_exec(pg_dbs.source_dsn, "UPDATE customers SET notes = 'secret-' || repeat('z', 50) WHERE customer_id = 7")
    cfg = _cfg(0)
    plain = f"SELECT {CUSTOMER_COLUMNS} FROM customers"
    with sessions(pg_dbs.source_uri, pg_dbs.target_uri) as (src, tgt):
        chunks = plan_run(cfg, plain, "r1", "2026-06-01T00:00:00+00:00", 1024, src, tgt)
        with pytest.raises(DataError) as info:
            ChunkJob(cfg, ChunkSpec.from_dict(chunks[0]), plain, "r1", 1, src, tgt).run()
    text = str(info.value)
    assert "SQLSTATE 22001" in text and "max_error_rows" in text and "secret" not in text
    assert rows(pg_dbs.target_dsn, "SELECT count(*) FROM dw.dim_customer") == [(0,)]


def test_duplicate_keys_highest_checkpoint_wins_ties_rejected(pg_dbs):
    make_customers(pg_dbs.source_dsn, 3_000)
    # key 5: three versions, the newest created_at wins; key 6: two identical copies (one loaded);
    # key 7: two different rows with the same created_at (no single winner: both rejected)
    pg_exec(pg_dbs.source_dsn, """
        CREATE TABLE dupes AS SELECT * FROM customers;
        INSERT INTO dupes SELECT customer_id, 'older', email, country, balance, created_at - interval '1 day',
               active, birth, notes FROM customers WHERE customer_id = 5;
        INSERT INTO dupes SELECT customer_id, 'oldest', email, country, balance, created_at - interval '2 day',
               active, birth, notes FROM customers WHERE customer_id = 5;
        INSERT INTO dupes SELECT * FROM customers WHERE customer_id = 6;
        INSERT INTO dupes SELECT customer_id, 'twin', email, country, balance, created_at, active, birth, notes
               FROM customers WHERE customer_id = 7""")  # fmt: skip
    sql = f"SELECT {CUSTOMER_COLUMNS} FROM dupes"
    for strategy, table in (("scd1", "dw.d1"), ("scd2", "dw.d2")):
        cfg = _cfg(10, strategy, table, checkpoint_column="created_at", checkpoint_strategy="NONE")
        _, _, summary = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, f"r-{strategy}", sql)
        assert (summary.rows_read, summary.rows_rejected) == (3_004, 5)
        current = " WHERE is_current" if strategy == "scd2" else ""
        loaded = dict(rows(pg_dbs.target_dsn, f"SELECT customer_id, name FROM {table} "
                                              "WHERE customer_id IN (5, 6, 7)"))  # fmt: skip
        assert loaded == {5: "name 5", 6: "name 6"}  # 7 stays absent: no arbitrary pick
        assert rows(pg_dbs.target_dsn, f"SELECT count(*), count(DISTINCT customer_id) FROM {table}{current}") == [
            (2_999, 2_999)
        ]
        rejected = rows(pg_dbs.target_dsn, "SELECT row_json::json->>'name', error_code FROM dw.mapper_rejects "
                        f"WHERE run_id = 'r-{strategy}' ORDER BY 1")  # fmt: skip
        assert rejected == [("name 6", "21000"), ("name 7", "21000"), ("older", "21000"), ("oldest", "21000"),
                            ("twin", "21000")]  # fmt: skip


def test_scd2_changes_with_bad_rows_keep_one_current_version_per_key(pg_dbs):
    make_customers(pg_dbs.source_dsn, 10_000)
    cfg = _cfg(50, "scd2", "dw.dim_hist")
    plain = f"SELECT {CUSTOMER_COLUMNS} FROM customers"
    run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r1", plain)
    pg_exec(pg_dbs.target_dsn, "ALTER TABLE dw.dim_hist ADD CONSTRAINT short_notes CHECK (length(notes) <= 50)")
    pg_exec(pg_dbs.source_dsn, "UPDATE customers SET name = name || '!' WHERE customer_id % 100 = 0")  # 100 changed
    pg_exec(pg_dbs.source_dsn, "UPDATE customers SET notes = repeat('q', 60) WHERE customer_id IN (300, 7001)")
    _, results, s2 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r2", plain, "2026-06-02T00:00:00+00:00")
    assert s2.status == "success" and s2.rows_rejected == 2
    assert (s2.rows_updated, s2.rows_expired) == (99, 99)  # key 300 changed but was refused: history untouched
    assert rows(
        pg_dbs.target_dsn, "SELECT count(*), count(DISTINCT customer_id) FROM dw.dim_hist WHERE is_current"
    ) == [(10_000, 10_000)]
    assert rows(pg_dbs.target_dsn, "SELECT name, valid_to IS NULL FROM dw.dim_hist WHERE customer_id = 300") == [
        ("name 300", True)
    ]
    assert sum(r.path.endswith("salvage") for r in results) == 2


def test_rows_path_type_conversion_rejected_at_staging(pg_dbs, tmp_path: Path):
    """SQLite source (rows path) into PostgreSQL: text in an integer column is refused by staging's COPY."""
    db = tmp_path / "src.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, qty INTEGER, label TEXT)")
    con.executemany("INSERT INTO items VALUES (?, ?, ?)", [(i, i * 2, f"item {i}") for i in range(1, 3_001)])
    con.execute("UPDATE items SET qty = 'many' WHERE id IN (1500, 2500)")
    con.commit()
    con.close()
    cfg = config("scd1", "dw.items", keys=("id",), max_error_rows=10, chunk_size=10_000)
    _, results, summary = run_all(cfg, f"sqlite:///{db}", pg_dbs.target_uri, "r1", "SELECT id, qty, label FROM items")
    assert (summary.rows_read, summary.rows_inserted, summary.rows_rejected) == (3_000, 2_998, 2)
    assert results[0].path == "rows-salvage"
    rejected = rows(pg_dbs.target_dsn, "SELECT key_values, error_code FROM dw.mapper_rejects ORDER BY 1")
    assert rejected == [('{"id":1500}', "22P02"), ('{"id":2500}', "22P02")]


def test_source_errors_are_not_salvaged(pg_dbs):
    """A data error raised by the source query is not a refused row: the chunk fails, nothing is rejected."""
    make_customers(pg_dbs.source_dsn, 2_000)
    sql = ("SELECT customer_id, name, balance / CASE WHEN customer_id = 1500 THEN 0 ELSE 1 END AS balance "
           "FROM customers")  # fmt: skip
    cfg = config("scd1", "dw.src_err", max_error_rows=100, chunk_size=10_000)
    with sessions(pg_dbs.source_uri, pg_dbs.target_uri) as (src, tgt):
        chunks = plan_run(cfg, sql, "r1", "2026-06-01T00:00:00+00:00", 1024, src, tgt)
        job = ChunkJob(cfg, ChunkSpec.from_dict(chunks[0]), sql, "r1", 1, src, tgt)
        with pytest.raises(Exception, match="division by zero") as info:
            job.run()
    assert getattr(info.value, "sqlstate", None) == "22012" and job.source_failed
    assert rows(pg_dbs.target_dsn, "SELECT count(*) FROM dw.src_err") == [(0,)]
    assert rows(pg_dbs.target_dsn, "SELECT count(*) FROM dw.mapper_rejects") == [(0,)]
