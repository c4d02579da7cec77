"""MySqlSession on a real MariaDB/MySQL: one chunk = one transaction (no implicit commit on the salvage path),
cancel by KILL QUERY, unbuffered streaming, the progress upsert, errors classified by number."""

from __future__ import annotations

import threading
import time

import pytest

from airflow_mapper_provider.db import connect, connect_side
from airflow_mapper_provider.errors import DATA, TRANSIENT, classify
from airflow_mapper_provider.exceptions import DataError
from airflow_mapper_provider.identifiers import TableName
from tests.helpers import CUSTOMER_COLUMNS, airflow_connection, config, make_customers, pg_exec, run_all
from tests.mysqlserver import MySqlServer, mysql_db_fixture, mysql_server_fixture  # noqa: F401

pytestmark = pytest.mark.mysql

SQL = f"SELECT {CUSTOMER_COLUMNS} FROM customers"


def _session(server: MySqlServer, db: str, role: str = "target"):
    conn = airflow_connection("m", server.uri(db))
    return connect_side(conn) if role == "progress" else connect(conn, role)


def test_salvage_over_budget_commits_nothing_of_the_chunk(pg_dbs, mysql_server, mysql_db):
    """Salvage mode numbers staging (CREATE/DROP TEMPORARY TABLE only: no implicit commit), writes slices under
    savepoints, then fails over the budget: every update it made is rolled back."""
    make_customers(pg_dbs.source_dsn, 3_000)
    mysql_server.run(mysql_db, "CREATE TABLE dim (customer_id BIGINT PRIMARY KEY, name LONGTEXT, email LONGTEXT, "
                               "country CHAR(2), balance DECIMAL(12,2) CHECK (balance >= 0), created_at DATETIME(6), "
                               "active TINYINT(1), birth DATE, notes VARCHAR(200))")  # fmt: skip
    cfg = config("scd1", "dim", chunk_size=5_000, max_error_rows=5, on_schema_change="ignore")
    target = mysql_server.uri(mysql_db)
    run_all(cfg, pg_dbs.source_uri, target, "r1", SQL)
    before = mysql_server.run(mysql_db, "SELECT SUM(balance), COUNT(*) FROM dim")
    pg_exec(pg_dbs.source_dsn, "UPDATE customers SET balance = balance + 1")  # every row changes
    pg_exec(pg_dbs.source_dsn, "UPDATE customers SET balance = -1 WHERE customer_id <= 6")  # 6 > budget of 5
    with pytest.raises(DataError, match="max_error_rows=5"):
        run_all(cfg, pg_dbs.source_uri, target, "r2", SQL, "2026-06-02T00:00:00+00:00")
    assert mysql_server.run(mysql_db, "SELECT SUM(balance), COUNT(*) FROM dim") == before
    ledger = mysql_server.run(mysql_db, "SELECT status FROM mapper_chunklog WHERE run_id = 'r2'")
    assert ledger == [("failed",)]


def test_cancel_kills_the_running_statement(mysql_server, mysql_db):
    sess = _session(mysql_server, mysql_db, "source")
    heavy = (
        "SELECT COUNT(*) FROM information_schema.COLUMNS a, information_schema.COLUMNS b, information_schema.COLUMNS c"
    )
    caught: list[BaseException] = []

    def run() -> None:
        try:
            sess.query(heavy)
        except Exception as exc:
            caught.append(exc)

    worker = threading.Thread(target=run)
    started = time.monotonic()
    worker.start()
    time.sleep(0.5)
    sess.cancel()
    worker.join(10)
    try:
        assert not worker.is_alive() and time.monotonic() - started < 5
        found = classify(caught[0])
        assert found is not None and (found.code, found.kind) == ("MYSQL-1317", TRANSIENT)
    finally:
        sess.close()


def test_stream_uses_an_unbuffered_cursor(mysql_server, mysql_db):
    mysql_server.run(mysql_db, "CREATE TABLE n (i INT)")
    mysql_server.run_many(mysql_db, "INSERT INTO n VALUES (%s)", [(i,) for i in range(2_500)])
    sess = _session(mysql_server, mysql_db, "source")
    try:
        batches = sess.stream("SELECT i FROM n ORDER BY i", {}, 1_000)
        first = next(batches)
        result = sess.conn.connection.dbapi_connection._result  # PyMySQL's result of the statement in flight
        assert result.unbuffered_active  # an SSCursor: the rows not yet fetched are still on the server
        assert [len(first), *(len(b) for b in batches)] == [1_000, 1_000, 500]
    finally:
        sess.close()


def test_progress_upsert_and_data_errors(mysql_server, mysql_db):
    side = _session(mysql_server, mysql_db, "progress")
    table = TableName("live")
    try:
        side.execute("CREATE TABLE live (k VARCHAR(10) PRIMARY KEY, n INT, note VARCHAR(3))")
        upsert = side.dialect.upsert_sql(table, ["k", "n"], ["k"])
        assert upsert is not None
        side.execute(upsert, {"k": "a", "n": 1})
        side.execute(upsert, {"k": "a", "n": 2})  # autocommit: visible to another connection at once
        assert mysql_server.run(mysql_db, "SELECT k, n FROM live") == [("a", 2)]
        with pytest.raises(Exception) as info:
            side.execute("INSERT INTO live VALUES (:k, :n, :note)", {"k": "b", "n": 1, "note": "long"})
        found = classify(info.value)
        assert found is not None and (found.code, found.kind, found.column) == ("MYSQL-1406", DATA, "note")
        side.execute(upsert, {"k": "secret", "n": 1})
        with pytest.raises(Exception) as info:  # the message quotes the key: the safe text does not
            side.execute("INSERT INTO live (k, n) VALUES (:k, :n)", {"k": "secret", "n": 1})
        found = classify(info.value)
        assert found is not None and (found.code, found.kind) == ("MYSQL-1062", DATA)
        assert "secret" not in found.text and "secret" in found.full
    finally:
        side.close()


def test_insert_batches_send_multi_row_inserts(mysql_server, mysql_db):
    """PyMySQL rewrites the batched executemany of ``INSERT ... VALUES (...)`` into multi-row INSERTs: a few
    statements for 5,000 rows, not 5,000."""
    sess = _session(mysql_server, mysql_db)
    try:
        sess.execute("CREATE TABLE bulk (i INT, s LONGTEXT)")
        count = "SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'COM_INSERT'"
        before = int(sess.scalar(count))
        written = sess.insert_batches("`bulk`", ["i", "s"], [[(i, "x" * 50) for i in range(5_000)]])
        statements = int(sess.scalar(count)) - before
        sess.commit()
        assert written == 5_000 and 1 <= statements <= 5
        assert mysql_server.run(mysql_db, "SELECT COUNT(*) FROM bulk") == [(5_000,)]
    finally:
        sess.close()


def test_nowait_on_a_locked_row_is_lock_not_available(mysql_server, mysql_db):
    """The run lock's NOWAIT probe: a row another transaction holds fails at once with a code the dialect names
    lock-not-available (what state/checkpoint.py tests), transient."""
    mysql_server.run(mysql_db, "CREATE TABLE lk (k VARCHAR(10) PRIMARY KEY, v INT)")
    mysql_server.run(mysql_db, "INSERT INTO lk VALUES ('a', 1)")
    holder, waiter = _session(mysql_server, mysql_db), _session(mysql_server, mysql_db)
    try:
        select = holder.dialect.select_sql(TableName("lk"), ["v"], ["k"])
        holder.query(select + holder.dialect.for_update(), {"k": "a"})
        started = time.monotonic()
        with pytest.raises(Exception) as info:
            waiter.query(select + waiter.dialect.for_update_nowait(), {"k": "a"})
        found = classify(info.value)
        assert found is not None and found.kind == TRANSIENT and found.code in waiter.dialect.lock_not_available
        assert time.monotonic() - started < 2
        assert waiter.query(select + waiter.dialect.for_share(), {"k": "b"}) == []  # another row: no wait
    finally:
        holder.close()
        waiter.close()


def test_aliased_delete_runs_on_the_server(mysql_server, mysql_db):
    """The aliased DELETE of detect_deletes in the form MariaDB accepts (it has no ``DELETE FROM x AS t``)."""
    mysql_server.run(mysql_db, "CREATE TABLE keep (k INT)")
    mysql_server.run(mysql_db, "INSERT INTO keep VALUES (1), (2), (3)")
    sess = _session(mysql_server, mysql_db)
    try:
        done = sess.execute(sess.dialect.target_delete_sql(TableName("keep"), "t.`k` >= :lo"), {"lo": 2})
        sess.commit()
    finally:
        sess.close()
    assert done == 2 and mysql_server.run(mysql_db, "SELECT k FROM keep") == [(1,)]
