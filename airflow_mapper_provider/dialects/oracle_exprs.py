"""Oracle SQL expressions and planning statements the dialect (:mod:`.oracle`) renders: optimizer estimates,
catalog row counts, hash buckets, the scd2 row hash and keyset conditions.

Hash buckets (``ORA_HASH``) and row hashes (``STANDARD_HASH``) are the same for the same value on every run and
in every session: they hash the stored values or a text spelled with fixed formats and fixed NLS settings, never
a conversion that reads the session's NLS parameters or time zone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from airflow_mapper_provider.dialects.base import SRC
from airflow_mapper_provider.dialects.types import Column
from airflow_mapper_provider.exceptions import UnsupportedError

if TYPE_CHECKING:
    from airflow_mapper_provider.dialects.oracle import OracleDialect

_LOB = re.compile(r"^(N?CLOB|BLOB|BFILE|LONG|JSON|XMLTYPE)\b")

_PREFIXES = (
    ("NUMBER", "number"), ("FLOAT", "number"), ("BINARY_", "number"), ("INTEGER", "number"), ("DATE", "date"),
    ("INTERVAL", "interval"), ("RAW", "raw"), ("VARCHAR", "text"), ("NVARCHAR", "text"), ("CHAR", "text"),
    ("NCHAR", "text"), ("ROWID", "text"), ("UROWID", "text"),
)  # fmt: skip


def family(type_ddl: str) -> str:
    """What kind of Oracle value a column of DDL type ``type_ddl`` holds, for comparing and hashing it:
    ``lob`` (no ``=``, no ORA_HASH/STANDARD_HASH), ``number``, ``date``, ``timestamp``, ``tstz`` (an instant
    with its zone), ``tsltz``, ``interval``, ``raw``, ``text`` or ``other`` (a user-defined type)."""
    t = type_ddl.upper()
    if _LOB.match(t):
        return "lob"
    if t.startswith("TIMESTAMP"):
        return "tsltz" if "LOCAL" in t else "tstz" if "ZONE" in t else "timestamp"
    return next((fam for prefix, fam in _PREFIXES if t.startswith(prefix)), "other")


#: EXPLAIN PLAN's STATEMENT_ID is a string literal (no bind variable): a fixed name, checked below. PLAN_TABLE is a
#: global temporary table: its rows are the session's own, so one fixed name never meets another session's plan.
STATEMENT_ID = "mapper_estimate"
_STATEMENT_ID = re.compile(r"^[A-Za-z0-9_]{1,30}$")
#: The optimizer's row estimate of the explained statement (its top line, id 0).
EXPLAIN_ROWS = "SELECT cardinality FROM plan_table WHERE statement_id = :mapper_stmt AND id = 0"
EXPLAIN_CLEANUP = "DELETE FROM plan_table WHERE statement_id = :mapper_stmt"
#: The optimizer statistics' row count of table ``:t`` as :meth:`OracleDialect.table` quotes it
#: (``"DW"."DIM_CUSTOMER"`` or ``"DIM_CUSTOMER"`` in the current schema); NULL before statistics were gathered.
TABLE_ROWS = (
    "SELECT num_rows FROM all_tables WHERE '\"' || owner || '\".\"' || table_name || '\"' = :t "
    "OR (owner = SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA') AND '\"' || table_name || '\"' = :t)"
)
#: How many 33-character column hashes one concatenation takes (33 x 100 < 4,000 bytes: VARCHAR2's limit).
_HASHES_PER_CONCAT = 100
_SEP = " || '|' || "


def explain_sql(d: OracleDialect, source_sql: str, where: str, statement_id: str) -> str:
    """EXPLAIN PLAN of the (windowed) query, its plan lines stored under ``statement_id`` (read them with
    :data:`EXPLAIN_ROWS`, ``:mapper_stmt`` bound to the same id, then delete them with :data:`EXPLAIN_CLEANUP`)."""
    if not _STATEMENT_ID.match(statement_id):
        raise UnsupportedError(f"invalid EXPLAIN PLAN statement id {statement_id!r}: letters, digits and _ only")
    head = f"EXPLAIN PLAN SET STATEMENT_ID = '{statement_id}' FOR "
    if not where:
        return head + d.embed(source_sql)
    return f"{head}SELECT * FROM ({d.embed(source_sql)}) {SRC} WHERE {where}"


def hash_bucket(d: OracleDialect, keys: Sequence[str], alias: str, buckets: int) -> str:
    """The key's bucket in ``0..buckets-1``: ``ORA_HASH(value, buckets - 1)``.

    One key column: ORA_HASH of its stored value, NULL in bucket 0 (every row lands in exactly one bucket; a
    NULL key is refused later, by the chunk that read it). A composite key: each column's ORA_HASH as integer
    text (no NLS setting changes an integer's digits), a NULL column as ``-``, joined by ``|`` and hashed again.
    """
    if buckets < 1:
        raise UnsupportedError(f"hash buckets must be at least 1, not {buckets}")
    cols = [f"{alias}.{d.quote(k)}" for k in keys]
    if len(cols) == 1:
        return f"NVL(ORA_HASH({cols[0]}, {int(buckets) - 1}), 0)"
    parts = _SEP.join(f"NVL(TO_CHAR(ORA_HASH({c})), '-')" for c in cols)
    return f"ORA_HASH({parts}, {int(buckets) - 1})"


def _canonical(value: str, family: str) -> str | None:
    """``value`` as a text that is the same for the same value in every session (None: cannot be hashed here)."""
    stamp = "'SYYYY-MM-DD HH24:MI:SS.FF9'"
    forms = {
        "number": f"TO_CHAR({value}, 'TM9', 'NLS_NUMERIC_CHARACTERS=''.,''')",
        "date": f"TO_CHAR({value}, 'SYYYY-MM-DD HH24:MI:SS')",
        "timestamp": f"TO_CHAR({value}, {stamp})",
        "tstz": f"TO_CHAR(SYS_EXTRACT_UTC({value}), {stamp})",
        "tsltz": f"TO_CHAR(SYS_EXTRACT_UTC(CAST({value} AS TIMESTAMP WITH TIME ZONE)), {stamp})",
        "interval": f"TO_CHAR({value})",
        "raw": f"RAWTOHEX({value})",
        "text": value,
    }
    return forms.get(family)


def row_hash(d: OracleDialect, columns: Sequence[Column], alias: str) -> str | None:
    """The scd2 row hash: MD5 (``STANDARD_HASH``, no grant needed) of the columns' hashes, each column's the MD5
    of its canonical text (:func:`_canonical`) or ``-`` for NULL. Hashing per column keeps every concatenation
    under VARCHAR2's 4,000 bytes whatever the row's width. Oracle stores ``''`` as NULL, so an empty string and
    NULL hash alike (they are one value there). None (hashed in Python at staging) where a column is a LOB or a
    user-defined type: STANDARD_HASH takes neither."""
    if not columns:
        return "'0'"
    parts = []
    for c in columns:
        value = f"{alias}.{d.quote(c.name)}"
        text = _canonical(value, family(d.type_ddl(c.type)))
        if text is None:
            return None
        parts.append(f"CASE WHEN {value} IS NULL THEN '-' ELSE RAWTOHEX(STANDARD_HASH({text}, 'MD5')) END")
    while len(parts) > _HASHES_PER_CONCAT:
        groups = [parts[i : i + _HASHES_PER_CONCAT] for i in range(0, len(parts), _HASHES_PER_CONCAT)]
        parts = [_md5(group) for group in groups]
    return _md5(parts)


def _md5(parts: Sequence[str]) -> str:
    return f"RAWTOHEX(STANDARD_HASH({_SEP.join(parts)}, 'MD5'))"


def after_sql(d: OracleDialect, order: Sequence[str], params: Sequence[str]) -> str:
    """``(a, b, c) > (:p0, :p1, :p2)`` spelled out: ``a > :p0 OR (a = :p0 AND (b > :p1 OR (b = :p1 AND c > :p2)))``
    (a NULL compares as unknown, as in a row-value comparison)."""
    col, mark = f"{SRC}.{d.quote(order[-1])}", d.param(params[-1])
    cond = f"{col} > {mark}"
    for name, param in zip(reversed(order[:-1]), reversed(params[:-1]), strict=True):
        col, mark = f"{SRC}.{d.quote(name)}", d.param(param)
        cond = f"({col} > {mark} OR ({col} = {mark} AND {cond}))"
    return cond
