"""Existing PostgreSQL targets whose column types differ from the source's, but convert (issue 10).

The user created the target table; the source (PostgreSQL, session time zone Asia/Kolkata) has other types than
the target (session time zone America/St_Johns). Contract (TYPEMAP "Existing targets"): every write casts each
column to the target column's type and the compare runs in the target's types, so

- convertible values load converted exactly (text '007' -> integer 7, numeric 2.00 -> bigint 2, integer 5 ->
  numeric(12,2) 5.00, a naive timestamp -> the timestamptz of that UTC time, varchar(10) -> text), and a second
  run over the same source changes nothing (no churn from the conversion), a third run detects one change exactly;
- a conversion that would change a value (text that is no integer, numeric 1.50 -> bigint, an integer too large for
  numeric(12,2), text longer than varchar(5) with ``on_schema_change="ignore"``) is a data error of that row:
  with ``max_error_rows=0`` the chunk fails with a non-retryable error naming the column and the SQLSTATE (the
  code PostgreSQL gives the condition where it has one: 22P02, 22003, 22001), never the value, and the target is
  unchanged; with ``max_error_rows`` the row goes to ``mapper_rejects`` (its message names the column), the
  other rows load, and a later run over the same source reports 0 updated / 0 expired.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from airflow_mapper_provider.exceptions import MapperError
from tests.field.support import DetailedRun, Endpoint, check, load_detailed
from tests.helpers import config
from tests.pgserver import PgServer

RUNS = ("2026-06-01T00:00:00+00:00", "2026-06-02T00:00:00+00:00", "2026-06-03T00:00:00+00:00")
N = 200
BAD_ID = 7
COLUMN = "conv_col"
SOURCE_SETTINGS = {"timezone": "Asia/Kolkata"}
TARGET_SETTINGS = {"timezone": "America/St_Johns"}
COUNTERS = ("rows_read", "rows_inserted", "rows_updated", "rows_expired", "rows_unchanged", "rows_rejected")
STRATEGIES = ["append", "scd1", "scd2"]


@dataclass(frozen=True)
class Conversion:
    """Source type -> existing target type (as ``format_type`` spells it). ``values`` (source literals) convert to
    ``converted`` (the target's ``read`` text); run 3 sets row 1 to ``change`` (-> ``change_converted``). ``bad``: a
    source value the conversion must refuse, with the SQLSTATE pattern of the refusal (None: no such value)."""

    name: str
    source_type: str
    target_type: str
    values: tuple[str, ...]
    converted: tuple[str, ...]
    change: str
    change_converted: str
    bad: str | None = None
    sqlstate: str | None = None
    read: str = f"{COLUMN}::text"
    #: MapperConfig settings of the case
    settings: tuple[tuple[str, Any], ...] = ()

    def converted_of(self, row: int) -> str:
        return self.converted[(row - 1) % len(self.converted)]

    def value_of(self, row: int) -> str:
        return self.values[(row - 1) % len(self.values)]


CONVERSIONS = [
    Conversion("text_to_integer", "text", "integer", ("1", "-5", "2147483647", "007"), ("1", "-5", "2147483647", "7"),
               "2", "2", bad="twelve", sqlstate="22P02"),
    # lossless: 2.00 is 2; lossy: 1.50 would round (SQLSTATE class 22: a data exception, the code is the mapper's)
    Conversion("numeric_to_bigint", "numeric", "bigint", ("2.00", "3", "-7.0", "9000000000"),
               ("2", "3", "-7", "9000000000"), "4.00", "4", bad="1.50", sqlstate="22[0-9A-Z]{3}"),
    Conversion("integer_to_numeric", "bigint", "numeric(12,2)", ("5", "-3", "0", "9999999999"),
               ("5.00", "-3.00", "0.00", "9999999999.00"), "6", "6.00", bad="98765432101", sqlstate="22003"),
    # naive timestamps mean UTC, whatever the sessions' time zones
    Conversion("timestamp_to_timestamptz", "timestamp", "timestamp with time zone",
               ("2026-03-01 12:00:00", "2026-03-29 01:30:00.5", "1999-12-31 23:59:59.999999"),
               ("2026-03-01 12:00:00", "2026-03-29 01:30:00.5", "1999-12-31 23:59:59.999999"),
               "2026-03-01 12:00:01", "2026-03-01 12:00:01", read=f"({COLUMN} AT TIME ZONE 'UTC')::text"),
    Conversion("varchar10_to_text", "varchar(10)", "text", ("abc", "ten chars!", ""), ("abc", "ten chars!", ""),
               "abd", "abd"),
    # the user keeps the target's types (the default, append_new_columns, widens varchar(5) to the source's text)
    Conversion("text_to_varchar5", "text", "character varying(5)", ("abcde", "ab", ""), ("abcde", "ab", ""),
               "edcba", "edcba", bad="much too long", sqlstate="22001", settings=(("on_schema_change", "ignore"),)),
]  # fmt: skip
BAD = [c for c in CONVERSIONS if c.bad is not None]


@dataclass(frozen=True)
class Dbs:
    source: Endpoint
    target: Endpoint


@pytest.fixture(scope="module")
def dbs(pg_server: PgServer) -> Iterator[Dbs]:
    names: list[str] = []
    try:
        endpoints = []
        for role, settings in (("conv_src", SOURCE_SETTINGS), ("conv_tgt", TARGET_SETTINGS)):
            names.append(pg_server.create_database(role, None, settings))
            endpoints.append(Endpoint("pg", pg_server.dsn(names[-1]), dsn=pg_server.dsn(names[-1])))
            assert endpoints[-1].query("SHOW TimeZone") == [(settings["timezone"],)]
        endpoints[1].execute("CREATE SCHEMA dw")
        yield Dbs(endpoints[0], endpoints[1])
    finally:
        for name in reversed(names):
            pg_server.drop_database(name)


def _create_target(target: Endpoint, table: str, target_type: str, strategy: str) -> None:
    """The user's table: append without a key, scd1 with a primary key, scd2 with the scd2 columns and a
    current-version index."""
    if strategy == "append":
        target.execute(f"CREATE TABLE {table} (id int, {COLUMN} {target_type})")
    elif strategy == "scd1":
        target.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, {COLUMN} {target_type})")
    else:
        target.execute(f"CREATE TABLE {table} (id int NOT NULL, {COLUMN} {target_type}, valid_from timestamptz, "
                       f"valid_to timestamptz, is_current boolean, row_hash text)")  # fmt: skip
        target.execute(f"CREATE UNIQUE INDEX {table.split('.')[-1]}_cur ON {table} (id) WHERE is_current")


def _source(source: Endpoint, table: str, case: Conversion, rows: range) -> None:
    source.execute(f"CREATE TABLE IF NOT EXISTS {table} (id int PRIMARY KEY, {COLUMN} {case.source_type})")
    source.executemany(f"INSERT INTO {table} VALUES (?, ?::{case.source_type})", [(i, case.value_of(i)) for i in rows])
    source.execute(f"ANALYZE {table}")


def _names(case: Conversion, strategy: str, test: str) -> tuple[str, str]:
    return f"{test}_{strategy}_{case.name}", f"dw.{test}_{strategy}_{case.name}"


def _current(target: Endpoint, table: str, case: Conversion, strategy: str) -> dict[int, Any]:
    where = " WHERE is_current" if strategy == "scd2" else ""
    got = target.query(f"SELECT id, {case.read} FROM {table}{where}")
    return {row[0]: row[1] for row in got}


def _snapshot(target: Endpoint, table: str) -> list[tuple[Any, ...]]:
    """Every row and column of the target, as text (the table unchanged means this unchanged)."""
    return sorted(target.query(f"SELECT t::text FROM {table} t"))


def _column_type(target: Endpoint, table: str) -> str:
    got = target.query(
        f"SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = to_regclass(?) "
        f"AND attname = '{COLUMN}'",
        (table,),
    )
    return str(got[0][0])


def _values(got: dict[int, Any], want: dict[int, Any]) -> dict[str, Any]:
    wrong = [(k, got.get(k), v) for k, v in sorted(want.items()) if got.get(k) != v]
    return {"ids missing": len(want.keys() - got.keys()), "ids extra": len(got.keys() - want.keys()),
            "values wrong": len(wrong), "first wrong (id, got, want)": wrong[:3]}  # fmt: skip


SAME = {"ids missing": 0, "ids extra": 0, "values wrong": 0, "first wrong (id, got, want)": []}


def _facts(run: DetailedRun, got: dict[int, Any], want: dict[int, Any]) -> dict[str, Any]:
    return {"errors": run.failures, "status": run.summary.status,
            **{name: getattr(run.summary, name) for name in COUNTERS}, **_values(got, want)}  # fmt: skip


def _expected(**counts: int) -> dict[str, Any]:
    return {"errors": [], "status": "success", **{n: counts.get(n, 0) for n in COUNTERS}, **SAME}


def _config(case: Conversion, strategy: str, table: str, **kw: Any) -> Any:
    return config(strategy, table, keys=("id",), **dict(case.settings), **kw)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("case", CONVERSIONS, ids=lambda c: c.name)
def test_convertible_values_load_without_churn(dbs: Dbs, case: Conversion, strategy: str) -> None:
    source, target = dbs.source, dbs.target
    src_table, table = _names(case, strategy, "ok")
    _source(source, src_table, case, range(1, N + 1))
    _create_target(target, table, case.target_type, strategy)
    cfg = _config(case, strategy, table, chunk_size=100, min_rows_for_parallel=0)
    sql = f"SELECT id, {COLUMN} FROM {src_table}"
    want = {i: case.converted_of(i) for i in range(1, N + 1)}

    run1 = load_detailed(cfg, source, target, "r1", sql, RUNS[0])
    facts = {**_facts(run1, _current(target, table, case, strategy), want), "type": _column_type(target, table)}
    check("run 1 (initial load)", facts, {**_expected(rows_read=N, rows_inserted=N), "type": case.target_type})
    if strategy == "append":  # nothing is compared: a second run would append the rows again
        return

    run2 = load_detailed(cfg, source, target, "r2", sql, RUNS[1])
    facts = {**_facts(run2, _current(target, table, case, strategy), want), "rows": len(_snapshot(target, table))}
    check("run 2 (no source change)", facts, {**_expected(rows_read=N, rows_unchanged=N), "rows": N})

    source.execute(f"UPDATE {src_table} SET {COLUMN} = ?::{case.source_type} WHERE id = 1", (case.change,))
    want[1] = case.change_converted
    run3 = load_detailed(cfg, source, target, "r3", sql, RUNS[2])
    facts = {**_facts(run3, _current(target, table, case, strategy), want), "rows": len(_snapshot(target, table))}
    counts = {"rows_read": N, "rows_updated": 1, "rows_unchanged": N - 1, "rows_expired": int(strategy == "scd2")}
    check("run 3 (one value changed)", facts, {**_expected(**counts), "rows": N + int(strategy == "scd2")})


def _bad_second_run(source: Endpoint, target: Endpoint, case: Conversion, strategy: str, test: str, **kw: Any):
    """Run 1 loads N good rows. Then the source gets one bad value: scd1/scd2 change row 1 (a good change) and set
    row BAD_ID to the bad value; append reads ten new rows, one of them (N + BAD_ID) bad. Returns the second run,
    what was in the target before it, the row id that is bad, and the context to check with."""
    src_table, table = _names(case, strategy, test)
    _source(source, src_table, case, range(1, N + 1))
    _create_target(target, table, case.target_type, strategy)
    cfg = _config(case, strategy, table, **kw)  # one chunk: N rows are below min_rows_for_parallel
    run1 = load_detailed(cfg, source, target, "r1", f"SELECT id, {COLUMN} FROM {src_table}", RUNS[0])
    want = {i: case.converted_of(i) for i in range(1, N + 1)}
    check("run 1 (good rows)", _facts(run1, _current(target, table, case, strategy), want),
          _expected(rows_read=N, rows_inserted=N))  # fmt: skip
    before = _snapshot(target, table)
    if strategy == "append":
        _source(source, src_table, case, range(N + 1, N + 11))
        bad_id = N + BAD_ID
        sql = f"SELECT id, {COLUMN} FROM {src_table} WHERE id > {N}"
    else:
        source.execute(f"UPDATE {src_table} SET {COLUMN} = ?::{case.source_type} WHERE id = 1", (case.change,))
        bad_id = BAD_ID
        sql = f"SELECT id, {COLUMN} FROM {src_table}"
    source.execute(f"UPDATE {src_table} SET {COLUMN} = ? WHERE id = ?", (case.bad, bad_id))
    run2 = load_detailed(cfg, source, target, "r2", sql, RUNS[1])
    return run2, before, bad_id, cfg, sql, table, want


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("case", BAD, ids=lambda c: c.name)
def test_bad_row_fails_the_chunk(dbs: Dbs, case: Conversion, strategy: str) -> None:
    assert case.bad is not None and case.sqlstate is not None
    run2, before, _, _, _, table, _ = _bad_second_run(dbs.source, dbs.target, case, strategy, "fail")
    messages = [str(exc) for exc in run2.exceptions]
    facts = {
        "status": run2.summary.status,
        "chunks failed": len(run2.exceptions),
        "not retryable": [isinstance(exc, MapperError) and not exc.retryable for exc in run2.exceptions],
        "names the column": [COLUMN in m for m in messages],
        "names the SQLSTATE": [bool(re.search(rf"SQLSTATE {case.sqlstate}\b", m)) for m in messages],
        "carries the value": [case.bad in m for m in messages],
        "target unchanged": _snapshot(dbs.target, table) == before,
    }
    want = {"status": "failed", "chunks failed": 1, "not retryable": [True], "names the column": [True],
            "names the SQLSTATE": [True], "carries the value": [False], "target unchanged": True}  # fmt: skip
    check(f"run 2 (one bad row, max_error_rows=0; messages {messages})", facts, want)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("case", BAD, ids=lambda c: c.name)
def test_bad_row_rejected_within_max_error_rows(dbs: Dbs, case: Conversion, strategy: str) -> None:
    assert case.bad is not None and case.sqlstate is not None
    source, target = dbs.source, dbs.target
    run2, _, bad_id, cfg, sql, table, want = _bad_second_run(source, target, case, strategy, "rej", max_error_rows=3)
    if strategy == "append":
        want.update({i: case.converted_of(i) for i in range(N + 1, N + 11) if i != bad_id})
        counts = {"rows_read": 10, "rows_inserted": 9, "rows_rejected": 1}
    else:  # row 1 changed; the bad row keeps its loaded version
        want[1] = case.change_converted
        counts = {"rows_read": N, "rows_updated": 1, "rows_unchanged": N - 2, "rows_rejected": 1,
                  "rows_expired": int(strategy == "scd2")}  # fmt: skip
    rejects = target.query(
        "SELECT key_values::text, error_code, error_message FROM dw.mapper_rejects WHERE mapref = ? AND run_id = ?",
        (cfg.mapref, "r2"),
    )
    facts = {
        **_facts(run2, _current(target, table, case, strategy), want),
        "rejects": len(rejects),
        "reject is the bad key": [bool(re.search(rf"\b{bad_id}\b", str(k))) for k, _, _ in rejects],
        "reject code": [bool(re.fullmatch(case.sqlstate, str(code))) for _, code, _ in rejects],
        "reject message names the column": [COLUMN in str(m) for _, _, m in rejects],
    }
    want_facts = {**_expected(**counts), "rejects": 1, "reject is the bad key": [True], "reject code": [True],
                  "reject message names the column": [True]}  # fmt: skip
    check(f"run 2 (one bad row, max_error_rows=3; rejects {rejects})", facts, want_facts)
    if strategy == "append":
        return

    run3 = load_detailed(cfg, source, target, "r3", sql, RUNS[2])
    counts = {"rows_read": N, "rows_unchanged": N - 1, "rows_rejected": 1}
    check("run 3 (no source change)", _facts(run3, _current(target, table, case, strategy), want),
          _expected(**counts))  # fmt: skip
