"""load_chunk: one mapped task instance per chunk; one target transaction each."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from typing import Any

from airflow_mapper_provider import db, metrics
from airflow_mapper_provider._compat import BaseOperator
from airflow_mapper_provider.config import MapperConfig
from airflow_mapper_provider.exceptions import ChunkStoppedError
from airflow_mapper_provider.loader import ChunkJob
from airflow_mapper_provider.models import ChunkSpec
from airflow_mapper_provider.operators.common import airflow_errors, load_config
from airflow_mapper_provider.progress import ChunkProgress, Sink, StateStoreSink, chunk_estimate
from airflow_mapper_provider.state import MapperTables
from airflow_mapper_provider.state.progress_log import ProgressLog

log = logging.getLogger(__name__)

#: Grid label of a mapped chunk, e.g. "chunk 3/40 customer_id 100000..149999".
MAP_INDEX_TEMPLATE = "{{ task.chunk['label'] }}"


class MapperLoadChunkOperator(BaseOperator):
    """Load one planned chunk: read it, stage it, apply the strategy, commit with its ledger row.

    While the chunk runs, its progress (rows read, rows/s, ETA, phase) goes to the task log, to the task state
    store key ``progress`` and to the job log's live row (progress.py).

    :param config: :meth:`MapperConfig.to_dict` of the job.
    :param source_sql: the source query (templated).
    :param chunk: one ChunkSpec dict from the plan (mapped).
    """

    template_fields = ("source_sql",)
    template_ext = (".sql",)
    template_fields_renderers = {"source_sql": "sql"}
    ui_color = "#fef7e0"

    def __init__(self, *, config: dict[str, Any], source_sql: str, chunk: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = config
        self.source_sql = source_sql
        self.chunk = chunk
        self._sessions: list[db.Session] = []
        self._stop = threading.Event()

    def execute(self, context: Any) -> dict[str, Any]:
        cfg = load_config(self.config)
        spec = ChunkSpec.from_dict(self.chunk)
        ti = context["ti"]
        attempt = int(ti.try_number or 1)
        with airflow_errors():
            target_conn = db.get_connection(cfg.target_conn_id)  # here: the reporter's thread asks Airflow nothing
        with (
            airflow_errors(),
            db.session(cfg.source_conn_id, "source") as src,
            db.session(cfg.target_conn_id, "target", target_conn) as tgt,
        ):
            self._sessions = [src, tgt]
            try:
                job = ChunkJob(cfg, spec, self.source_sql, context["run_id"], attempt, src, tgt)
                job.stop_requested = self._stop
                job.progress = chunk_progress(cfg, spec, context, target_conn, attempt)
                try:
                    result = job.run()
                except BaseException as exc:
                    metrics.chunk_failed(cfg, getattr(context.get("dag_run"), "dag_id", None))
                    if self._stop.is_set():
                        raise self._stopped(spec) from exc
                    raise
            finally:
                self._sessions = []
        metrics.chunk_done(cfg, result, getattr(context.get("dag_run"), "dag_id", None))
        return result.to_dict()

    def _stopped(self, spec: ChunkSpec) -> ChunkStoppedError:
        msg = (
            f"{spec.label}: stopped by the user; the chunk rolled back (nothing of it was committed, the chunk "
            "ledger says 'stopped'). Clear the task to load it again. (A worker shutting down stops a chunk the "
            "same way: then Airflow retries it.)"
        )
        log.warning("%s", msg)
        return ChunkStoppedError(msg)

    def on_kill(self) -> None:
        """Cancel the statements in flight on both connections (the transaction then rolls back and the chunk
        ledger records the chunk as ``stopped``)."""
        self._stop.set()
        for sess in list(self._sessions):
            with contextlib.suppress(Exception):
                sess.cancel()
        log.info("stop requested: cancelled in-flight statements of %d connection(s)", len(self._sessions))


def chunk_progress(cfg: MapperConfig, spec: ChunkSpec, context: Any, target_conn: Any, attempt: int) -> ChunkProgress:
    """The chunk's progress reporter: the task log, the task state store (where Airflow offers one) and the job
    log's live row on a connection of its own."""
    ti = context["ti"]
    joblog = ProgressLog(
        MapperTables(cfg.meta_schema),
        cfg.mapref,
        context["run_id"],
        attempt,
        str(getattr(ti, "hostname", None) or socket.gethostname()),
        lambda: db.connect_side(target_conn),
    )
    sinks: list[Sink] = [joblog]
    store = context.get("task_state_store")
    if store is not None:
        sinks.insert(0, StateStoreSink(store))
    return ChunkProgress(spec.label, spec.index, spec.count, chunk_estimate(spec), sinks, copy_rows=joblog.copy_rows)
