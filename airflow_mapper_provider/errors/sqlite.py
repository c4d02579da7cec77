"""SQLite errors by (extended) result code, and the column a refused bind parameter belongs to."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from airflow_mapper_provider.errors.base import _CAST, DATA, PERMANENT, TRANSIENT, DbError, _first_line, _without_values

_SQLITE_TRANSIENT = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_PROTOCOL")
_SQLITE_DATA = ("SQLITE_CONSTRAINT", "SQLITE_MISMATCH", "SQLITE_TOOBIG", "SQLITE_RANGE")
#: Primary SQLite result codes by number, for extended codes this Python's sqlite3 cannot name (``unknown``), such
#: as SQLITE_CONSTRAINT_DATATYPE (3091: a STRICT table refused a value's type).
_SQLITE_PRIMARY = {5: "SQLITE_BUSY", 6: "SQLITE_LOCKED", 15: "SQLITE_PROTOCOL", 18: "SQLITE_TOOBIG",
                   19: "SQLITE_CONSTRAINT", 20: "SQLITE_MISMATCH", 25: "SQLITE_RANGE"}  # fmt: skip
_SQLITE_EXTENDED = {3091: "SQLITE_CONSTRAINT_DATATYPE"}


def _sqlite(exc: BaseException) -> DbError:
    full = str(exc)
    name = type(exc).__name__
    code = _sqlite_code(exc)
    if code is None:  # raised by Python's sqlite3 itself (binding, API misuse): deterministic
        kind = DATA if name == "DataError" else PERMANENT
        code = f"sqlite3.{name}"
    elif code.startswith(_SQLITE_TRANSIENT):
        kind = TRANSIENT
    elif code.startswith(_SQLITE_DATA) or name == "DataError":
        kind = DATA
    else:
        kind = PERMANENT
    message = _first_line(full)
    table, column, datatype, fix = _sqlite_parts(message)
    if kind == DATA:
        message = _without_values(message, set())
    where = ", ".join(f"{w} {v}" for w, v in (("table", table), ("column", column), ("type", datatype)) if v)
    text = f"{name} ({code}): {message}" + (f" ({where})" if where else "") + (f": {fix}" if fix else "")
    return DbError(code, kind, text, full, table, column, datatype)


def _sqlite_code(exc: BaseException) -> str | None:
    name = getattr(exc, "sqlite_errorname", None)
    number = getattr(exc, "sqlite_errorcode", None)
    if name and name != "unknown":
        return str(name)
    if isinstance(number, int):
        return _SQLITE_EXTENDED.get(number) or _SQLITE_PRIMARY.get(number & 0xFF, f"SQLITE_{number}")
    return None


def _sqlite_parts(message: str) -> tuple[str | None, str | None, str | None, str]:
    """(table, column(s), type, fix) from a SQLite message; SQLite names columns as ``table.column``."""
    ident = r"[A-Za-z_][A-Za-z0-9_$]*"
    found = re.match(rf"(NOT NULL|UNIQUE) constraint failed: ({ident})\.({ident}(?:, {ident}\.{ident})*)", message)
    if found:
        columns = ", ".join(part.split(".")[-1] for part in found.group(3).split(", "))
        fix = (
            "a NULL in a NOT NULL column: fill it in source_sql (COALESCE) or allow NULL in the target"
            if found.group(1) == "NOT NULL"
            else "the key already exists in the target (unique constraint): drop the duplicate in source_sql"
        )
        return found.group(2), columns, None, fix
    if message.startswith("CHECK constraint failed"):
        return None, None, None, "the row breaks the target's check constraint: fix the value in source_sql"
    found = re.match(rf"cannot store (\w+) value in (\w+) column ({ident})\.({ident})", message)
    if found:
        fix = f"the STRICT table's {found.group(2)} column refuses a {found.group(1)} value: {_CAST}"
        return found.group(3), found.group(4), found.group(2), fix
    if message == "datatype mismatch":
        return None, None, None, "a value does not fit the column's type (an INTEGER PRIMARY KEY takes integers only)"
    found = re.match(
        r"Error binding parameter \S+?:? (?:- probably unsupported type|type '([\w.]+)' is not supported)", message
    )
    if found:
        what = f"a Python {found.group(1)} value" if found.group(1) else "a value of this type"
        return None, None, None, f"SQLite cannot store {what}: {_CAST} (to text, for example)"
    if "only execute one statement at a time" in message:
        return None, None, None, "the driver runs one statement at a time: source_sql must be a single SELECT"
    if message.startswith("Incorrect number of bindings"):
        return None, None, None, "the statement and its parameters disagree (a mapper bug: please report it)"
    if "too big" in message:
        return None, None, None, "a text or blob value passes SQLite's size limit: shorten it in source_sql"
    return None, None, None, ""


def _bound_column(found: DbError, statement: Any) -> DbError:
    """sqlite3 names a refused bind parameter by number: the INSERT's column list says which column it is."""
    number = re.search(r"Error binding parameter (\d+)", found.full)
    if number is None or not isinstance(statement, str):
        return found
    column = _insert_column(statement, int(number.group(1)) - 1)
    if column is None:
        return found
    text = found.text.replace(f"({found.code}):", f"({found.code}) [column {column}]:", 1)
    return replace(
        found, text=text.replace("the column in source_sql", f"column {column} in source_sql"), column=column
    )


def _insert_column(statement: str, index: int) -> str | None:
    found = re.search(r"\(([^()]*)\)\s*VALUES\s*\(([^()]*)\)", statement, re.IGNORECASE)
    if found is None:
        return None
    columns = [c.strip().strip('"') for c in found.group(1).split(",")]
    marks = [m.strip() for m in found.group(2).split(",")]
    if len(columns) != len(marks) or not 0 <= index < len(columns):
        return None
    return columns[index]


# ---- Python errors raised by a driver while binding ---------------------------------------------------------
