"""MariaDB/MySQL as target: rejects (rows the target refuses), NULL and duplicate keys, the KEY checkpoint,
63-character names, a schema that is a database; every chunk one transaction (no implicit commit)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from airflow_mapper_provider.exceptions import DataError, KeyRuleError
from tests.helpers import CUSTOMER_COLUMNS, config, make_customers, pg_exec, run_all
from tests.mysqlserver import MySqlServer, mysql_db_fixture, mysql_server_fixture  # noqa: F401

pytestmark = pytest.mark.mysql

RUN1, RUN2 = "2026-06-01T00:00:00+00:00", "2026-06-02T00:00:00+00:00"
TARGET_DDL = """
CREATE TABLE dim_customer (
    customer_id BIGINT PRIMARY KEY, name LONGTEXT NOT NULL, email LONGTEXT, country CHAR(2),
    balance DECIMAL(12,2) CHECK (balance >= 0), created_at DATETIME(6), active TINYINT(1), birth DATE,
    notes VARCHAR(50)
)"""
# 10 bad rows in the first chunk (keys 1..2500): 4 break the CHECK, 3 are too long for VARCHAR(50), 3 NULL keys
BAD = """
UPDATE customers SET balance = -1 WHERE customer_id IN (100, 200, 300, 400);
UPDATE customers SET notes = repeat('y', 60) WHERE customer_id IN (1000, 2000, 1500)"""
SQL = (
    "SELECT CASE WHEN customer_id IN (11, 12, 13) THEN NULL ELSE customer_id END AS customer_id, "
    "name, email, country, balance, created_at, active, birth, notes FROM customers"
)


def _setup(pg_dbs, server: MySqlServer, db: str) -> None:
    make_customers(pg_dbs.source_dsn, 5_000)
    pg_exec(pg_dbs.source_dsn, BAD)
    server.run(db, TARGET_DDL)


def _cfg(budget: int, **kw):
    return config("scd1", "dim_customer", chunk_size=2_500, min_rows_for_parallel=1_000, max_error_rows=budget,
                  on_schema_change="ignore", **kw)  # fmt: skip


def test_bad_rows_are_rejected_exactly_with_their_codes(pg_dbs, mysql_server, mysql_db):
    _setup(pg_dbs, mysql_server, mysql_db)
    _, results, summary = run_all(_cfg(10), pg_dbs.source_uri, mysql_server.uri(mysql_db), "r1", SQL, RUN1)
    assert summary.status == "success" and summary.rows_rejected == 10
    assert (summary.rows_read, summary.rows_inserted) == (5_000, 4_990)
    assert sorted(r.path for r in results) == ["rows-direct", "rows-salvage"]
    found = mysql_server.run(mysql_db, "SELECT error_code, key_values, row_json FROM mapper_rejects ORDER BY 1, 2")
    codes = [c for c, _, _ in found]
    assert codes == ["23502"] * 3 + ["MYSQL-1406"] * 3 + ["MYSQL-4025"] * 4
    assert sorted(json.loads(k)["customer_id"] for c, k, _ in found if c == "MYSQL-4025") == [100, 200, 300, 400]
    assert json.loads(found[3][2])["notes"] == "y" * 60  # the row itself, for the user to fix
    loaded = mysql_server.run(mysql_db, "SELECT COUNT(*), SUM(customer_id IN (100, 1000, 11)) FROM dim_customer")
    assert loaded == [(4_990, 0)]


def test_zero_budget_fails_the_chunk_naming_the_code_without_values(pg_dbs, mysql_server, mysql_db):
    _setup(pg_dbs, mysql_server, mysql_db)
    pg_exec(pg_dbs.source_dsn, "UPDATE customers SET notes = 'secret' || repeat('z', 60) WHERE customer_id = 1000")
    with pytest.raises(DataError) as info:
        run_all(_cfg(0), pg_dbs.source_uri, mysql_server.uri(mysql_db), "r1", SQL.replace("IN (11, 12, 13)", "< 0"),
                RUN1)  # fmt: skip
    text = str(info.value)
    assert "MYSQL-" in text and "max_error_rows" in text and "secret" not in text
    # the chunk committed nothing (the other chunk may have committed its own rows)
    assert mysql_server.run(mysql_db, "SELECT COUNT(*) FROM dim_customer WHERE customer_id <= 2500") == [(0,)]


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        (SQL, r"3 row\(s\) have NULL in a key column"),
        (
            f"SELECT {CUSTOMER_COLUMNS} FROM customers UNION ALL SELECT {CUSTOMER_COLUMNS} FROM customers "
            "WHERE customer_id IN (5, 6)",
            r"2 row\(s\) repeat a key",
        ),
    ],
    ids=["null-keys", "duplicate-keys"],
)
def test_key_rules_refuse_the_chunk(pg_dbs, mysql_server, mysql_db, sql, message):
    make_customers(pg_dbs.source_dsn, 500)
    target = mysql_server.uri(mysql_db)
    run_all(config("scd1", "dim_c"), pg_dbs.source_uri, target, "r1", f"SELECT {CUSTOMER_COLUMNS} FROM customers")
    with pytest.raises(KeyRuleError, match=message):
        run_all(config("scd1", "dim_c"), pg_dbs.source_uri, target, "r2", sql, RUN2)


def test_duplicate_rule_in_salvage_mode_keeps_the_newest_row(pg_dbs, mysql_server, mysql_db):
    make_customers(pg_dbs.source_dsn, 500)
    newer = (
        "SELECT customer_id, 'newer', email, country, balance, created_at + interval '1 day', active, birth, notes "
        "FROM customers WHERE customer_id IN (5, 6)"
    )
    sql = f"SELECT {CUSTOMER_COLUMNS} FROM customers UNION ALL {newer}"
    target = mysql_server.uri(mysql_db)
    cfg = config("scd1", "dim_c", max_error_rows=5, checkpoint_column="created_at")
    _, _, s1 = run_all(cfg, pg_dbs.source_uri, target, "r1", sql, RUN1)
    assert (s1.rows_inserted, s1.rows_rejected) == (500, 2)
    got = mysql_server.run(mysql_db, "SELECT customer_id, name FROM dim_c WHERE customer_id IN (5, 6) ORDER BY 1")
    assert got == [(5, "newer"), (6, "newer")]


def test_key_checkpoint_mariadb_to_mariadb_reads_only_changes(mysql_server, mysql_db):
    t0 = dt.datetime(2026, 3, 1)
    mysql_server.run(mysql_db, "CREATE TABLE accounts (id BIGINT PRIMARY KEY, name TEXT, balance DECIMAL(12,2), "
                               "updated_at DATETIME(6) NOT NULL)")  # fmt: skip
    data = [(i, f"a{i}", i, t0 + dt.timedelta(seconds=i)) for i in range(1, 3_001)]
    mysql_server.run_many(mysql_db, "INSERT INTO accounts VALUES (%s, %s, %s, %s)", data)
    uri, sql = mysql_server.uri(mysql_db), "SELECT id, name, balance, updated_at FROM accounts"
    cfg = config("scd2", "acc_hist", keys=("id",), checkpoint_column="updated_at")
    _, _, s1 = run_all(cfg, uri, uri, "r1", sql, RUN1)
    assert s1.rows_read == 3_000
    stored = mysql_server.run(mysql_db, "SELECT checkpoint_column, value, value_type FROM mapper_checkpoint")
    assert stored == [("updated_at", (t0 + dt.timedelta(seconds=3_000)).isoformat(), "datetime")]
    later = t0 + dt.timedelta(days=1)
    mysql_server.run(mysql_db, "UPDATE accounts SET balance = balance + 1, updated_at = %s WHERE id %% 100 = 0", later)
    _, _, s2 = run_all(cfg, uri, uri, "r2", sql, RUN2)
    assert (s2.rows_read, s2.rows_inserted, s2.rows_updated, s2.rows_expired) == (30, 0, 30, 30)
    assert mysql_server.run(mysql_db, "SELECT COUNT(*), SUM(is_current) FROM acc_hist") == [(3_030, 3_000)]


def test_63_character_names_and_a_schema_that_is_a_database(pg_dbs, mysql_server, mysql_db):
    table, key, col = "t" * 63, "k" * 63, "c" * 63
    pg_exec(pg_dbs.source_dsn, f"CREATE TABLE src ({key} text PRIMARY KEY, {col} numeric(65,30))")
    pg_exec(pg_dbs.source_dsn, "INSERT INTO src SELECT 'key' || g, g / 3.0 FROM generate_series(1, 2500) g")
    schema = mysql_db + "_dw"  # CREATE DATABASE by the plan
    cfg = config("scd2", f"{schema}.{table}", keys=(key,))
    try:
        target = mysql_server.uri(mysql_db)
        _, _, s1 = run_all(cfg, pg_dbs.source_uri, target, "r1", f"SELECT {key}, {col} FROM src", RUN1)
        pg_exec(pg_dbs.source_dsn, f"UPDATE src SET {col} = {col} * 2 WHERE {key} = 'key7'")
        _, _, s2 = run_all(cfg, pg_dbs.source_uri, target, "r2", f"SELECT {key}, {col} FROM src", RUN2)
        assert (s1.rows_inserted, s2.rows_updated, s2.rows_unchanged) == (2_500, 1, 2_499)
        got = mysql_server.run(schema, f"SELECT {key}, {col} FROM `{table}` WHERE is_current ORDER BY 1")
        want = pg_exec(pg_dbs.source_dsn, f'SELECT {key}, {col} FROM src ORDER BY {key} COLLATE "C"')
        assert [(k, str(v)) for k, v in got] == [(k, str(v)) for k, v in want]  # DECIMAL(65,30): every digit
    finally:
        mysql_server.drop_database(schema)


def test_key_checkpoint_on_timestamptz_from_postgres_stays_an_instant(pg_dbs, mysql_server, mysql_db):
    """A timestamptz checkpoint staged in MySQL (UTC DATETIME(6)) is stored as the aware instant it is: the next
    run's window on the PostgreSQL source does not move with the source's TimeZone."""
    t0 = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
    pg_exec(pg_dbs.source_dsn, "CREATE TABLE acc (id bigint PRIMARY KEY, v int, updated_at timestamptz NOT NULL)")
    pg_exec(pg_dbs.source_dsn, "INSERT INTO acc SELECT g, g, %(t0)s + g * interval '1 second' "
                               "FROM generate_series(1, 2500) g", {"t0": t0})  # fmt: skip
    pg_exec(pg_dbs.source_dsn, "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET timezone = ''Asia/Kolkata''', "
                               "current_database()); END $$")  # fmt: skip
    cfg = config("scd1", "acc", keys=("id",), checkpoint_column="updated_at")
    target, sql = mysql_server.uri(mysql_db), "SELECT id, v, updated_at FROM acc"
    _, _, s1 = run_all(cfg, pg_dbs.source_uri, target, "r1", sql, RUN1)
    stored = mysql_server.run(mysql_db, "SELECT value, value_type FROM mapper_checkpoint")
    assert s1.rows_read == 2_500 and stored == [((t0 + dt.timedelta(seconds=2_500)).isoformat(), "datetime")]
    pg_exec(
        pg_dbs.source_dsn, "UPDATE acc SET v = -v, updated_at = %(t)s WHERE id <= 10", {"t": t0 + dt.timedelta(days=1)}
    )
    _, _, s2 = run_all(cfg, pg_dbs.source_uri, target, "r2", sql, RUN2)
    assert (s2.rows_read, s2.rows_updated) == (10, 10)


@pytest.mark.parametrize("strategy", ["scd1", "scd2"])
def test_detect_deletes_removes_or_closes_keys_the_source_lost(pg_dbs, mysql_server, mysql_db, strategy):
    make_customers(pg_dbs.source_dsn, 2_500)
    cfg = config(strategy, "dim_d", detect_deletes=True)
    target, sql = mysql_server.uri(mysql_db), f"SELECT {CUSTOMER_COLUMNS} FROM customers"
    run_all(cfg, pg_dbs.source_uri, target, "r1", sql, RUN1)
    pg_exec(pg_dbs.source_dsn, "DELETE FROM customers WHERE customer_id % 500 = 0")  # 5 keys
    _, _, s2 = run_all(cfg, pg_dbs.source_uri, target, "r2", sql, RUN2)
    assert (s2.rows_deleted, s2.rows_inserted, s2.rows_updated) == (5, 0, 0)
    current = " WHERE is_current" if strategy == "scd2" else ""
    assert mysql_server.run(mysql_db, f"SELECT COUNT(*) FROM dim_d{current}") == [(2_495,)]
    gone = mysql_server.run(mysql_db, "SELECT COUNT(*) FROM dim_d WHERE customer_id % 500 = 0")
    assert gone == [(5 if strategy == "scd2" else 0,)]  # scd2 keeps the closed versions
