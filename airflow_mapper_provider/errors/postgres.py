"""PostgreSQL errors by SQLSTATE (psycopg 3), and those psycopg raises without one."""

from __future__ import annotations

import re

from airflow_mapper_provider.errors.base import _CAST, DATA, PERMANENT, TRANSIENT, DbError, _first_line, _without_values

#: SQLSTATE classes and codes worth a retry: connection lost or refused, server shutting down, serialization
#: failure, deadlock, lock timeout, too many connections, out of memory, statement cancelled.
_PG_TRANSIENT_CLASSES = ("08",)
_PG_TRANSIENT = frozenset({"40001", "40P01", "55P03", "57P01", "57P02", "57P03", "53300", "53200", "57014"})
#: Data exception and integrity constraint violation: one row's fault.
_PG_DATA_CLASSES = ("22", "23")


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
