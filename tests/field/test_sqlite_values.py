"""Exact values between PostgreSQL and SQLite on the rows path, beyond the type matrix (test_type_matrix.py):

1. SQLite sources are described by their declared types (``NUMERIC(12,2)``, ``VARCHAR(20)``...), inside the
   session's read transaction, leaving nothing behind; expression columns are typed from all of their values (a
   fraction after row 1,000 makes the column numeric, not bigint).
2. A timestamptz stored in SQLite is one UTC text whatever the source session's TimeZone: after the source
   database's TimeZone changes, a run reports 0 updated / 0 expired.
3. Existing SQLite targets whose declared types differ from the source's get values encoded by the target
   column's type; a second run with no source change reports no change.
4. KEY checkpoints with a timedelta lookback on SQLite work from the second run on (the stored checkpoint is a
   datetime, not text), SQLite -> SQLite and SQLite -> PostgreSQL and PostgreSQL -> SQLite; a decimal checkpoint
   stored as DECIMAL_TEXT compares by value (``10.5`` > ``9.5``), on a SQLite target and on a SQLite source.
5. ``interval`` into SQLite is refused at plan time, naming the column and the fix, creating no table.
6. A failing statement on the SQLite path shows no row value (bound parameters are hidden).
7. SQLite -> SQLite keeps the declared types (an expression column gets its values' type) and the stored values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import exc as sa_exc

from airflow_mapper_provider.exceptions import MapperError
from tests.field.support import Endpoint, Run, check, counters, load
from tests.helpers import config, sessions

EndpointFactory = Callable[..., Endpoint]
RUNS = [f"2026-06-0{n}T00:00:00+00:00" for n in range(1, 7)]
CHANGES = ("rows_inserted", "rows_updated", "rows_expired", "rows_unchanged", "rows_rejected")
UTC = dt.timezone.utc


def _ok(run: Run) -> Run:
    assert not run.errors, run.failures
    return run


def _declared(endpoint: Endpoint, table: str) -> dict[str, str]:
    return {name: decl for name, decl in endpoint.query("SELECT name, type FROM pragma_table_info(?)", (table,))}


# ---- 1. describe -----------------------------------------------------------------------------------------------


def test_sqlite_describe_reads_declared_types_in_the_read_transaction(field_db: EndpointFactory) -> None:
    src = field_db("source", "sqlite")
    src.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, amount NUMERIC(12,2), exact DECIMAL_TEXT(38,10), "
        "name VARCHAR(20), code CHAR(3), seen TIMESTAMPTZ, day DATE, flag BOOLEAN, doc JSON, raw BLOB, x COLOR, u)"
    )
    # the expression column: integers for 1,100 rows, then a fraction; the untyped column u: integers only
    src.executemany("INSERT INTO t (id, u) VALUES (?, ?)", [(i, i) for i in range(1, 1_201)])
    sql = "SELECT t.*, CASE WHEN id > 1100 THEN id + 0.5 ELSE id END AS expr, name || 'x' AS label FROM t"
    with sessions(src.uri, src.uri) as (source, _):
        source.query("SELECT 1")  # the transaction is open from here on
        columns = source.describe(sql)
        leftover = source.query("SELECT name FROM sqlite_temp_master")
        in_transaction = source.conn.connection.dbapi_connection.in_transaction
    got = {c.name: (c.type.kind, c.type.native, c.type.length, c.type.precision, c.type.scale) for c in columns}
    assert got == {
        "id": ("bigint", "INTEGER", None, None, None),
        "amount": ("numeric", "NUMERIC(12,2)", None, 12, 2),
        "exact": ("numeric", "DECIMAL_TEXT(38,10)", None, 38, 10),
        "name": ("varchar", "VARCHAR(20)", 20, None, None),
        "code": ("char", "CHAR(3)", 3, None, None),
        "seen": ("timestamptz", "TIMESTAMPTZ", None, None, None),
        "day": ("date", "DATE", None, None, None),
        "flag": ("bool", "BOOLEAN", None, None, None),
        "doc": ("json", "JSON", None, None, None),
        "raw": ("bytes", "BLOB", None, None, None),
        "x": ("text", "COLOR", None, None, None),
        "u": ("bigint", "", None, None, None),
        "expr": ("numeric", "", None, None, None),
        "label": ("text", "", None, None, None),  # all NULL (name is NULL): text
    }
    assert leftover == [], "the describe view must be dropped"
    assert in_transaction, "describe must run in the session's transaction"


# ---- 2. timestamptz under a source TimeZone change ---------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["scd1", "scd2"])
def test_timestamptz_in_sqlite_is_utc_whatever_the_source_time_zone(field_db: EndpointFactory, strategy: str) -> None:
    src = field_db("source", "pg", {"timezone": "Asia/Kolkata"})
    tgt = field_db("target", "sqlite")
    src.execute("CREATE TABLE ev (id int PRIMARY KEY, at timestamptz, t timetz, amount numeric(38,10))")
    src.execute(
        "INSERT INTO ev SELECT g, timestamptz '2026-03-29 00:30:00+00' + g * interval '7 minutes', "
        "timetz '12:00:00+05:30', g * 1234567890.0123456789 FROM generate_series(1, 300) g"
    )
    src.analyze()
    cfg = config(strategy, "ev", ("id",), chunk_size=100, min_rows_for_parallel=0)
    sql = "SELECT id, at, t, amount FROM ev"
    first = _ok(load(cfg, src, tgt, "r1", sql, RUNS[0]))
    check("run 1", counters(first, *CHANGES), {**dict.fromkeys(CHANGES, 0), "rows_inserted": 300})
    stored = tgt.query("SELECT at, t, amount FROM ev WHERE id = 1")
    assert stored == [("2026-03-29 00:37:00+00:00", "12:00:00+05:30", "1234567890.0123456789")]
    dbname = src.query("SELECT current_database()")[0][0]
    src.execute(f"ALTER DATABASE \"{dbname}\" SET timezone = 'America/St_Johns'")
    second = _ok(load(cfg, src, tgt, "r2", sql, RUNS[1]))
    check("run 2 (source TimeZone changed)", counters(second, *CHANGES),
          {**dict.fromkeys(CHANGES, 0), "rows_unchanged": 300})  # fmt: skip
    src.execute("UPDATE ev SET at = at + interval '1 microsecond' WHERE id = 5")
    third = _ok(load(cfg, src, tgt, "r3", sql, RUNS[2]))
    expired = 1 if strategy == "scd2" else 0
    check("run 3 (one change)", counters(third, *CHANGES),
          {**dict.fromkeys(CHANGES, 0), "rows_updated": 1, "rows_expired": expired, "rows_unchanged": 299})  # fmt: skip


# ---- 3. existing SQLite targets with other declared types ----------------------------------------------------------


@pytest.mark.parametrize("strategy", ["scd1", "scd2"])
def test_existing_sqlite_target_gets_values_in_its_declared_types(field_db: EndpointFactory, strategy: str) -> None:
    src = field_db("source", "pg", {"timezone": "Asia/Kolkata"})
    tgt = field_db("target", "sqlite")
    src.execute(
        "CREATE TABLE s (id int PRIMARY KEY, num_text text, price numeric(12,2), at timestamptz, at_naive "
        "timestamptz, flag boolean, ratio float8)"
    )
    src.execute(
        "INSERT INTO s SELECT g, (g * 10)::text, g + 0.5, timestamptz '2026-01-01 00:00:00+00' + g * interval "
        "'1 hour', timestamptz '2026-01-01 00:00:00+00', g % 2 = 0, CASE WHEN g = 1 THEN 'NaN' ELSE g / 3.0 END "
        "FROM generate_series(1, 50) g"
    )
    scd2 = (
        ", valid_from TIMESTAMPTZ, valid_to TIMESTAMPTZ, is_current BOOLEAN, row_hash TEXT"
        if strategy == "scd2"
        else ""
    )
    pk = "" if strategy == "scd2" else " PRIMARY KEY"
    tgt.execute(
        f"CREATE TABLE s (id INTEGER{pk}, num_text INTEGER, price TEXT, at TEXT, at_naive TIMESTAMP, flag TEXT, "
        f"ratio DOUBLE{scd2})"
    )
    cfg = config(strategy, "s", ("id",), chunk_size=1000, min_rows_for_parallel=0)
    sql = "SELECT id, num_text, price, at, at_naive, flag, ratio FROM s"
    _ok(load(cfg, src, tgt, "r1", sql, RUNS[0]))
    got = tgt.query(
        "SELECT typeof(num_text), num_text, price, at, at_naive, flag, typeof(ratio), ratio FROM s WHERE id IN (1, 2) "
        "ORDER BY id"
    )
    assert got == [
        ("integer", 10, "1.50", "2026-01-01 01:00:00+00:00", "2026-01-01 00:00:00", "false", "text", "NaN"),
        ("integer", 20, "2.50", "2026-01-01 02:00:00+00:00", "2026-01-01 00:00:00", "true", "real", 2 / 3),
    ]
    second = _ok(load(cfg, src, tgt, "r2", sql, RUNS[1]))
    check("run 2 (no change)", counters(second, *CHANGES), {**dict.fromkeys(CHANGES, 0), "rows_unchanged": 50})


# ---- 4. KEY checkpoints ----------------------------------------------------------------------------------------


def _sqlite_events(endpoint: Endpoint, ids: range, decl: str = "TIMESTAMP") -> None:
    endpoint.execute(f"CREATE TABLE IF NOT EXISTS ev (id INTEGER PRIMARY KEY, name TEXT, at {decl})")
    base = dt.datetime(2026, 3, 1, 12, 0, 0)
    endpoint.executemany(
        "INSERT OR REPLACE INTO ev VALUES (?, ?, ?)",
        [(i, f"n{i}", (base + dt.timedelta(minutes=i)).isoformat(sep=" ")) for i in ids],
    )


@pytest.mark.parametrize(
    ("target_kind", "strategy"), [("sqlite", "scd1"), ("sqlite", "scd2"), ("pg", "scd1"), ("pg", "scd2")]
)
def test_key_checkpoint_with_timedelta_lookback_from_a_sqlite_source(
    field_db: EndpointFactory, target_kind: str, strategy: str
) -> None:
    src, tgt = field_db("source", "sqlite"), field_db("target", target_kind)
    _sqlite_events(src, range(1, 101))
    cfg = config(strategy, "ev_copy", ("id",), chunk_size=1000, min_rows_for_parallel=0, checkpoint_column="at",
                 checkpoint_lookback=dt.timedelta(minutes=10))  # fmt: skip
    sql = "SELECT id, name, at FROM ev"
    first = _ok(load(cfg, src, tgt, "r1", sql, RUNS[0]))
    assert first.summary.rows_read == 100
    stored = tgt.query("SELECT value_type, value FROM mapper_checkpoint")
    assert stored == [("datetime", "2026-03-01T13:40:00")]
    _sqlite_events(src, range(101, 111))
    second = _ok(load(cfg, src, tgt, "r2", sql, RUNS[1]))
    # the lookback re-reads the last 10 minutes (ids 91..100, > 13:30) plus the 10 new rows
    assert second.summary.rows_read == 20
    check("run 2", counters(second, "rows_inserted", "rows_updated", "rows_expired", "rows_unchanged"),
          {"rows_inserted": 10, "rows_updated": 0, "rows_expired": 0, "rows_unchanged": 10})  # fmt: skip
    third = _ok(load(cfg, src, tgt, "r3", sql, RUNS[2]))
    assert third.summary.rows_read == 10  # ids 101..110 within the lookback of 13:50


def test_key_checkpoint_with_timedelta_lookback_into_sqlite(field_db: EndpointFactory) -> None:
    src, tgt = field_db("source", "pg", {"timezone": "Asia/Kolkata"}), field_db("target", "sqlite")
    src.execute("CREATE TABLE ev (id int PRIMARY KEY, name text, at timestamptz)")
    src.execute("INSERT INTO ev SELECT g, 'n' || g, timestamptz '2026-03-01 12:00:00+00' + g * interval '1 minute' "
                "FROM generate_series(1, 100) g")  # fmt: skip
    src.analyze()
    cfg = config("scd1", "ev", ("id",), chunk_size=1000, min_rows_for_parallel=0, checkpoint_column="at",
                 checkpoint_lookback=dt.timedelta(minutes=5))  # fmt: skip
    sql = "SELECT id, name, at FROM ev"
    _ok(load(cfg, src, tgt, "r1", sql, RUNS[0]))
    assert tgt.query("SELECT value_type, value FROM mapper_checkpoint") == [("datetime", "2026-03-01T13:40:00+00:00")]
    second = _ok(load(cfg, src, tgt, "r2", sql, RUNS[1]))
    check("run 2", counters(second, "rows_read", "rows_updated", "rows_unchanged"),
          {"rows_read": 5, "rows_updated": 0, "rows_unchanged": 5})  # fmt: skip


AMOUNTS_1 = ("9.50", "10.50", "2.25")  # as text, the largest is 9.50
AMOUNTS_2 = ("10.25", "100.50", "9.75")  # only 100.50 is above the checkpoint 10.50


@pytest.mark.parametrize("source_kind", ["pg", "sqlite"])
def test_decimal_text_checkpoint_compares_by_value(field_db: EndpointFactory, source_kind: str) -> None:
    src, tgt = field_db("source", source_kind), field_db("target", "sqlite")
    if src.is_pg:
        src.execute("CREATE TABLE pay (id int PRIMARY KEY, amount numeric(12,2))")
    else:
        src.execute("CREATE TABLE pay (id INTEGER PRIMARY KEY, amount DECIMAL_TEXT(12,2))")
    insert = "INSERT INTO pay VALUES (?, ?)" if not src.is_pg else "INSERT INTO pay VALUES (?, ?::numeric)"
    src.executemany(insert, list(enumerate(AMOUNTS_1, 1)))
    cfg = config("append", "pay_copy", ("id",), chunk_size=1000, min_rows_for_parallel=0, checkpoint_column="amount")
    sql = "SELECT id, amount FROM pay"
    _ok(load(cfg, src, tgt, "r1", sql, RUNS[0]))
    assert tgt.query("SELECT value_type, value FROM mapper_checkpoint") == [("decimal", "10.50")]
    src.executemany(insert, list(enumerate(AMOUNTS_2, 10)))
    second = _ok(load(cfg, src, tgt, "r2", sql, RUNS[1]))
    assert second.summary.rows_inserted == 1
    assert sorted(tgt.query("SELECT id, amount FROM pay_copy")) == [(1, "9.50"), (2, "10.50"), (3, "2.25"),
                                                                    (11, "100.50")]  # fmt: skip


# ---- 5. interval refused --------------------------------------------------------------------------------------


def test_interval_into_sqlite_is_refused_at_plan_naming_column_and_fix(field_db: EndpointFactory) -> None:
    src, tgt = field_db("source", "pg"), field_db("target", "sqlite")
    src.execute("CREATE TABLE d (id int PRIMARY KEY, waited interval)")
    src.execute("INSERT INTO d VALUES (1, '3 mons 7 days')")
    cfg = config("scd1", "d", ("id",), chunk_size=1000, min_rows_for_parallel=0)
    with pytest.raises(MapperError) as info:
        load(cfg, src, tgt, "r1", "SELECT id, waited FROM d", RUNS[0])
    message = str(info.value)
    assert info.value.retryable is False
    assert "'waited'" in message and "interval" in message and "waited::text" in message
    assert "3 mons" not in message and "7 days" not in message
    assert not tgt.query("SELECT name FROM sqlite_master WHERE name = 'd'")


# ---- 6. no row values in errors -------------------------------------------------------------------------------

SECRET = "secret-value-4711"


def test_sqlite_statement_error_hides_bound_values(field_db: EndpointFactory) -> None:
    tgt = field_db("target", "sqlite")
    tgt.execute("CREATE TABLE guarded (id INTEGER PRIMARY KEY, name TEXT CHECK (length(name) < 5))")
    with sessions(tgt.uri, tgt.uri) as (_, target):
        with pytest.raises(sa_exc.IntegrityError) as single:
            target.execute("INSERT INTO guarded VALUES (:i, :n)", {"i": 1, "n": SECRET})
        target.rollback()
        with pytest.raises(sa_exc.IntegrityError) as batch:
            target.insert_batches('"guarded"', ["id", "name"], [[(2, "ok"), (3, SECRET)]])
    for raised in (single, batch):
        text = f"{raised.value!s} {raised.value!r}"
        assert "CHECK constraint failed" in text, text
        assert SECRET not in text


def test_sqlite_load_failure_shows_no_row_value(field_db: EndpointFactory) -> None:
    src, tgt = field_db("source", "sqlite"), field_db("target", "sqlite")
    src.execute("CREATE TABLE s (id INTEGER PRIMARY KEY, name TEXT)")
    src.executemany("INSERT INTO s VALUES (?, ?)", [(1, "ok"), (2, SECRET)])
    tgt.execute("CREATE TABLE s (id INTEGER PRIMARY KEY, name TEXT CHECK (length(name) < 5))")
    cfg = config("scd1", "s", ("id",), chunk_size=1000, min_rows_for_parallel=0)
    run = load(cfg, src, tgt, "r1", "SELECT id, name FROM s", RUNS[0])
    assert run.errors, "the CHECK constraint must fail the chunk"
    assert not any(SECRET in e for e in run.errors), run.errors
    logged = tgt.query("SELECT message FROM mapper_chunklog WHERE status = 'failed'")
    assert logged and not any(SECRET in str(m) for (m,) in logged), logged


# ---- SQLite -> SQLite -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["scd1", "scd2"])
def test_sqlite_to_sqlite_keeps_declared_types_and_values(field_db: EndpointFactory, strategy: str) -> None:
    src, tgt = field_db("source", "sqlite"), field_db("target", "sqlite")
    src.execute(
        "CREATE TABLE s (id INTEGER PRIMARY KEY, amount NUMERIC(12,2), exact DECIMAL_TEXT(38,10), ratio REAL, "
        "at TIMESTAMPTZ, flag BOOLEAN, doc JSON, raw BLOB, name VARCHAR(20))"
    )
    src.executemany(
        "INSERT INTO s VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(i, i + 0.25, f"{i}234567890123456789012345678.0123456789", 0.1 * i, f"2026-03-01 12:00:0{i % 10}+00:00",
          i % 2, '{"a": 1.50}', bytes([i % 256, 0]), f"n{i}") for i in range(1, 201)],
    )  # fmt: skip
    cfg = config(strategy, "s", ("id",), chunk_size=50, min_rows_for_parallel=0)
    sql = "SELECT id, amount, exact, ratio, at, flag, doc, raw, name, amount * 2 AS doubled FROM s"
    _ok(load(cfg, src, tgt, "r1", sql, RUNS[0]))
    declared = _declared(tgt, "s")
    assert {k: declared[k] for k in ("amount", "exact", "at", "doc", "doubled")} == {
        "amount": "NUMERIC(12,2)", "exact": "DECIMAL_TEXT(38,10)", "at": "TIMESTAMPTZ", "doc": "JSON",
        "doubled": "REAL",
    }  # fmt: skip
    want = src.query("SELECT id, amount, exact, ratio, at, flag, doc, raw, name, amount * 2 FROM s ORDER BY id")
    assert tgt.query("SELECT id, amount, exact, ratio, at, flag, doc, raw, name, doubled FROM s ORDER BY id") == want
    second = _ok(load(cfg, src, tgt, "r2", sql, RUNS[1]))
    check("run 2 (no change)", counters(second, *CHANGES), {**dict.fromkeys(CHANGES, 0), "rows_unchanged": 200})
