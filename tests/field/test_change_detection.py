"""Change detection for types whose '=' is not identity, or that have no '=' at all.

In PostgreSQL ``box = box`` compares areas (a moved box of the same area is "equal"), ``citext = citext`` ignores
case, and ``json``, ``point`` and ``xml`` have no '=' operator (IS DISTINCT FROM fails). Contract: such columns are
compared by their canonical text form, so run 2 over an unchanged source reports 0 updated and no error, and run 3
reports exactly the rows whose value changed. ``jsonb`` (canonical: key order is not kept), enum, int[] and numeric
keep their '=' and must not report false changes.

The enum type and the citext extension are created in the target database too (as a user would). The one-column
tests let the mapper create the target table; the all-types test loads into a target table the user created with
the same types. (Until 1830888 the mapper wrote the OID of such types where their name belongs, in the target and
staging DDL: a separate bug of the types issue.)
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.field.test_scd2_history import assert_scd2_invariants
from tests.helpers import config, pg_exec, rows, run_all

RUNS = [f"2026-06-0{n}T00:00:00+00:00" for n in (1, 2, 3)]
SETUP = "CREATE EXTENSION IF NOT EXISTS citext; CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')"

#: type -> rows (id, value in runs 1 and 2, value in run 3, changed in run 3)
CASES: dict[str, list[tuple[int, str | None, str | None, bool]]] = {
    "box": [
        (1, "(2,2),(0,0)", "(3,3),(1,1)", True),  # moved, same area: '=' says equal
        (2, "(1,1),(0,0)", "(1,1),(0,0)", False),
        (3, "(1,1),(0,0)", "(0,0),(1,1)", False),  # the same box, corners given the other way round
        (4, None, "(1,1),(0,0)", True),
        (5, "(1,1),(0,0)", None, True),
    ],
    "point": [
        (1, "(1,2)", "(1,3)", True),
        (2, "(1,2)", "(1,2)", False),
        (3, None, None, False),
        (4, "(0,0)", None, True),
    ],
    "json": [
        (1, '{"a":1,"b":2}', '{"b":2,"a":1}', True),  # json keeps its text: reordered keys are a change
        (2, '{"a":1}', '{"a":1}', False),
        (3, "[1,2]", "[1,3]", True),
        (4, None, "null", True),
    ],
    "xml": [
        (1, "<a>1</a>", "<a>2</a>", True),
        (2, "<a>1</a>", "<a>1</a>", False),
        (3, '<a b="1"/>', '<a b="1"/>', False),
    ],
    "jsonb": [
        (1, '{"a":1,"b":2}', '{"b":2,"a":1}', False),  # jsonb does not keep key order: the same value
        (2, '{"a":1}', '{"a":2}', True),
    ],
    "citext": [(1, "Bob", "bob", True), (2, "Ann", "Ann", False)],  # '=' ignores case: 'Bob' -> 'bob' is a change
    "mood": [(1, "sad", "happy", True), (2, "ok", "ok", False)],
    "int[]": [(1, "{1,2}", "{2,1}", True), (2, "{1,2}", "{1,2}", False), (3, "{1,NULL}", "{1,NULL}", False)],
    "numeric": [(1, "1.5", "2.5", True), (2, "1.50", "1.50", False), (3, "NaN", "NaN", False)],
}


def _prepare(pg_dbs) -> None:
    for dsn in (pg_dbs.source_dsn, pg_dbs.target_dsn):
        pg_exec(dsn, SETUP)


def _create_target(dsn: str, table: str, defs: str, strategy: str) -> None:
    """A target table the user created (scd1: primary key; scd2: the scd2 columns and a current-version index)."""
    name = table.split(".")[-1]
    if strategy == "scd1":
        pg_exec(dsn, f"CREATE SCHEMA IF NOT EXISTS dw; CREATE TABLE {table} (id int PRIMARY KEY, {defs})")
        return
    pg_exec(dsn, f"CREATE SCHEMA IF NOT EXISTS dw; CREATE TABLE {table} (id int, {defs}, valid_from timestamptz, "
                 f"valid_to timestamptz, is_current boolean, row_hash text); "
                 f"CREATE UNIQUE INDEX {name}_current ON {table} (id) WHERE is_current")  # fmt: skip


def _text(dsn: str, table: str, cols: list[str], scd2: bool) -> list[tuple[Any, ...]]:
    listed = ", ".join(f"{c}::text" for c in cols)
    cond = " WHERE is_current" if scd2 else ""
    return rows(dsn, f"SELECT id, {listed} FROM {table}{cond} ORDER BY id")


def _three_runs(pg_dbs, strategy: str, table: str, cols: list[str], change, changed: int, n: int):
    """Run 1 loads, run 2 over the same source, run 3 after ``change()``; check counts and end states."""
    src, tgt, scd2 = pg_dbs.source_dsn, pg_dbs.target_dsn, strategy == "scd2"
    cfg = config(strategy, table, keys=("id",))
    sql = f"SELECT id, {', '.join(cols)} FROM typed"
    _, _, s1 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r1", sql, RUNS[0])
    assert (s1.status, s1.rows_inserted) == ("success", n)
    assert _text(tgt, table, cols, scd2) == _text(src, "typed", cols, False)
    _, _, s2 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r2", sql, RUNS[1])
    assert (s2.status, s2.rows_read, s2.rows_inserted, s2.rows_updated, s2.rows_unchanged) == ("success", n, 0, 0, n)
    change()
    _, _, s3 = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r3", sql, RUNS[2])
    assert (s3.status, s3.rows_inserted, s3.rows_updated, s3.rows_unchanged) == ("success", 0, changed, n - changed)
    assert _text(tgt, table, cols, scd2) == _text(src, "typed", cols, False)
    if scd2:
        assert s3.rows_expired == changed
        assert rows(tgt, f"SELECT count(*) FROM {table}") == [(n + changed,)]
        assert_scd2_invariants(tgt, table)


@pytest.mark.parametrize("strategy", ["scd1", "scd2"])
@pytest.mark.parametrize("type_name", list(CASES))
def test_one_column_of_each_type(pg_dbs, strategy, type_name):
    _prepare(pg_dbs)
    src, cases = pg_dbs.source_dsn, CASES[type_name]
    pg_exec(src, f"CREATE TABLE typed (id int PRIMARY KEY, c {type_name}, note text)")
    for key, first, _, _ in cases:
        pg_exec(src, f"INSERT INTO typed VALUES (%(k)s, %(v)s::{type_name}, 'n')", {"k": key, "v": first})

    def change() -> None:
        for key, _, third, _ in cases:
            pg_exec(src, f"UPDATE typed SET c = %(v)s::{type_name} WHERE id = %(k)s", {"k": key, "v": third})

    changed = sum(1 for *_, flag in cases if flag)
    _three_runs(pg_dbs, strategy, "dw.typed", ["c", "note"], change, changed, len(cases))


ALL_COLUMNS = {"b": "box", "p": "point", "j": "json", "x": "xml", "jb": "jsonb", "ci": "citext", "m": "mood",
               "a": "int[]", "n": "numeric(10,2)"}  # fmt: skip
ROW = "'(2,2),(0,0)', '(1,2)', '{\"a\":1,\"b\":2}', '<a>1</a>', '{\"a\":1,\"b\":2}', 'Bob', 'ok', '{1,2}', 1.50"


@pytest.mark.parametrize("strategy", ["scd1", "scd2"])
def test_all_types_in_one_table(pg_dbs, strategy):
    _prepare(pg_dbs)
    src = pg_dbs.source_dsn
    defs = ", ".join(f"{c} {t}" for c, t in ALL_COLUMNS.items())
    pg_exec(src, f"CREATE TABLE typed (id int PRIMARY KEY, {defs})")
    _create_target(pg_dbs.target_dsn, "dw.typed_all", defs, strategy)
    pg_exec(src, f"INSERT INTO typed SELECT g, {ROW} FROM generate_series(1, 3000) g")
    pg_exec(src, "ANALYZE typed")

    def change() -> None:
        pg_exec(src, "UPDATE typed SET b = '(3,3),(1,1)' WHERE id = 1;"  # moved, same area
                     "UPDATE typed SET p = '(1,3)' WHERE id = 2;"
                     "UPDATE typed SET j = '{\"b\":2,\"a\":1}' WHERE id = 3;"  # reordered json text
                     "UPDATE typed SET ci = 'bob' WHERE id = 4;"  # case only
                     "UPDATE typed SET jb = '{\"b\":2,\"a\":1}' WHERE id = 5;"  # jsonb: the same value
                     "UPDATE typed SET n = 1.5 WHERE id = 6")  # numeric(10,2): stored as 1.50, the same  # fmt: skip

    _three_runs(pg_dbs, strategy, "dw.typed_all", list(ALL_COLUMNS), change, 4, 3_000)
