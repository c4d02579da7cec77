"""The Oracle type map (Oracle -> neutral -> PostgreSQL DDL, neutral -> Oracle DDL), the fetch handler's choices
and the value conversions, at the edges. No Oracle server: the handler runs against a recording cursor."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import oracledb
import pytest

from airflow_mapper_provider.db import pg_binary
from airflow_mapper_provider.dialects import ColumnType, PostgresDialect
from airflow_mapper_provider.dialects import oracle_types as ot

MB = 1 << 20

#: (ALL_TAB_COLUMNS: DATA_TYPE, DATA_PRECISION, DATA_SCALE, CHAR_LENGTH, CHAR_USED) -> (kind, native, PG DDL).
#: The README's "Oracle type map" table is this list.
CATALOG_MAP = [
    (("NUMBER", 4, 0, None, None), ("smallint", "NUMBER(4)", "SMALLINT")),
    (("NUMBER", 9, 0, None, None), ("int", "NUMBER(9)", "INTEGER")),
    (("NUMBER", 10, 0, None, None), ("bigint", "NUMBER(10)", "BIGINT")),
    (("NUMBER", 18, 0, None, None), ("bigint", "NUMBER(18)", "BIGINT")),
    (("NUMBER", 19, 0, None, None), ("numeric", "NUMBER(19)", "NUMERIC(19,0)")),
    (("NUMBER", 38, 0, None, None), ("numeric", "NUMBER(38)", "NUMERIC(38,0)")),
    (("NUMBER", None, 0, None, None), ("numeric", "NUMBER(38)", "NUMERIC(38,0)")),  # NUMBER(*,0), INTEGER
    (("NUMBER", 10, 2, None, None), ("numeric", "NUMBER(10,2)", "NUMERIC(10,2)")),
    (("NUMBER", 5, -2, None, None), ("int", "NUMBER(5,-2)", "INTEGER")),  # integers of up to 7 digits
    (("NUMBER", 3, 5, None, None), ("numeric", "NUMBER(3,5)", "NUMERIC(5,5)")),  # 0.00123
    (("NUMBER", None, None, None, None), ("numeric", "NUMBER", "NUMERIC")),
    (("FLOAT", 126, None, None, None), ("double", "FLOAT(126)", "double precision")),
    (("BINARY_FLOAT", None, None, None, None), ("real", "BINARY_FLOAT", "REAL")),
    (("BINARY_DOUBLE", None, None, None, None), ("double", "BINARY_DOUBLE", "double precision")),
    (("DATE", None, None, None, None), ("timestamp", "DATE", "timestamp(0)")),
    (("TIMESTAMP(3)", None, 3, None, None), ("timestamp", "TIMESTAMP(3)", "timestamp(3)")),
    (("TIMESTAMP(6) WITH TIME ZONE", None, 6, None, None),
     ("timestamptz", "TIMESTAMP(6) WITH TIME ZONE", "timestamptz")),
    (("TIMESTAMP(6) WITH LOCAL TIME ZONE", None, 6, None, None),
     ("timestamptz", "TIMESTAMP(6) WITH LOCAL TIME ZONE", "timestamptz")),
    (("INTERVAL DAY(2) TO SECOND(6)", 2, 6, None, None), ("interval", "INTERVAL DAY(2) TO SECOND(6)", "interval")),
    (("INTERVAL YEAR(2) TO MONTH", 2, 0, None, None), ("interval", "INTERVAL YEAR(2) TO MONTH", "interval")),
    (("VARCHAR2", None, None, 20, "C"), ("varchar", "VARCHAR2(20 CHAR)", "VARCHAR(20)")),
    (("NVARCHAR2", None, None, 10, "C"), ("varchar", "NVARCHAR2(10)", "VARCHAR(10)")),
    (("CHAR", None, None, 4, "C"), ("char", "CHAR(4 CHAR)", "CHAR(4)")),
    (("NCHAR", None, None, 3, "C"), ("char", "NCHAR(3)", "CHAR(3)")),
    (("CLOB", None, None, None, None), ("text", "CLOB", "TEXT")),
    (("NCLOB", None, None, None, None), ("text", "NCLOB", "TEXT")),
    (("LONG", None, None, None, None), ("text", "LONG", "TEXT")),
    (("BLOB", None, None, None, None), ("bytes", "BLOB", "bytea")),
    (("RAW", None, None, 16, None), ("bytes", "RAW(16)", "bytea")),
    (("ROWID", None, None, None, None), ("text", "ROWID", "TEXT")),
    (("JSON", None, None, None, None), ("json", "JSON", "jsonb")),
    (("BOOLEAN", None, None, None, None), ("bool", "BOOLEAN", "boolean")),
]  # fmt: skip


@pytest.mark.parametrize(("oracle", "expected"), CATALOG_MAP, ids=[str(o[:3]) for o, _ in CATALOG_MAP])
def test_catalog_type_map(oracle: tuple[Any, ...], expected: tuple[str, str, str]) -> None:
    data_type, precision, scale, length, used = oracle
    ctype = ot.from_catalog(data_type, precision, scale, length, used or "C", data_length=length)
    assert (ctype.kind, ctype.native, ctype.dialect) == (expected[0], expected[1], "oracle")
    assert PostgresDialect().type_ddl(ctype) == expected[2]


def test_date_is_a_timestamp_of_whole_seconds() -> None:
    """DATE keeps its time part: a timestamp, precision 0 (never a date)."""
    ctype = ot.from_catalog("DATE", None, None, None)
    assert (ctype.kind, ctype.precision) == ("timestamp", 0)


def test_varchar2_in_bytes_keeps_its_semantics() -> None:
    ctype = ot.from_catalog("VARCHAR2", None, None, 20, "B", data_length=20)
    assert (ctype.kind, ctype.native, ctype.length) == ("varchar", "VARCHAR2(20 BYTE)", 20)


@pytest.mark.parametrize(
    ("code", "precision", "scale", "size", "kind", "native"),
    [
        (oracledb.DB_TYPE_NUMBER, 38, 0, 22, "numeric", "NUMBER(38)"),
        (oracledb.DB_TYPE_NUMBER, 9, 0, 22, "int", "NUMBER(9)"),
        (oracledb.DB_TYPE_NUMBER, 12, 2, 22, "numeric", "NUMBER(12,2)"),
        (oracledb.DB_TYPE_NUMBER, 0, -127, 22, "numeric", "NUMBER"),  # unconstrained, COUNT(*), expressions
        (oracledb.DB_TYPE_NUMBER, 126, -127, 22, "double", "FLOAT(126)"),
        (oracledb.DB_TYPE_NUMBER, 6, -3, 22, "int", "NUMBER(6,-3)"),
        (oracledb.DB_TYPE_BINARY_FLOAT, 0, 0, 4, "real", "BINARY_FLOAT"),
        (oracledb.DB_TYPE_BINARY_DOUBLE, 0, 0, 8, "double", "BINARY_DOUBLE"),
        (oracledb.DB_TYPE_DATE, 0, 0, 7, "timestamp", "DATE"),
        (oracledb.DB_TYPE_TIMESTAMP, 0, 9, 11, "timestamp", "TIMESTAMP(9)"),
        (oracledb.DB_TYPE_TIMESTAMP_TZ, 0, 6, 13, "timestamptz", "TIMESTAMP(6) WITH TIME ZONE"),
        (oracledb.DB_TYPE_TIMESTAMP_LTZ, 0, 6, 11, "timestamptz", "TIMESTAMP(6) WITH LOCAL TIME ZONE"),
        (oracledb.DB_TYPE_INTERVAL_DS, 2, 6, 11, "interval", "INTERVAL DAY(9) TO SECOND(9)"),
        (oracledb.DB_TYPE_INTERVAL_YM, 2, 0, 5, "interval", "INTERVAL YEAR(9) TO MONTH"),
        (oracledb.DB_TYPE_VARCHAR, 0, 0, 30, "varchar", "VARCHAR2(30 CHAR)"),
        (oracledb.DB_TYPE_NVARCHAR, 0, 0, 30, "varchar", "NVARCHAR2(30)"),
        (oracledb.DB_TYPE_CHAR, 0, 0, 2, "char", "CHAR(2 CHAR)"),
        (oracledb.DB_TYPE_RAW, 0, 0, 16, "bytes", "RAW(16)"),
        (oracledb.DB_TYPE_CLOB, 0, 0, 0, "text", "CLOB"),
        (oracledb.DB_TYPE_NCLOB, 0, 0, 0, "text", "NCLOB"),
        (oracledb.DB_TYPE_BLOB, 0, 0, 0, "bytes", "BLOB"),
        (oracledb.DB_TYPE_ROWID, 0, 0, 0, "text", "ROWID"),
        (oracledb.DB_TYPE_JSON, 0, 0, 0, "json", "JSON"),
        (oracledb.DB_TYPE_BOOLEAN, 0, 0, 0, "bool", "BOOLEAN"),
        (oracledb.DB_TYPE_LONG_RAW, 0, 0, 0, "bytes", "LONG RAW"),
    ],
)
def test_description_type_map(code: Any, precision: int, scale: int, size: int, kind: str, native: str) -> None:
    ctype = ot.from_description(code, precision, scale, size)
    assert (ctype.kind, ctype.native) == (kind, native)


# ---- neutral -> Oracle DDL ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ctype", "kwargs", "expected"),
    [
        (ColumnType("smallint"), {}, "NUMBER(5)"),
        (ColumnType("int"), {}, "NUMBER(10)"),
        (ColumnType("bigint"), {}, "NUMBER(19)"),
        (ColumnType("numeric", precision=12, scale=2), {}, "NUMBER(12,2)"),
        (ColumnType("numeric", precision=50, scale=0), {}, "NUMBER"),  # wider than Oracle's 38 digits
        (ColumnType("numeric"), {}, "NUMBER"),
        (ColumnType("real"), {}, "BINARY_FLOAT"),
        (ColumnType("double"), {}, "BINARY_DOUBLE"),
        (ColumnType("bool"), {"column": '"ACTIVE"'}, 'NUMBER(1) CHECK ("ACTIVE" IN (0, 1))'),
        (ColumnType("bool"), {}, "NUMBER(1)"),
        (ColumnType("text"), {}, "CLOB"),
        (ColumnType("text"), {"key": True}, "VARCHAR2(1000 CHAR)"),
        (ColumnType("text"), {"key": True, "key_parts": 3}, "VARCHAR2(500 CHAR)"),
        (ColumnType("varchar", length=50), {}, "VARCHAR2(50 CHAR)"),
        (ColumnType("varchar", length=4000), {}, "CLOB"),  # 4,000 characters may pass 4,000 bytes
        (ColumnType("varchar", length=4000), {"key": True}, "VARCHAR2(1000 CHAR)"),
        (ColumnType("char", length=2), {}, "CHAR(2 CHAR)"),
        (ColumnType("bytes"), {}, "BLOB"),
        (ColumnType("bytes"), {"key": True}, "RAW(2000)"),
        (ColumnType("date"), {}, "DATE"),
        (ColumnType("timestamp"), {}, "TIMESTAMP(6)"),
        (ColumnType("timestamptz", precision=3), {}, "TIMESTAMP(3) WITH TIME ZONE"),
        (ColumnType("interval"), {}, "INTERVAL DAY(9) TO SECOND(6)"),
        (ColumnType("json"), {}, "CLOB"),
        (ColumnType("uuid"), {}, "VARCHAR2(36 CHAR)"),
        (ColumnType("time"), {}, "VARCHAR2(15 CHAR)"),
        (ColumnType("numeric", "NUMBER(10,2)", "oracle"), {}, "NUMBER(10,2)"),  # an Oracle source's own type
        (ColumnType("text", "CLOB", "oracle"), {"key": True}, "VARCHAR2(1000 CHAR)"),  # never a LOB key
    ],
)
def test_ddl(ctype: ColumnType, kwargs: dict[str, Any], expected: str) -> None:
    assert ot.ddl(ctype, **kwargs) == expected


def test_key_text_fits_an_8k_block_index() -> None:
    """Every key part's bytes together (4 bytes per character in AL32UTF8) stay under the ~6,400-byte key limit."""
    for parts in (1, 2, 3, 4):
        chars = int(ot.ddl(ColumnType("text"), key=True, key_parts=parts).split("(")[1].split()[0])
        assert parts * chars * 4 <= 6398


# ---- the fetch handler --------------------------------------------------------------------------------------


class RecordingCursor:
    arraysize = 10_000

    def var(self, typ: Any, arraysize: int = 1, outconverter: Any = None, **kw: Any) -> Any:
        return SimpleNamespace(typ=typ, arraysize=arraysize, outconverter=outconverter)


def _handled(code: Any, precision: int = 0, scale: int = 0, name: str = "C", utc: frozenset[str] = frozenset()) -> Any:
    meta = SimpleNamespace(type_code=code, precision=precision, scale=scale, name=name)
    return ot.output_type_handler(utc)(RecordingCursor(), meta)


@pytest.mark.parametrize(
    ("precision", "scale", "python"),
    [(38, 0, int), (9, 0, int), (5, -2, int), (10, 2, Decimal), (0, -127, Decimal), (126, -127, float)],
)
def test_numbers_fetch_exactly(precision: int, scale: int, python: type) -> None:
    var = _handled(oracledb.DB_TYPE_NUMBER, precision, scale)
    assert var.typ is python and var.arraysize == RecordingCursor.arraysize


@pytest.mark.parametrize(
    ("lob", "inline"),
    [(oracledb.DB_TYPE_CLOB, oracledb.DB_TYPE_LONG), (oracledb.DB_TYPE_NCLOB, oracledb.DB_TYPE_LONG_NVARCHAR),
     (oracledb.DB_TYPE_BLOB, oracledb.DB_TYPE_LONG_RAW)],
)  # fmt: skip
def test_lobs_fetch_inline_as_str_and_bytes(lob: Any, inline: Any) -> None:
    assert _handled(lob).typ is inline


def test_zoned_columns_read_as_utc_get_utc_attached() -> None:
    var = _handled(oracledb.DB_TYPE_TIMESTAMP, name="PAID_AT", utc=frozenset({"PAID_AT"}))
    assert var.outconverter(dt.datetime(2026, 3, 1, 6, 30)) == dt.datetime(2026, 3, 1, 6, 30, tzinfo=dt.UTC)
    assert _handled(oracledb.DB_TYPE_TIMESTAMP, name="OTHER", utc=frozenset({"PAID_AT"})) is None


def test_other_types_keep_the_driver_default() -> None:
    for code in (oracledb.DB_TYPE_VARCHAR, oracledb.DB_TYPE_CHAR, oracledb.DB_TYPE_DATE, oracledb.DB_TYPE_RAW):
        assert _handled(code) is None  # CHAR padding, DATE time part, RAW bytes: as the driver returns them


def test_interval_year_to_month_and_json_as_text() -> None:
    ym = _handled(oracledb.DB_TYPE_INTERVAL_YM).outconverter
    assert ym(oracledb.IntervalYM(1, 2)) == "1 years 2 months"
    assert ym(oracledb.IntervalYM(-1, -2)) == "-1 years -2 months"
    js = _handled(oracledb.DB_TYPE_JSON).outconverter
    text = js({"n": Decimal("12"), "x": Decimal("1.5"), "d": dt.datetime(1899, 1, 2), "s": "żółw"})
    assert json.loads(text) == {"n": 12, "x": 1.5, "d": "1899-01-02T00:00:00", "s": "żółw"}


@pytest.mark.parametrize(
    ("offset", "utc"),
    [((5, 30), dt.datetime(2026, 3, 1, 6, 30)), ((-3, -30), dt.datetime(2026, 3, 1, 15, 30)),
     ((14, 0), dt.datetime(2026, 2, 28, 22, 0))],
)  # fmt: skip
def test_utc_instants_of_offsets(offset: tuple[int, int], utc: dt.datetime) -> None:
    """SYS_EXTRACT_UTC of 2026-03-01 12:00 at each offset is the naive UTC time the handler marks as UTC."""
    zone = dt.timezone(dt.timedelta(hours=offset[0], minutes=offset[1]))
    assert ot.as_utc(utc) == dt.datetime(2026, 3, 1, 12, 0, tzinfo=zone)


def test_utc_select_wraps_only_zoned_columns() -> None:
    sql = ot.utc_select("SELECT a, b FROM t", [("ID", False), ("PAID_AT", True), ("Mixed Case", True)])
    assert sql == (
        'SELECT mapper_tz."ID", SYS_EXTRACT_UTC(mapper_tz."PAID_AT") AS "PAID_AT", '
        'SYS_EXTRACT_UTC(mapper_tz."Mixed Case") AS "Mixed Case" FROM (SELECT a, b FROM t\n) mapper_tz'
    )
    with pytest.raises(ValueError, match="double quote"):
        ot.utc_select("SELECT 1 FROM dual", [('A"B', True)])


# ---- names and binding ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mapper", "oracle"),
    [("customer_id", "CUSTOMER_ID"), ("CustomerId", "CustomerId"), ("a$b#1", "A$B#1"), ("Ünï", "Ünï")],
)
def test_names_both_directions(mapper: str, oracle: str) -> None:
    assert ot.to_oracle_name(mapper) == oracle
    assert ot.from_oracle_name(oracle) == mapper


def test_bindable_converts_only_what_oracle_cannot_bind() -> None:
    u = uuid.UUID("12345678-1234-5678-1234-567812345678")
    plus = dt.timezone(dt.timedelta(hours=5, minutes=30))
    rows = [(True, {"a": [1]}, u, dt.time(23, 59, 59, 5), dt.datetime(1850, 1, 1, 5, 30, tzinfo=plus), "", 7)]
    assert ot.bindable(rows) == [
        (1, '{"a":[1]}', str(u), "23:59:59.000005", dt.datetime(1850, 1, 1, 0, 0), "", 7)
    ]  # '' stays '': Oracle itself stores it as NULL


def test_bindable_leaves_plain_rows_alone() -> None:
    rows = [(1, Decimal("10") ** 37, "x" * 4000, b"\0" * MB, dt.datetime(1066, 1, 1), None)]
    assert ot.bindable(rows) is rows


def test_oracle_rows_fit_the_binary_copy_of_their_pg_types() -> None:
    """The rows the handler produces for each Oracle type pass the binary COPY check of the PostgreSQL type the
    map gives (so Oracle -> PostgreSQL loads without text formatting); an edge value of each."""
    cases = [
        ("int4", 2**31 - 1), ("numeric", 10**38 - 1), ("numeric", Decimal("-1.5E-130")), ("float4", 0.1),
        ("float8", -1e308), ("timestamp", dt.datetime(1, 1, 1)), ("timestamptz", ot.as_utc(dt.datetime(9999, 1, 1))),
        ("interval", dt.timedelta(days=-999_999_999)), ("bpchar", "ab  "), ("text", "é" * MB),
        ("bytea", b"\xff" * 4000), ("varchar", None),
    ]  # fmt: skip
    for pg_type, value in cases:
        assert pg_binary.BatchCheck([pg_type]).fits([(value,)]), (pg_type, value)
    assert not pg_binary.BatchCheck(["numeric"]).fits([(1.5,)])  # a float never passes for an exact number
