"""The binary COPY relay (PgSession.copy_out -> copy_in): rows joined into blocks arrive intact, whatever their
size; a source error or a cancel in the middle of the COPY surfaces as the driver's own error, and the session
stays usable after a rollback."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from airflow_mapper_provider.db import COPY_BLOCK, PgSession
from tests.helpers import pg_exec, rows


def session(dsn: str) -> PgSession:
    return PgSession(psycopg.connect(dsn, autocommit=False))


@pytest.fixture
def relay_tables(pg_dbs):
    pg_exec(pg_dbs.source_dsn, "CREATE TABLE relay (k int PRIMARY KEY, t text, b bytea, n numeric)")
    pg_exec(pg_dbs.source_dsn, "INSERT INTO relay SELECT g, CASE WHEN g % 5 = 0 THEN NULL ELSE repeat('x', g % 300) "
                               "END, NULL, g / 7.0 FROM generate_series(1, 60000) g")  # fmt: skip
    # rows larger than a block, and one of exactly the block size
    big = (
        f"(70001, repeat('y', {3 * COPY_BLOCK}), NULL, 1), (70002, NULL, decode(repeat('ab', {COPY_BLOCK}), 'hex'), 2)"
    )
    pg_exec(pg_dbs.source_dsn, f"INSERT INTO relay VALUES {big}, (70003, '', '', 0)")
    pg_exec(pg_dbs.target_dsn, "CREATE TABLE relay (k int PRIMARY KEY, t text, b bytea, n numeric)")
    return pg_dbs


def relay(src: PgSession, tgt: PgSession, select: str) -> int:
    data = src.copy_out(f"COPY ({select}) TO STDOUT (FORMAT BINARY)", {})
    return tgt.copy_in("COPY relay (k, t, b, n) FROM STDIN (FORMAT BINARY)", data)


def test_every_row_arrives_intact(relay_tables):
    src, tgt = session(relay_tables.source_dsn), session(relay_tables.target_dsn)
    try:
        blocks = [len(b) for b in src.copy_out("COPY (SELECT * FROM relay) TO STDOUT (FORMAT BINARY)", {})]
        assert len(blocks) < 60_003 / 10  # rows are joined (what libpq has received at once), not relayed one by one
        src.rollback()
        assert relay(src, tgt, "SELECT * FROM relay") == 60_003
        tgt.commit()
    finally:
        src.close()
        tgt.close()
    digest = "SELECT count(*), md5(string_agg(k || ':' || coalesce(t, '-') || ':' || coalesce(encode(b, 'hex'), '-') " \
             "|| ':' || n, ',' ORDER BY k)) FROM relay"  # fmt: skip
    assert rows(relay_tables.target_dsn, digest) == rows(relay_tables.source_dsn, digest)


def test_an_empty_copy_relays_nothing(relay_tables):
    src, tgt = session(relay_tables.source_dsn), session(relay_tables.target_dsn)
    try:
        assert relay(src, tgt, "SELECT * FROM relay WHERE k < 0") == 0
    finally:
        src.close()
        tgt.close()


def test_a_source_error_mid_copy_is_the_drivers_error(relay_tables):
    src, tgt = session(relay_tables.source_dsn), session(relay_tables.target_dsn)
    try:
        with pytest.raises(psycopg.errors.DivisionByZero):
            relay(src, tgt, "SELECT k, t, b, 1 / (k - 50000) FROM relay ORDER BY k")
        src.rollback()
        tgt.rollback()
        assert src.scalar("SELECT count(*) FROM relay") == 60_003  # both sessions work on
        assert tgt.scalar("SELECT count(*) FROM relay") == 0
    finally:
        src.close()
        tgt.close()


def test_a_cancel_mid_copy_stops_it(relay_tables):
    """on_kill's cancel, from another thread, while rows stream (a slow source: pg_sleep every 10,000 rows)."""
    src, tgt = session(relay_tables.source_dsn), session(relay_tables.target_dsn)
    slow = "SELECT k, t, b, n FROM relay, LATERAL (SELECT CASE WHEN k % 10000 = 0 THEN pg_sleep(0.5) END) s ORDER BY k"
    timer = threading.Timer(1.0, src.cancel)
    try:
        timer.start()
        started = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled):
            relay(src, tgt, slow)
        assert time.monotonic() - started < 2.5  # not the whole 3 s of sleeps
        src.rollback()
        tgt.rollback()
        assert src.scalar("SELECT 1") == 1
    finally:
        timer.cancel()
        src.close()
        tgt.close()
