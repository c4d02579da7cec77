"""The tables the mapper owns: layout and creation.

``mapper_joblog`` (one row per run), ``mapper_chunklog`` (the chunk ledger), ``mapper_checkpoint`` (one row per
mapref: the high-water mark), ``mapper_lock`` (which run of a mapref may write), ``mapper_rejects`` (rows the
target refused, with their error), ``mapper_chunk_progress`` (one live row per running chunk) and the view
``mapper_progress`` (per run: chunks done/running/failed, rows so far against the estimate, rate, ETA).
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow_mapper_provider.db import Session
from airflow_mapper_provider.dialects import Column, ColumnType
from airflow_mapper_provider.identifiers import TableName
from airflow_mapper_provider.models import COUNTERS

_T = ColumnType("text")
_TS = ColumnType("timestamptz")
_INT = ColumnType("int")
_BIG = ColumnType("bigint")
_FLOAT = ColumnType("double")

COUNTER_COLUMNS = COUNTERS

JOBLOG_COLUMNS = (
    ("mapref", _T), ("run_id", _T), ("status", _T),
    *((name, _BIG) for name in COUNTER_COLUMNS),
    ("chunks_planned", _INT), ("chunks_succeeded", _INT),
    ("checkpoint_before", _T), ("checkpoint_after", _T),
    ("started_at", _TS), ("finished_at", _TS),
    ("load_strategy", _T), ("target_table", _T), ("message", _T), ("plan_json", _T),
    # live progress of a running run (progress.py, on a separate autocommit connection; final values at finalize)
    ("rows_estimated", _BIG), ("chunks_done", _INT), ("chunks_running", _INT), ("rows_so_far", _BIG),
    ("rows_per_s", _FLOAT), ("eta_seconds", _FLOAT), ("progress_at", _TS),
)  # fmt: skip

CHUNKLOG_COLUMNS = (
    ("mapref", _T), ("run_id", _T), ("chunk_index", _INT),
    ("lower_bound", _T), ("upper_bound", _T), ("status", _T), ("attempt", _INT),
    *((name, _BIG) for name in COUNTER_COLUMNS),
    ("started_at", _TS), ("finished_at", _TS),
    ("seconds_read", _FLOAT), ("seconds_apply", _FLOAT), ("path", _T), ("message", _T),
    ("checkpoint_max", _T),
)  # fmt: skip

CHECKPOINT_COLUMNS = (
    ("mapref", _T), ("checkpoint_column", _T), ("value", _T), ("value_type", _T), ("run_id", _T),
    ("updated_at", _TS),
)  # fmt: skip

#: ``dag_id`` and ``task_group``: where the owning run's tasks are in Airflow (a waiting run asks Airflow about them).
LOCK_COLUMNS = (("mapref", _T), ("run_id", _T), ("acquired_at", _TS), ("dag_id", _T), ("task_group", _T))

#: One live row per chunk of a run: written by the chunk's progress reporter on its own autocommit connection,
#: never in the chunk's transaction (the latest attempt's; its final status once the chunk ended).
PROGRESS_COLUMNS = (
    ("mapref", _T), ("run_id", _T), ("chunk_index", _INT), ("attempt", _INT), ("status", _T), ("phase", _T),
    ("rows_read", _BIG), ("rows_estimated", _BIG), ("rows_per_s", _FLOAT), ("eta_seconds", _FLOAT),
    ("started_at", _TS), ("updated_at", _TS), ("hostname", _T),
)  # fmt: skip

REJECTS_COLUMNS = (
    ("mapref", _T), ("run_id", _T), ("chunk_index", _INT), ("key_values", _T), ("row_json", _T),
    ("error_code", _T), ("error_message", _T), ("rejected_at", _TS),
)  # fmt: skip


@dataclass(frozen=True)
class MapperTables:
    """Names of the mapper tables in ``schema`` (None: the connection's default schema)."""

    schema: str | None

    @property
    def joblog(self) -> TableName:
        return TableName("mapper_joblog", self.schema)

    @property
    def chunklog(self) -> TableName:
        return TableName("mapper_chunklog", self.schema)

    @property
    def checkpoint(self) -> TableName:
        return TableName("mapper_checkpoint", self.schema)

    @property
    def lock(self) -> TableName:
        return TableName("mapper_lock", self.schema)

    @property
    def rejects(self) -> TableName:
        return TableName("mapper_rejects", self.schema)

    @property
    def progress(self) -> TableName:
        return TableName("mapper_chunk_progress", self.schema)

    @property
    def progress_view(self) -> TableName:
        return TableName("mapper_progress", self.schema)

    def ensure(self, sess: Session) -> None:
        """Create the schema and the mapper tables where missing (idempotent; caller commits)."""
        d = sess.dialect
        if self.schema and not sess.table_exists(self.joblog):
            sess.ensure_schema(self.schema)
        specs = (
            (self.joblog, JOBLOG_COLUMNS, ("mapref", "run_id")),
            (self.chunklog, CHUNKLOG_COLUMNS, ("mapref", "run_id", "chunk_index")),
            (self.checkpoint, CHECKPOINT_COLUMNS, ("mapref",)),
            (self.lock, LOCK_COLUMNS, ("mapref",)),
            (self.rejects, REJECTS_COLUMNS, ()),
            (self.progress, PROGRESS_COLUMNS, ("mapref", "run_id", "chunk_index")),
        )
        for table, columns, key in specs:
            cols = [Column(name, ctype) for name, ctype in columns]
            if not sess.table_exists(table):
                sess.execute(d.create_table_sql(table, cols, primary_key=key))
            else:
                add_missing_columns(sess, table, cols)
        if not sess.table_exists(self.progress_view):  # after the columns it reads
            sess.execute(d.progress_view_sql(self.progress_view, self.joblog, self.chunklog, self.progress))


def add_missing_columns(sess: Session, table: TableName, columns: list[Column]) -> list[str]:
    """Add the columns of ``columns`` an existing mapper table lacks (a table created by an earlier version of the
    provider); returns their names. New columns are nullable: rows of earlier versions read them as NULL."""
    have = {c.name for c in sess.describe(sess.dialect.select_all_sql(table))}
    missing = [c for c in columns if c.name not in have]
    for column in missing:
        sess.execute(sess.dialect.add_column_sql(table, column))
    return [c.name for c in missing]
