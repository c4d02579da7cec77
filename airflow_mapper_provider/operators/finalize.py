"""finalize: reconcile planned and finished chunks, write the job log (runs even when chunks failed)."""

from __future__ import annotations

from typing import Any

from airflow_mapper_provider import assets, db, metrics
from airflow_mapper_provider._compat import BaseOperator
from airflow_mapper_provider.exceptions import ChunkFailedError
from airflow_mapper_provider.finalizer import finalize_run
from airflow_mapper_provider.lineage_events import MapperLineageMixin
from airflow_mapper_provider.models import RunSummary
from airflow_mapper_provider.operators.common import airflow_errors, load_config


class MapperFinalizeOperator(MapperLineageMixin, BaseOperator):
    """Write the job log row of the run; fail (after writing it) if any planned chunk did not succeed.

    Also where the run meets the data platform: the run's metrics (metrics.py), its asset events (``outlets``:
    assets.py) and its OpenLineage facets with the run's totals (lineage.py).

    :param config: :meth:`MapperConfig.to_dict` of the job.
    :param chunks: the plan's output (XComArg of the plan task).
    :param source_sql: the source query (templated), for OpenLineage only (None: no input datasets).
    """

    template_fields = ("chunks", "source_sql")
    template_ext = (".sql",)
    ui_color = "#e6f4ea"

    def __init__(self, *, config: dict[str, Any], chunks: Any, source_sql: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = config
        self.chunks = chunks
        self.source_sql = source_sql

    def execute(self, context: Any) -> dict[str, Any]:
        cfg = load_config(self.config)
        chunks = self.chunks if isinstance(self.chunks, list) else None
        started = getattr(context.get("dag_run"), "start_date", None)
        dag_id = getattr(context.get("dag_run"), "dag_id", None)
        try:
            with airflow_errors(), db.session(cfg.target_conn_id, "target") as tgt:
                summary = finalize_run(cfg, context["run_id"], chunks, tgt, started_at=started)
        except Exception as exc:
            if isinstance(exc.__cause__, ChunkFailedError) or isinstance(exc, ChunkFailedError):
                metrics.run_done(cfg, RunSummary("failed", 0, 0), started, dag_id)
            raise
        self._summary = summary
        metrics.run_done(cfg, summary, started, dag_id)
        assets.record_events(context, self.outlets, assets.event_extra(summary, cfg.mapref, cfg.target_table))
        return summary.to_dict()
