"""Oracle types <-> neutral :class:`ColumnType`, and the values python-oracledb fetches for them.

Pure: no connection here. :func:`from_description` types a query's column as ``cursor.description`` reports it,
:func:`from_catalog` a table's column as ``ALL_TAB_COLUMNS`` names it, :func:`ddl` spells a neutral type as
Oracle DDL (for tables the mapper creates on Oracle), :func:`output_type_handler` makes the driver fetch exact
values (README "Oracle type map"):

- ``NUMBER(p,0)`` (and negative scales) as ``int``; every other ``NUMBER`` as ``decimal.Decimal``, never float;
  ``FLOAT(b)``, ``BINARY_FLOAT``, ``BINARY_DOUBLE`` as float;
- CLOB/NCLOB as str and BLOB as bytes, inline (no LOB locators, no round trip per value);
- TIMESTAMP WITH (LOCAL) TIME ZONE keeps its instant: the thin driver drops the offset, so the session reads
  such a column as ``SYS_EXTRACT_UTC(column)`` (:func:`utc_select`) and the handler attaches UTC;
- INTERVAL DAY TO SECOND as timedelta, INTERVAL YEAR TO MONTH as its PostgreSQL text (``1 years 2 months``);
- JSON (21c) as its JSON text; CHAR values keep their padding; ``''`` is NULL in Oracle (it never reaches a
  target as an empty string).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
import uuid
from collections.abc import Sequence
from typing import Any

from airflow_mapper_provider.dialects.types import ColumnType

DIALECT = "oracle"
#: Characters of a text key column: 1,500 characters (6,000 bytes in AL32UTF8) per index fit the ~6,400-byte
#: key limit of an 8 KB block, shared by the key's text parts; at most 1,000 characters (4,000 bytes) each.
KEY_INDEX_CHARS, KEY_MAX_CHARS = 1500, 1000
#: The longest VARCHAR2(n CHAR) whose every value fits 4,000 bytes (4 bytes per character); longer is CLOB.
MAX_VARCHAR_CHARS, MAX_CHAR_CHARS = 1000, 500
_UNCONSTRAINED_SCALE = -127


def _int_kind(digits: int) -> tuple[str, int | None]:
    """Integer kind by decimal digits: NUMBER(4) -> smallint ... NUMBER(19) and up -> numeric(p,0)."""
    for limit, kind in ((4, "smallint"), (9, "int"), (18, "bigint")):
        if digits <= limit:
            return kind, None
    return "numeric", digits


def number_type(precision: int | None, scale: int | None) -> ColumnType:
    """NUMBER(p,s) as neutral: integers by precision, decimals exact, unconstrained NUMBER as numeric."""
    p, s = precision or 0, _UNCONSTRAINED_SCALE if scale is None else scale
    if s == _UNCONSTRAINED_SCALE:  # NUMBER; FLOAT(b) (binary precision b) where p > 0
        return ColumnType("double", f"FLOAT({p})", DIALECT) if p else ColumnType("numeric", "NUMBER", DIALECT)
    p = p or 38  # NUMBER(*,s)
    native = f"NUMBER({p},{s})" if s else f"NUMBER({p})"
    if s <= 0:
        kind, digits = _int_kind(p - s)  # NUMBER(5,-2) holds integers of up to 7 digits
        return ColumnType(kind, native, DIALECT, precision=digits, scale=0 if digits else None)
    return ColumnType("numeric", native, DIALECT, precision=max(p, s), scale=s)  # NUMBER(3,5): 0.00123


def number_python(precision: int | None, scale: int | None) -> type:
    """The Python type a NUMBER column is fetched as: int for integers (scale 0 or negative, any precision),
    float for FLOAT(b), else Decimal (unconstrained NUMBER included)."""
    found = number_type(precision, scale)
    if found.kind == "double":
        return float
    return int if found.scale == 0 or found.kind in ("smallint", "int", "bigint") else decimal.Decimal


def from_description(type_code: Any, precision: int | None, scale: int | None, size: int | None) -> ColumnType:
    """A query column as ``cursor.description`` reports it (``type_code`` an ``oracledb.DB_TYPE_*``; ``size``
    the display size in characters for strings, else the internal size)."""
    name = str(getattr(type_code, "name", type_code)).removeprefix("DB_TYPE_")
    if name == "NUMBER":
        return number_type(precision, scale)
    if name in ("TIMESTAMP", "TIMESTAMP_TZ", "TIMESTAMP_LTZ"):
        fraction = 6 if scale is None else scale
        suffix = {"TIMESTAMP_TZ": " WITH TIME ZONE", "TIMESTAMP_LTZ": " WITH LOCAL TIME ZONE"}.get(name, "")
        return _named(f"TIMESTAMP({fraction}){suffix}", None, None, None)
    if name in ("INTERVAL_DS", "INTERVAL_YM"):
        return _named("INTERVAL DAY TO SECOND" if name == "INTERVAL_DS" else "INTERVAL YEAR TO MONTH", 0, 0, 0)
    oracle_name = _DESCRIPTION_NAMES.get(name, name)
    return _named(oracle_name, precision, scale, size)


def fraction_digits(ctype: ColumnType) -> int | None:
    """Fractional second digits an Oracle DATE (0) or TIMESTAMP(n) column keeps; None for other types."""
    if ctype.kind in ("timestamp", "timestamptz") and ctype.dialect == DIALECT:
        return ctype.precision if ctype.precision is not None else 6
    return None


def from_catalog(data_type: str, precision: int | None, scale: int | None, char_length: int | None,
                 char_used: str | None = "C", data_length: int | None = None) -> ColumnType:  # fmt: skip
    """A table column as ``ALL_TAB_COLUMNS`` names it (DATA_TYPE, DATA_PRECISION, DATA_SCALE, CHAR_LENGTH,
    CHAR_USED, DATA_LENGTH)."""
    base = data_type.upper().strip()
    if base == "NUMBER":
        return number_type(precision, scale)
    if base == "FLOAT":
        return ColumnType("double", f"FLOAT({precision or 126})", DIALECT)
    size = char_length if char_used == "C" or base.startswith("N") else (data_length or char_length)
    return _named(base, precision, scale, size, byte_semantics=char_used == "B")


def _named(base: str, precision: int | None, scale: int | None, size: int | None,
           byte_semantics: bool = False) -> ColumnType:  # fmt: skip
    """Every non-NUMBER type by its Oracle name (``TIMESTAMP(6) WITH TIME ZONE``, ``VARCHAR2``...)."""
    stamp = re.match(r"TIMESTAMP(?:\((\d)\))?( WITH (?:LOCAL )?TIME ZONE)?$", base)
    if stamp:
        fraction = int(stamp.group(1) or 6)
        native = f"TIMESTAMP({fraction}){stamp.group(2) or ''}"
        return ColumnType("timestamptz" if stamp.group(2) else "timestamp", native, DIALECT, precision=fraction)
    if base.startswith("INTERVAL"):
        return ColumnType("interval", _interval_native(base), DIALECT)
    if base in ("VARCHAR2", "NVARCHAR2", "VARCHAR", "CHAR", "NCHAR") and size:
        kind = "char" if base.endswith("CHAR") and "VAR" not in base else "varchar"
        unit = "" if base.startswith("N") else (" BYTE" if byte_semantics else " CHAR")
        return ColumnType(kind, f"{base}({size}{unit})", DIALECT, length=size)
    if base in ("RAW",) and size:
        return ColumnType("bytes", f"RAW({size})", DIALECT)
    kind = _SIMPLE.get(base, "other")
    precision = 0 if base == "DATE" else None
    return ColumnType(kind, base, DIALECT, precision=precision)


def _interval_native(base: str) -> str:
    if "YEAR" in base:
        return base if "(" in base else "INTERVAL YEAR(9) TO MONTH"
    return base if "(" in base else "INTERVAL DAY(9) TO SECOND(9)"


_DESCRIPTION_NAMES = {"VARCHAR": "VARCHAR2", "NVARCHAR": "NVARCHAR2", "LONG_RAW": "LONG RAW", "LONG_NVARCHAR": "LONG"}
_SIMPLE = {"BINARY_FLOAT": "real", "BINARY_DOUBLE": "double", "DATE": "timestamp", "CLOB": "text", "NCLOB": "text",
           "LONG": "text", "BLOB": "bytes", "LONG RAW": "bytes", "RAW": "bytes", "ROWID": "text", "UROWID": "text",
           "JSON": "json", "BOOLEAN": "bool", "VARCHAR2": "text", "NVARCHAR2": "text"}  # fmt: skip


# ---- neutral -> Oracle DDL ------------------------------------------------------------------------------------


def ddl(ctype: ColumnType, key: bool = False, key_parts: int = 1, column: str = "") -> str:
    """Oracle DDL for a neutral type (a table the mapper creates on Oracle).

    :param key: the column is (part of) a key or indexed: text and bytes get indexable types (never LOB).
    :param key_parts: the number of text/bytes parts of that key (they share the index key size).
    :param column: the quoted column name: a bool then gets its ``CHECK (column IN (0, 1))``.
    """
    k = ctype.kind
    if ctype.dialect == DIALECT and ctype.native and not (key and _is_lob(ctype.native)):
        return ctype.native
    if k == "bool":
        return "NUMBER(1)" + (f" CHECK ({column} IN (0, 1))" if column else "")
    if k == "numeric":
        return _numeric_ddl(ctype)
    if k == "timestamp" or k == "timestamptz":
        fraction = 6 if ctype.precision is None else min(ctype.precision, 9)
        return f"TIMESTAMP({fraction})" + (" WITH TIME ZONE" if k == "timestamptz" else "")
    if k in ("text", "varchar", "char", "json", "other", "bytes"):
        return _text_ddl(ctype, key, max(key_parts, 1))
    return _FIXED.get(k, "CLOB")


def _numeric_ddl(ctype: ColumnType) -> str:
    if ctype.precision and ctype.precision <= 38:
        scale = ctype.scale or 0
        return f"NUMBER({ctype.precision},{scale})" if scale else f"NUMBER({ctype.precision})"
    return "NUMBER"


def _text_ddl(ctype: ColumnType, key: bool, parts: int) -> str:
    if key:
        chars = min(KEY_MAX_CHARS, KEY_INDEX_CHARS // parts)
        length = min(ctype.length or chars, chars)
        return f"RAW({min(2000, length * 2)})" if ctype.kind == "bytes" else f"VARCHAR2({length} CHAR)"
    if ctype.kind == "bytes":
        return "BLOB"
    if ctype.kind == "char" and ctype.length and ctype.length <= MAX_CHAR_CHARS:
        return f"CHAR({ctype.length} CHAR)"
    if ctype.kind in ("varchar", "char") and ctype.length and ctype.length <= MAX_VARCHAR_CHARS:
        return f"VARCHAR2({ctype.length} CHAR)"
    return "CLOB"


def _is_lob(native: str) -> bool:
    return native in ("CLOB", "NCLOB", "BLOB", "LONG", "LONG RAW", "JSON")


_FIXED = {"smallint": "NUMBER(5)", "int": "NUMBER(10)", "bigint": "NUMBER(19)", "real": "BINARY_FLOAT",
          "double": "BINARY_DOUBLE", "date": "DATE", "time": "VARCHAR2(15 CHAR)", "uuid": "VARCHAR2(36 CHAR)",
          "interval": "INTERVAL DAY(9) TO SECOND(6)"}  # fmt: skip


# ---- fetching -------------------------------------------------------------------------------------------------


def utc_select(select_sql: str, columns: Sequence[tuple[str, bool]]) -> str:
    """``select_sql`` read with each zoned timestamp column (``columns``: (Oracle name, zoned?) in order) as
    ``SYS_EXTRACT_UTC(column)``, under its own name: the instant survives the thin driver."""
    names = []
    for name, zoned in columns:
        if '"' in name:
            raise ValueError("an Oracle column name cannot contain a double quote")
        quoted = f'mapper_tz."{name}"'
        names.append(f'SYS_EXTRACT_UTC({quoted}) AS "{name}"' if zoned else quoted)
    return f"SELECT {', '.join(names)} FROM ({select_sql}\n) mapper_tz"


def is_zoned(type_code: Any) -> bool:
    return str(getattr(type_code, "name", type_code)).removeprefix("DB_TYPE_") in ("TIMESTAMP_TZ", "TIMESTAMP_LTZ")


def output_type_handler(utc_names: frozenset[str] = frozenset()) -> Any:
    """An ``outputtypehandler`` fetching exact values (module docstring); ``utc_names``: the columns read as
    ``SYS_EXTRACT_UTC`` (:func:`utc_select`), which get UTC attached."""
    import oracledb

    lobs = {oracledb.DB_TYPE_CLOB: oracledb.DB_TYPE_LONG, oracledb.DB_TYPE_NCLOB: oracledb.DB_TYPE_LONG_NVARCHAR,
            oracledb.DB_TYPE_BLOB: oracledb.DB_TYPE_LONG_RAW}  # fmt: skip

    def handler(cursor: Any, metadata: Any) -> Any:
        code, size = metadata.type_code, cursor.arraysize
        if code is oracledb.DB_TYPE_NUMBER:
            return cursor.var(number_python(metadata.precision, metadata.scale), arraysize=size)
        if code in lobs:
            return cursor.var(lobs[code], arraysize=size)
        if code is oracledb.DB_TYPE_TIMESTAMP and metadata.name in utc_names:
            return cursor.var(code, arraysize=size, outconverter=as_utc)
        if code is oracledb.DB_TYPE_INTERVAL_YM:
            return cursor.var(code, arraysize=size, outconverter=interval_ym_text)
        if code is oracledb.DB_TYPE_JSON:
            return cursor.var(code, arraysize=size, outconverter=json_text)
        return None

    return handler


def as_utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.timezone.utc)


def interval_ym_text(value: Any) -> str:
    """``oracledb.IntervalYM(years, months)`` as interval text PostgreSQL reads (``-1 years -2 months``)."""
    return f"{value.years} years {value.months} months"


def json_text(value: Any) -> str:
    """An Oracle JSON value as JSON text (numbers the driver returns as Decimal keep their digits)."""
    return json.dumps(value, default=_json_default, ensure_ascii=False, separators=(",", ":"))


def _json_default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() and abs(value) < 2**63 else float(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"an Oracle JSON value of type {type(value).__name__} has no JSON text")


# ---- names (README "Names across databases") -----------------------------------------------------------------

_PLAIN_LOWER = re.compile(r"^[a-z_][a-z0-9_$#]*$")
_PLAIN_UPPER = re.compile(r"^[A-Z][A-Z0-9_$#]*$")


def to_oracle_name(name: str) -> str:
    """The mapper's canonical name as Oracle stores it: a plain lower-case identifier was unquoted (``customer_id``
    -> ``CUSTOMER_ID``); any other name was quoted and keeps its case."""
    return name.upper() if _PLAIN_LOWER.match(name) else name


def from_oracle_name(name: str) -> str:
    """A name as Oracle reports it, in the mapper's canonical spelling: an all upper-case plain identifier was
    folded by Oracle (``CUSTOMER_ID`` -> ``customer_id``); any other keeps its case (``CustomerId``)."""
    return name.lower() if _PLAIN_UPPER.match(name) else name


# ---- writing to Oracle --------------------------------------------------------------------------------------


def bindable(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """``rows`` with the values python-oracledb cannot bind as Oracle stores them converted, by the values' own
    types (whatever the source): bool -> 1/0 (NUMBER(1)), dict/list -> JSON text, UUID -> text, time -> ISO text,
    an aware datetime -> its UTC wall time (the session's time zone is UTC; the thin driver drops offsets).
    Only the columns holding such values are touched."""
    if not rows:
        return rows
    fixes = set()
    for i in range(len(rows[0])):
        types = {type(r[i]) for r in rows}
        stamps = any(issubclass(t, dt.datetime) for t in types)
        if types & _CONVERT.keys() or (stamps and any(r[i] is not None and r[i].tzinfo for r in rows)):
            fixes.add(i)
    if not fixes:
        return rows
    return [tuple(_bindable(v) if i in fixes else v for i, v in enumerate(r)) for r in rows]


def input_types(rows: list[tuple[Any, ...]]) -> list[Any] | None:
    """``setinputsizes`` types for the columns whose first value is NULL and whose later values are not text (the
    driver would take the NULL for a string and refuse the next row's number, date or interval); None where no
    column needs one."""
    import oracledb

    by_type = {int: oracledb.DB_TYPE_NUMBER, decimal.Decimal: oracledb.DB_TYPE_NUMBER,
               float: oracledb.DB_TYPE_BINARY_DOUBLE, dt.datetime: oracledb.DB_TYPE_TIMESTAMP,
               dt.date: oracledb.DB_TYPE_DATE, dt.timedelta: oracledb.DB_TYPE_INTERVAL_DS}  # fmt: skip
    if not rows:
        return None
    types: list[Any] = []
    for i, first in enumerate(rows[0]):
        later = next((r[i] for r in rows if r[i] is not None), None) if first is None else None
        types.append(by_type.get(type(later)))
    return types if any(t is not None for t in types) else None


def _bindable(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    convert = _CONVERT.get(type(value))
    return value if convert is None else convert(value)


_CONVERT: dict[type, Any] = {
    bool: int,
    dict: lambda v: json.dumps(v, separators=(",", ":"), default=str),
    list: lambda v: json.dumps(v, separators=(",", ":"), default=str),
    dt.time: dt.time.isoformat,
    uuid.UUID: str,
}
