"""load_chunk: one mapped task instance per chunk; one target transaction each."""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

from airflow_mapper_provider import db
from airflow_mapper_provider._compat import BaseOperator
from airflow_mapper_provider.loader import ChunkJob
from airflow_mapper_provider.models import ChunkSpec
from airflow_mapper_provider.operators.common import airflow_errors, load_config

log = logging.getLogger(__name__)

#: Grid label of a mapped chunk, e.g. "chunk 3/40 customer_id 100000..149999".
MAP_INDEX_TEMPLATE = "{{ task.chunk['label'] }}"


class MapperLoadChunkOperator(BaseOperator):
    """Load one planned chunk: read it, stage it, apply the strategy, commit with its ledger row.

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
        with (
            airflow_errors(),
            db.session(cfg.source_conn_id, "source") as src,
            db.session(cfg.target_conn_id, "target") as tgt,
        ):
            self._sessions = [src, tgt]
            try:
                job = ChunkJob(cfg, spec, self.source_sql, context["run_id"], int(ti.try_number or 1), src, tgt)
                job.stop_requested = self._stop
                return job.run().to_dict()
            finally:
                self._sessions = []

    def on_kill(self) -> None:
        """Cancel the statements in flight on both connections (the transaction then rolls back and the chunk
        ledger records the chunk as ``stopped``)."""
        self._stop.set()
        for sess in list(self._sessions):
            with contextlib.suppress(Exception):
                sess.cancel()
        log.info("cancelled in-flight statements of %d connection(s)", len(self._sessions))
