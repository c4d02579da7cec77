"""scd1 (upsert): insert new keys, update changed rows in place, leave identical rows untouched."""

from __future__ import annotations

from airflow_mapper_provider.dialects import UpdateSpec
from airflow_mapper_provider.strategies import append
from airflow_mapper_provider.strategies.base import (
    DELTA,
    ApplyContext,
    Step,
    all_of,
    delta_steps,
    rows_slice,
    update_step,
)


def steps(ctx: ApplyContext) -> list[Step]:
    if ctx.empty_target:
        return append.steps(ctx)
    d = ctx.dialect
    cols = d.cols(ctx.names)
    out = delta_steps(ctx, current_only=False)
    if ctx.values:
        sets = [(c.name, f"d.{d.quote(c.name)}") for c in ctx.values]
        changed = all_of("d.mapper_new = 0", rows_slice(ctx, "d"))
        out.append(update_step(ctx, UpdateSpec(ctx.keys, sets, changed), "rows_updated"))
    new = all_of("d.mapper_new = 1", rows_slice(ctx, "d"))
    select = f"SELECT {d.cols(ctx.names, 'd')} FROM {d.temp_name(DELTA)} d WHERE {new}"
    insert = f"INSERT INTO {d.table(ctx.target)} ({cols}) {select}"
    out.append(Step("insert", insert, counter="rows_inserted", sliced=ctx.salvage))
    return out
