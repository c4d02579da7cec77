"""append: every staged row is inserted as read."""

from __future__ import annotations

from airflow_mapper_provider.strategies.base import STAGE, ApplyContext, Step


def steps(ctx: ApplyContext) -> list[Step]:
    d = ctx.dialect
    cols = d.cols(ctx.names)
    sql = f"INSERT INTO {d.table(ctx.target)} ({cols}) SELECT {cols} FROM {d.temp_name(STAGE)}"
    return [Step("insert", sql, counter="rows_inserted")]
