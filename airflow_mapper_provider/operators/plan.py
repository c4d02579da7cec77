"""plan: estimate the source, prepare the target, freeze the chunk list (XCom)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow_mapper_provider import db
from airflow_mapper_provider._compat import BaseOperator, max_map_length
from airflow_mapper_provider.exceptions import ConfigError
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
            eff = effective_time(context, cfg.scd2_effective_time)
            return plan_run(cfg, self.source_sql, context["run_id"], eff, max_map_length(), src, tgt)


def effective_time(context: Any, mode: str = "run_start") -> str:
    """The run's effective time (scd2 valid_from), fixed by plan for all chunks and retries.

    ``run_start``: when the DAG run started; ``data_interval_end``: the run's data interval end (business time,
    lines history up with backfills); a column name: per-row times, this value only closes deleted keys.
    """
    run = context.get("dag_run")
    start = getattr(run, "start_date", None) or dt.datetime.now(dt.timezone.utc)
    if mode == "data_interval_end":
        end = context.get("data_interval_end")
        if end is None:
            raise ConfigError(
                "scd2_effective_time='data_interval_end' needs a run with a data interval (a scheduled run or "
                "backfill); this run has none: trigger it with a logical date or use 'run_start'"
            )
        start = end
    if start.tzinfo is None:
        start = start.replace(tzinfo=dt.timezone.utc)
    return dt.datetime.fromisoformat(start.isoformat()).isoformat()
