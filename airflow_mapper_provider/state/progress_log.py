"""The job log's live progress: the chunk's row in ``mapper_chunk_progress`` and the run's live columns in
``mapper_joblog`` (from the ``mapper_progress`` view), written on a connection of their own in autocommit.

Never inside a chunk's transaction: a chunk that rolls back leaves its live row saying ``failed`` or ``stopped``.
Never waiting: the connection opens on the first write (a chunk shorter than a progress tick never opens it),
PostgreSQL gives up on a lock after 200 ms, SQLite does not wait at all (a chunk holds the database's write lock
for its whole transaction, so on SQLite the live rows move only between chunk transactions). A write that cannot
be made is skipped; :class:`~airflow_mapper_provider.progress.ChunkProgress` logs the first failure.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from airflow_mapper_provider import progress
from airflow_mapper_provider.db import Session
from airflow_mapper_provider.errors import TRANSIENT, classify
from airflow_mapper_provider.progress import RUNNING, Snapshot
from airflow_mapper_provider.state.ledger import utcnow
from airflow_mapper_provider.state.tables import MapperTables

log = logging.getLogger(__name__)

#: The job log's live columns, as the ``mapper_progress`` view computes them.
LIVE_COLUMNS = ("chunks_done", "chunks_running", "rows_so_far", "rows_per_s", "eta_seconds")


class ProgressLog:
    """A progress sink writing the chunk's live row and the run's live job log columns.

    :param tables: where the mapper tables live.
    :param mapref: the job identity; ``run_id``, ``attempt``: the chunk's run and try.
    :param hostname: the worker's host name (as Airflow reports it).
    :param open_session: opens the side connection (autocommit, short lock timeouts: ``db.connect_side``).
    """

    name = "the job log (mapper_chunk_progress)"

    def __init__(
        self,
        tables: MapperTables,
        mapref: str,
        run_id: str,
        attempt: int,
        hostname: str,
        open_session: Callable[[], Session],
    ) -> None:
        self.tables, self.mapref, self.run_id, self.attempt, self.hostname = tables, mapref, run_id, attempt, hostname
        self._open = open_session
        self._sess: Session | None = None
        self._run_written = -math.inf

    def session(self) -> Session:
        """The side connection, opened on first use."""
        if self._sess is None:
            self._sess = self._open()
        return self._sess

    def copy_rows(self, pid: int) -> int | None:
        """Rows the COPY running in target backend ``pid`` wrote so far (0 before it started; None: this database
        cannot tell). PostgreSQL before 14 has no ``pg_stat_progress_copy``: the query fails, the reporter then
        shows no row count for the chunk's COPY (phase and time only)."""
        sess = self.session()
        sql = sess.dialect.copy_progress_sql()
        if sql is None:
            return None
        found = sess.query(sql, {"pid": pid})
        return int(found[0][0] or 0) if found else 0

    def publish(self, snap: Snapshot) -> None:
        sess = self.session()
        try:
            self._write_chunk(sess, snap)
            # the run's aggregate reads every chunk of the run (14 ms for 1,000 chunks): at the log's pace
            now = time.monotonic()
            if snap.status != RUNNING or now - self._run_written >= progress.LOG_S:
                self._write_run(sess)
                self._run_written = now
        except Exception as exc:
            with contextlib.suppress(Exception):
                sess.rollback()
            found = classify(exc)
            if found is not None and found.kind == TRANSIENT:  # locked (SQLite: a chunk's transaction): skip
                log.debug("progress: %s busy (%s); skipped this time", self.name, found.code)
                return
            raise

    def _write_chunk(self, sess: Session, snap: Snapshot) -> None:
        values: dict[str, Any] = {
            "mapref": self.mapref, "run_id": self.run_id, "chunk_index": snap.index, "attempt": self.attempt,
            "status": snap.status, "phase": snap.phase, "rows_read": snap.rows_read,
            "rows_estimated": snap.rows_estimated, "rows_per_s": snap.rows_per_s, "eta_seconds": snap.eta_s,
            "started_at": snap.started_at, "updated_at": snap.updated_at, "hostname": self.hostname[:250],
        }  # fmt: skip
        d, table, key = sess.dialect, self.tables.progress, ("mapref", "run_id", "chunk_index")
        sql = d.upsert_sql(table, list(values), key)
        if sql is None:
            sess.execute(d.delete_sql(table, key), {k: values[k] for k in key})
            sql = d.insert_sql(table, list(values))
        sess.execute(sql, values)
        sess.commit()

    def _write_run(self, sess: Session) -> None:
        """The run's live job log columns, while its status is 'running' (finalize writes the final ones)."""
        d = sess.dialect
        found = sess.query(d.select_sql(self.tables.progress_view, LIVE_COLUMNS, ["mapref", "run_id"]),
                           {"mapref": self.mapref, "run_id": self.run_id})  # fmt: skip
        if not found:
            return
        values: dict[str, Any] = dict(zip(LIVE_COLUMNS, found[0], strict=True))
        values["progress_at"] = utcnow()
        if nowait := d.for_update_nowait():  # a plan or finalize holding the row: skip this tick, never wait
            row = d.select_sql(self.tables.joblog, ["run_id"], ["mapref", "run_id"]) + nowait  # (Oracle DML has
            sess.query(row, {"mapref": self.mapref, "run_id": self.run_id})  # no lock timeout of its own)
        sql = d.update_sql(self.tables.joblog, list(values), ["mapref", "run_id", "status"])
        sess.execute(sql, {**values, "w_mapref": self.mapref, "w_run_id": self.run_id, "w_status": RUNNING})
        sess.commit()

    def close(self) -> None:
        sess, self._sess = self._sess, None
        if sess is not None:
            with contextlib.suppress(Exception):
                sess.close()
