"""PostgreSQL into a real MariaDB/MySQL target: scd1, scd2, append end states; no change = nothing written; exact
change detection (case, trailing blanks); exact decimals, datetimes and utf8mb4 text; the tables' DDL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.helpers import CUSTOMER_COLUMNS, add_customers, config, make_customers, pg_exec, run_all, source_rows
from tests.mysqlserver import MySqlServer, mysql_db_fixture, mysql_server_fixture  # noqa: F401

pytestmark = pytest.mark.mysql

SQL = f"SELECT {CUSTOMER_COLUMNS} FROM customers"
RUN1, RUN2, RUN3 = "2026-06-01T00:00:00+00:00", "2026-06-02T00:00:00+00:00", "2026-06-03T00:00:00+00:00"
UTC = dt.timezone.utc


def mysql_rows(server: MySqlServer, db: str, table: str, where: str = "") -> list[tuple[Any, ...]]:
    """The customer columns as PostgreSQL would return them (DATETIME(6) is UTC, TINYINT(1) a boolean)."""
    found = server.run(db, f"SELECT {CUSTOMER_COLUMNS} FROM `{table}`{where} ORDER BY 1")
    return [(*r[:5], r[5].replace(tzinfo=UTC) if r[5] else None, None if r[6] is None else bool(r[6]), *r[7:])
            for r in found]  # fmt: skip


def test_scd1_initial_unchanged_then_exact_changes(pg_dbs, mysql_server, mysql_db):
    make_customers(pg_dbs.source_dsn, 3_000)
    pg_exec(pg_dbs.source_dsn, "UPDATE customers SET name = 'Zoë 😀 ' || customer_id WHERE customer_id % 500 = 0")
    cfg = config("scd1", "dim_customer")
    target = mysql_server.uri(mysql_db)
    chunks, results, s1 = run_all(cfg, pg_dbs.source_uri, target, "r1", SQL, RUN1)
    assert len(chunks) >= 3 and s1.status == "success"
    assert (s1.rows_read, s1.rows_inserted) == (3_000, 3_000)
    assert {r.path for r in results} == {"rows-direct"}  # empty target ranges, key = primary key
    assert mysql_rows(mysql_server, mysql_db, "dim_customer") == source_rows(pg_dbs.source_dsn)

    _, _, s2 = run_all(cfg, pg_dbs.source_uri, target, "r2", SQL, RUN2)
    assert (s2.rows_read, s2.rows_inserted, s2.rows_updated, s2.rows_unchanged) == (3_000, 0, 0, 3_000)

    pg_exec(pg_dbs.source_dsn, "UPDATE customers SET balance = balance + 0.01 WHERE customer_id % 100 = 0")  # 30
    pg_exec(pg_dbs.source_dsn, "UPDATE customers SET name = upper(name) WHERE customer_id IN (1, 2)")  # case only
    pg_exec(pg_dbs.source_dsn, "UPDATE customers SET name = name || ' ' WHERE customer_id = 3")  # a trailing blank
    pg_exec(pg_dbs.source_dsn, "UPDATE customers SET email = NULL WHERE customer_id = 4")
    add_customers(pg_dbs.source_dsn, 3_001, 3_100)
    _, _, s3 = run_all(cfg, pg_dbs.source_uri, target, "r3", SQL, RUN3)
    assert (s3.rows_read, s3.rows_inserted, s3.rows_updated) == (3_100, 100, 34)
    assert mysql_rows(mysql_server, mysql_db, "dim_customer") == source_rows(pg_dbs.source_dsn)

    ddl = mysql_server.run(mysql_db, "SHOW CREATE TABLE dim_customer")[0][1]
    for part in ("`customer_id` bigint(20) NOT NULL", "`balance` decimal(12,2)", "`created_at` datetime(6)",
                 "`active` tinyint(1)", "`country` char(2)", "`notes` varchar(200)", "`name` longtext",
                 "PRIMARY KEY (`customer_id`)", "COLLATE=utf8mb4_nopad_bin"):  # fmt: skip
        assert part in ddl, part
    joblog = mysql_server.run(mysql_db, "SELECT status, rows_updated FROM mapper_joblog WHERE run_id = 'r3'")
    assert joblog == [("success", 34)]


def test_scd2_versions_and_one_current_row_per_text_key(pg_dbs, mysql_server, mysql_db):
    pg_exec(pg_dbs.source_dsn, "CREATE TABLE items (code text PRIMARY KEY, label text, price numeric(30,10))")
    pg_exec(
        pg_dbs.source_dsn, "INSERT INTO items SELECT 'k' || g, 'label ' || g, g / 7.0 FROM generate_series(1, 2500) g"
    )
    pg_exec(pg_dbs.source_dsn, "INSERT INTO items VALUES ('a', 'x', 1), ('A', 'y', 2), ('a ', 'z', 3), ('😀', 'e', 4)")
    cfg = config("scd2", "items_hist", keys=("code",))
    target, sql = mysql_server.uri(mysql_db), "SELECT code, label, price FROM items"
    _, _, s1 = run_all(cfg, pg_dbs.source_uri, target, "r1", sql, RUN1)
    assert (s1.rows_inserted, s1.rows_updated, s1.rows_expired) == (2_504, 0, 0)
    _, _, s2 = run_all(cfg, pg_dbs.source_uri, target, "r2", sql, RUN2)
    assert (s2.rows_inserted, s2.rows_updated, s2.rows_unchanged) == (0, 0, 2_504)

    pg_exec(pg_dbs.source_dsn, "UPDATE items SET label = 'X' WHERE code IN ('a', 'k10')")
    pg_exec(pg_dbs.source_dsn, "UPDATE items SET price = price + 0.0000000001 WHERE code = 'k20'")
    _, _, s3 = run_all(cfg, pg_dbs.source_uri, target, "r3", sql, RUN3)
    assert (s3.rows_inserted, s3.rows_updated, s3.rows_expired) == (0, 3, 3)

    current = mysql_server.run(mysql_db, "SELECT code, label, price FROM items_hist WHERE is_current ORDER BY 1")
    source = [tuple(r) for r in source_rows(pg_dbs.source_dsn, "items", "code, label, price")]
    assert sorted(current) == sorted(source)  # exact decimals, case and blanks kept apart
    history = mysql_server.run(mysql_db, "SELECT valid_from, valid_to, label FROM items_hist WHERE code = 'a' "
                                         "ORDER BY valid_from")  # fmt: skip
    assert history == [(dt.datetime(2026, 6, 1), dt.datetime(2026, 6, 3), "x"), (dt.datetime(2026, 6, 3), None, "X")]
    with pytest.raises(Exception, match="Duplicate entry") as info:  # one current version per key, enforced
        mysql_server.run(mysql_db, "UPDATE items_hist SET is_current = 1 WHERE code = 'a'")
    assert info.value.args[0] == 1062


def test_append_then_append_again(pg_dbs, mysql_server, mysql_db):
    make_customers(pg_dbs.source_dsn, 2_500)
    cfg = config("append", "events")
    target = mysql_server.uri(mysql_db)
    _, _, s1 = run_all(cfg, pg_dbs.source_uri, target, "r1", SQL, RUN1)
    _, _, s2 = run_all(cfg, pg_dbs.source_uri, target, "r2", SQL, RUN2)
    assert (s1.rows_inserted, s2.rows_inserted) == (2_500, 2_500)
    assert mysql_server.run(mysql_db, "SELECT COUNT(*), COUNT(DISTINCT customer_id) FROM events") == [(5_000, 2_500)]
