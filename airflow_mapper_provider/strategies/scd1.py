"""scd1 (upsert): insert new keys, update changed rows in place, leave identical rows untouched."""

from __future__ import annotations

from airflow_mapper_provider.dialects import UpdateSpec
from airflow_mapper_provider.strategies import append
from airflow_mapper_provider.strategies.base import (
    DELTA,
    ApplyContext,
    Step,
    delta_step,
    missing_keys,
    update_step,
)


def steps(ctx: ApplyContext) -> list[Step]:
    if ctx.empty_target:
        return append.steps(ctx)
    d = ctx.dialect
    cols = d.cols(ctx.names)
    out = [delta_step(ctx, current_only=False)]
    if ctx.values:
        sets = [(c.name, f"d.{d.quote(c.name)}") for c in ctx.values]
        out.append(update_step(ctx, UpdateSpec(ctx.keys, sets, "d.mapper_new = 0"), "rows_updated"))
    insert = (
        f"INSERT INTO {d.table(ctx.target)} ({cols}) "
        f"SELECT {d.cols(ctx.names, 'd')} FROM {d.temp_name(DELTA)} d WHERE d.mapper_new = 1"
    )
    out.append(Step("insert", insert, counter="rows_inserted"))
    if ctx.detect_deletes:
        delete = f"DELETE FROM {d.table(ctx.target)} AS t WHERE {missing_keys(ctx)}"
        out.append(Step("delete", delete, dict(ctx.target_params), "rows_deleted"))
    return out
