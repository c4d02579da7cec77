"""finalize: reconcile planned and finished chunks, write the job log (runs even when chunks failed)."""

from __future__ import annotations

from typing import Any

from airflow_mapper_provider import db
from airflow_mapper_provider._compat import BaseOperator
from airflow_mapper_provider.finalizer import finalize_run
from airflow_mapper_provider.operators.common import airflow_errors, load_config


class MapperFinalizeOperator(BaseOperator):
    """Write the job log row of the run; fail (after writing it) if any planned chunk did not succeed.

    :param config: :meth:`MapperConfig.to_dict` of the job.
    :param chunks: the plan's output (XComArg of the plan task).
    """

    template_fields = ("chunks",)
    ui_color = "#e6f4ea"

    def __init__(self, *, config: dict[str, Any], chunks: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = config
        self.chunks = chunks

    def execute(self, context: Any) -> dict[str, Any]:
        cfg = load_config(self.config)
        chunks = self.chunks if isinstance(self.chunks, list) else None
        with airflow_errors(), db.session(cfg.target_conn_id, "target") as tgt:
            started = getattr(context.get("dag_run"), "start_date", None)
            return finalize_run(cfg, context["run_id"], chunks, tgt, started_at=started).to_dict()
