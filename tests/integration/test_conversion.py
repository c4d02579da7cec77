"""Existing PostgreSQL targets whose column types differ from the source's: values convert exactly or are refused.

Contract (README, "Existing targets"): every write casts each column to the target column's type and the compare
runs in the target's types, so a second run over an unchanged source changes nothing; a conversion that would
change a value (1.50 into bigint, a text longer than varchar(n), text that is not a number) is a data error of that
row: the chunk fails naming the column and the SQLSTATE (never the value), or with ``max_error_rows`` the row goes
to ``mapper_rejects`` and the others load. Naive timestamps are UTC instants.
"""

from __future__ import annotations

import pytest

from airflow_mapper_provider.exceptions import ConversionError
from tests.helpers import config, pg_exec, rows, run_all

RUNS = [f"2026-06-0{n}T00:00:00+00:00" for n in (1, 2, 3)]


def _target(dsn: str, strategy: str, defs: str) -> None:
    if strategy == "scd2":
        pg_exec(
            dsn,
            f"CREATE TABLE t (id int, {defs}, valid_from timestamptz, valid_to timestamptz, is_current boolean, "
            "row_hash text); CREATE UNIQUE INDEX t_cur ON t (id) WHERE is_current",
        )
    elif strategy == "scd1":
        pg_exec(dsn, f"CREATE TABLE t (id int PRIMARY KEY, {defs})")
    else:
        pg_exec(dsn, f"CREATE TABLE t (id int, {defs})")


def _current(dsn: str, strategy: str, cols: str) -> list[tuple]:
    cond = " WHERE is_current" if strategy == "scd2" else ""
    return rows(dsn, f"SELECT id, {cols} FROM t{cond} ORDER BY id")


@pytest.mark.parametrize("strategy", ["append", "scd1", "scd2"])
def test_text_to_integer_converts_and_a_bad_row_fails_the_chunk_naming_the_column(pg_dbs, strategy):
    src, tgt = pg_dbs.source_dsn, pg_dbs.target_dsn
    pg_exec(src, "CREATE TABLE s (id int PRIMARY KEY, qty text, note text)")
    pg_exec(src, "INSERT INTO s VALUES (1, '10', 'a'), (2, ' 0042', 'b'), (3, 'n/a', 'c'), (4, NULL, 'd')")
    _target(tgt, strategy, "qty integer, note text")
    cfg = config(strategy, "t", keys=("id",))
    with pytest.raises(ConversionError) as failed:
        run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r1", "SELECT * FROM s", RUNS[0])
    text = str(failed.value)
    assert "column qty (text -> int4)" in text and "22P02" in text
    assert "n/a" not in text  # never the value
    assert rows(tgt, "SELECT count(*) FROM t") == [(0,)]
    # with a budget the bad row is rejected (column named) and the rest loads, converted
    cfg = config(strategy, "t", keys=("id",), max_error_rows=5)
    _, _, s1 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r2", "SELECT * FROM s", RUNS[1])
    assert (s1.status, s1.rows_inserted, s1.rows_rejected) == ("success", 3, 1)
    assert _current(tgt, strategy, "qty, note") == [(1, 10, "a"), (2, 42, "b"), (4, None, "d")]
    rejected = rows(tgt, "SELECT error_code, error_message FROM mapper_rejects")
    assert len(rejected) == 1 and rejected[0][0] == "22P02" and "qty" in rejected[0][1]
    if strategy != "append":  # no churn: the compare runs in the target's types
        _, _, s2 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r3", "SELECT * FROM s", RUNS[2])
        assert (s2.rows_inserted, s2.rows_updated, s2.rows_expired, s2.rows_rejected) == (0, 0, 0, 1)


@pytest.mark.parametrize("strategy", ["scd1", "scd2"])
def test_numeric_to_bigint_lossless_converts_lossy_is_refused_never_rounded(pg_dbs, strategy):
    src, tgt = pg_dbs.source_dsn, pg_dbs.target_dsn
    pg_exec(src, "CREATE TABLE s (id int PRIMARY KEY, amount numeric(14,2))")
    pg_exec(src, "INSERT INTO s VALUES (1, 2.00), (2, -7), (3, 1.50), (4, 99999999999.00)")
    _target(tgt, strategy, "amount bigint")
    cfg = config(strategy, "t", keys=("id",))
    with pytest.raises(ConversionError) as failed:
        run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r1", "SELECT * FROM s", RUNS[0])
    assert "1 row(s) of column amount (numeric(14,2) -> int8), SQLSTATE 22000" in str(failed.value)
    cfg = config(strategy, "t", keys=("id",), max_error_rows=1)
    _, _, s1 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r2", "SELECT * FROM s", RUNS[1])
    assert (s1.rows_inserted, s1.rows_rejected) == (3, 1)
    assert _current(tgt, strategy, "amount") == [(1, 2), (2, -7), (4, 99999999999)]
    assert rows(tgt, "SELECT error_code, row_json LIKE '%1.50%' FROM mapper_rejects") == [("22000", True)]
    _, _, s2 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r3", "SELECT * FROM s", RUNS[2])
    assert (s2.rows_inserted, s2.rows_updated, s2.rows_expired) == (0, 0, 0)
    pg_exec(src, "UPDATE s SET amount = 3 WHERE id = 1")
    _, _, s3 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r4", "SELECT * FROM s", "2026-06-04T00:00:00+00:00")
    assert (s3.rows_updated, s3.rows_expired) == (1, 1 if strategy == "scd2" else 0)


def test_timestamp_into_timestamptz_is_utc_and_int_into_numeric_is_exact(pg_server, pg_dbs):
    src, tgt = pg_dbs.source_dsn, pg_dbs.target_dsn
    pg_exec(tgt, "ALTER DATABASE " + tgt.rsplit("/", 1)[-1].split("?")[0] + " SET TimeZone = 'Asia/Kolkata'")
    pg_exec(src, "CREATE TABLE s (id int PRIMARY KEY, at timestamp, n integer, short varchar(10))")
    pg_exec(src, "INSERT INTO s VALUES (1, '2026-01-01 10:00', 7, 'abc'), (2, '2026-06-30 23:59:59.5', -1, 'x')")
    _target(tgt, "scd2", "at timestamptz, n numeric(10,2), short text")
    cfg = config("scd2", "t", keys=("id",))
    run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r1", "SELECT * FROM s", RUNS[0])
    got = rows(tgt, "SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS'), n::text, short FROM t")
    assert sorted(got) == [(1, "2026-01-01 10:00:00.000", "7.00", "abc"), (2, "2026-06-30 23:59:59.500", "-1.00", "x")]
    _, _, s2 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r2", "SELECT * FROM s", RUNS[1])
    assert (s2.rows_inserted, s2.rows_updated, s2.rows_expired, s2.rows_unchanged) == (0, 0, 0, 2)


def test_text_longer_than_the_target_varchar_is_rejected_not_truncated(pg_dbs):
    src, tgt = pg_dbs.source_dsn, pg_dbs.target_dsn
    pg_exec(src, "CREATE TABLE s (id int PRIMARY KEY, code varchar(20))")
    pg_exec(src, "INSERT INTO s VALUES (1, 'abcde'), (2, 'abcdef'), (3, 'ab')")
    _target(tgt, "scd1", "code varchar(5)")
    cfg = config("scd1", "t", keys=("id",), max_error_rows=3, on_schema_change="ignore")  # no widening
    _, _, s1 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r1", "SELECT * FROM s", RUNS[0])
    assert (s1.rows_inserted, s1.rows_rejected) == (2, 1)
    assert _current(tgt, "scd1", "code") == [(1, "abcde"), (3, "ab")]
    assert rows(tgt, "SELECT error_message LIKE 'column code (varchar(20) -> varchar(5))%' FROM mapper_rejects") == [
        (True,)
    ]


def test_a_key_that_does_not_convert_is_rejected_and_never_counts_as_seen(pg_dbs):
    src, tgt = pg_dbs.source_dsn, pg_dbs.target_dsn
    pg_exec(src, "CREATE TABLE s (id text PRIMARY KEY, v text)")
    pg_exec(src, "INSERT INTO s VALUES ('1', 'a'), ('2', 'b'), ('x', 'c')")
    pg_exec(tgt, "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'gone')")
    cfg = config("scd1", "t", keys=("id",), max_error_rows=2, detect_deletes=True, max_delete_fraction=1.0)
    _, _, s1 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r1", "SELECT * FROM s", RUNS[0])
    assert (s1.status, s1.rows_rejected, s1.rows_deleted) == ("success", 1, 1)
    assert rows(tgt, "SELECT id, v FROM t ORDER BY id") == [(1, "a"), (2, "b")]


@pytest.mark.parametrize("strategy", ["scd1", "scd2"])
def test_enum_citext_and_enum_arrays_from_a_database_whose_types_the_target_lacks(pg_dbs, strategy):
    """The target database has neither the enum nor citext: the mapper creates those columns as text holding the
    values' text form (rows travel as text), and later runs see no change until a value changes."""
    src, tgt = pg_dbs.source_dsn, pg_dbs.target_dsn
    pg_exec(src, "CREATE EXTENSION IF NOT EXISTS citext; CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')")
    pg_exec(src, "CREATE TABLE s (id int PRIMARY KEY, m mood, c citext, ms mood[])")
    pg_exec(src, "INSERT INTO s VALUES (1, 'sad', 'Bob', '{sad,ok}'), (2, 'ok', 'ann', NULL), (3, NULL, NULL, '{}')")
    cfg = config(strategy, "t", keys=("id",))
    sql = "SELECT * FROM s"
    _, _, s1 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r1", sql, RUNS[0])
    assert (s1.status, s1.rows_inserted) == ("success", 3)
    types = rows(tgt, "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 't' "
                      "AND column_name IN ('m', 'c', 'ms') ORDER BY 1")  # fmt: skip
    assert types == [("c", "text"), ("m", "text"), ("ms", "text")]
    assert _current(tgt, strategy, "m, c, ms") == [
        (1, "sad", "Bob", "{sad,ok}"),
        (2, "ok", "ann", None),
        (3, None, None, "{}"),
    ]
    _, _, s2 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r2", sql, RUNS[1])
    assert (s2.rows_inserted, s2.rows_updated, s2.rows_expired) == (0, 0, 0)
    pg_exec(src, "UPDATE s SET c = 'bob' WHERE id = 1")  # citext '=' says equal; the text form changed
    _, _, s3 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r3", sql, RUNS[2])
    assert (s3.rows_updated, s3.rows_expired) == (1, 1 if strategy == "scd2" else 0)


def test_an_interval_into_an_existing_sqlite_table_is_refused_at_plan(pg_dbs, tmp_path):
    """SQLite cannot hold an interval exactly: refused before any chunk, also when the target table exists."""
    import sqlite3

    from airflow_mapper_provider.exceptions import UnsupportedError

    src = pg_dbs.source_dsn
    pg_exec(src, "CREATE TABLE s (id int PRIMARY KEY, waited interval)")
    pg_exec(src, "INSERT INTO s VALUES (1, '1 mon'), (2, '30 days')")
    path = tmp_path / "t.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, waited TEXT)")
    with pytest.raises(UnsupportedError, match=r"waited.*(::text|extract)"):
        run_all(config("scd1", "t", keys=("id",)), pg_dbs.source_uri, f"sqlite:///{path}", "r1", "SELECT * FROM s")
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM t").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM sqlite_master WHERE name LIKE 'mapper_%'").fetchone() == (0,)
