"""plan: estimate the source, prepare the target, freeze the chunk list (XCom)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow_mapper_provider import db
from airflow_mapper_provider._compat import BaseOperator, max_map_length
from airflow_mapper_provider.operators.common import airflow_errors, load_config
from airflow_mapper_provider.planner import plan_run


class MapperPlanOperator(BaseOperator):
    """Plan one mapper run; returns the list of ChunkSpec dicts that ``load_chunk`` maps over.

    :param config: :meth:`MapperConfig.to_dict` of the job.
    :param source_sql: the source query (templated; a path ending in .sql is read as a template).
    """

    template_fields = ("source_sql",)
    template_ext = (".sql",)
    template_fields_renderers = {"source_sql": "sql"}
    ui_color = "#e8f0fe"

    def __init__(self, *, config: dict[str, Any], source_sql: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = config
        self.source_sql = source_sql

    def execute(self, context: Any) -> list[dict[str, Any]]:
        cfg = load_config(self.config)
        with (
            airflow_errors(),
            db.session(cfg.source_conn_id, "source") as src,
            db.session(cfg.target_conn_id, "target") as tgt,
        ):
            return plan_run(
                cfg, self.source_sql, context["run_id"], effective_time(context), max_map_length(), src, tgt
            )


def effective_time(context: Any) -> str:
    """The run's effective time (scd2 valid_from): the DAG run's start, fixed for all chunks and retries."""
    run = context.get("dag_run")
    start = getattr(run, "start_date", None) or dt.datetime.now(dt.timezone.utc)
    if start.tzinfo is None:
        start = start.replace(tzinfo=dt.timezone.utc)
    return dt.datetime.fromisoformat(start.isoformat()).isoformat()
