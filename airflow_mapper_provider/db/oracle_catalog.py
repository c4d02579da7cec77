"""What an Oracle session asks the data dictionary: fixed statements (values bound, no name concatenated), the
read point (SCN, ``DBMS_FLASHBACK``) and ROWID ranges of a table.

ROWID ranges are computed the way ``DBMS_PARALLEL_EXECUTE.CREATE_CHUNKS_BY_ROWID`` computes them: one range per
extent of the table's segments (``DBMS_ROWID.ROWID_CREATE`` from the extent's object, file and blocks), the
extents in ROWID order joined into parts of about equal blocks. The extents come from ``USER_EXTENTS`` for the
session user's own tables, else ``DBA_EXTENTS`` (``SELECT_CATALOG_ROLE``), else ``DBMS_PARALLEL_EXECUTE`` itself
(``CREATE JOB``; it reads them as its owner); with none of these the error names the grants. Every row of the
table lies in exactly one range: a ROWID orders by object, file, block, row; between two consecutive extents of
the table lie only other segments' blocks.
"""

from __future__ import annotations

import math
import uuid
from typing import TYPE_CHECKING, Any

from airflow_mapper_provider.errors import DATA, oracle_kind
from airflow_mapper_provider.exceptions import ConfigError

if TYPE_CHECKING:
    from airflow_mapper_provider.db.oracle import OracleSession

#: Every session: naive timestamps are UTC instants (as on every other database); text compares and sorts in
#: binary (code point) order, the order range bounds are frozen in (OracleDialect.byte_collation).
SESSION_SETTINGS = (
    "ALTER SESSION SET TIME_ZONE = 'UTC'",
    "ALTER SESSION SET NLS_COMP = 'BINARY'",
    "ALTER SESSION SET NLS_SORT = 'BINARY'",
)
TABLE_EXISTS = (
    "SELECT COUNT(*) FROM (SELECT 1 AS x FROM ALL_TABLES WHERE OWNER = COALESCE(:o, SYS_CONTEXT('USERENV', "
    "'CURRENT_SCHEMA')) AND TABLE_NAME = :t UNION ALL SELECT 1 AS x FROM ALL_VIEWS WHERE OWNER = COALESCE(:o, "
    "SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA')) AND VIEW_NAME = :t)"
)
SCHEMA_EXISTS = "SELECT COUNT(*) FROM ALL_USERS WHERE USERNAME = :s"
PRIMARY_KEY = (
    "SELECT c.COLUMN_NAME FROM ALL_CONSTRAINTS k JOIN ALL_CONS_COLUMNS c ON c.OWNER = k.OWNER "
    "AND c.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND c.TABLE_NAME = k.TABLE_NAME "
    "WHERE k.CONSTRAINT_TYPE = 'P' AND k.OWNER = COALESCE(:o, SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA')) "
    "AND k.TABLE_NAME = :t ORDER BY c.POSITION"
)
CURRENT_SCN = "SELECT TIMESTAMP_TO_SCN(SYSTIMESTAMP) FROM DUAL"
FLASHBACK_ON = "BEGIN DBMS_FLASHBACK.ENABLE_AT_SYSTEM_CHANGE_NUMBER(:scn); END;"
FLASHBACK_OFF = "BEGIN DBMS_FLASHBACK.DISABLE; END;"
#: ORA-/PLS- codes of a PL/SQL package the user may not execute.
NO_PACKAGE = frozenset({"ORA-06550", "PLS-00201", "ORA-00904", "ORA-01031", "ORA-00942"})

_EXTENT_RANGE = (
    "SELECT DBMS_ROWID.ROWID_CREATE(1, o.DATA_OBJECT_ID, e.RELATIVE_FNO, e.BLOCK_ID, 0), "
    "DBMS_ROWID.ROWID_CREATE(1, o.DATA_OBJECT_ID, e.RELATIVE_FNO, e.BLOCK_ID + e.BLOCKS - 1, 32767), e.BLOCKS "
    "FROM {x}_EXTENTS e JOIN {x}_OBJECTS o ON o.OBJECT_NAME = e.SEGMENT_NAME{owner_join} "
    "AND (o.SUBOBJECT_NAME = e.PARTITION_NAME OR (o.SUBOBJECT_NAME IS NULL AND e.PARTITION_NAME IS NULL)) "
    "WHERE e.SEGMENT_NAME = :t AND e.SEGMENT_TYPE LIKE 'TABLE%' AND o.OBJECT_TYPE LIKE 'TABLE%'{owner} "
    "ORDER BY o.DATA_OBJECT_ID, e.RELATIVE_FNO, e.BLOCK_ID"
)
USER_EXTENTS = _EXTENT_RANGE.format(x="USER", owner_join="", owner="")
DBA_EXTENTS = _EXTENT_RANGE.format(
    x="DBA",
    owner_join=" AND o.OWNER = e.OWNER",
    owner=" AND e.OWNER = COALESCE(:o, SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA'))",
)
IS_SESSION_USER = (
    "SELECT CASE WHEN COALESCE(:o, SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA')) = SYS_CONTEXT('USERENV', "
    "'SESSION_USER') THEN 1 ELSE 0 END FROM DUAL"
)
TABLE_BLOCKS = (
    "SELECT BLOCKS FROM ALL_TABLES WHERE OWNER = COALESCE(:o, SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA')) "
    "AND TABLE_NAME = :t"
)
TASK_CHUNKS = (
    "BEGIN DBMS_PARALLEL_EXECUTE.CREATE_TASK(:task); DBMS_PARALLEL_EXECUTE.CREATE_CHUNKS_BY_ROWID(:task, "
    "COALESCE(:o, SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA')), :t, FALSE, :blocks); END;"
)
TASK_RANGES = (
    "SELECT START_ROWID, END_ROWID, 1 FROM USER_PARALLEL_EXECUTE_CHUNKS WHERE TASK_NAME = :task ORDER BY CHUNK_ID"
)
TASK_DROP = "BEGIN DBMS_PARALLEL_EXECUTE.DROP_TASK(:task); END;"


def is_oracle_error(exc: BaseException) -> bool:
    return type(exc).__module__.startswith("oracledb")


def is_row_error(code: str) -> bool:
    """A batch error that is the row's fault (it goes to mapper_rejects)."""
    return oracle_kind(code) == DATA


def code_of(exc: BaseException) -> str:
    err = exc.args[0] if exc.args else None
    return str(getattr(err, "full_code", "") or "")


def flashback_error(exc: BaseException) -> ConfigError | None:
    """A missing grant on ``DBMS_FLASHBACK`` as a permanent error naming the fix; None for any other error."""
    code = code_of(exc)
    if not is_oracle_error(exc) or (code not in NO_PACKAGE and "PLS-00201" not in str(exc)):
        return None
    return ConfigError(
        f"consistent_snapshot: the source user cannot run DBMS_FLASHBACK ({code}): GRANT EXECUTE ON "
        "SYS.DBMS_FLASHBACK TO <source user>, or set consistent_snapshot=False (chunks then read the source as "
        "it is when each one runs)"
    )


def group_ranges(extents: list[tuple[Any, ...]], chunks: int) -> list[tuple[str, str]]:
    """Join consecutive (low ROWID, high ROWID, blocks) extents, in ROWID order, into about ``chunks`` ranges
    of equal blocks; each range runs from its first extent's low ROWID to its last extent's high ROWID."""
    if not extents:
        return []
    total = sum(int(e[2] or 1) for e in extents)
    target = max(1.0, total / max(1, chunks))
    out: list[tuple[str, str]] = []
    start, filled = 0, 0
    for i, extent in enumerate(extents):
        filled += int(extent[2] or 1)
        if filled >= target * (len(out) + 1) or i == len(extents) - 1:
            out.append((str(extents[start][0]), str(extent[1])))
            start = i + 1
    return out


def rowid_ranges(sess: OracleSession, names: dict[str, Any], chunks: int) -> list[tuple[str, str]]:
    """ROWID ranges of the table ``names`` (``o`` owner or None, ``t`` table, as Oracle spells them); [] for a
    table without a segment (it holds no row)."""
    if sess.scalar(IS_SESSION_USER, {"o": names["o"]}):
        return group_ranges(sess.query(USER_EXTENTS, {"t": names["t"]}), chunks)
    try:
        return group_ranges(sess.query(DBA_EXTENTS, names), chunks)
    except Exception as exc:
        if code_of(exc) not in NO_PACKAGE:
            raise
    try:
        return group_ranges(_task_ranges(sess, names, chunks), chunks)
    except Exception as exc:
        if code_of(exc) not in NO_PACKAGE and "PLS-00201" not in str(exc):
            raise
        table = f"{names['o']}.{names['t']}" if names["o"] else names["t"]
        raise ConfigError(
            f"chunk_by='rowid' needs the extents of {table}, which the source user cannot see ({code_of(exc)}): "
            "read it as its owner, or GRANT SELECT_CATALOG_ROLE (DBA_EXTENTS, DBA_OBJECTS), or GRANT CREATE JOB "
            "(DBMS_PARALLEL_EXECUTE) to the source user; or set chunk_by='key' or 'hash'"
        ) from exc


def _task_ranges(sess: OracleSession, names: dict[str, Any], chunks: int) -> list[tuple[Any, ...]]:
    """ROWID chunks by ``DBMS_PARALLEL_EXECUTE`` (a task made and dropped here; it commits)."""
    blocks = sess.scalar(TABLE_BLOCKS, names)
    per_chunk = max(1, math.ceil(int(blocks) / (4 * max(1, chunks)))) if blocks else 1000
    task = f"MAPPER_{uuid.uuid4().hex[:16].upper()}"
    sess.execute(TASK_CHUNKS, {**names, "task": task, "blocks": per_chunk})
    try:
        return sess.query(TASK_RANGES, {"task": task})
    finally:
        sess.execute(TASK_DROP, {"task": task})
