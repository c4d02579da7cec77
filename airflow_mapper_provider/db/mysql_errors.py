"""MySQL / MariaDB errors (PyMySQL, mysqlclient) classified by the server's error number.

``errors.classify`` hands every exception of those drivers here. Codes are ``MYSQL-<number>`` (the dialect names
the lock-not-available ones: 1205, which MariaDB's NOWAIT raises, and MySQL 8's 3572). Messages quote values
(``Duplicate entry '42' for key ...``): the safe text keeps the number, the condition without quoted values and the
column.
"""

from __future__ import annotations

import re

from airflow_mapper_provider.errors.base import DATA, PERMANENT, TRANSIENT, DbError, _first_line, _without_values

#: Lock wait timeout (also what MariaDB's NOWAIT raises), MySQL 8's NOWAIT, deadlock, too many connections,
#: shutdown, query interrupted (KILL QUERY, a stop), connection killed or lost, statement timeouts, network errors.
_TRANSIENT = frozenset(
    {1040, 1053, 1158, 1159, 1160, 1161, 1205, 1213, 1317, 1927, 1969, 2002, 2003, 2006, 2013, 2055, 3024, 3572, 4031}
)
_FIX = {
    1048: "a NULL in NOT NULL {col}: fill it in source_sql (COALESCE) or allow NULL in the target",
    1062: "the key already exists in the target (unique key): load it with scd1/scd2, or drop the duplicate in "
    "source_sql",
    1264: "the value is out of range for {col}'s type: widen the target column's type, or cast it in source_sql",
    1406: "the value is longer than {col}'s type allows: widen the target column, or shorten the value in source_sql",
    1366: "the value is not a valid value of {col}'s type: cast or clean the column in source_sql",
    1292: "the value is not a valid date/time for {col}: cast or clean the column in source_sql",
    1452: "the row references a key missing from the referenced table (foreign key): load that table first",
    3819: "the row breaks the target's check constraint: fix the value in source_sql or relax the constraint",
    4025: "the row breaks the target's check constraint: fix the value in source_sql or relax the constraint",
}
_DATA = frozenset({*_FIX, 1263, 1265, 1365, 1367, 1411, 1451, 1586, 1690, 1859, 3140})
_COLUMN = re.compile(r"(?:for column|Column) [`']?(?:[^`'\s]+[`']?\.[`']?)*([A-Za-z_][A-Za-z0-9_$]*)[`']?")


def classify(exc: BaseException) -> DbError:
    """Classify a PyMySQL / mysqlclient exception."""
    number, message = _parts(exc)
    if number is None:  # no server error: the connection went away, or the driver refused a value
        kind = TRANSIENT if type(exc).__name__ in ("OperationalError", "InterfaceError") else PERMANENT
        return DbError(f"mysql.{type(exc).__name__}", kind, f"{type(exc).__name__}: {_first_line(message)}", message)
    found = _COLUMN.search(message)
    column = found.group(1) if found else None
    code = f"MYSQL-{number}"
    if number in _DATA:
        fix = _FIX.get(number, "a value is invalid for its column's type: fix it in source_sql")
        condition = _without_values(_first_line(message), {column} if column else set())
        text = f"{code}: {condition}; " + fix.format(col=f"column {column}" if column else "the column")
        return DbError(code, DATA, text, message, column=column)
    kind = TRANSIENT if number in _TRANSIENT or 2000 <= number < 2100 else PERMANENT
    return DbError(code, kind, f"{code}: {_without_values(_first_line(message), set())}", message, column=column)


def _parts(exc: BaseException) -> tuple[int | None, str]:
    args = exc.args
    if args and isinstance(args[0], int) and args[0] > 0:
        return args[0], str(args[1]) if len(args) > 1 else ""
    return None, str(args[1] if len(args) > 1 else (args[0] if args else exc))
