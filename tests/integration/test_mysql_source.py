"""A real MariaDB/MySQL source: into PostgreSQL with exact types and values, into MariaDB itself; key ranges on
int and text keys (byte order), CRC32 hash buckets of a composite key: every row in exactly one chunk."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import pytest

from airflow_mapper_provider.db import connect
from tests.helpers import airflow_connection, config, rows, run_all
from tests.mysqlserver import MySqlServer, mysql_db_fixture, mysql_server_fixture  # noqa: F401

pytestmark = pytest.mark.mysql

RUN1, RUN2, RUN3 = "2026-06-01T00:00:00+00:00", "2026-06-02T00:00:00+00:00", "2026-06-03T00:00:00+00:00"
UTC = dt.timezone.utc
TYPED_DDL = """
CREATE TABLE typed (
  id BIGINT PRIMARY KEY, code VARCHAR(40), amount DECIMAL(30,10), big BIGINT UNSIGNED, ratio DOUBLE,
  flag TINYINT(1), happened DATETIME(6), stamped TIMESTAMP(6) NULL, day DATE, clock TIME(6), doc JSON,
  raw VARBINARY(16), note TEXT, small SMALLINT, year_ YEAR
)"""
N = 2_400


def typed_row(i: int) -> tuple[Any, ...]:
    return (
        i, ["a", "A", "a ", "é", "😀", "Zoë"][i % 6] + str(i), decimal.Decimal(f"{i}.{i:010d}") * (-1) ** i,
        2**64 - 1 - i, i / 3, i % 2, dt.datetime(2026, 1, 1, 12, 0, 0, 123456) + dt.timedelta(minutes=i),
        dt.datetime(2026, 1, 2) + dt.timedelta(seconds=i), dt.date(1901, 1, 1) + dt.timedelta(days=i),
        dt.timedelta(hours=i % 24, microseconds=i), f'{{"k": {i}, "s": "😀"}}', bytes([i % 256, 0, 255]),
        "x" * (i % 70) + "ü", i % 30000 - 15000, 1901 + i % 254,
    )  # fmt: skip


def fill_typed(server: MySqlServer, db: str) -> list[tuple[Any, ...]]:
    server.run(db, TYPED_DDL)
    data = [typed_row(i) for i in range(1, N + 1)]
    data[5] = (6, *([None] * 14))
    server.run_many(db, "INSERT INTO typed VALUES (" + ", ".join(["%s"] * 15) + ")", data)
    server.run(db, "ANALYZE TABLE typed")
    return data


def expected_in_pg(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """What PostgreSQL holds for a typed row: the same values, TINYINT(1) as boolean, TIMESTAMP as UTC, TIME as a
    time of day, JSON (MariaDB: LONGTEXT) as its text."""
    i, code, amount, big, ratio, flag, happened, stamped, day, clock, doc, raw, note, small, year = row
    return (i, code, amount, None if big is None else decimal.Decimal(big), ratio,
            None if flag is None else bool(flag), happened, stamped and stamped.replace(tzinfo=UTC), day,
            clock and (dt.datetime.min + clock).time(), doc, raw, note, small, year)  # fmt: skip


def test_mariadb_into_postgres_exact_types_and_values(pg_dbs, mysql_server, mysql_db):
    data = fill_typed(mysql_server, mysql_db)
    cfg = config("scd1", "dw.typed", keys=("id",))
    source = mysql_server.uri(mysql_db)
    sql = "SELECT * FROM typed WHERE note LIKE '%' OR note IS NULL"  # a '%' and no ':' trouble
    chunks, _, s1 = run_all(cfg, source, pg_dbs.target_uri, "r1", sql, RUN1)
    assert len(chunks) >= 2 and (s1.rows_read, s1.rows_inserted) == (N, N)
    got = rows(pg_dbs.target_dsn, "SELECT * FROM dw.typed ORDER BY id")
    assert got == [expected_in_pg(r) for r in data]
    types = dict(rows(pg_dbs.target_dsn, "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                                         "WHERE attrelid = 'dw.typed'::regclass AND attnum > 0"))  # fmt: skip
    assert types == {
        "id": "bigint", "code": "character varying(40)", "amount": "numeric(30,10)", "big": "numeric(20,0)",
        "ratio": "double precision", "flag": "boolean", "happened": "timestamp without time zone",
        "stamped": "timestamp with time zone", "day": "date", "clock": "time without time zone", "doc": "text",
        "raw": "bytea", "note": "text", "small": "smallint", "year_": "smallint",
    }  # fmt: skip

    mysql_server.run(mysql_db, "UPDATE typed SET amount = amount + 0.0000000001 WHERE id % 100 = 0")  # 24 rows
    mysql_server.run(mysql_db, "UPDATE typed SET code = UPPER(code) WHERE id IN (12, 18)")  # "a12" -> "A12": a change
    _, _, s2 = run_all(cfg, source, pg_dbs.target_uri, "r2", sql, RUN2)
    assert (s2.rows_read, s2.rows_inserted, s2.rows_updated) == (N, 0, 26)


def test_text_key_ranges_in_byte_order_read_every_row_once(mysql_server, mysql_db):
    """A VARCHAR key in the default case-insensitive collation: the chunks' bounds compare as bytes, so 'a' and
    'A' (equal in the collation) land in exactly one chunk each."""
    keys = [f"{p}{i:04d}" for i in range(700) for p in ("a", "A", "é", "😀")]
    mysql_server.run(mysql_db, "CREATE TABLE words (w VARCHAR(20) COLLATE utf8mb4_general_ci NOT NULL, n INT)")
    mysql_server.run_many(mysql_db, "INSERT INTO words VALUES (%s, %s)", [(k, i) for i, k in enumerate(keys)])
    cfg = config("scd1", "words_copy", keys=("w",), metadata_schema=None)
    uri = mysql_server.uri(mysql_db)
    chunks, results, s1 = run_all(cfg, uri, uri, "r1", "SELECT w, n FROM words", RUN1)
    assert {c["kind"] for c in chunks} == {"range"} and len(chunks) >= 2
    assert sum(r.rows_read for r in results) == len(keys) == s1.rows_inserted
    got = mysql_server.run(mysql_db, "SELECT w, n FROM words_copy")
    assert sorted(got) == sorted((k, i) for i, k in enumerate(keys))


def test_composite_key_hash_buckets_and_mariadb_to_mariadb_changes(mysql_server, mysql_db):
    mysql_server.run(mysql_db, "CREATE TABLE pairs (a INT, b VARCHAR(10), v DECIMAL(9,3), PRIMARY KEY (a, b))")
    data = [(i % 50, f"b{i // 50}", decimal.Decimal(i) / 8) for i in range(3_000)]
    mysql_server.run_many(mysql_db, "INSERT INTO pairs VALUES (%s, %s, %s)", data)
    cfg = config("scd1", "pairs_copy", keys=("a", "b"))
    uri = mysql_server.uri(mysql_db)
    chunks, results, s1 = run_all(cfg, uri, uri, "r1", "SELECT a, b, v FROM pairs", RUN1)
    assert {c["kind"] for c in chunks} == {"hash"} and len(chunks) >= 2
    assert sorted(r.rows_read for r in results) != [0] * len(results) and s1.rows_inserted == 3_000
    mysql_server.run(mysql_db, "UPDATE pairs SET v = v + 0.001 WHERE a = 3")  # 60 rows
    _, _, s2 = run_all(cfg, uri, uri, "r2", "SELECT a, b, v FROM pairs", RUN2)
    assert (s2.rows_read, s2.rows_inserted, s2.rows_updated) == (3_000, 0, 60)
    assert sorted(mysql_server.run(mysql_db, "SELECT a, b, v FROM pairs_copy")) == sorted(
        mysql_server.run(mysql_db, "SELECT a, b, v FROM pairs")
    )


def test_describe_reads_exact_types_without_rows(mysql_server, mysql_db):
    mysql_server.run(mysql_db, TYPED_DDL)
    sess = connect(airflow_connection("m", mysql_server.uri(mysql_db)), "source")
    try:
        cols = {c.name: (c.type.kind, c.type.native) for c in sess.describe("SELECT * FROM typed")}
        assert sess.has_primary_key(_table("typed"), ["id"]) and not sess.has_primary_key(_table("typed"), ["code"])
    finally:
        sess.close()
    assert cols["amount"] == ("numeric", "decimal(30,10)") and cols["big"] == ("numeric", "bigint(20) unsigned")
    assert cols["flag"][0] == "bool" and cols["stamped"][0] == "timestamptz" and cols["happened"][0] == "timestamp"
    assert cols["code"] == ("varchar", "varchar(40)") and cols["raw"][0] == "bytes"


def _table(name: str) -> Any:
    from airflow_mapper_provider.identifiers import TableName

    return TableName(name)
