"""Schema evolution in the field: the source gains, widens and loses columns between runs of one job.

Contracts (``on_schema_change``):
1. ``append_new_columns`` (default): the plan adds a new source column to the existing target (NULL in the rows
   and scd2 versions already there) and the run loads it; the next runs over an unchanged source report 0 updated,
   0 expired. On PostgreSQL a lossless widening (varchar(10) -> varchar(50), integer -> bigint, numeric(10,2) ->
   numeric(12,2)) is applied to the target column; SQLite needs none (it enforces no declared type).
2. ``fail``: a source that would change the target fails the plan, the SchemaError listing every difference
   (added, wider, converted, not in the source) and naming the parameter; the target is not changed.
3. ``ignore``: no DDL; the source's extra columns are not loaded (a warning in the task log).
4. A column dropped from the source stays in the target: NULL in new rows (and new scd2 versions), as it was in
   the rows scd1 updates. Key columns must be in the target in every mode.
5. The job log's message of the run records what changed (added, widened, ignored, kept).
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_mapper_provider.exceptions import SchemaError
from tests.field.conftest import EndpointFactory
from tests.field.support import Endpoint, Run, check, counters, load

RUNS = [f"2026-06-0{n}T00:00:00+00:00" for n in range(1, 6)]
N = 40
SQL = "SELECT * FROM src"
COUNTERS = ("rows_read", "rows_inserted", "rows_updated", "rows_expired")


@contextlib.contextmanager
def warnings_of(logger: str) -> Iterator[list[str]]:
    """The WARNING (and worse) messages ``logger`` emits inside the block (whatever handlers Airflow set up)."""
    seen: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    target = logging.getLogger(logger)
    target.addHandler(handler)
    try:
        yield seen
    finally:
        target.removeHandler(handler)


def cfg(strategy: str, **kw: Any):
    from tests.helpers import config

    keys = () if strategy == "append" else ("id",)
    return config(strategy, "dim", keys=keys, mapref=f"schema.{strategy}", **kw)


def make_source(src: Endpoint, ddl: str = "id integer PRIMARY KEY, name varchar(10), qty integer, "
                "price numeric(10,2)") -> None:  # fmt: skip
    src.execute(f"CREATE TABLE src ({ddl})")
    src.executemany("INSERT INTO src (id, name, qty, price) VALUES (?, ?, ?, ?)",
                    [(i, f"n{i}", i * 10, f"{i}.25") for i in range(1, N + 1)])  # fmt: skip


def want(read: int, inserted: int, updated: int, expired: int) -> dict[str, int]:
    return dict(zip(COUNTERS, (read, inserted, updated, expired), strict=True))


def run(cfg_: Any, src: Endpoint, tgt: Endpoint, n: int) -> Run:
    done = load(cfg_, src, tgt, f"run{n}", SQL, RUNS[n - 1])
    assert not done.errors, done.failures
    return done


def message(tgt: Endpoint, n: int) -> str:
    return str(tgt.query("SELECT message FROM mapper_joblog WHERE run_id = ?", [f"run{n}"])[0][0] or "")


def columns(tgt: Endpoint) -> dict[str, str]:
    """Target column -> declared type (PostgreSQL: format_type; SQLite: the declared type)."""
    if tgt.is_pg:
        found = tgt.query(
            "SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'dim'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
        )
    else:
        found = [(r[1], r[2]) for r in tgt.query("PRAGMA table_info(dim)")]
    return {str(name): str(kind) for name, kind in found}


def current(tgt: Endpoint, cols: str, strategy: str) -> list[tuple[Any, ...]]:
    where = "" if strategy != "scd2" else " WHERE is_current" if tgt.is_pg else " WHERE is_current = 1"
    return sorted(tgt.query(f"SELECT {cols} FROM dim{where}"))


def source(src: Endpoint, cols: str) -> list[tuple[Any, ...]]:
    return sorted(src.query(f"SELECT {cols} FROM src"))


# ---- 1. append_new_columns: an added column ---------------------------------------------------------------------


@pytest.mark.parametrize("target_kind", ["pg", "sqlite"])
@pytest.mark.parametrize("strategy", ["append", "scd1", "scd2"])
def test_added_source_column_is_added_to_the_target_and_loaded(field_db: EndpointFactory, strategy: str,
                                                               target_kind: str) -> None:  # fmt: skip
    src, tgt = field_db("source", "pg"), field_db("target", target_kind)
    make_source(src)
    c = cfg(strategy)
    run(c, src, tgt, 1)
    src.execute("ALTER TABLE src ADD COLUMN email varchar(50)")
    src.execute("UPDATE src SET email = 'e' || id || '@x.org' WHERE id % 4 = 0")  # 10 rows get a value
    second = run(c, src, tgt, 2)
    gained = N // 4
    want = {
        "append": {"rows_read": N, "rows_inserted": N, "rows_updated": 0, "rows_expired": 0},
        "scd1": {"rows_read": N, "rows_inserted": 0, "rows_updated": gained, "rows_expired": 0},
        "scd2": {"rows_read": N, "rows_inserted": 0, "rows_updated": gained, "rows_expired": gained},
    }[strategy]
    check("run 2 (email added)", counters(second, *COUNTERS), want)
    assert "email" in columns(tgt)
    assert "schema: added column(s) email varchar(50)" in message(tgt, 2)
    if strategy == "append":  # the rows appended before the column existed have NULL in it
        want_rows = [(i, None) for i in range(1, N + 1)] + source(src, "id, email")
        assert Counter(tgt.query("SELECT id, email FROM dim")) == Counter(want_rows)
        return
    assert current(tgt, "id, name, email", strategy) == source(src, "id, name, email")
    if strategy == "scd2":  # the closed versions predate the column: NULL there
        closed = tgt.query("SELECT id, email FROM dim WHERE NOT is_current" if tgt.is_pg
                           else "SELECT id, email FROM dim WHERE is_current = 0")  # fmt: skip
        assert sorted(closed) == [(i, None) for i in range(4, N + 1, 4)]
    for n in (3, 4):  # nothing changed since: no churn, nothing more to record
        again = run(c, src, tgt, n)
        check(f"run {n} (no change)", counters(again, *COUNTERS),
              {"rows_read": N, "rows_inserted": 0, "rows_updated": 0, "rows_expired": 0})  # fmt: skip
        assert "schema:" not in message(tgt, n)


# ---- 1. append_new_columns: widened types ------------------------------------------------------------------------

WIDENED = {"name": "character varying(50)", "qty": "bigint", "price": "numeric(12,2)"}


@pytest.mark.parametrize("strategy", ["scd1", "scd2"])
def test_wider_source_types_widen_the_postgresql_target(field_db: EndpointFactory, strategy: str) -> None:
    src, tgt = field_db("source", "pg"), field_db("target", "pg")
    make_source(src)
    c = cfg(strategy)
    run(c, src, tgt, 1)
    before = columns(tgt)
    assert {k: before[k] for k in WIDENED} == {"name": "character varying(10)", "qty": "integer",
                                                "price": "numeric(10,2)"}  # fmt: skip
    src.execute("ALTER TABLE src ALTER COLUMN name TYPE varchar(50), ALTER COLUMN qty TYPE bigint, "
                "ALTER COLUMN price TYPE numeric(12,2)")  # fmt: skip
    # one row uses the room: 30 characters, 2^40, 10 integer digits (none of them fits the old types)
    src.execute("UPDATE src SET name = ?, qty = ?, price = ? WHERE id = 7", ["x" * 30, 2**40, "1234567890.12"])
    second = run(c, src, tgt, 2)
    check("run 2 (types widened)", counters(second, *COUNTERS), want(N, 0, 1, 1 if strategy == "scd2" else 0))
    after = columns(tgt)
    assert {k: after[k] for k in WIDENED} == WIDENED
    assert (
        "schema: widened column(s) name varchar(10) -> varchar(50), qty int4 -> int8, "
        "price numeric(10,2) -> numeric(12,2)"
    ) in message(tgt, 2)
    assert current(tgt, "id, name, qty, price", strategy) == source(src, "id, name, qty, price")
    third = run(c, src, tgt, 3)
    check("run 3 (no change)", counters(third, *COUNTERS),
          {"rows_read": N, "rows_inserted": 0, "rows_updated": 0, "rows_expired": 0})  # fmt: skip
    assert "schema:" not in message(tgt, 3)


@pytest.mark.parametrize("strategy", ["scd1", "scd2"])
def test_a_target_the_user_made_narrower_is_not_widened(field_db: EndpointFactory, strategy: str) -> None:
    """Widening follows the source's growth: a target column narrower than the source's from the first run (a
    table the user created so) is loaded by conversion, a value that does not fit refused, the column left as is,
    also when the source grows further."""
    src, tgt = field_db("source", "pg"), field_db("target", "pg")
    make_source(src)
    scd2 = ", valid_from timestamptz, valid_to timestamptz, is_current boolean, row_hash text" * (strategy == "scd2")
    tgt.execute(f"CREATE TABLE dim (id integer PRIMARY KEY, name varchar(3), qty smallint, price numeric(10,2){scd2})")
    if strategy == "scd2":
        tgt.execute("ALTER TABLE dim DROP CONSTRAINT dim_pkey")
    src.execute("UPDATE src SET name = 'long' WHERE id = 3")  # 4 characters: does not fit varchar(3)
    c = cfg(strategy, max_error_rows=5)
    first = run(c, src, tgt, 1)
    check("run 1", counters(first, *COUNTERS, "rows_rejected"), {**want(N, N - 1, 0, 0), "rows_rejected": 1})
    assert "schema:" not in message(tgt, 1)
    src.execute("ALTER TABLE src ALTER COLUMN name TYPE varchar(50), ALTER COLUMN qty TYPE bigint")
    second = run(c, src, tgt, 2)
    # the refused row is refused again; the others are unchanged
    check("run 2", counters(second, *COUNTERS, "rows_rejected"), {**want(N, 0, 0, 0), "rows_rejected": 1})
    assert "widened" not in message(tgt, 2)
    declared = columns(tgt)
    assert (declared["name"], declared["qty"]) == ("character varying(3)", "smallint")


@pytest.mark.parametrize("strategy", ["scd1", "scd2"])
def test_wider_source_types_need_no_ddl_on_sqlite(field_db: EndpointFactory, strategy: str) -> None:
    src, tgt = field_db("source", "pg"), field_db("target", "sqlite")
    make_source(src)
    c = cfg(strategy)
    run(c, src, tgt, 1)
    declared = columns(tgt)
    src.execute("ALTER TABLE src ALTER COLUMN name TYPE varchar(50), ALTER COLUMN qty TYPE bigint")
    src.execute("UPDATE src SET name = ?, qty = ? WHERE id = 7", ["x" * 30, 2**40])
    second = run(c, src, tgt, 2)
    check("run 2 (types widened)", counters(second, *COUNTERS), want(N, 0, 1, 1 if strategy == "scd2" else 0))
    assert columns(tgt) == declared  # no DDL: SQLite holds the longer text and the larger integer as they are
    assert "schema:" not in message(tgt, 2)
    assert current(tgt, "id, name, qty", strategy) == source(src, "id, name, qty")
    third = run(c, src, tgt, 3)
    check("run 3 (no change)", counters(third, *COUNTERS),
          {"rows_read": N, "rows_inserted": 0, "rows_updated": 0, "rows_expired": 0})  # fmt: skip


# ---- 4. a column dropped from the source --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["append_new_columns", "fail", "ignore"])
@pytest.mark.parametrize("target_kind", ["pg", "sqlite"])
@pytest.mark.parametrize("strategy", ["scd1", "scd2"])
def test_dropped_source_column_stays_in_the_target(field_db: EndpointFactory, strategy: str, target_kind: str,
                                                   mode: str) -> None:  # fmt: skip
    src, tgt = field_db("source", "pg"), field_db("target", target_kind)
    make_source(src)
    c = cfg(strategy, on_schema_change=mode)
    run(c, src, tgt, 1)
    src.execute("ALTER TABLE src DROP COLUMN name")
    src.execute("UPDATE src SET qty = -1 WHERE id = 5")
    src.execute("INSERT INTO src (id, qty, price) VALUES (?, ?, ?)", [N + 1, 1, "1.00"])
    second = run(c, src, tgt, 2)
    check("run 2 (name dropped)", counters(second, *COUNTERS), want(N + 1, 1, 1, 1 if strategy == "scd2" else 0))
    assert "name" in columns(tgt)
    assert "schema: kept target column(s) not in the source (NULL in new rows): name" in message(tgt, 2)
    got = dict((r[0], r[1:]) for r in current(tgt, "id, name, qty", strategy))
    assert got[N + 1] == (None, 1)  # a new row: NULL in the dropped column
    # the changed row: scd1 updates leave the dropped column as it was; scd2's new version is a new row
    assert got[5] == ((None if strategy == "scd2" else "n5"), -1)
    assert got[6] == ("n6", 60)  # unchanged rows keep their value
    third = run(c, src, tgt, 3)
    check("run 3 (no change)", counters(third, *COUNTERS),
          {"rows_read": N + 1, "rows_inserted": 0, "rows_updated": 0, "rows_expired": 0})  # fmt: skip


# ---- 2. fail -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["scd1", "scd2"])
def test_fail_lists_every_difference_and_changes_nothing(field_db: EndpointFactory, strategy: str) -> None:
    src, tgt = field_db("source", "pg"), field_db("target", "pg")
    make_source(src, "id integer PRIMARY KEY, name varchar(10), qty integer, price numeric(10,2), note text")
    c = cfg(strategy, on_schema_change="fail")
    run(c, src, tgt, 1)  # fail creates a missing table like every mode
    before = columns(tgt)
    src.execute("ALTER TABLE src ADD COLUMN email varchar(50), ALTER COLUMN name TYPE varchar(50), "
                "ALTER COLUMN price TYPE integer, DROP COLUMN note")  # fmt: skip
    with pytest.raises(SchemaError) as info:
        load(c, src, tgt, "run2", SQL, RUNS[1])
    assert str(info.value) == (
        "the source's columns differ from target table dim's and on_schema_change='fail': "
        "source column(s) not in the target: email varchar(50); "
        "column(s) whose source type is wider: name varchar(10) -> varchar(50); "
        "column(s) of another type, converted into the target's on load: price numeric(10,2) -> int4; "
        "target column(s) not in the source (NULL in new rows): note. "
        "Change the target (or source_sql) to match, or set on_schema_change='append_new_columns' (add the new "
        "columns, widen the types) or 'ignore' (load only the columns the target has)"
    )
    assert columns(tgt) == before


@pytest.mark.parametrize("target_kind", ["pg", "sqlite"])
def test_fail_accepts_a_source_the_target_holds_as_it_is(field_db: EndpointFactory, target_kind: str) -> None:
    """Only what append_new_columns would change fails: a dropped column, or a type the load converts, does not."""
    src, tgt = field_db("source", "pg"), field_db("target", target_kind)
    make_source(src)
    c = cfg("scd1", on_schema_change="fail")
    run(c, src, tgt, 1)
    src.execute("ALTER TABLE src DROP COLUMN qty")
    second = run(c, src, tgt, 2)
    check("run 2", counters(second, *COUNTERS), {"rows_read": N, "rows_inserted": 0, "rows_updated": 0,
                                                 "rows_expired": 0})  # fmt: skip


def test_fail_on_sqlite_refuses_an_added_column(field_db: EndpointFactory) -> None:
    src, tgt = field_db("source", "pg"), field_db("target", "sqlite")
    make_source(src)
    c = cfg("scd2", on_schema_change="fail")
    run(c, src, tgt, 1)
    before = columns(tgt)
    src.execute("ALTER TABLE src ADD COLUMN email text")
    with pytest.raises(SchemaError, match=r"on_schema_change='fail': source column\(s\) not in the target: email text"):
        load(c, src, tgt, "run2", SQL, RUNS[1])
    assert columns(tgt) == before


# ---- 3. ignore -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("target_kind", ["pg", "sqlite"])
@pytest.mark.parametrize("strategy", ["append", "scd1", "scd2"])
def test_ignore_loads_only_the_target_columns(field_db: EndpointFactory, strategy: str, target_kind: str) -> None:
    src, tgt = field_db("source", "pg"), field_db("target", target_kind)
    make_source(src)
    c = cfg(strategy, on_schema_change="ignore")
    run(c, src, tgt, 1)
    before = columns(tgt)
    src.execute("ALTER TABLE src ADD COLUMN email varchar(50), ALTER COLUMN name TYPE varchar(50)")
    src.execute("UPDATE src SET email = 'e' || id, qty = qty + 1 WHERE id <= 3")
    with warnings_of("airflow_mapper_provider.target") as logged:
        second = load(c, src, tgt, "run2", SQL, RUNS[1])
    # the plan's part: no DDL, a warning, the job log's note
    assert logged == ["on_schema_change='ignore': source column(s) ['email'] are not in target table dim and are "
                      "not loaded"]  # fmt: skip
    assert columns(tgt) == before  # no column added, none widened
    note = message(tgt, 2)
    assert "schema: ignored source column(s) not in the target: email" in note
    if target_kind == "pg":
        assert "not widened (on_schema_change='ignore'; values that do not fit are refused): " \
               "name varchar(10) -> varchar(50)" in note  # fmt: skip
    # the chunks' part: they load the columns target.load_columns names
    assert not second.errors, second.failures
    if strategy == "append":
        check("run 2", counters(second, *COUNTERS), {"rows_read": N, "rows_inserted": N, "rows_updated": 0,
                                                     "rows_expired": 0})  # fmt: skip
        return
    check("run 2", counters(second, *COUNTERS), {"rows_read": N, "rows_inserted": 0, "rows_updated": 3,
                                                 "rows_expired": 3 if strategy == "scd2" else 0})  # fmt: skip
    assert current(tgt, "id, name, qty", strategy) == source(src, "id, name, qty")


# ---- 4. key columns ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["append_new_columns", "fail", "ignore"])
def test_a_key_column_the_target_lacks_fails_the_plan_in_every_mode(field_db: EndpointFactory, mode: str) -> None:
    src, tgt = field_db("source", "pg"), field_db("target", "pg")
    make_source(src)
    tgt.execute("CREATE TABLE dim (name varchar(10), qty integer, price numeric(10,2))")
    with pytest.raises(SchemaError) as info:
        load(cfg("scd1", on_schema_change=mode), src, tgt, "run1", SQL, RUNS[0])
    assert str(info.value).startswith(
        "target table dim lacks key column(s) ['id']: the mapper does not add a key column to an existing table"
    )
    assert "id" not in columns(tgt)
