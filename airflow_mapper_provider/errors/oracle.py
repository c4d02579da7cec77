"""Oracle errors by ORA-/DPY- code (python-oracledb's ``_Error`` payload)."""

from __future__ import annotations

import re

from airflow_mapper_provider.errors.base import _CAST, DATA, PERMANENT, TRANSIENT, DbError, _first_line

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
