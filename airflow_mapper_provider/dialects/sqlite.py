"""SQLite's side of exact values: column types from declared types, the DDL of tables the mapper creates there,
and the codecs of the rows path (README, "Type maps").

SQLite stores any value in any column; a column's declared type only gives it an *affinity* (INTEGER, REAL,
NUMERIC, TEXT, BLOB) that converts some values on the way in. Exactness therefore rests on two rules:

- values are written in one canonical form per declared type (:func:`encoder`): a decimal as the exact text
  PostgreSQL prints (``DECIMAL_TEXT(p,s)`` has TEXT affinity: NUMERIC affinity keeps 15 digits), a timestamptz as
  ``YYYY-MM-DD HH:MM:SS[.ffffff]+00:00`` in UTC whatever the source session's TimeZone, a NaN float as the text
  ``NaN`` (SQLite turns a NaN REAL into NULL), JSON and arrays as JSON text. The same source value always gives the
  same stored value, so a second run with no source change compares equal, and text order is time order;
- values read from a SQLite source are converted by the column's declared type (:func:`decoder`) before they go to
  another database: decimal text to ``Decimal`` exactly, TIMESTAMPTZ text to an aware UTC datetime (text without an
  offset is UTC), BOOLEAN 0/1 to bool, a REAL stored as text ``NaN``/``Infinity`` to float.

``interval`` has no exact SQLite form (a month is not a number of days): :func:`refuse_unsupported` refuses
it at plan time. ``infinity``/``-infinity`` dates and timestamps are kept as those texts (they sort after and
before every date as text does).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from airflow_mapper_provider.dialects.types import Column, ColumnType
from airflow_mapper_provider.exceptions import UnsupportedError

#: Dialect name of types described by SQLite (``SqliteDialect.name``).
DIALECT = "sqlite"
#: Collation comparing decimal texts by value (registered on every SQLite connection the mapper opens).
DECIMAL_COLLATION = "MAPPER_DECIMAL"
#: The ``[type]`` of a result column alias that the mapper's SQLite connections convert on fetch
#: (``sqlite3.PARSE_COLNAMES``): ``SELECT MAX(x) AS "mapper_max [mapper_timestamptz]"`` comes back typed.
CONVERTERS = ("date", "timestamp", "timestamptz", "time", "numeric")
INFINITIES = frozenset({"infinity", "-infinity"})

Codec = Callable[[Any], Any]

_DECL = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_ ]*?)\s*(?:\(\s*(\d+)\s*(?:,\s*(-?\d+)\s*)?\))?\s*$")
_UTC = dt.timezone.utc


# ---- declared types --------------------------------------------------------------------------------------------
def column_type(declared: str) -> ColumnType | None:
    """The neutral type of a SQLite declared type (``NUMERIC(38,10)``, ``VARCHAR(20)``, ``TIMESTAMPTZ``...); None for
    a column without a declared type (an expression: typed from its values, see :func:`kind_of_storage`)."""
    text = declared.strip()
    if not text:
        return None
    found = _DECL.match(text)
    name = " ".join(found.group(1).upper().split()) if found else text.upper()
    a = int(found.group(2)) if found and found.group(2) else None
    b = int(found.group(3)) if found and found.group(3) else None
    kind = _kind_of_name(name)
    if kind == "numeric":
        return ColumnType(kind, text, DIALECT, None, a, (b or 0) if a is not None else None)
    if kind in ("varchar", "char"):
        if a is None:
            return ColumnType("text", text, DIALECT)
        return ColumnType(kind, text, DIALECT, a)
    return ColumnType(kind, text, DIALECT)


def _kind_of_name(name: str) -> str:
    exact = {
        "BOOLEAN": "bool", "BOOL": "bool",
        "SMALLINT": "smallint", "INT2": "smallint", "TINYINT": "smallint",
        "INT4": "int", "MEDIUMINT": "int",
        "DATE": "date",
        "DATETIME": "timestamp", "TIMESTAMP": "timestamp", "TIMESTAMP WITHOUT TIME ZONE": "timestamp",
        "TIMESTAMPTZ": "timestamptz", "TIMESTAMP WITH TIME ZONE": "timestamptz", "DATETIMETZ": "timestamptz",
        "TIME": "time", "TIME WITHOUT TIME ZONE": "time",
        "JSON": "json", "JSONB": "json", "JSON_TEXT": "json",
        "UUID": "uuid",
        "BLOB": "bytes", "BYTEA": "bytes",
        "TEXT": "text", "CLOB": "text", "STRING": "text",
    }  # fmt: skip
    if name in exact:
        return exact[name]
    if name.split()[0] in ("NUMERIC", "DECIMAL", "DECIMAL_TEXT", "NUMBER"):
        return "numeric"
    if "INT" in name:  # SQLite's own rule: INTEGER affinity, 64-bit values
        return "bigint"
    if any(word in name for word in ("REAL", "FLOA", "DOUB")):
        return "double"
    if "CHAR" in name:  # CHAR, CHARACTER, NCHAR: fixed; VARCHAR, NVARCHAR, CHARACTER VARYING: varying
        return "varchar" if "VAR" in name or "VARYING" in name else "char"
    return "text"


def kind_of_storage(classes: Iterable[str]) -> str:
    """The kind of an expression column from the storage classes (``typeof``) of all of its values: integers only
    bigint, reals only double, integers and reals numeric (exact for both), blobs bytes, anything else text."""
    found = {c for c in classes if c and c != "null"}
    if found == {"integer"}:
        return "bigint"
    if found == {"real"}:
        return "double"
    if found == {"integer", "real"}:
        return "numeric"
    if found == {"blob"}:
        return "bytes"
    return "text"


# ---- DDL of tables the mapper creates in SQLite ----------------------------------------------------------------
_DDL = {
    "bool": "BOOLEAN",
    "smallint": "SMALLINT",
    "int": "INTEGER",
    "bigint": "BIGINT",
    "real": "REAL",
    "double": "REAL",
    "text": "TEXT",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "timestamptz": "TIMESTAMPTZ",
    "time": "TIME",
    "bytes": "BLOB",
    "json": "JSON_TEXT",
    "uuid": "CHAR(36)",
}


def ddl(ctype: ColumnType) -> str:
    """The SQLite declared type for a column of another database's type (TEXT for enums, arrays, extension types)."""
    k = ctype.kind
    if k == "numeric":
        return f"DECIMAL_TEXT({ctype.precision},{ctype.scale or 0})" if ctype.precision else "DECIMAL_TEXT"
    if k in ("varchar", "char"):
        word = "VARCHAR" if k == "varchar" else "CHAR"
        return f"{word}({ctype.length})" if ctype.length else "TEXT"
    if _is_timetz(ctype):
        return "TIMETZ"
    return _DDL.get(k, "TEXT")


def _is_timetz(ctype: ColumnType) -> bool:
    base = ctype.native.split("(")[0].strip().lower()
    return base in ("timetz", "time with time zone") or ctype.native.upper().startswith("TIMETZ")


def refuse_unsupported(columns: Sequence[Column], database: str = "SQLite") -> None:
    """Refuse, naming the column and the fix, a source type that ``database`` cannot hold exactly: interval."""
    bad = [c.name for c in columns if c.type.kind == "interval"]
    if bad:
        name = bad[0]
        raise UnsupportedError(
            f"source column(s) {bad} have type interval, which {database} cannot hold exactly (a month is not a "
            f"number of days or seconds): cast it in source_sql, e.g. {name}::text AS {name} (its text) or "
            f"extract(epoch from {name}) AS {name} (seconds)"
        )


# ---- canonical texts -------------------------------------------------------------------------------------------
def decimal_text(value: decimal.Decimal) -> str:
    """The decimal as PostgreSQL prints it: plain notation, scale kept (``1.50``, ``0.0000001``), ``NaN``,
    ``Infinity``."""
    if value.is_nan():
        return "NaN"
    if value.is_infinite():
        return "-Infinity" if value < 0 else "Infinity"
    text = format(value, "f")
    return "0" + text[2:] if text.startswith("-0") and not value else text  # no negative zero


def timestamp_text(value: dt.datetime) -> str:
    """``YYYY-MM-DD HH:MM:SS[.ffffff]``, an aware value in UTC with ``+00:00``."""
    if value.tzinfo is not None:
        value = value.astimezone(_UTC)
    return value.isoformat(sep=" ")


def naive_utc_text(value: dt.datetime) -> str:
    """A timestamp without time zone: an aware value's UTC wall time."""
    if value.tzinfo is not None:
        value = value.astimezone(_UTC).replace(tzinfo=None)
    return value.isoformat(sep=" ")


def float_text(value: float) -> str:
    """A float as PostgreSQL prints a float8 (shortest exact form): ``NaN``, ``Infinity``, ``0.1``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return decimal_text(value)
    if isinstance(value, dt.datetime):
        return timestamp_text(value)
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "\\x" + bytes(value).hex()
    return str(value)


def json_text(value: Any) -> str:
    """JSON text of a loaded JSON value or an array, stable across runs (keys in the order the driver gave)."""
    return json.dumps(value, ensure_ascii=False, default=_json_default)


def text_of(value: Any) -> Any:
    """Any value in a text column: its canonical text; SQLite-native values (str, int, bytes) as they are."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or isinstance(value, (str, int, bytes)):
        return value
    if isinstance(value, decimal.Decimal):
        return decimal_text(value)
    if isinstance(value, float):
        return float_text(value)
    if isinstance(value, (dt.date, dt.time)):
        return timestamp_text(value) if isinstance(value, dt.datetime) else value.isoformat()
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, (dict, list, tuple)):
        return json_text(list(value) if isinstance(value, tuple) else value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.timedelta):
        raise UnsupportedError("an interval value cannot be stored exactly in SQLite: cast it in source_sql")
    return str(value)


# ---- encoding: any source value -> the stored form of a SQLite column -------------------------------------------
def _enc_int(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, decimal.Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return text_of(value)


def _enc_real(value: Any) -> Any:
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else value
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, decimal.Decimal)):
        return _enc_real(float(value))
    return text_of(value)


def _enc_decimal(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return float_text(value) if not math.isfinite(value) else decimal_text(decimal.Decimal(repr(value)))
    return text_of(value)


def _enc_bool(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else text_of(value)


def _enc_timestamptz(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return timestamp_text(value if value.tzinfo is not None else value.replace(tzinfo=_UTC))
    return text_of(value)


def _enc_timestamp(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return naive_utc_text(value)
    if isinstance(value, dt.date):
        return naive_utc_text(dt.datetime.combine(value, dt.time()))
    return text_of(value)


def _enc_blob(value: Any) -> Any:
    return bytes(value) if isinstance(value, (bytearray, memoryview)) else text_of(value)


def encoder(ctype: ColumnType | None) -> Codec:
    """The encoder for a SQLite column of (declared) type ``ctype``: what a value of any source type is stored as."""
    if ctype is None:
        return text_of
    k = ctype.kind
    if k in ("smallint", "int", "bigint"):
        return _enc_int
    if k in ("real", "double"):
        return _enc_real
    if k == "numeric":
        return _enc_decimal
    if k == "bool":
        return _enc_bool
    if k == "timestamptz":
        return _enc_timestamptz
    if k == "timestamp":
        return _enc_timestamp
    if k == "bytes":
        return _enc_blob
    return text_of


_PLAIN_KINDS = frozenset({"text", "varchar", "char", "smallint", "int", "bigint", "bytes"})


def reads_plain(ctype: ColumnType) -> bool:
    """Values of a source column of type ``ctype`` come from the driver only as str, int, bytes or None, which every
    encoder stores unchanged (SQLite's affinity then converts them as it would any bound value): no encoding
    needed. A SQLite source column is plain only with TEXT affinity (an INTEGER column may hold a REAL)."""
    if ctype.dialect == DIALECT:
        return ctype.kind in ("text", "varchar", "char") and any(w in ctype.native.upper() for w in
                                                                 ("CHAR", "CLOB", "TEXT"))  # fmt: skip
    return ctype.kind in _PLAIN_KINDS


# ---- decoding: a value stored in SQLite -> a Python value of its declared type ------------------------------------
def parse_datetime(text: str, aware: bool) -> Any:
    """Text of a SQLite timestamp as a datetime (``T`` or space separated); ``aware``: in UTC, a text without an
    offset being UTC; else naive (an offset converts to the UTC wall time). Unparseable text stays text."""
    if text in INFINITIES:
        return text
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return text
    if aware:
        return value.replace(tzinfo=_UTC) if value.tzinfo is None else value.astimezone(_UTC)
    return value if value.tzinfo is None else value.astimezone(_UTC).replace(tzinfo=None)


def _dec_decimal(value: Any) -> Any:
    if isinstance(value, bool):
        return decimal.Decimal(int(value))
    if isinstance(value, int):
        return decimal.Decimal(value)
    if isinstance(value, float):
        return decimal.Decimal(repr(value))
    if isinstance(value, str):
        try:
            return decimal.Decimal(value.strip())
        except decimal.InvalidOperation:
            return value
    return value


def _dec_float(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _dec_bool(value: Any) -> Any:
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("0", "1", "true", "false", "t", "f"):
        return value.strip().lower() in ("1", "true", "t")
    return value


def _dec_timestamptz(value: Any) -> Any:
    return parse_datetime(value, aware=True) if isinstance(value, str) else value


def _dec_timestamp(value: Any) -> Any:
    return parse_datetime(value, aware=False) if isinstance(value, str) else value


def identity(value: Any) -> Any:
    return value


def decoder(ctype: ColumnType) -> Codec:
    """The decoder of values stored in a SQLite column of type ``ctype`` (as :func:`column_type` reads it)."""
    return {
        "numeric": _dec_decimal,
        "real": _dec_float,
        "double": _dec_float,
        "bool": _dec_bool,
        "timestamptz": _dec_timestamptz,
        "timestamp": _dec_timestamp,
    }.get(ctype.kind, identity)


def convert_fetched(kind: str, raw: bytes) -> Any:
    """``sqlite3`` converter of a ``[mapper_<kind>]`` result column (``raw``: the value's text as bytes)."""
    text = raw.decode("utf-8")
    if kind == "timestamptz":
        return parse_datetime(text, aware=True)
    if kind == "timestamp":
        return parse_datetime(text, aware=False)
    if kind == "numeric":
        return _dec_decimal(text)
    try:
        return (dt.date if kind == "date" else dt.time).fromisoformat(text)
    except ValueError:
        return text


def decimal_order(a: str, b: str) -> int:
    """Collation :data:`DECIMAL_COLLATION`: decimal texts by value, PostgreSQL's order (NaN above every number);
    texts that are no decimal after all numbers, in code point order."""
    (ca, x), (cb, y) = _decimal_key(a), _decimal_key(b)
    if ca != cb:
        return -1 if ca < cb else 1
    if ca == 2:
        return 0
    return -1 if x < y else (1 if x > y else 0)


def _decimal_key(text: str) -> tuple[int, Any]:
    try:
        value = decimal.Decimal(text.strip())
    except (decimal.InvalidOperation, ValueError):
        return 3, text
    if value.is_nan():
        return 2, None
    return 1, value
