"""dialects/sqlite.py: declared types parsed, canonical stored forms, decoding out of SQLite, decimal order."""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import sqlite3
import uuid
from typing import Any

import pytest

from airflow_mapper_provider.dialects import ColumnType, sqlite
from airflow_mapper_provider.dialects.types import Column
from airflow_mapper_provider.exceptions import UnsupportedError

D = decimal.Decimal
BIG = "1234567890123456789012345678.0123456789"
KOLKATA = dt.timezone(dt.timedelta(hours=5, minutes=30))
UTC = dt.timezone.utc


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ("INTEGER", ("bigint", None, None, None)),
        ("int", ("bigint", None, None, None)),
        ("SMALLINT", ("smallint", None, None, None)),
        ("NUMERIC(38,10)", ("numeric", None, 38, 10)),
        ("decimal( 12 , 2 )", ("numeric", None, 12, 2)),
        ("DECIMAL_TEXT(38,10)", ("numeric", None, 38, 10)),
        ("NUMERIC(5)", ("numeric", None, 5, 0)),
        ("NUMERIC", ("numeric", None, None, None)),
        ("VARCHAR(20)", ("varchar", 20, None, None)),
        ("NVARCHAR(7)", ("varchar", 7, None, None)),
        ("CHARACTER VARYING(9)", ("varchar", 9, None, None)),
        ("CHAR(3)", ("char", 3, None, None)),
        ("VARCHAR", ("text", None, None, None)),
        ("CLOB", ("text", None, None, None)),
        ("REAL", ("double", None, None, None)),
        ("DOUBLE PRECISION", ("double", None, None, None)),
        ("FLOAT", ("double", None, None, None)),
        ("BLOB", ("bytes", None, None, None)),
        ("BOOLEAN", ("bool", None, None, None)),
        ("DATE", ("date", None, None, None)),
        ("DATETIME", ("timestamp", None, None, None)),
        ("TIMESTAMP", ("timestamp", None, None, None)),
        ("TIMESTAMPTZ", ("timestamptz", None, None, None)),
        ("timestamp with time zone", ("timestamptz", None, None, None)),
        ("TIME", ("time", None, None, None)),
        ("TIMETZ", ("text", None, None, None)),
        ("JSON", ("json", None, None, None)),
        ("JSON_TEXT", ("json", None, None, None)),
        ("UUID", ("uuid", None, None, None)),
        ("COLOR", ("text", None, None, None)),
    ],
)
def test_declared_types(declared: str, expected: tuple[Any, ...]) -> None:
    t = sqlite.column_type(declared)
    assert t is not None and (t.kind, t.length, t.precision, t.scale) == expected
    assert (t.native, t.dialect) == (declared, "sqlite")


def test_no_declared_type_is_typed_from_values() -> None:
    assert sqlite.column_type("  ") is None
    assert sqlite.kind_of_storage(["integer", "null"]) == "bigint"
    assert sqlite.kind_of_storage(["integer", "real"]) == "numeric"
    assert sqlite.kind_of_storage(["real"]) == "double"
    assert sqlite.kind_of_storage(["blob"]) == "bytes"
    assert sqlite.kind_of_storage(["integer", "text"]) == "text"
    assert sqlite.kind_of_storage([]) == "text"


@pytest.mark.parametrize(
    ("ctype", "ddl"),
    [
        (ColumnType("numeric", "numeric(38,10)", "postgres", None, 38, 10), "DECIMAL_TEXT(38,10)"),
        (ColumnType("numeric", "numeric", "postgres"), "DECIMAL_TEXT"),
        (ColumnType("timestamptz", "timestamptz", "postgres"), "TIMESTAMPTZ"),
        (ColumnType("other", "timetz", "postgres"), "TIMETZ"),
        (ColumnType("double", "float8", "postgres"), "REAL"),
        (ColumnType("json", "jsonb", "postgres"), "JSON_TEXT"),
        (ColumnType("uuid", "uuid", "postgres"), "CHAR(36)"),
        (ColumnType("char", "bpchar(5)", "postgres", 5), "CHAR(5)"),
        (ColumnType("other", "int4[]", "postgres"), "TEXT"),
        (ColumnType("other", "mood", "postgres"), "TEXT"),
    ],
)
def test_ddl_of_other_databases_types(ctype: ColumnType, ddl: str) -> None:
    assert sqlite.ddl(ctype) == ddl


def _enc(declared: str | None, value: Any) -> Any:
    return sqlite.encoder(sqlite.column_type(declared) if declared else None)(value)


@pytest.mark.parametrize(
    ("declared", "value", "stored"),
    [
        (
            "DECIMAL_TEXT(38,10)",
            D("1234567890123456789012345678.0123456789"),
            "1234567890123456789012345678.0123456789",
        ),
        ("DECIMAL_TEXT", D("1E-7"), "0.0000001"),
        ("DECIMAL_TEXT", D("1.50"), "1.50"),
        ("DECIMAL_TEXT", D("NaN"), "NaN"),
        ("DECIMAL_TEXT", D("-0"), "0"),
        ("DECIMAL_TEXT", 0.1, "0.1"),
        ("REAL", float("nan"), "NaN"),
        ("REAL", float("inf"), float("inf")),
        ("REAL", D("2.5"), 2.5),
        ("TIMESTAMPTZ", dt.datetime(2026, 3, 29, 5, 30, tzinfo=KOLKATA), "2026-03-29 00:00:00+00:00"),
        ("TIMESTAMPTZ", dt.datetime(2026, 3, 29, 0, 0, 0, 5), "2026-03-29 00:00:00.000005+00:00"),
        ("TIMESTAMPTZ", "infinity", "infinity"),
        ("TIMESTAMP", dt.datetime(2026, 3, 29, 1, 2, 3), "2026-03-29 01:02:03"),
        ("TIMESTAMP", dt.datetime(2026, 3, 29, 5, 30, tzinfo=KOLKATA), "2026-03-29 00:00:00"),
        ("TEXT", dt.datetime(2026, 3, 29, 5, 30, tzinfo=KOLKATA), "2026-03-29 00:00:00+00:00"),
        ("TIMETZ", dt.time(12, 0, tzinfo=KOLKATA), "12:00:00+05:30"),
        ("TIME", dt.time(12, 0, 0, 500000), "12:00:00.500000"),
        ("DATE", dt.date(1, 1, 1), "0001-01-01"),
        ("BOOLEAN", True, 1),
        ("TEXT", True, "true"),
        ("INTEGER", D("7.00"), 7),
        ("INTEGER", D("7.50"), "7.50"),
        ("CHAR(36)", uuid.UUID("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        ("TEXT", [1, None, D("2.5"), "x"], '[1, null, "2.5", "x"]'),
        ("BLOB", memoryview(b"\x00\x01"), b"\x00\x01"),
        ("TEXT", 0.30000000000000004, "0.30000000000000004"),
        (None, D("3.10"), "3.10"),
    ],
)
def test_canonical_stored_forms(declared: str | None, value: Any, stored: Any) -> None:
    got = _enc(declared, value)
    assert type(got) is type(stored) and got == stored


def test_encoding_an_interval_is_refused_naming_the_fix() -> None:
    with pytest.raises(UnsupportedError, match="cast it in source_sql"):
        _enc("TEXT", dt.timedelta(days=30))
    with pytest.raises(UnsupportedError, match=r"\['waited'\].*waited::text"):
        sqlite.refuse_unsupported([Column("waited", ColumnType("interval", "interval", "postgres"))])


def _dec(declared: str, value: Any) -> Any:
    ctype = sqlite.column_type(declared)
    assert ctype is not None
    return sqlite.decoder(ctype)(value)


@pytest.mark.parametrize(
    ("declared", "stored", "value"),
    [
        ("NUMERIC(12,2)", 1.5, D("1.5")),
        ("NUMERIC(12,2)", 0.1, D("0.1")),
        ("NUMERIC(12,2)", 3, D(3)),
        (
            "DECIMAL_TEXT(38,10)",
            "1234567890123456789012345678.0123456789",
            D("1234567890123456789012345678.0123456789"),
        ),
        ("REAL", "NaN", "nan"),
        ("REAL", 3, 3.0),
        ("BOOLEAN", 1, True),
        ("BOOLEAN", 0, False),
        ("TIMESTAMPTZ", "2026-03-01 12:00:00+05:30", dt.datetime(2026, 3, 1, 6, 30, tzinfo=UTC)),
        ("TIMESTAMPTZ", "2026-03-01T12:00:00", dt.datetime(2026, 3, 1, 12, 0, tzinfo=UTC)),
        ("TIMESTAMPTZ", "infinity", "infinity"),
        ("DATETIME", "2026-03-01T12:00:00.5", dt.datetime(2026, 3, 1, 12, 0, 0, 500000)),
        ("TEXT", "  as is ", "  as is "),
        ("DATE", "2026-03-01", "2026-03-01"),
    ],
)
def test_decoding_out_of_sqlite(declared: str, stored: Any, value: Any) -> None:
    got = _dec(declared, stored)
    if value == "nan":
        assert got != got
        return
    assert type(got) is type(value) and got == value
    if isinstance(value, dt.datetime):
        assert got.tzinfo == value.tzinfo


def test_decimal_collation_orders_by_value_with_nan_last() -> None:
    conn = sqlite3.connect(":memory:")
    conn.create_collation(sqlite.DECIMAL_COLLATION, sqlite.decimal_order)
    conn.execute("CREATE TABLE t (v DECIMAL_TEXT(12,2))")
    values = ["10.50", "9.50", "NaN", "-2", "100", "1.5", "1.50", "-Infinity", "Infinity"]
    conn.executemany("INSERT INTO t VALUES (?)", [(v,) for v in values])
    ordered = [r[0] for r in conn.execute(f"SELECT v FROM t ORDER BY v COLLATE {sqlite.DECIMAL_COLLATION}, v")]
    assert ordered == ["-Infinity", "-2", "1.5", "1.50", "9.50", "10.50", "100", "Infinity", "NaN"]
    top = conn.execute(f"SELECT MAX(v COLLATE {sqlite.DECIMAL_COLLATION}) FROM t WHERE v <> 'NaN'").fetchone()
    assert top == ("Infinity",)
    above = conn.execute(f"SELECT COUNT(*) FROM t WHERE v COLLATE {sqlite.DECIMAL_COLLATION} > ?", ("9.75",))
    assert above.fetchone() == (4,)  # 10.50, 100, Infinity, NaN (as text, 9.50 would be above 10.50)


def test_typed_result_columns_convert_on_fetch() -> None:
    for kind in sqlite.CONVERTERS:
        sqlite3.register_converter(f"mapper_{kind}", functools.partial(sqlite.convert_fetched, kind))
    conn = sqlite3.connect(":memory:", detect_types=sqlite3.PARSE_COLNAMES)
    row = conn.execute(
        "SELECT '2026-03-01 12:00:00+00:00' AS \"a [mapper_timestamptz]\", '2026-03-01' AS \"b [mapper_date]\", "
        "'10.50' AS \"c [mapper_numeric]\", 'infinity' AS \"d [mapper_timestamp]\", 'plain' AS e"
    ).fetchone()
    assert row == (dt.datetime(2026, 3, 1, 12, tzinfo=UTC), dt.date(2026, 3, 1), D("10.50"), "infinity", "plain")
