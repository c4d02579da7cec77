"""Database errors by their code: transient (retry), data (a row the target refuses) or permanent (fail now).

PostgreSQL errors are classified by SQLSTATE, Oracle by ORA-/DPY- code, SQLite by its extended result code. Errors a
driver raises without a server code are classified too: connection loss stays transient; a value the driver cannot
convert or bind (psycopg ``DataError`` / ``ProgrammingError``, sqlite3 ``ProgrammingError`` / ``InterfaceError`` /
``DataError``, and ``TypeError`` / ``ValueError`` / ``OverflowError`` raised while binding) is deterministic: it
fails the same way on every retry, so it is a data error (one row's value) or permanent, never transient.

:func:`classify` also renders a *safe* text for logs, XCom, the job log and task failures: the code, the condition
with every quoted value removed, the identifiers (table, column, constraint, type) and the fix. Row values never
appear in it. The database's full message, which may quote values, is kept only for ``mapper_rejects``
(:attr:`DbError.full`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any

from airflow_mapper_provider.exceptions import MapperError

TRANSIENT, DATA, PERMANENT = "transient", "data", "permanent"

#: SQLSTATE classes and codes worth a retry: connection lost or refused, server shutting down, serialization
#: failure, deadlock, lock timeout, too many connections, out of memory, statement cancelled.
_PG_TRANSIENT_CLASSES = ("08",)
_PG_TRANSIENT = frozenset({"40001", "40P01", "55P03", "57P01", "57P02", "57P03", "53300", "53200", "57014"})
#: Data exception and integrity constraint violation: one row's fault.
_PG_DATA_CLASSES = ("22", "23")

#: Oracle codes worth a retry: connection lost or refused (python-oracledb reports most of the ORA- family as
#: DPY-4011, the message keeping the ORA- line), listener and instance not ready, deadlock (ORA-00060), resource
#: busy (ORA-00054), snapshot too old (ORA-01555), serialization (ORA-08177), cancelled (ORA-01013).
_ORA_TRANSIENT = frozenset(
    {
        *(f"ORA-{n:05d}" for n in (51, 54, 60, 1012, 1013, 1033, 1034, 1089, 1090, 1555, 2396, 3113, 3114, 3135)),
        *(f"ORA-{n:05d}" for n in (8177, 12170, 12505, 12514, 12516, 12519, 12520, 12528, 12537, 12541, 12547)),
        *(f"ORA-{n:05d}" for n in (12560, 12571, 25408, 30006)),
        *("DPY-4011", "DPY-6005", "DPY-4024", "DPY-6000", "DPI-1080"),
    }
)
#: One row's fault: constraint violations, NULL into NOT NULL, values too large or not convertible.
_ORA_DATA = frozenset(
    f"ORA-{n:05d}"
    for n in (1, 1400, 1401, 1407, 1438, 1722, 1830, 1840, 1841, 1843, 1847, 1858, 1861, 2290, 2291, 12899)
)
#: The condition (never a value: Oracle 23ai messages quote them) and the fix of an Oracle data error.
_ORA_FIX = {
    "ORA-00001": (
        "unique constraint violated",
        "the key already exists in the target: load it with scd1/scd2, or drop the duplicate in source_sql",
    ),
    "ORA-01400": (
        "cannot insert NULL",
        "a NULL (or an empty string: Oracle stores '' as NULL) in a NOT NULL "
        "column: fill it in source_sql (COALESCE/NVL) or allow NULL in the target",
    ),
    "ORA-01438": (
        "value larger than the column's precision",
        "widen the target column's NUMBER, or round the value in source_sql",
    ),
    "ORA-01722": ("invalid number", "a text value does not convert to a number: " + "{cast}"),
    "ORA-12899": ("value too large for column", "widen the target column, or shorten the value in source_sql"),
    "ORA-02290": ("check constraint violated", "fix the value in source_sql or relax the constraint"),
    "ORA-02291": ("parent key not found", "load the referenced table first"),
}
_ORA_IDENT = re.compile(r'"([^"]+)"\."([^"]+)"(?:\."([^"]+)")?')


def oracle_kind(code: str | None) -> str:
    """:data:`TRANSIENT`, :data:`DATA` or :data:`PERMANENT` for an ORA-/DPY- code."""
    if code in _ORA_TRANSIENT:
        return TRANSIENT
    return DATA if code in _ORA_DATA else PERMANENT


_SQLITE_TRANSIENT = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_PROTOCOL")
_SQLITE_DATA = ("SQLITE_CONSTRAINT", "SQLITE_MISMATCH", "SQLITE_TOOBIG", "SQLITE_RANGE")
#: Primary SQLite result codes by number, for extended codes this Python's sqlite3 cannot name (``unknown``), such
#: as SQLITE_CONSTRAINT_DATATYPE (3091: a STRICT table refused a value's type).
_SQLITE_PRIMARY = {5: "SQLITE_BUSY", 6: "SQLITE_LOCKED", 15: "SQLITE_PROTOCOL", 18: "SQLITE_TOOBIG",
                   19: "SQLITE_CONSTRAINT", 20: "SQLITE_MISMATCH", 25: "SQLITE_RANGE"}  # fmt: skip
_SQLITE_EXTENDED = {3091: "SQLITE_CONSTRAINT_DATATYPE"}
#: Modules whose frames, innermost in a traceback, mean a Python error was raised by the driver while binding
#: or converting a value (sqlite3 binds in C: the innermost Python frame is SQLAlchemy's execute).
_DRIVER_MODULES = ("sqlalchemy.engine", "sqlalchemy.sql", "psycopg", "sqlite3", "oracledb", "pymysql", "MySQLdb")
#: MySQL / MariaDB drivers (classified in :mod:`airflow_mapper_provider.db.mysql_errors`).
_MYSQL_MODULES = ("pymysql", "MySQLdb")

#: Python errors a driver raises while binding or converting a value.
_BINDING = (TypeError, ValueError, OverflowError)

_CAST = "cast or clean the column in source_sql"
#: The fix for a PostgreSQL data error, by SQLSTATE (``{col}``: "column x" or "the column").
_PG_FIX = {
    "22001": "the value is longer than {col}'s type allows: widen the target column, or shorten the value in "
    "source_sql",
    "22003": "the value is out of range for {col}'s type: widen the target column's type, or " + _CAST,
    "22P02": "the value is not a valid value of {col}'s type: " + _CAST,
    "22007": "the value is not a valid date/time for {col}: " + _CAST,
    "22008": "the date/time value is out of range for {col}: " + _CAST,
    "22018": "the value does not convert to {col}'s type: " + _CAST,
    "22021": "a text value holds bytes the target's encoding refuses (such as NUL): clean {col} in source_sql",
    "22P05": "a text value holds a character the target's encoding cannot store: clean {col} in source_sql",
    "23502": "a NULL in NOT NULL {col}: fill it in source_sql (COALESCE) or allow NULL in the target",
    "23505": "the key already exists in the target (unique constraint): load it with scd1/scd2, or drop the "
    "duplicate in source_sql",
    "23503": "the row references a key missing from the referenced table (foreign key): load that table first",
    "23514": "the row breaks the target's check constraint: fix the value in source_sql or relax the constraint",
    "21000": "the chunk holds a key twice: make the key unique in source_sql",
    "22012": "an expression divides by zero: guard it in source_sql (e.g. NULLIF(divisor, 0))",
}
_PG_FIX_CLASS = {
    "22": "a value or an expression is invalid for its type: fix it in source_sql or " + _CAST,
    "23": "the row breaks a target constraint",
}


@dataclass(frozen=True)
class DbError:
    """A classified database error. ``text`` is safe to log; ``full`` may quote row values.

    :param code: SQLSTATE, ORA-/DPY- code, SQLite result name, or the driver's exception class where the
        driver raised it without a code (``psycopg.DataError``, ``sqlite3.ProgrammingError``, ``OverflowError``).
    :param kind: :data:`TRANSIENT`, :data:`DATA` or :data:`PERMANENT`.
    :param text: safe text: code, condition without values, identifiers, fix.
    :param full: the database's own message (for ``mapper_rejects`` only).
    :param table: the table named by the error, where known.
    :param column: the column named by the error, where known.
    :param datatype: the type named by the error's message (``character varying(3)``, ``smallint``), where any:
        :func:`name_column` finds the column by it.
    """

    code: str | None
    kind: str
    text: str
    full: str
    table: str | None = None
    column: str | None = None
    datatype: str | None = None

    @property
    def retryable(self) -> bool:
        return self.kind == TRANSIENT


def classify(exc: BaseException) -> DbError | None:
    """Classify ``exc`` (or the DBAPI error a SQLAlchemy error wraps); None when it is not a database error."""
    if isinstance(exc, MapperError):
        return None
    orig = getattr(exc, "orig", None)
    if orig is not None and _is_db_error(orig):
        found = classify(orig)
        if found is not None and getattr(exc, "connection_invalidated", False):
            return replace(found, kind=TRANSIENT)
        if found is not None and found.column is None:  # sqlite3 names the parameter: the statement names its column
            found = _bound_column(found, getattr(exc, "statement", None))
        return found
    if (by_driver := _sqlite_or_mysql(exc)) is not None:  # before sqlstate: PyMySQL 1.2 sets it too
        return by_driver
    if getattr(exc, "sqlstate", None) is not None or _module(exc).startswith("psycopg"):
        return _postgres(exc)
    if exc.args and hasattr(exc.args[0], "full_code"):
        return _oracle(exc)
    if isinstance(orig, _BINDING) and _module(exc).startswith("sqlalchemy"):
        return _binding(orig, exc.__traceback__)  # a bind processor refused a value (sqlalchemy StatementError)
    if isinstance(exc, _BINDING) and _raised_by_driver(exc.__traceback__):
        return _binding(exc, exc.__traceback__)
    return None


def _sqlite_or_mysql(exc: BaseException) -> DbError | None:
    if _module(exc) == "sqlite3" or getattr(exc, "sqlite_errorname", None):
        return _sqlite(exc)
    if _module(exc).startswith(_MYSQL_MODULES):
        from airflow_mapper_provider.db import mysql_errors

        return mysql_errors.classify(exc)
    return None


def name_column(found: DbError, table: str, columns: Mapping[str, str]) -> DbError:
    """``found`` with the table it was written to and, where the error names no column, the column it must be.

    For errors raised by an ``INSERT ... SELECT`` or ``UPDATE`` (PostgreSQL names no column for 22001 "value too
    long for type character varying(3)" or 22003 "smallint out of range"): ``columns`` maps the written columns'
    names to their types as the database spells them (``format_type``: ``character varying(3)``, ``smallint``,
    ``numeric(5,2)``); the one column of the type the message names is the column; several are all named.

    :param found: a classified error.
    :param table: the table written to, for the message.
    :param columns: column name -> type name, of the columns the statement wrote.
    """
    if found.kind != DATA:
        return found
    column = found.column or _column_of_type(found.datatype, columns)
    parts = [f"table {table}"] if found.table != table else []
    if column and not found.column:
        parts.append(f"column {column}")
    if not parts:
        return found
    text = found.text.replace(")", f") [{', '.join(parts)}]", 1)
    if column and not found.column:
        text = text.replace("the column", f"column {column}")
    return replace(found, text=text, table=table, column=column)


def _column_of_type(datatype: str | None, columns: Mapping[str, str]) -> str | None:
    if not datatype:
        return None
    want = _norm_type(datatype)
    matches = [n for n, t in columns.items() if _norm_type(t) == want]
    if not matches and "(" not in want:  # "integer out of range" names the type without its modifiers
        matches = [n for n, t in columns.items() if _norm_type(t).split("(")[0] == want]
    return " or ".join(matches) or None


def describe_error(exc: BaseException) -> str:
    """Error text safe for logs, the ledger and task failures: our own messages or the classified database text."""
    if isinstance(exc, MapperError):
        return str(exc)
    found = classify(exc)
    return found.text if found is not None else type(exc).__name__


# ---- PostgreSQL ---------------------------------------------------------------------------------------------


def _postgres(exc: BaseException) -> DbError:
    code = getattr(exc, "sqlstate", None)
    full = str(exc)
    if code is None:
        return _psycopg_without_sqlstate(exc, full)
    if code.startswith(_PG_DATA_CLASSES) or code == "21000":
        kind = DATA
    elif code.startswith(_PG_TRANSIENT_CLASSES) or code in _PG_TRANSIENT:
        kind = TRANSIENT
    else:
        kind = PERMANENT
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) or _first_line(full)
    context = getattr(diag, "context", None) or ""
    copy = re.match(r"COPY (\S+), line \d+(?:, column ([A-Za-z_][A-Za-z0-9_$]*))?", context)
    table = getattr(diag, "table_name", None) or (copy.group(1) if copy else None)
    column = getattr(diag, "column_name", None) or (copy.group(2) if copy else None)
    constraint = getattr(diag, "constraint_name", None)
    names = {n for n in (table, column, constraint, getattr(diag, "schema_name", None)) if n}
    datatype = getattr(diag, "datatype_name", None) or _pg_datatype(primary, getattr(diag, "message_detail", None))
    condition = _without_values(primary, names) if kind == DATA else primary
    where = ", ".join(
        f"{what} {value}"
        for what, value in (("table", table), ("column", column), ("constraint", constraint), ("type", datatype))
        if value
    )
    text = f"{type(exc).__name__} (SQLSTATE {code}): {condition}" + (f" ({where})" if where else "")
    if kind == DATA:
        fix = _PG_FIX.get(code) or _PG_FIX_CLASS.get(code[:2], "")
        text += ": " + fix.format(col=f"column {column}" if column else "the column") if fix else ""
    return DbError(code, kind, text, full, table, column, datatype)


def _psycopg_without_sqlstate(exc: BaseException, full: str) -> DbError:
    """psycopg raised it itself: the connection broke (transient), or a value did not convert (deterministic)."""
    name = type(exc).__name__
    condition = _without_values(_first_line(full), set())
    if name in ("OperationalError", "InterfaceError"):  # closed by the server, network, cancelled login
        return DbError(None, TRANSIENT, f"{name}: {condition}", full)
    if name == "DataError":  # loading a value into Python, or dumping one, failed: that row's value
        if re.search(r"(date|timestamp).*too (large|small)", full):
            fix = (
                "the source returned a date/timestamp Python cannot hold (infinity, -infinity, or a year "
                "outside 1..9999): cast the column to text in source_sql, or replace such values there"
            )
        elif "NUL" in full:
            fix = "a text value holds a NUL character, which PostgreSQL cannot store: clean the column in source_sql"
        else:
            fix = "the driver cannot convert a value: " + _CAST
        return DbError("psycopg.DataError", DATA, f"{name} (psycopg): {condition}: {fix}", full)
    fix = ""
    adapt = re.search(r"cannot (?:adapt|dump) type '([\w.]+)'", full)
    if adapt:
        fix = f": the driver cannot send a Python {adapt.group(1)} value: {_CAST} (to text, for example)"
    return DbError(f"psycopg.{name}", PERMANENT, f"{name} (psycopg): {condition}{fix}", full)


def _pg_datatype(primary: str, detail: str | None) -> str | None:
    """The type a PostgreSQL data error's message names (never a value)."""
    for pattern in (
        r"value too long for type (.+)$",
        r"out of range for type (\S+)",
        r"invalid input syntax for type (.+?):",
        r"^(smallint|integer|bigint|real|double precision) out of range",
        r"invalid input value for enum (\S+):",
    ):
        found = re.search(pattern, primary)
        if found:
            return found.group(1)
    if primary.startswith("numeric field overflow") and detail:
        found = re.search(r"precision (\d+), scale (\d+)", detail)
        if found:
            return f"numeric({found.group(1)},{found.group(2)})"
    return None


def _norm_type(name: str) -> str:
    aliases = {"int4": "integer", "int": "integer", "int2": "smallint", "int8": "bigint",
               "varchar": "character varying", "float8": "double precision", "float4": "real",
               "decimal": "numeric", "bpchar": "character"}  # fmt: skip
    text = re.sub(r"\s+", " ", name.strip().lower().strip('"'))
    base, _, rest = text.partition("(")
    base = aliases.get(base.strip(), base.strip())
    return f"{base}({rest.replace(' ', '')}" if rest else base


# ---- Oracle -------------------------------------------------------------------------------------------------


def _oracle(exc: BaseException) -> DbError:
    """A python-oracledb error: its ``_Error`` payload carries the full code (``ORA-01400``, ``DPY-4011``)."""
    err = exc.args[0]
    code = str(getattr(err, "full_code", "") or "") or None
    full = str(getattr(err, "message", "") or exc)
    kind = oracle_kind(code)
    if kind == PERMANENT and getattr(err, "isrecoverable", False):
        kind = TRANSIENT
    if kind != DATA:
        return DbError(code, kind, f"{type(exc).__name__} ({code}): {_first_line(full)}", full)
    found = _ORA_IDENT.search(full)
    table = column = None
    if found and found.group(3):  # "OWNER"."TABLE"."COLUMN" (ORA-01400, ORA-12899)
        table, column = f"{found.group(1)}.{found.group(2)}", found.group(3)
    condition, fix = _ORA_FIX.get(code or "", ("the target refused the row", ""))
    where = f" (table {table}, column {column})" if column else ""
    text = f"{type(exc).__name__} ({code}): {condition}{where}" + (f": {fix.format(cast=_CAST)}" if fix else "")
    return DbError(code, kind, text, full, table, column)


# ---- SQLite -------------------------------------------------------------------------------------------------


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


def _binding(exc: BaseException, tb: TracebackType | None) -> DbError:
    """A TypeError / ValueError / OverflowError from the driver: deterministic. A value out of the driver's range
    or not encodable is that row's fault (data); any other is permanent."""
    name = type(exc).__name__
    kind = DATA if isinstance(exc, (OverflowError, UnicodeError)) else PERMANENT
    column = _overflowing_column(tb) if isinstance(exc, OverflowError) else None
    col = f"column {column}" if column else "the column"
    if isinstance(exc, OverflowError):
        fix = f"a value of {col} is out of the driver's range (SQLite integers are 64-bit): {_CAST} (to text)"
    elif isinstance(exc, UnicodeError):
        fix = f"a text value of {col} is not valid Unicode (a lone surrogate?): clean it in source_sql"
    else:
        fix = f"the driver cannot bind a value of {col}: {_CAST} (to text, for example)"
    condition = _without_values(_first_line(str(exc)), set())
    where = f" [column {column}]" if column else ""
    return DbError(name, kind, f"{name} (raised by the driver while binding){where}: {condition}: {fix}",
                   str(exc), column=column)  # fmt: skip


def _raised_by_driver(tb: TracebackType | None) -> bool:
    """The innermost Python frame of ``tb`` belongs to a database driver or SQLAlchemy's execution."""
    last = None
    while tb is not None:
        last, tb = tb, tb.tb_next
    if last is None:
        return False
    module = str(last.tb_frame.f_globals.get("__name__", ""))
    return module.startswith(_DRIVER_MODULES)


def _overflowing_column(tb: TracebackType | None) -> str | None:
    """Which column's integer passed 64 bits: SQLAlchemy's execute frame holds the statement and its parameters
    (the values are only compared here, never kept or shown)."""
    while tb is not None:
        frame = tb.tb_frame
        statement, params = frame.f_locals.get("statement"), frame.f_locals.get("parameters")
        if isinstance(statement, str) and params is not None:
            rows = params if isinstance(params, list) else [params]
            for row in rows:
                values = list(row.values()) if isinstance(row, Mapping) else row
                if not isinstance(values, Sequence):
                    continue
                for i, value in enumerate(values):
                    if isinstance(value, int) and not -(2**63) <= value < 2**63:
                        return _insert_column(statement, i)
        tb = tb.tb_next
    return None


# ---- text ---------------------------------------------------------------------------------------------------


def _without_values(message: str, names: set[str]) -> str:
    """``message`` without the quoted parts that may be values (identifiers in ``names`` stay)."""

    def keep(m: re.Match[str]) -> str:
        return m.group(0) if m.group(0)[1:-1] in names else ""

    text = re.sub(r'"(?:[^"]|"")*"|\'(?:[^\']|\'\')*\'', keep, message)
    text = re.sub(r"\s+([:,.)])", r"\1", re.sub(r"\(\s*\)", "", text))
    return re.sub(r"\s{2,}", " ", text).strip().rstrip(":").strip()


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def _is_db_error(exc: Any) -> bool:
    return isinstance(exc, Exception) and (
        _module(exc).startswith(("psycopg", "sqlite3", "oracledb", *_MYSQL_MODULES)) or hasattr(exc, "sqlstate")
    )


def _module(exc: BaseException) -> str:
    return type(exc).__module__ or ""
