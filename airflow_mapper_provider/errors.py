"""Database errors by their code: transient (retry), data (a row the target refuses) or permanent (fail now).

PostgreSQL errors are classified by SQLSTATE, Oracle by ORA-/DPY- code, SQLite by its extended result name.
:func:`classify` also renders a *safe* text for logs, XCom, the job log and task failures: the code, the condition
and identifiers (table, column, constraint), never row values. The database's full message, which may quote
values, is kept only for ``mapper_rejects`` (:attr:`DbError.full`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airflow_mapper_provider.exceptions import MapperError

TRANSIENT, DATA, PERMANENT = "transient", "data", "permanent"

#: SQLSTATE classes and codes worth a retry: connection lost or refused, server shutting down, serialization
#: failure, deadlock, lock timeout, too many connections, out of memory, statement cancelled.
_PG_TRANSIENT_CLASSES = ("08",)
_PG_TRANSIENT = frozenset({"40001", "40P01", "55P03", "57P01", "57P02", "57P03", "53300", "53200", "57014"})
#: Data exception and integrity constraint violation: one row's fault.
_PG_DATA_CLASSES = ("22", "23")

_ORA_TRANSIENT = frozenset(
    {
        *(f"ORA-{n:05d}" for n in (51, 54, 60, 1012, 1033, 1034, 1089, 2396, 3113, 3114, 3135, 8177)),
        *(f"ORA-{n:05d}" for n in (12170, 12505, 12514, 12516, 12519, 12520, 12528, 12537, 12541, 12547)),
        *(f"ORA-{n:05d}" for n in (12560, 12571, 25408, 30006)),
        *("DPY-4011", "DPY-6005", "DPY-4024", "DPI-1080"),
    }
)
_ORA_DATA = frozenset(
    f"ORA-{n:05d}"
    for n in (1, 1400, 1401, 1407, 1438, 1722, 1830, 1840, 1841, 1843, 1847, 1858, 1861, 2290, 2291, 12899)
)
_SQLITE_TRANSIENT = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_PROTOCOL")
_SQLITE_DATA = ("SQLITE_CONSTRAINT", "SQLITE_MISMATCH", "SQLITE_TOOBIG", "SQLITE_RANGE")


@dataclass(frozen=True)
class DbError:
    """A classified database error. ``text`` is safe to log; ``full`` may quote row values."""

    code: str | None
    kind: str
    text: str
    full: str

    @property
    def retryable(self) -> bool:
        return self.kind == TRANSIENT


def classify(exc: BaseException) -> DbError | None:
    """Classify ``exc`` (or the DBAPI error a SQLAlchemy error wraps); None when it is not a database error."""
    orig = getattr(exc, "orig", None)
    if orig is not None and _is_db_error(orig):
        found = classify(orig)
        if found is not None and getattr(exc, "connection_invalidated", False):
            return DbError(found.code, TRANSIENT, found.text, found.full)
        return found
    if getattr(exc, "sqlstate", None) is not None or _module(exc).startswith("psycopg"):
        return _postgres(exc)
    if exc.args and hasattr(exc.args[0], "full_code"):
        return _oracle(exc)
    if getattr(exc, "sqlite_errorname", None):
        return _sqlite(exc)
    return None


def _is_db_error(exc: Any) -> bool:
    return isinstance(exc, Exception) and (
        _module(exc).startswith(("psycopg", "sqlite3", "oracledb")) or hasattr(exc, "sqlstate")
    )


def _module(exc: BaseException) -> str:
    return type(exc).__module__ or ""


def _postgres(exc: BaseException) -> DbError:
    code = getattr(exc, "sqlstate", None)
    full = str(exc)
    name = type(exc).__name__
    if code is None:  # no SQLSTATE: the connection broke (closed by the server, network, cancelled login)
        kind = TRANSIENT if name in ("OperationalError", "InterfaceError") else PERMANENT
        return DbError(None, kind, f"{name}: {_first_line(full)}", full)
    if code.startswith(_PG_DATA_CLASSES) or code == "21000":
        kind = DATA
    elif code.startswith(_PG_TRANSIENT_CLASSES) or code in _PG_TRANSIENT:
        kind = TRANSIENT
    else:
        kind = PERMANENT
    return DbError(code, kind, _pg_text(exc, code, kind), full)


def _pg_text(exc: BaseException, code: str, kind: str) -> str:
    """Class name, SQLSTATE and the identifiers involved; the primary message only where it cannot hold values."""
    diag = getattr(exc, "diag", None)
    parts = [f"{type(exc).__name__} (SQLSTATE {code})"]
    if kind != DATA:
        primary = getattr(diag, "message_primary", None) or _first_line(str(exc))
        parts.append(primary)
    names = (
        ("table", getattr(diag, "table_name", None)),
        ("column", getattr(diag, "column_name", None)),
        ("constraint", getattr(diag, "constraint_name", None)),
        ("type", getattr(diag, "datatype_name", None)),
    )
    where = ", ".join(f"{what} {value}" for what, value in names if value)
    return ": ".join(parts) + (f" ({where})" if where else "")


def _oracle(exc: BaseException) -> DbError:
    err = exc.args[0]
    code = str(getattr(err, "full_code", "") or "") or None
    full = str(getattr(err, "message", "") or exc)
    if code in _ORA_TRANSIENT or getattr(err, "isrecoverable", False):
        kind = TRANSIENT
    elif code in _ORA_DATA:
        kind = DATA
    else:
        kind = PERMANENT
    text = f"{type(exc).__name__} ({code})" + ("" if kind == DATA else f": {_first_line(full)}")
    return DbError(code, kind, text, full)


def _sqlite(exc: BaseException) -> DbError:
    code = str(getattr(exc, "sqlite_errorname", ""))
    full = str(exc)
    if code.startswith(_SQLITE_TRANSIENT):
        kind = TRANSIENT
    elif code.startswith(_SQLITE_DATA):
        kind = DATA
    else:
        kind = PERMANENT
    return DbError(code, kind, f"{type(exc).__name__} ({code}): {_first_line(full)}", full)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def describe_error(exc: BaseException) -> str:
    """Error text safe for logs, the ledger and task failures: our own messages or the classified database text."""
    if isinstance(exc, MapperError):
        return str(exc)
    found = classify(exc)
    return found.text if found is not None else type(exc).__name__
