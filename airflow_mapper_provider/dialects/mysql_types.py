"""MySQL / MariaDB types: neutral kinds to DDL, column types as the server reports them, value conversions.

README "Type maps", MySQL: timestamptz is stored as a UTC ``DATETIME(6)`` (MySQL's ``TIMESTAMP`` ends in 2038 and
converts by the session time zone); booleans are ``TINYINT(1)``; text is ``LONGTEXT`` except where it must be
indexed (keys: ``VARCHAR(n)``, 512 characters shared by the text key columns, so that every index over them fits
InnoDB's 3072-byte key limit at 4 bytes per utf8mb4 character); every table and staging table the mapper creates
uses utf8mb4 with a binary NO PAD collation, so ``=`` on text is identity (``'a' <> 'A'``, ``'a' <> 'a '``) as on
PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from typing import Any

from airflow_mapper_provider.dialects.types import Column, ColumnType
from airflow_mapper_provider.exceptions import UnsupportedError

DIALECT = "mysql"
#: InnoDB's largest index key (DYNAMIC/COMPRESSED rows), in bytes; utf8mb4 takes up to 4 bytes a character.
KEY_BYTES = 3072
CHAR_BYTES = 4
#: Bytes of a key index for the text key columns: 512 utf8mb4 characters, so that the widest index over them fits
#: InnoDB's limit (the key table's: the key plus its VARCHAR(250) run id, 1,000 bytes).
TEXT_KEY_BUDGET = 2048
#: MySQL DECIMAL: at most 65 digits, 30 of them after the point.
MAX_PRECISION, MAX_SCALE = 65, 30
#: Longest varchar(n) kept as VARCHAR(n) (longer ones become LONGTEXT: InnoDB rows hold at most 65,535 bytes of
#: VARCHAR declarations).
MAX_VARCHAR = 255

_DDL = {
    "bool": "TINYINT(1)",
    "smallint": "SMALLINT",
    "int": "INT",
    "bigint": "BIGINT",
    "real": "FLOAT",
    "double": "DOUBLE",
    "text": "LONGTEXT",
    "date": "DATE",
    "timestamp": "DATETIME(6)",
    "timestamptz": "DATETIME(6)",
    "time": "TIME(6)",
    "bytes": "LONGBLOB",
    "json": "JSON",
    "uuid": "CHAR(36)",
    "other": "LONGTEXT",
}
#: Kinds whose default DDL cannot be indexed without a length.
UNINDEXABLE = frozenset({"text", "bytes", "json", "other"})

_NATIVE_KINDS = {
    "tinyint": "smallint",
    "smallint": "smallint",
    "mediumint": "int",
    "int": "int",
    "integer": "int",
    "bigint": "bigint",
    "decimal": "numeric",
    "numeric": "numeric",
    "float": "real",
    "double": "double",
    "real": "double",
    "char": "char",
    "varchar": "varchar",
    "tinytext": "text",
    "text": "text",
    "mediumtext": "text",
    "longtext": "text",
    "enum": "text",
    "set": "text",
    "json": "json",
    "date": "date",
    "datetime": "timestamp",
    "timestamp": "timestamptz",
    "time": "time",
    "year": "smallint",
    "binary": "bytes",
    "varbinary": "bytes",
    "tinyblob": "bytes",
    "blob": "bytes",
    "mediumblob": "bytes",
    "longblob": "bytes",
    "bit": "bytes",
    "uuid": "uuid",
}
#: Unsigned integers need the next wider kind to hold their largest values.
_UNSIGNED_WIDER = {"smallint": "int", "int": "bigint"}
_NATIVE = re.compile(r"^([a-z]+)(?:\((\d+)(?:,(\d+))?\))?(.*)$")


def kind_ddl(ctype: ColumnType) -> str:
    """DDL of a neutral type (a column that is not a key)."""
    k = ctype.kind
    if k == "numeric":
        return numeric_ddl(ctype)
    if k in ("varchar", "char") and ctype.length:
        if ctype.length <= MAX_VARCHAR:
            return f"{'VARCHAR' if k == 'varchar' else 'CHAR'}({ctype.length})"
        return "LONGTEXT"
    if k == "char":
        return "CHAR(1)"
    if k == "interval":
        raise UnsupportedError("interval has no exact MySQL type")  # refused at plan time (refuse_unsupported)
    return _DDL.get(k, "LONGTEXT")


def numeric_ddl(ctype: ColumnType) -> str:
    """DECIMAL(p,s) as declared; an unconstrained numeric gets MySQL's widest, DECIMAL(65,30)."""
    if not ctype.precision:
        return f"DECIMAL({MAX_PRECISION},{MAX_SCALE})"
    return f"DECIMAL({ctype.precision},{ctype.scale or 0})"


def key_ddl(ctype: ColumnType, text_keys: int) -> str:
    """DDL of a key column: indexable (text as VARCHAR(n) within the key budget shared by ``text_keys`` text key
    columns, bytes as VARBINARY(n)); a longer value is refused by the database (error 1406)."""
    per_key = TEXT_KEY_BUDGET // max(text_keys, 1)
    k = ctype.kind
    if k in ("varchar", "char", "text", "json", "other"):
        chars = per_key // CHAR_BYTES
        n = min(ctype.length, chars) if ctype.length and k != "json" else chars
        return f"{'CHAR' if k == 'char' and ctype.length else 'VARCHAR'}({n})"
    if k == "bytes":
        return f"VARBINARY({per_key})"
    return kind_ddl(ctype)


def needs_key_ddl(ctype: ColumnType) -> bool:
    return ctype.kind in UNINDEXABLE or (ctype.kind in ("varchar", "char") and not _short(ctype))


def _short(ctype: ColumnType) -> bool:
    return bool(ctype.length) and (ctype.length or 0) * CHAR_BYTES <= TEXT_KEY_BUDGET


def refuse_unsupported(columns: Sequence[Column]) -> None:
    """Refuse (plan time, naming the column and the fix) types MySQL cannot hold exactly: interval; numeric
    wider than DECIMAL(65,30)."""
    for c in columns:
        t = c.type
        if t.kind == "interval":
            raise UnsupportedError(
                f"source column {c.name!r} has type interval, which MySQL cannot hold exactly (a month is not a number"
                f" of days): cast it in source_sql, e.g. {c.name}::text AS {c.name}"
            )
        if t.kind == "numeric" and ((t.precision or 0) > MAX_PRECISION or (t.scale or 0) > MAX_SCALE):
            raise UnsupportedError(
                f"source column {c.name!r} is {t.native or 'numeric'}: MySQL's DECIMAL holds at most "
                f"{MAX_PRECISION} digits, {MAX_SCALE} after the point; cast it in source_sql (e.g. to numeric(65,30))"
            )


def column_type(native: str) -> ColumnType:
    """ColumnType from the type text ``SHOW COLUMNS`` reports (``decimal(12,2)``, ``bigint(20) unsigned``,
    ``tinyint(1)``, ``datetime(6)``)."""
    text = native.strip().lower()
    match = _NATIVE.match(text)
    if not match:
        return ColumnType("other", native, DIALECT)
    base, a, b, rest = match.groups()
    kind = _NATIVE_KINDS.get(base, "other")
    if base == "tinyint" and a == "1":
        kind = "bool"  # MySQL's BOOLEAN
    length = int(a) if a and kind in ("varchar", "char") else None
    precision = int(a) if a and kind == "numeric" else None
    if "unsigned" in rest and kind == "bigint":
        kind, precision = "numeric", 20  # up to 18446744073709551615
    elif "unsigned" in rest:
        kind = _UNSIGNED_WIDER.get(kind, kind)
    scale = (int(b) if b else 0) if kind == "numeric" else None
    return ColumnType(kind, native, DIALECT, length, precision, scale)


# ---- values ---------------------------------------------------------------------------------------------------
def utc_naive(value: Any) -> Any:
    """An aware datetime as the naive UTC wall time a DATETIME stores; everything else as it is."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def fraction_digits(ctype: ColumnType) -> int | None:
    """Fractional second digits a MySQL DATETIME/TIMESTAMP/TIME column keeps (``datetime`` alone: 0); None for
    other types."""
    base = ctype.native.strip().lower()
    if not base.startswith(("datetime", "timestamp", "time")):
        return None
    found = re.match(r"^\w+\((\d)\)", base)
    return int(found.group(1)) if found else 0


def encoder(ctype: ColumnType) -> Callable[[Any], Any] | None:
    """The conversion of a value of neutral type ``ctype`` (another database's) before PyMySQL binds it; None where
    the driver binds it as it is."""
    if ctype.kind in ("timestamptz", "timestamp"):
        return utc_naive
    if ctype.kind in ("uuid", "other", "interval"):
        return _text
    return None


def _text(value: Any) -> Any:
    return None if value is None or isinstance(value, (str, bytes)) else str(value)


def decoder(ctype: ColumnType) -> Callable[[Any], Any] | None:
    """The conversion of a value this database returned for a column of type ``ctype`` into the value the type
    means for another database; None where the driver's value is already that."""
    if ctype.kind == "bool":
        return to_bool
    if ctype.kind == "timestamptz":
        return _aware_utc
    if ctype.kind == "time":
        return to_time
    return None


def to_bool(value: Any) -> Any:
    """TINYINT(1) to bool: only 0 and 1 are booleans; any other number is refused (a data error for that row)."""
    if value is None or isinstance(value, bool):
        return value
    if value in (0, 1):
        return bool(value)
    raise ValueError(f"TINYINT(1) value {value!r} is not a boolean (0 or 1)")


def _aware_utc(value: Any) -> Any:
    # TIMESTAMP columns come back in the session time zone, which MySqlSession sets to UTC
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


def to_time(value: Any) -> Any:
    """PyMySQL returns TIME as a timedelta (MySQL's TIME spans -838..838 hours): a time of day where it is one."""
    if isinstance(value, dt.timedelta):
        if not dt.timedelta(0) <= value < dt.timedelta(days=1):
            raise ValueError("TIME value outside 00:00:00..23:59:59.999999 is not a time of day")
        return (dt.datetime.min + value).time()
    return value
