"""append: every staged row is inserted as read."""

from __future__ import annotations

from airflow_mapper_provider.strategies.base import STAGE, ApplyContext, Step, all_of, rows_slice, staged_ok


def steps(ctx: ApplyContext) -> list[Step]:
    d = ctx.dialect
    cols = d.cols(ctx.names)
    sql = f"INSERT INTO {d.table(ctx.target)} ({cols}) SELECT {cols} FROM {d.temp_name(STAGE)}"
    if where := all_of(staged_ok(ctx, "s"), rows_slice(ctx, "s")):
        sql += f" s WHERE {where}"
    return [Step("insert", sql, counter="rows_inserted", sliced=ctx.salvage)]
