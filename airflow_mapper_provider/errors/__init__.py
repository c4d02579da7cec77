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

from collections.abc import Mapping, Sequence
from dataclasses import replace
from types import TracebackType
from typing import Any

from airflow_mapper_provider.errors.base import (
    _CAST,
    DATA,
    PERMANENT,
    TRANSIENT,
    DbError,
    _first_line,
    _without_values,
)
from airflow_mapper_provider.errors.oracle import _oracle, oracle_kind
from airflow_mapper_provider.errors.postgres import _norm_type, _postgres
from airflow_mapper_provider.errors.sqlite import _bound_column, _insert_column, _sqlite
from airflow_mapper_provider.exceptions import MapperError

__all__ = ["DATA", "PERMANENT", "TRANSIENT", "DbError", "classify", "describe_error", "name_column", "oracle_kind"]

#: Modules whose frames, innermost in a traceback, mean a Python error was raised by the driver while binding
#: or converting a value (sqlite3 binds in C: the innermost Python frame is SQLAlchemy's execute).
_DRIVER_MODULES = ("sqlalchemy.engine", "sqlalchemy.sql", "psycopg", "sqlite3", "oracledb", "pymysql", "MySQLdb")
#: MySQL / MariaDB drivers (classified in :mod:`airflow_mapper_provider.db.mysql_errors`).
_MYSQL_MODULES = ("pymysql", "MySQLdb")

#: Python errors a driver raises while binding or converting a value.
_BINDING = (TypeError, ValueError, OverflowError)


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


def _is_db_error(exc: Any) -> bool:
    return isinstance(exc, Exception) and (
        _module(exc).startswith(("psycopg", "sqlite3", "oracledb", *_MYSQL_MODULES)) or hasattr(exc, "sqlstate")
    )


def _module(exc: BaseException) -> str:
    return type(exc).__module__ or ""
