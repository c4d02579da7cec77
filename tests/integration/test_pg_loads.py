"""SCD end states, idempotency and atomicity on a real PostgreSQL (source and target in different databases)."""

from __future__ import annotations

import pytest

from airflow_mapper_provider.exceptions import SchemaError
from airflow_mapper_provider.loader import ChunkJob
from airflow_mapper_provider.models import ChunkSpec
from airflow_mapper_provider.planner import plan_run
from tests.helpers import (
    CUSTOMER_COLUMNS,
    add_customers,
    config,
    make_customers,
    pg_exec,
    rows,
    run_all,
    sessions,
    source_rows,
)

SQL = f"SELECT {CUSTOMER_COLUMNS} FROM customers"
RUN1, RUN2, RUN3 = "2026-06-01T00:00:00+00:00", "2026-06-02T00:00:00+00:00", "2026-06-03T00:00:00+00:00"


def current_rows(dsn: str, table: str) -> list[tuple]:
    return rows(dsn, f"SELECT {CUSTOMER_COLUMNS} FROM {table} WHERE is_current ORDER BY 1")


def test_scd1_initial_then_changes(pg_dbs):
    make_customers(pg_dbs.source_dsn, 10_000)
    cfg = config("scd1", "dw.dim_customer")
    chunks, results, summary = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r1", SQL)
    assert len(chunks) >= 8
    assert summary.status == "success" and summary.rows_read == summary.rows_inserted == 10_000
    assert {r.path for r in results} == {"copy-direct"}  # empty target ranges go straight in
    assert source_rows(pg_dbs.target_dsn, "dw.dim_customer") == source_rows(pg_dbs.source_dsn)

    pg_exec(pg_dbs.source_dsn, "UPDATE customers SET balance = balance + 1 WHERE customer_id % 100 = 0")
    pg_exec(pg_dbs.source_dsn, "UPDATE customers SET email = NULL WHERE customer_id IN (1, 2, 3)")
    add_customers(pg_dbs.source_dsn, 10_001, 10_500)
    _, results, summary = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r2", SQL, RUN2)
    assert (summary.rows_read, summary.rows_inserted, summary.rows_updated) == (10_500, 500, 103)
    assert summary.rows_unchanged == 10_500 - 500 - 103
    assert source_rows(pg_dbs.target_dsn, "dw.dim_customer") == source_rows(pg_dbs.source_dsn)
    # the key is the primary key; exact source types were kept
    types = dict(
        rows(
            pg_dbs.target_dsn,
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'dw.dim_customer'::regclass AND attnum > 0",
        )
    )
    assert types["balance"] == "numeric(12,2)" and types["country"] == "character(2)"
    assert types["created_at"] == "timestamp with time zone" and types["notes"] == "character varying(200)"
    pk = rows(pg_dbs.target_dsn, "SELECT count(*) FROM pg_index WHERE indrelid = 'dw.dim_customer'::regclass "
              "AND indisprimary")  # fmt: skip
    assert pk == [(1,)]


def test_scd2_three_runs_keep_history(pg_dbs):
    make_customers(pg_dbs.source_dsn, 5_000)
    cfg = config("scd2", "dw.dim_customer_hist")
    t = "dw.dim_customer_hist"
    _, _, s1 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r1", SQL, RUN1)
    assert (s1.rows_inserted, s1.rows_updated, s1.rows_expired) == (5_000, 0, 0)
    assert current_rows(pg_dbs.target_dsn, t) == source_rows(pg_dbs.source_dsn)

    pg_exec(pg_dbs.source_dsn, "UPDATE customers SET name = name || '*' WHERE customer_id % 50 = 0")  # 100 keys
    add_customers(pg_dbs.source_dsn, 5_001, 5_200)
    _, _, s2 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r2", SQL, RUN2)
    assert (s2.rows_read, s2.rows_inserted, s2.rows_updated, s2.rows_expired) == (5_200, 200, 100, 100)
    assert s2.rows_unchanged == 5_200 - 300

    pg_exec(pg_dbs.source_dsn, "UPDATE customers SET balance = 0 WHERE customer_id % 100 = 0")  # 52 keys, 50 again
    pg_exec(pg_dbs.source_dsn, "UPDATE customers SET country = NULL WHERE customer_id = 7")
    _, _, s3 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r3", SQL, RUN3)
    changed3 = (
        len(rows(pg_dbs.source_dsn, "SELECT 1 FROM customers WHERE customer_id % 100 = 0 AND customer_id > 0")) + 1
    )
    assert (s3.rows_inserted, s3.rows_updated, s3.rows_expired) == (0, changed3, changed3)

    assert current_rows(pg_dbs.target_dsn, t) == source_rows(pg_dbs.source_dsn)
    assert rows(pg_dbs.target_dsn, f"SELECT count(*) FROM {t}") == [(5_200 + 100 + changed3,)]
    assert rows(pg_dbs.target_dsn, f"SELECT customer_id FROM {t} GROUP BY 1 HAVING count(*) FILTER "
                                   "(WHERE is_current) <> 1") == []  # fmt: skip
    # key 100 changed in run 2 and run 3: three versions, contiguous validity, one open
    history = rows(pg_dbs.target_dsn, f"SELECT valid_from, valid_to, is_current FROM {t} WHERE customer_id = 100 "
                                      "ORDER BY valid_from")  # fmt: skip
    assert [(str(a.date()), b and str(b.date()), c) for a, b, c in history] == [
        ("2026-06-01", "2026-06-02", False),
        ("2026-06-02", "2026-06-03", False),
        ("2026-06-03", None, True),
    ]
    # the row hash differs between versions and is filled everywhere
    assert rows(pg_dbs.target_dsn, f"SELECT count(*) FROM {t} WHERE row_hash IS NULL") == [(0,)]
    assert rows(pg_dbs.target_dsn, f"SELECT count(DISTINCT row_hash) FROM {t} WHERE customer_id = 100") == [(3,)]


def test_append_loads_every_row(pg_dbs):
    make_customers(pg_dbs.source_dsn, 3_000)
    cfg = config("append", "dw.fact_customer")
    _, results, s = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r1", SQL)
    assert s.rows_read == s.rows_inserted == 3_000 and s.rows_unchanged == 0
    assert {r.path for r in results} == {"copy-direct"}  # append never stages
    assert source_rows(pg_dbs.target_dsn, "dw.fact_customer") == source_rows(pg_dbs.source_dsn)
    run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r2", SQL)  # a new run appends again
    assert rows(pg_dbs.target_dsn, "SELECT count(*), count(DISTINCT customer_id) FROM dw.fact_customer") == [
        (6_000, 3_000)
    ]


@pytest.mark.parametrize("strategy", ["append", "scd1", "scd2"])
def test_chunk_run_twice_is_a_noop(pg_dbs, strategy):
    make_customers(pg_dbs.source_dsn, 4_000)
    cfg = config(strategy, "dw.twice")
    table = "dw.twice"
    with sessions(pg_dbs.source_uri, pg_dbs.target_uri) as (src, tgt):
        chunks = plan_run(cfg, SQL, "r1", RUN1, 1024, src, tgt)
        spec = ChunkSpec.from_dict(chunks[2])
        first = ChunkJob(cfg, spec, SQL, "r1", 1, src, tgt).run()
        before = rows(pg_dbs.target_dsn, f"SELECT * FROM {table} ORDER BY 1")
        second = ChunkJob(cfg, spec, SQL, "r1", 2, src, tgt).run()  # a retry or clear after the commit
        assert rows(pg_dbs.target_dsn, f"SELECT * FROM {table} ORDER BY 1") == before
        assert second.from_ledger and second.rows_inserted == first.rows_inserted > 0
    if strategy != "append":  # the apply itself is idempotent too (a new run over unchanged data)
        pg_exec(pg_dbs.target_dsn, "UPDATE dw.mapper_joblog SET status = 'failed'")  # r1 gave up: r2 may start
        with sessions(pg_dbs.source_uri, pg_dbs.target_uri) as (src, tgt):
            planned = plan_run(cfg, SQL, "r2", RUN2, 1024, src, tgt)[2]
            assert planned == {**chunks[2], "effective_time": RUN2, "target_empty": False}
            again = ChunkJob(cfg, ChunkSpec.from_dict(planned), SQL, "r2", 1, src, tgt).run()
        assert (again.rows_inserted, again.rows_updated, again.rows_unchanged) == (0, 0, first.rows_read)
        assert rows(pg_dbs.target_dsn, f"SELECT * FROM {table} ORDER BY 1") == before


@pytest.mark.parametrize("strategy", ["append", "scd1", "scd2"])
def test_chunk_failing_midway_leaves_target_untouched(pg_dbs, strategy):
    make_customers(pg_dbs.source_dsn, 4_000)
    cfg = config(strategy, "dw.atomic", min_rows_for_parallel=10**9)  # one chunk
    good = SQL
    run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r1", good)
    before = rows(pg_dbs.target_dsn, "SELECT * FROM dw.atomic ORDER BY 1")
    pg_exec(pg_dbs.source_dsn, "UPDATE customers SET balance = balance + 5")
    # row 3500 raises division by zero after thousands of rows were already streamed into the target
    bad = SQL.replace("balance,", "balance + 0 * (1 / (customer_id - 3500)) AS balance,")
    with sessions(pg_dbs.source_uri, pg_dbs.target_uri) as (src, tgt):
        chunks = plan_run(cfg, bad, "r2", RUN2, 1024, src, tgt)
        with pytest.raises(Exception, match=r"(?i)division by zero"):
            ChunkJob(cfg, ChunkSpec.from_dict(chunks[0]), bad, "r2", 1, src, tgt).run()
    assert rows(pg_dbs.target_dsn, "SELECT * FROM dw.atomic ORDER BY 1") == before
    ledger = rows(pg_dbs.target_dsn, "SELECT status, rows_read, message FROM dw.mapper_chunklog WHERE run_id = 'r2'")
    fix = "guard it in source_sql (e.g. NULLIF(divisor, 0))"
    assert ledger == [
        ("failed", 0, f"DivisionByZero (SQLSTATE 22012): division by zero: an expression divides by zero: {fix}")
    ]


def test_composite_key_hash_buckets_cover_every_key_once(pg_dbs):
    pg_exec(
        pg_dbs.source_dsn,
        "CREATE TABLE lines (order_id int, line_no int, qty int, PRIMARY KEY (order_id, line_no))",
    )
    pg_exec(pg_dbs.source_dsn, "INSERT INTO lines SELECT g / 10, g % 10, g FROM generate_series(0, 29999) g")
    pg_exec(pg_dbs.source_dsn, "ANALYZE lines")
    cfg = config("scd1", "dw.lines", keys=("order_id", "line_no"), chunk_size=3_000)
    sql = "SELECT order_id, line_no, qty FROM lines"
    chunks, results, s = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r1", sql)
    assert {c["kind"] for c in chunks} == {"hash"} and len(chunks) == 10
    assert sum(r.rows_read for r in results) == 30_000 == s.rows_inserted
    assert all(1_500 < r.rows_read < 4_500 for r in results)  # buckets are roughly even
    assert rows(pg_dbs.target_dsn, "SELECT count(*) FROM dw.lines") == [(30_000,)]
    assert rows(pg_dbs.target_dsn, "SELECT sum(qty)::bigint FROM dw.lines") == [(sum(range(30_000)),)]


def test_skewed_sparse_keys_give_balanced_ranges(pg_dbs):
    pg_exec(pg_dbs.source_dsn, "CREATE TABLE events (id bigint PRIMARY KEY, v text)")
    # 18,000 dense keys, then 2,000 keys spread over twelve orders of magnitude
    pg_exec(pg_dbs.source_dsn, "INSERT INTO events SELECT g, 'd' FROM generate_series(1, 18000) g")
    pg_exec(pg_dbs.source_dsn, "INSERT INTO events SELECT 10^6 + (g::numeric ^ 3.6)::bigint, 's' "
                               "FROM generate_series(1, 2000) g")  # fmt: skip
    pg_exec(pg_dbs.source_dsn, "ANALYZE events")
    cfg = config("scd1", "dw.events", keys=("id",), chunk_size=2_000)
    chunks, results, s = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r1", "SELECT id, v FROM events")
    assert len(chunks) == 10 and {c["kind"] for c in chunks} == {"range"}
    assert [r.rows_read for r in results] == [2_000] * 10
    assert s.rows_inserted == 20_000


def test_cross_database_paths_sqlite_to_pg_and_back(pg_dbs, tmp_path):
    import sqlite3

    src_file = tmp_path / "src.db"
    with sqlite3.connect(src_file) as c:
        c.execute("CREATE TABLE items (item_id INTEGER PRIMARY KEY, label TEXT, price NUMERIC, seen TEXT)")
        c.executemany("INSERT INTO items VALUES (?, ?, ?, ?)",
                      [(i, f"item {i}", i * 1.5, None if i % 3 else "x") for i in range(1, 3001)])  # fmt: skip
    cfg = config("scd2", "dw.items", keys=("item_id",))
    sql = "SELECT item_id, label, price, seen FROM items"
    _, results, s = run_all(cfg, f"sqlite:///{src_file}", pg_dbs.target_uri, "r1", sql)
    assert s.rows_inserted == 3_000 and {r.path for r in results} == {"rows-stage"}
    got = rows(pg_dbs.target_dsn, "SELECT item_id, label, price, seen FROM dw.items WHERE is_current ORDER BY 1")
    assert [(a, b, float(c), d) for a, b, c, d in got] == [
        (i, f"item {i}", i * 1.5, None if i % 3 else "x") for i in range(1, 3001)
    ]

    back = tmp_path / "back.db"
    cfg_back = config("scd1", "items_copy", keys=("item_id",))
    sql_back = "SELECT item_id, label, price, seen FROM dw.items WHERE is_current"
    _, _, s2 = run_all(cfg_back, pg_dbs.target_uri, f"sqlite:///{back}", "r1", sql_back)
    assert s2.rows_inserted == 3_000
    with sqlite3.connect(back) as c:
        assert c.execute("SELECT count(*), sum(item_id) FROM items_copy").fetchone() == (
            3_000,
            sum(range(3001)),
        )


def test_pg_to_sqlite_keeps_values(pg_dbs, tmp_path):
    import decimal
    import sqlite3

    make_customers(pg_dbs.source_dsn, 2_500)
    target = tmp_path / "dw.db"
    cfg = config("scd2", "dim_customer")
    _, results, s = run_all(cfg, pg_dbs.source_uri, f"sqlite:///{target}", "r1", SQL)
    assert s.rows_inserted == 2_500 and {r.path for r in results} == {"rows-stage"}
    with sqlite3.connect(target) as c:
        got = c.execute("SELECT customer_id, balance, country, active FROM dim_customer WHERE is_current "
                        "ORDER BY 1").fetchall()  # fmt: skip
    want = rows(pg_dbs.source_dsn, "SELECT customer_id, balance, country, active FROM customers ORDER BY 1")
    assert [(a, decimal.Decimal(str(b)), c, bool(d)) for a, b, c, d in got] == want


def test_empty_source_plans_one_chunk_and_succeeds(pg_dbs):
    pg_exec(pg_dbs.source_dsn, "CREATE TABLE customers (customer_id bigint PRIMARY KEY, name text)")
    cfg = config("scd2", "dw.empty_dim")
    chunks, results, s = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r1", "SELECT * FROM customers")
    assert [c["kind"] for c in chunks] == ["all"] and results[0].rows_read == 0
    assert (s.status, s.rows_read, s.chunks_planned, s.chunks_succeeded) == ("success", 0, 1, 1)
    assert rows(pg_dbs.target_dsn, "SELECT count(*) FROM dw.empty_dim") == [(0,)]


def test_chunk_count_capped_by_max_map_length(pg_dbs):
    make_customers(pg_dbs.source_dsn, 20_000)
    cfg = config("scd1", "dw.capped", chunk_size=500)  # 40 chunks wanted
    chunks, results, s = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r1", SQL, max_chunks=6)
    assert len(chunks) == 6 and s.rows_inserted == 20_000
    assert max(r.rows_read for r in results) <= 20_000 // 6 + 2


def test_existing_table_without_mapper_columns(pg_dbs):
    make_customers(pg_dbs.source_dsn, 3_000)
    pg_exec(pg_dbs.target_dsn, "CREATE SCHEMA dw")
    pg_exec(pg_dbs.target_dsn, "CREATE TABLE dw.mine (customer_id bigint, name text, balance numeric, "
                               "loaded_by text DEFAULT 'etl')")  # fmt: skip  # no primary key, an extra column
    cfg = config("scd1", "dw.mine")
    sql = "SELECT customer_id, name, balance FROM customers"
    _, results, s = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r1", sql)
    assert s.rows_inserted == 3_000 and {r.path for r in results} == {"copy-stage"}  # no PK: never direct
    pg_exec(pg_dbs.source_dsn, "UPDATE customers SET name = 'x' WHERE customer_id <= 10")
    _, _, s2 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r2", sql)
    assert (s2.rows_inserted, s2.rows_updated, s2.rows_unchanged) == (0, 10, 2_990)
    assert rows(pg_dbs.target_dsn, "SELECT count(*), count(DISTINCT customer_id), min(loaded_by) FROM dw.mine") == [
        (3_000, 3_000, "etl")
    ]
    pg_exec(pg_dbs.target_dsn, "CREATE TABLE dw.narrow (customer_id bigint, name text)")
    narrow = config("scd1", "dw.narrow", on_schema_change="fail")
    with pytest.raises(SchemaError, match=r"balance.*on_schema_change"):
        run_all(narrow, pg_dbs.source_uri, pg_dbs.target_uri, "r1", sql)
    assert rows(pg_dbs.target_dsn, "SELECT count(*) FROM dw.narrow") == [(0,)]


def test_replanning_a_run_reuses_its_frozen_plan(pg_dbs):
    """A cleared plan task must not move chunk bounds under chunks that already committed (append!)."""
    make_customers(pg_dbs.source_dsn, 6_000)
    cfg = config("append", "dw.replan")
    with sessions(pg_dbs.source_uri, pg_dbs.target_uri) as (src, tgt):
        first = plan_run(cfg, SQL, "r1", RUN1, 1024, src, tgt)
        for c in first[:2]:
            ChunkJob(cfg, ChunkSpec.from_dict(c), SQL, "r1", 1, src, tgt).run()
    pg_exec(pg_dbs.source_dsn, "DELETE FROM customers WHERE customer_id <= 1500")  # would shift every bound
    with sessions(pg_dbs.source_uri, pg_dbs.target_uri) as (src, tgt):
        again = plan_run(cfg, SQL, "r1", RUN1, 1024, src, tgt)
        assert again == first
        results = [ChunkJob(cfg, ChunkSpec.from_dict(c), SQL, "r1", 2, src, tgt).run() for c in again]
    assert [r.from_ledger for r in results] == [True, True] + [False] * (len(first) - 2)
    # chunks 1-2 loaded keys 1..2000 before the delete; the rest load 2001..6000 under the same bounds
    assert rows(pg_dbs.target_dsn, "SELECT count(*), count(DISTINCT customer_id) FROM dw.replan") == [(6_000, 6_000)]


def test_scd2_initial_copies_versions_straight_into_the_target(pg_dbs):
    """Empty key ranges: new versions go in by binary COPY with the scd2 columns computed by the source; the row
    hash equals the one the target computes for staged versions, and a NULL key still fails the chunk."""
    make_customers(pg_dbs.source_dsn, 4_000)
    cfg = config("scd2", "dw.hist_direct")
    _, results, summary = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r1", SQL, RUN1)
    assert {r.path for r in results} == {"copy-direct"} and summary.rows_inserted == 4_000
    same_hash = rows(
        pg_dbs.target_dsn,
        "SELECT count(*) FROM dw.hist_direct t WHERE valid_from = "
        f"'{RUN1}' AND valid_to IS NULL AND is_current AND row_hash = hash_record_extended("
        "ROW(t.name, t.email, t.country, t.balance, t.created_at, t.active, t.birth, t.notes), 0)::text",
    )
    assert same_hash == [(4_000,)]
    null_key = SQL.replace("customer_id,", "NULLIF(customer_id, 1) AS customer_id,", 1)
    with pytest.raises(Exception, match="NULL in a key column"):
        run_all(config("scd2", "dw.hist_null"), pg_dbs.source_uri, pg_dbs.target_uri, "r2", null_key, RUN1)
    assert rows(pg_dbs.target_dsn, "SELECT count(*) FROM dw.hist_null") == [(0,)]


def test_small_extracts_compare_by_key_lookups(pg_dbs):
    """An extract 20x smaller than the target turns hash and merge joins off for the chunk's transaction."""
    make_customers(pg_dbs.source_dsn, 3_000)
    cfg = config("scd1", "dw.lookup")
    run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r1", SQL)
    with sessions(pg_dbs.source_uri, pg_dbs.target_uri) as (src, tgt):
        spec = ChunkSpec(index=0, count=1, kind="all")
        job = ChunkJob(cfg, spec, SQL, "r2", 1, src, tgt)
        job._small_delta_joins(1_000)  # 3,000 target rows: not small enough
        assert tgt.scalar("SHOW enable_hashjoin") == "on"
        job._small_delta_joins(100)
        assert (tgt.scalar("SHOW enable_hashjoin"), tgt.scalar("SHOW enable_mergejoin")) == ("off", "off")
        tgt.rollback()
        assert tgt.scalar("SHOW enable_hashjoin") == "on"  # SET LOCAL: gone with the transaction


@pytest.mark.parametrize("key_type", ["uuid", "timestamptz", "numeric(20,4)"])
def test_second_run_compares_keys_of_any_orderable_type(pg_dbs, key_type):
    """The compare join is narrowed to the staged keys' MIN..MAX only where that is defined on every database
    (uuid has no MIN in PostgreSQL 15): a re-run with one change per chunk works for each key type."""
    expr = {"uuid": "md5(g::text)::uuid", "timestamptz": "timestamptz '2026-01-01' + g * interval '1 s'",
            "numeric(20,4)": "g / 7.0"}[key_type]  # fmt: skip
    pg_exec(pg_dbs.source_dsn, f"CREATE TABLE k AS SELECT ({expr})::{key_type} AS id, g AS v "
                               "FROM generate_series(1, 3000) g")  # fmt: skip
    pg_exec(pg_dbs.source_dsn, "ANALYZE k")
    cfg = config("scd1", "dw.k", keys=("id",))
    chunks, _, s1 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r1", "SELECT id, v FROM k")
    assert len(chunks) == 3 and s1.rows_inserted == 3000
    pg_exec(pg_dbs.source_dsn, "UPDATE k SET v = -v WHERE v % 1000 = 1")
    _, _, s2 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r2", "SELECT id, v FROM k")
    assert (s2.rows_inserted, s2.rows_updated, s2.rows_unchanged) == (0, 3, 2997)
    assert rows(pg_dbs.target_dsn, "SELECT sum(v) FROM dw.k") == rows(pg_dbs.source_dsn, "SELECT sum(v) FROM k")
