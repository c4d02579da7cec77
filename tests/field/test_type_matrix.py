"""The type matrix of issue 10: every type, in every direction, through scd1 and scd2, arrives exactly or is refused.

Directions: PostgreSQL -> PostgreSQL (two databases whose sessions run in different time zones: source
Asia/Kolkata, target America/St_Johns), PostgreSQL -> SQLite and SQLite -> PostgreSQL. The target is created by
the mapper. Each case runs three loads:

1. the initial load: every row inserted, the target's column has the contract's type and every value reads back as
   the contract says (PostgreSQL -> PostgreSQL: the same type and the same text; PostgreSQL -> SQLite: the declared
   type and the stored form of the README's PostgreSQL -> SQLite type map, checked with ``typeof``; SQLite ->
   PostgreSQL: the declared-type map, values converted exactly from what SQLite stored);
2. the same source again: 0 inserted, 0 updated, 0 expired, every row unchanged (no churn from any encoding);
3. after one to three values changed: exactly those rows updated (scd2: exactly that many versions closed and new
   ones written, the old versions keep the old values), and the target holds the new values.

Where the contract refuses a type (``interval`` into SQLite) the run must fail in plan, before any chunk, with a
non-retryable error naming the column and the fix (cast it in ``source_sql``), carrying no value, and the target
table must not be created. ``+-infinity`` dates and timestamps into SQLite are stored as the texts
``infinity``/``-infinity``.

The two PostgreSQL databases are shared by the module (each case has its own tables); the enum ``mood``, the
domain ``amount`` and the citext extension exist in both, as a user would have them.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from airflow_mapper_provider.exceptions import MapperError
from tests.field.support import Endpoint, Run, check, load
from tests.helpers import config
from tests.pgserver import PgServer

RUNS = ("2026-06-01T00:00:00+00:00", "2026-06-02T00:00:00+00:00", "2026-06-03T00:00:00+00:00")
N = 240
CHUNK_SIZE = 100
SOURCE_SETTINGS = {"timezone": "Asia/Kolkata"}
TARGET_SETTINGS = {"timezone": "America/St_Johns"}
SETUP = (
    "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')",
    "CREATE DOMAIN amount AS numeric(12,2) CHECK (VALUE >= 0)",
)
INFINITIES = ("infinity", "-infinity")
COUNTERS = ("rows_read", "rows_inserted", "rows_updated", "rows_expired", "rows_unchanged", "rows_rejected")

#: (SQLite typeof, value) of one stored value
Stored = tuple[str, Any]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


# -- PostgreSQL -> SQLite: the stored form of a source value, from its PostgreSQL text (DateStyle ISO) ----------


def _integer(text: str) -> Stored:
    return ("integer", int(text))


def _as_text(text: str) -> Stored:
    return ("text", text)


def _real(text: str) -> Stored:
    # SQLite turns a NaN REAL into NULL: the contract stores the text 'NaN'
    return ("text", "NaN") if text == "NaN" else ("real", float(text))


def _blob(text: str) -> Stored:
    return ("blob", bytes.fromhex(text.removeprefix("\\x")))


def _boolean(text: str) -> Stored:
    return ("integer", {"true": 1, "false": 0}[text])


def _timestamp(text: str) -> Stored:
    return ("text", text if text in INFINITIES else str(dt.datetime.fromisoformat(text)))


def _timestamptz(utc_text: str) -> Stored:
    """``utc_text``: the source's ``(val AT TIME ZONE 'UTC')::text``; stored as ``YYYY-MM-DD HH:MM:SS[.ffffff]+00:00``
    (``+-infinity`` as those texts)."""
    if utc_text in INFINITIES:
        return ("text", utc_text)
    return ("text", str(dt.datetime.fromisoformat(utc_text).replace(tzinfo=dt.timezone.utc)))


def _time(text: str) -> Stored:
    return ("text", str(dt.time.fromisoformat(text)))


def _json_value(text: str) -> Any:
    """A JSON text as a comparable value: key order kept, numbers exact (1.50 equals 1.5)."""
    return json.loads(text, object_pairs_hook=list, parse_float=decimal.Decimal)


def _stored_json(text: str) -> Any:
    """What a SQLite target holds in a JSON column, parsed; text that is no JSON stays as it is (and differs)."""
    try:
        return _json_value(text)
    except ValueError:
        return ("not JSON", text)


def _json(text: str) -> Stored:
    return ("text", _json_value(text))


@dataclass(frozen=True)
class PgCase:
    """One PostgreSQL source type.

    ``values``: run 1; row ``i`` (1-based) holds ``values[(i - 1) % len(values)]``, ``None`` is NULL. ``changes``:
    run 3 sets row ``index + 1`` (the first row holding ``values[index]``) to the new value. ``sqlite_decl``: the
    declared types a SQLite target may give the column (upper case); ``stored`` maps the source's ``sqlite_expr``
    text to the stored form; ``None`` for both: refused at plan time. ``text_expr``: how both PostgreSQL sides are
    read for comparison (the same text means the same value).
    """

    name: str
    pg_type: str
    values: tuple[Any, ...]
    changes: tuple[tuple[int, Any], ...]
    sqlite_decl: tuple[str, ...] | None
    stored: Callable[[str], Stored] | None
    text_expr: str = "val::text"
    sqlite_expr: str | None = None
    parse_stored_json: bool = False
    needs_citext: bool = False
    also_pg_type: str | None = None


INTEGERS = ("INTEGER", "SMALLINT", "BIGINT", "INT")
#: JSON, or a type of TEXT affinity (a declared JSON has NUMERIC affinity: SQLite would store the JSON text 1.50 as
#: the REAL 1.5, which the stored-form check catches)
JSON_DECLS = ("JSON", "TEXT", "JSON_TEXT")
TEXT_VALUES = (
    "tab\there",
    "new\nline and\r\nCRLF",
    "back\\slash \\N \\\\ \\t",
    "\\.",
    "emoji 😀🎉, umlaut ü, RTL \u202e mark",
    'quote \' and " double ""',
    "",
    "  leading and trailing  ",
    "NULL",
    None,
)
UTC_TEXT = "(val AT TIME ZONE 'UTC')::text"

PG_CASES: list[PgCase] = [
    PgCase("smallint", "smallint", ("-32768", "32767", "0", "1", None), ((1, "32766"),), INTEGERS, _integer),
    PgCase("integer", "integer", ("-2147483648", "2147483647", "0", "42", None), ((0, "-2147483647"),), INTEGERS,
           _integer),
    PgCase("bigint", "bigint", ("-9223372036854775808", "9223372036854775807", "0", "7", None),
           ((1, "9223372036854775806"), (3, "-7")), INTEGERS, _integer),
    PgCase("numeric_38_10", "numeric(38,10)",
           ("1234567890123456789012345678.1234567890", "-9999999999999999999999999999.9999999999", "0", "1.5",
            "0.0000000001", None),
           ((0, "1234567890123456789012345678.1234567891"), (3, "1.5000000001")),
           ("DECIMAL_TEXT(38,10)",), _as_text),
    PgCase("numeric_nan", "numeric",
           ("NaN", "1.50", "-0.001", "123456789012345678901234567890.123456789", "0", None),
           ((0, "0"), (2, "NaN"), (4, "0.000000000000000000001")),
           ("DECIMAL_TEXT",), _as_text),
    PgCase("float8", "double precision",
           ("Infinity", "-Infinity", "NaN", "0.1", "-1.5e300", "5e-324", "0.30000000000000004", None),
           ((0, "-Infinity"), (2, "1"), (3, "0.30000000000000004")),
           ("REAL",), _real),
    PgCase("text", "text", TEXT_VALUES, ((0, "tab\t\there"), (6, " "), (3, "\\.\n")), ("TEXT",), _as_text),
    PgCase("varchar_20", "varchar(20)", ("exactly twenty chars", "short", "", "ümlaut é 😀", None),
           ((1, "shorter"),), ("VARCHAR(20)",), _as_text),
    PgCase("char_5", "char(5)", ("ab", "abcde", "", " x", None), ((0, "ba"), (3, "x")), ("CHAR(5)",), _as_text,
           sqlite_expr="rpad(val::text, 5)"),
    PgCase("bytea", "bytea", (b"\x00", b"\x00\x01\x02\xff\x00", b"", b"\\x41", bytes(range(256)), None),
           ((0, b"\x00\x00"), (2, b"\x00")), ("BLOB",), _blob),
    PgCase("boolean", "boolean", ("true", "false", None), ((0, "false"), (2, "true")), ("BOOLEAN",), _boolean),
    PgCase("date", "date", ("2026-03-01", "0001-01-01", "9999-12-31", "1970-01-01", None), ((0, "2026-03-02"),),
           ("DATE",), _as_text),
    PgCase("timestamp", "timestamp",
           ("2026-03-29 02:30:00", "2026-01-01 00:00:00.000001", "1999-12-31 23:59:59.999999", "0001-01-01 00:00:00",
            "2026-06-01 12:00:00.12", None),
           ((1, "2026-01-01 00:00:00.000002"),), ("TIMESTAMP",), _timestamp),
    PgCase("timestamptz", "timestamptz",
           ("2026-03-29 01:30:00+00", "2026-10-25 00:59:59.5+00", "2026-06-01 12:00:00+05:30",
            "2026-06-01 12:00:00-02:30", "2000-01-01 00:00:00.000001+00", "1900-01-01 00:00:00+00", None),
           ((2, "2026-06-01 12:00:00.000001+05:30"), (3, "2026-06-01 15:00:00+00")),  # the second: the same instant
           ("TIMESTAMPTZ",), _timestamptz, text_expr=UTC_TEXT),
    PgCase("time", "time", ("00:00:00", "23:59:59.999999", "12:34:56.5", None), ((2, "12:34:56.500001"),),
           ("TIME",), _time),
    PgCase("timetz", "timetz", ("12:00:00+05:30", "23:59:59.999999-03:30", "00:00:00+00", None),
           ((0, "12:00:00+05:00"),), ("TIMETZ",), _time),
    PgCase("interval", "interval", ("1 mon", "1 day", "24:00:00", "-1 year 2 mons 3 days 04:05:06.789", None),
           ((1, "24:00:00"),), None, None),  # '1 day' -> '24 hours': a change (README: compared by text)
    PgCase("date_infinity", "date", ("infinity", "-infinity", "2026-01-01", None),
           ((0, "2026-01-01"), (2, "-infinity")), ("DATE",), _as_text),
    PgCase("timestamp_infinity", "timestamp", ("infinity", "-infinity", "2026-01-01 00:00:00", None),
           ((0, "2026-01-01 00:00:00"), (2, "infinity")), ("TIMESTAMP",), _timestamp),
    PgCase("timestamptz_infinity", "timestamptz", ("infinity", "-infinity", "2026-01-01 00:00:00+00", None),
           ((1, "2026-01-01 00:00:00+00"), (2, "infinity")), ("TIMESTAMPTZ",), _timestamptz, text_expr=UTC_TEXT),
    PgCase("uuid", "uuid",
           ("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A12",
            "00000000-0000-0000-0000-000000000000", None),
           ((0, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a13"),), ("CHAR(36)",), _as_text),
    PgCase("json", "json",
           ('{"b":1,"a":[1,2,{"c":null}]}', '"str with \\n and \\u00e9"', "[]", "null", "1.50", None),
           ((0, '{"a":[1,2,{"c":null}],"b":1}'), (3, "0")),  # json keeps its text: reordered keys are a change
           JSON_DECLS, _json, parse_stored_json=True),
    PgCase("jsonb", "jsonb", ('{"b":1,"a":[1,2]}', '{"a": 1.50, "t": "x\\ty"}', "null", None),
           ((0, '{"b":2,"a":[1,2]}'),), JSON_DECLS, _json, parse_stored_json=True),
    PgCase("int_array", "integer[]", ("{1,2,3}", "{}", "{NULL,1}", "{-2147483648}", None), ((0, "{3,2,1}"),),
           ("TEXT",), _json, sqlite_expr="to_json(val)::text", parse_stored_json=True),
    PgCase("text_array", "text[]", ('{"a,b","c\\"d","NULL",NULL}', '{"tab\there","😀"}', "{}", None),
           ((2, '{""}'), (0, '{"a,b","c\\"d",NULL,NULL}')),  # the text 'NULL' -> NULL: a change
           ("TEXT",), _json, sqlite_expr="to_json(val)::text", parse_stored_json=True),
    PgCase("enum", "mood", ("sad", "ok", "happy", None), ((0, "happy"),), ("TEXT",), _as_text),
    # a PostgreSQL target may have the domain or its base type; SQLite: TEXT, or its base type's encoding
    PgCase("domain_numeric", "amount", ("0.00", "1.50", "9999999999.99", None), ((1, "1.51"),),
           ("TEXT", "DECIMAL_TEXT(12,2)"), _as_text, also_pg_type="numeric(12,2)"),
    PgCase("citext", "citext", ("Bob", "bob", "ÄÖü", None), ((0, "BOB"),), ("TEXT",), _as_text,
           needs_citext=True),  # a change of case only is a change
]  # fmt: skip


# -- SQLite -> PostgreSQL ----------------------------------------------------------------------------------------


def _quantized(places: int) -> Callable[[Any], str]:
    """The PostgreSQL text of numeric(p, places) holding exactly what SQLite stored (int, REAL or decimal text)."""

    def text(stored: Any) -> str:
        with decimal.localcontext(prec=80):
            return format(decimal.Decimal(str(stored)).quantize(decimal.Decimal(1).scaleb(-places)), "f")

    return text


def _same(stored: Any) -> Any:
    return stored


@dataclass(frozen=True)
class SqliteCase:
    """One declared SQLite type. ``values``/``changes`` as in :class:`PgCase` (Python values bound as a SQLite user
    would; ``value_at`` replaces the cycle). ``pg_type``: ``format_type`` of the target column; ``expect`` maps
    what SQLite stored to what the target's ``text_expr`` reads back."""

    name: str
    decl: str
    values: tuple[Any, ...]
    changes: tuple[tuple[int, Any], ...]
    pg_type: str
    expect: Callable[[Any], Any]
    text_expr: str = "val::text"
    rows: int = N
    value_at: Callable[[int], Any] | None = None


SQLITE_CASES: list[SqliteCase] = [
    SqliteCase("integer", "INTEGER", (-9223372036854775808, 9223372036854775807, 0, 1, None),
               ((1, 9223372036854775806),), "bigint", str),
    SqliteCase("smallint", "SMALLINT", (-32768, 32767, 0, None), ((0, -32767),), "smallint", str),
    SqliteCase("bigint", "BIGINT", (-9223372036854775808, 9223372036854775807, None), ((0, 5),), "bigint", str),
    SqliteCase("real", "REAL", (1.5, float("inf"), float("-inf"), 0.1, 1e308, 5e-324, -0.5, None),
               ((3, 0.30000000000000004), (1, 2.0)), "double precision", float, text_expr="val"),
    # a REAL column holding the text NaN, as the mapper writes a float8 NaN into SQLite (a NaN REAL would be NULL)
    SqliteCase("real_nan_text", "REAL", ("NaN", float("inf"), 1.5, None), ((0, 2.5), (2, "NaN")),
               "double precision", {"NaN": "NaN", float("inf"): "Infinity", 1.5: "1.5", 2.5: "2.5"}.__getitem__),
    SqliteCase("double", "DOUBLE", (0.1, -2.5, None), ((0, 0.2),), "double precision", float, text_expr="val"),
    SqliteCase("numeric_38_10", "NUMERIC(38,10)", (12.5, 3, "0.25", -1000000, None), ((0, 12.75), (1, 4)),
               "numeric(38,10)", _quantized(10)),
    SqliteCase("decimal_12_2", "DECIMAL(12,2)", ("1.50", 100, 0.25, None), ((0, "1.75"),), "numeric(12,2)",
               _quantized(2)),
    SqliteCase("decimal_text_38_10", "DECIMAL_TEXT(38,10)",
               ("1234567890123456789012345678.1234567890", "-0.0000000001", "1.5", "0", None),
               ((0, "1234567890123456789012345678.1234567891"),), "numeric(38,10)", _quantized(10)),
    SqliteCase("text", "TEXT", TEXT_VALUES, ((0, "tab\t\there"), (6, " ")), "text", _same),
    SqliteCase("varchar_20", "VARCHAR(20)", ("exactly twenty chars", "short", "", None), ((1, "shorter"),),
               "character varying(20)", _same),
    SqliteCase("char_5", "CHAR(5)", ("ab", "abcde", "", None), ((0, "ba"),), "character(5)", _same),
    SqliteCase("clob", "CLOB", ("long\ntext", None), ((0, "long\r\ntext"),), "text", _same),
    SqliteCase("blob", "BLOB", (b"\x00", b"\x00\x01\xff\x00", b"", None), ((0, b"\x00\x00"),), "bytea", bytes,
               text_expr="val"),
    SqliteCase("boolean", "BOOLEAN", (True, False, None), ((0, False), (1, True)), "boolean", bool, text_expr="val"),
    SqliteCase("date", "DATE", ("2026-03-01", "1970-01-01", "9999-12-31", None), ((0, "2026-03-02"),), "date",
               _same),
    SqliteCase("timestamp", "TIMESTAMP",
               ("2026-03-01 12:34:56", "2026-03-01 12:34:56.123456", "2026-03-29T02:30:00", None),
               ((1, "2026-03-01 12:34:56.123457"),), "timestamp without time zone", dt.datetime.fromisoformat,
               text_expr="val"),
    SqliteCase("datetime", "DATETIME", ("2026-03-01 12:34:56", "2000-01-01 00:00:00", None),
               ((0, "2026-03-01 12:34:57"),), "timestamp without time zone", dt.datetime.fromisoformat,
               text_expr="val"),
    SqliteCase("timestamptz", "TIMESTAMPTZ",
               ("2026-03-01 12:00:00+05:30", "2026-03-01 12:00:00+00:00", "2026-10-25 01:30:00.5-02:30", None),
               ((0, "2026-03-01 12:00:00+05:00"), (1, "2026-03-01 06:30:00+00:00")),  # the latter: another instant
               "timestamp with time zone", dt.datetime.fromisoformat, text_expr="val"),
    SqliteCase("time", "TIME", ("12:34:56", "23:59:59.999999", "00:00:00", None), ((0, "12:34:57"),),
               "time without time zone", dt.time.fromisoformat, text_expr="val"),
    SqliteCase("json", "JSON", ('{"a": 1, "b": [1, 2]}', '"x"', "[]", "null", None), ((0, '{"a": 2, "b": [1, 2]}'),),
               "jsonb", json.loads, text_expr="val"),
    SqliteCase("other_declared", "COLOR", ("red", "blue", None), ((0, "green"),), "text", _same),
    # declared types, not a sample: the first 1,100 rows hold integers (or dates), the later ones do not
    SqliteCase("numeric_late_fractions", "NUMERIC(12,2)", (), ((0, 7.5),), "numeric(12,2)", _quantized(2),
               rows=1_300, value_at=lambda i: i if i <= 1_100 else i + 0.25),
    SqliteCase("text_late_non_dates", "TEXT", (), ((0, "n/a"),), "text", _same, rows=1_300,
               value_at=lambda i: (dt.date(2026, 1, 1) + dt.timedelta(days=i)).isoformat() if i <= 1_100 else "n/a"),
]  # fmt: skip


# -- fixtures ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MatrixDbs:
    source: Endpoint
    target: Endpoint
    citext_missing: str | None


@pytest.fixture(scope="module")
def matrix_dbs(pg_server: PgServer) -> Iterator[MatrixDbs]:
    """Source (Asia/Kolkata) and target (America/St_Johns) PostgreSQL databases shared by the module."""
    names: list[str] = []
    try:
        endpoints = []
        for role, settings in (("matrix_src", SOURCE_SETTINGS), ("matrix_tgt", TARGET_SETTINGS)):
            names.append(pg_server.create_database(role, None, settings))
            endpoints.append(Endpoint("pg", pg_server.dsn(names[-1]), dsn=pg_server.dsn(names[-1])))
        citext_missing = None
        for endpoint, settings in zip(endpoints, (SOURCE_SETTINGS, TARGET_SETTINGS), strict=True):
            assert endpoint.query("SHOW TimeZone") == [(settings["timezone"],)]
            for statement in SETUP:
                endpoint.execute(statement)
            try:
                endpoint.execute("CREATE EXTENSION IF NOT EXISTS citext")
            except psycopg.Error as exc:
                citext_missing = f"the citext extension is not available here: {str(exc).splitlines()[0]}"
        yield MatrixDbs(endpoints[0], endpoints[1], citext_missing)
    finally:
        for name in reversed(names):
            pg_server.drop_database(name)


# -- the three runs ----------------------------------------------------------------------------------------------


def _value_of(values: tuple[Any, ...], row: int) -> Any:
    return values[(row - 1) % len(values)]


def _column_type(endpoint: Endpoint, table: str) -> str | None:
    if endpoint.is_pg:
        got = endpoint.query(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = to_regclass(?) "
            "AND attname = 'val' AND NOT attisdropped",
            (table,),
        )
    else:
        got = endpoint.query("SELECT upper(type) FROM pragma_table_info(?) WHERE name = 'val'", (table,))
    return got[0][0] if got else None


def _table_exists(endpoint: Endpoint, table: str) -> bool:
    if endpoint.is_pg:
        return endpoint.query("SELECT to_regclass(?) IS NOT NULL", (table,)) == [(True,)]
    return bool(endpoint.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)))


@dataclass
class Side:
    """How one test reads its target: ``read(where)`` -> {id: comparable value} of the rows matching ``where``."""

    endpoint: Endpoint
    table: str
    read: Callable[[str], dict[int, Any]]

    def count(self) -> int:
        """Rows in the target table (scd2: every version)."""
        return int(self.endpoint.query(f"SELECT count(*) FROM {self.table}")[0][0])


def _differences(got: dict[int, Any], want: dict[int, Any]) -> dict[str, Any]:
    wrong = [(k, got[k], want[k]) for k in sorted(want.keys() & got.keys()) if got[k] != want[k]]
    return {
        "ids missing": len(want.keys() - got.keys()),
        "ids extra": len(got.keys() - want.keys()),
        "values wrong": len(wrong),
        "first wrong (id, got, want)": wrong[:3],
    }


SAME_VALUES = {"ids missing": 0, "ids extra": 0, "values wrong": 0, "first wrong (id, got, want)": []}


def _facts(run: Run, target: Side, want: dict[int, Any], where: str) -> dict[str, Any]:
    return {
        "errors": run.failures,
        "status": run.summary.status,
        **{name: getattr(run.summary, name) for name in COUNTERS},
        **_differences(target.read(where), want),
    }


def _want(**counts: int) -> dict[str, Any]:
    return {"errors": [], "status": "success", **{n: counts.get(n, 0) for n in COUNTERS}, **SAME_VALUES}


def three_runs(
    strategy: str,
    source: Endpoint,
    src_table: str,
    target: Side,
    source_values: Callable[[], dict[int, Any]],
    change: Callable[[], int],
    target_type: tuple[str, ...],
) -> None:
    """Run 1 (initial load), run 2 (no change), run 3 (after ``change()``, which returns the rows it changed)."""
    cfg = config(strategy, target.table, keys=("id",), chunk_size=CHUNK_SIZE, min_rows_for_parallel=0)
    sql = f"SELECT id, val FROM {src_table}"
    current = "is_current" if strategy == "scd2" else "1 = 1"
    before = source_values()
    n = len(before)

    run1 = load(cfg, source, target.endpoint, "r1", sql, RUNS[0])
    facts = _facts(run1, target, before, current)
    facts["target column type"] = _column_type(target.endpoint, target.table)
    want = _want(rows_read=n, rows_inserted=n)
    want["target column type"] = facts["target column type"] if facts["target column type"] in target_type else (
        target_type[0] if len(target_type) == 1 else f"one of {target_type}"
    )  # fmt: skip
    check("run 1 (initial load)", facts, want)

    run2 = load(cfg, source, target.endpoint, "r2", sql, RUNS[1])
    facts = _facts(run2, target, before, current)
    facts["target rows"] = target.count()
    check("run 2 (no source change)", facts, {**_want(rows_read=n, rows_unchanged=n), "target rows": n})

    changed = change()
    after = source_values()
    changed_ids = {k for k in before if before[k] != after[k]}
    assert len(changed_ids) == changed, f"the test's changes must change {changed} values: {sorted(changed_ids)}"
    run3 = load(cfg, source, target.endpoint, "r3", sql, RUNS[2])
    facts = _facts(run3, target, after, current)
    counts = {"rows_read": n, "rows_updated": changed, "rows_unchanged": n - changed}
    if strategy == "scd2":
        counts["rows_expired"] = changed
        facts["target rows (all versions)"] = target.count()
        old = {k: before[k] for k in changed_ids}
        facts.update({f"old versions: {k}": v for k, v in _differences(target.read("NOT is_current"), old).items()})
    want = _want(**counts)
    if strategy == "scd2":
        want["target rows (all versions)"] = n + changed
        want.update({f"old versions: {k}": v for k, v in SAME_VALUES.items()})
    check("run 3 (changed values)", facts, want)


def check_refusal(exc: MapperError, target: Endpoint, table: str, values: tuple[Any, ...]) -> None:
    """A refusal in plan: not retryable, names the column and the fix, carries no value, no target table."""
    message = str(exc)
    facts = {
        "retryable": exc.retryable,
        "names the column": bool(re.search(r"\bval\b", message)),
        "names the fix (source_sql)": "source_sql" in message,
        "values in the message": [v for v in values if v and str(v) in message],
        "target table created": _table_exists(target, table),
    }
    want = {"retryable": False, "names the column": True, "names the fix (source_sql)": True,
            "values in the message": [], "target table created": False}  # fmt: skip
    check(f"plan refusal ({type(exc).__name__}: {message})", facts, want)


def refused_at_plan(
    strategy: str, source: Endpoint, src_table: str, target: Endpoint, table: str, values: tuple[Any, ...]
) -> None:
    """The run must stop in plan, before any chunk, as :func:`check_refusal` says."""
    cfg = config(strategy, table, keys=("id",), chunk_size=CHUNK_SIZE, min_rows_for_parallel=0)
    try:
        run = load(cfg, source, target, "r1", f"SELECT id, val FROM {src_table}", RUNS[0])
    except MapperError as exc:
        check_refusal(exc, target, table, values)
    else:
        pytest.fail(f"not refused at plan time: status {run.summary.status}, chunk errors {run.failures}")


# -- PostgreSQL sources ------------------------------------------------------------------------------------------


def _fill_pg(source: Endpoint, table: str, case: PgCase) -> None:
    source.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, val {case.pg_type})")
    source.executemany(
        f"INSERT INTO {table} (id, val) VALUES (?, ?::{case.pg_type})",
        [(i, _value_of(case.values, i)) for i in range(1, N + 1)],
    )
    source.execute(f"ANALYZE {table}")


def _change_pg(source: Endpoint, table: str, case: PgCase) -> Callable[[], int]:
    def change() -> int:
        for index, value in case.changes:
            source.execute(f"UPDATE {table} SET val = ?::{case.pg_type} WHERE id = ?", (value, index + 1))
        return len(case.changes)

    return change


def _pg_reader(endpoint: Endpoint, table: str, expr: str) -> Callable[[str], dict[int, Any]]:
    def read(where: str) -> dict[int, Any]:
        return dict(endpoint.query(f"SELECT id, {expr} FROM {table} WHERE {where}"))  # type: ignore[arg-type]

    return read


def _sqlite_reader(endpoint: Endpoint, table: str, parse_json: bool) -> Callable[[str], dict[int, Any]]:
    def read(where: str) -> dict[int, Any]:
        got = endpoint.query(f"SELECT id, typeof(val), val FROM {table} WHERE {where}")
        return {key: (kind, _json_value(value) if parse_json and kind == "text" else value) for key, kind, value in got}

    return read


def _case_id(case: PgCase | SqliteCase) -> str:
    return case.name


def _skip_without_citext(case: PgCase, dbs: MatrixDbs) -> None:
    if case.needs_citext and dbs.citext_missing:
        _unavailable(dbs.citext_missing)


@pytest.mark.parametrize("strategy", ["scd1", "scd2"])
@pytest.mark.parametrize("case", PG_CASES, ids=_case_id)
def test_postgres_to_postgres(matrix_dbs: MatrixDbs, case: PgCase, strategy: str) -> None:
    _skip_without_citext(case, matrix_dbs)
    source, target = matrix_dbs.source, matrix_dbs.target
    src_table, table = f"pp_{strategy}_{case.name}", f"dw.pp_{strategy}_{case.name}"
    _fill_pg(source, src_table, case)
    source_type = _column_type(source, src_table)
    assert source_type is not None
    three_runs(
        strategy, source, src_table, Side(target, table, _pg_reader(target, table, case.text_expr)),
        lambda: _pg_reader(source, src_table, case.text_expr)("1 = 1"),
        _change_pg(source, src_table, case), (source_type,) + ((case.also_pg_type,) if case.also_pg_type else ()),
    )  # fmt: skip


@pytest.mark.parametrize("strategy", ["scd1", "scd2"])
@pytest.mark.parametrize("case", PG_CASES, ids=_case_id)
def test_postgres_to_sqlite(matrix_dbs: MatrixDbs, tmp_path: Path, case: PgCase, strategy: str) -> None:
    _skip_without_citext(case, matrix_dbs)
    source = matrix_dbs.source
    target = Endpoint("sqlite", f"sqlite:///{tmp_path / 'target.db'}", path=tmp_path / "target.db")
    src_table, table = f"ps_{strategy}_{case.name}", f"ps_{case.name}"
    _fill_pg(source, src_table, case)
    if case.stored is None or case.sqlite_decl is None:
        refused_at_plan(strategy, source, src_table, target, table, case.values)
        return
    stored = case.stored

    def source_values() -> dict[int, Any]:
        texts = _pg_reader(source, src_table, case.sqlite_expr or case.text_expr)("1 = 1")
        return {k: ("null", None) if v is None else stored(v) for k, v in texts.items()}

    three_runs(
        strategy, source, src_table, Side(target, table, _sqlite_reader(target, table, case.parse_stored_json)),
        source_values, _change_pg(source, src_table, case), case.sqlite_decl,
    )  # fmt: skip


# -- SQLite sources ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["scd1", "scd2"])
@pytest.mark.parametrize("case", SQLITE_CASES, ids=_case_id)
def test_sqlite_to_postgres(matrix_dbs: MatrixDbs, tmp_path: Path, case: SqliteCase, strategy: str) -> None:
    source = Endpoint("sqlite", f"sqlite:///{tmp_path / 'source.db'}", path=tmp_path / "source.db")
    target = matrix_dbs.target
    table = f"dw.sp_{strategy}_{case.name}"
    source.execute(f"CREATE TABLE src (id INTEGER PRIMARY KEY, val {case.decl})")

    def value(i: int) -> Any:
        return case.value_at(i) if case.value_at is not None else _value_of(case.values, i)

    source.executemany("INSERT INTO src (id, val) VALUES (?, ?)", [(i, value(i)) for i in range(1, case.rows + 1)])

    def source_values() -> dict[int, Any]:
        return {k: None if v is None else case.expect(v) for k, v in source.query("SELECT id, val FROM src")}

    def change() -> int:
        source.executemany("UPDATE src SET val = ? WHERE id = ?", [(v, index + 1) for index, v in case.changes])
        return len(case.changes)

    three_runs(
        strategy, source, "src", Side(target, table, _pg_reader(target, table, case.text_expr)), source_values,
        change, (case.pg_type,),
    )  # fmt: skip
