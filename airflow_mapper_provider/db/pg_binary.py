"""Rows into PostgreSQL by binary COPY, typed by the table's own column types (``copy.set_types``).

The rows path (any source that is not a PostgreSQL binary relay: Oracle, SQLite, MySQL...) writes its batches
with ``COPY ... (FORMAT BINARY)`` when every column of the table has a base type whose binary form the driver
writes exactly from the batch's values (:data:`BINARY_VALUES`: ``Decimal``/int into numeric, naive datetimes into
timestamp, aware ones into timestamptz, ...). A batch holding any other value (text for a timestamp, a float for
numeric, a naive datetime for timestamptz) goes by text COPY instead, exactly as before: each batch is checked,
and the COPY switches format between batches when it must (two COPY statements in one transaction). So a value
reaches the table as the text path would have written it, only without being formatted and parsed as text.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import uuid
from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import Any

#: The table's column types (``pg_type.typname``), by column name; none for a table that does not exist.
COLUMN_TYPES = (
    "SELECT a.attname, t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
    "WHERE a.attrelid = to_regclass(%(t)s) AND a.attnum > 0 AND NOT a.attisdropped"
)
_BYTES = frozenset({bytes, bytearray, memoryview})
_STR = frozenset({str})
#: Per PostgreSQL base type: the Python types (exactly these, no subclasses) whose binary form the driver's dumper
#: for that type writes without changing the value.
BINARY_VALUES: dict[str, frozenset[type]] = {
    "int2": frozenset({int}),
    "int4": frozenset({int}),
    "int8": frozenset({int}),
    "numeric": frozenset({int, decimal.Decimal}),
    "float4": frozenset({float}),
    "float8": frozenset({float}),
    "bool": frozenset({bool}),
    "text": _STR,
    "varchar": _STR,
    "bpchar": _STR,
    "bytea": _BYTES,
    "date": frozenset({dt.date}),
    "timestamp": frozenset({dt.datetime}),
    "timestamptz": frozenset({dt.datetime}),
    "time": frozenset({dt.time}),
    "interval": frozenset({dt.timedelta}),
    "uuid": frozenset({uuid.UUID}),
}
#: The type whose dumper writes a column's binary form, where it is another type's: bpchar has no dumper of its
#: own, and its binary input is text's (the server pads it to the column's length).
_DUMPED_AS = {"bpchar": "text"}
#: Types whose datetimes must be naive (False) or aware (True).
_ZONED = {"timestamp": False, "timestamptz": True, "time": False}


class BatchCheck:
    """Does a batch's every value fit the binary COPY of columns typed ``types``?"""

    def __init__(self, types: Sequence[str]) -> None:
        self.types = list(types)
        self._checks = [(itemgetter(i), BINARY_VALUES[t] | {type(None)}, _ZONED.get(t)) for i, t in enumerate(types)]

    def fits(self, rows: list[tuple[Any, ...]]) -> bool:
        for pick, allowed, zoned in self._checks:
            values = list(map(pick, rows))
            if not set(map(type, values)) <= allowed:
                return False
            if zoned is not None and any(v is not None and (v.tzinfo is not None) != zoned for v in values):
                return False
        return True


def binary_types(found: Iterable[tuple[str, str]], columns: Sequence[str]) -> list[str] | None:
    """The types of ``columns`` from the table's (name, type) rows, or None where a column is missing or of a
    type outside :data:`BINARY_VALUES` (an enum, a domain, json, an array: text COPY then)."""
    by_name = dict(found)
    types = [by_name.get(c) for c in columns]
    if any(t not in BINARY_VALUES for t in types):
        return None
    return [str(t) for t in types]


def copy_batches(
    conn: Any, binary_sql: str, text_sql: str, types: Sequence[str], batches: Iterable[list[tuple[Any, ...]]]
) -> int:
    """Write ``batches`` by binary COPY typed ``types`` where :class:`BatchCheck` allows, else by text COPY."""
    check, n, mode = BatchCheck(types), 0, None
    with contextlib.ExitStack() as stack:
        copy: Any = None
        for rows in batches:
            if not rows:
                continue
            binary = check.fits(rows)
            if binary is not mode:
                stack.close()  # ends the COPY of the other format (rows written so far stay in the transaction)
                cur = stack.enter_context(conn.cursor())
                copy = stack.enter_context(cur.copy(binary_sql if binary else text_sql))
                if binary:
                    copy.set_types([_DUMPED_AS.get(t, t) for t in types])
                mode = binary
            for row in rows:
                copy.write_row(row)
            n += len(rows)
    return n
