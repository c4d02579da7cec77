"""scd2: close the current version of a changed key and insert a new current version; new keys get one.

Target columns added to the source's: valid_from (the run's effective time), valid_to (NULL while current),
is_current, row_hash (over the non-key columns). Counters: rows_inserted = new keys, rows_updated = changed keys
(each got a new version), rows_expired = versions closed.
"""

from __future__ import annotations

from airflow_mapper_provider.dialects import UpdateSpec
from airflow_mapper_provider.strategies.base import (
    DELTA,
    PY_HASH,
    STAGE,
    ApplyContext,
    Step,
    delta_step,
    update_step,
)

SCD2_COLUMNS = ("valid_from", "valid_to", "is_current", "row_hash")


def steps(ctx: ApplyContext) -> list[Step]:
    d = ctx.dialect
    eff = {"eff": ctx.effective_time}
    if ctx.empty_target:
        return [Step("insert", _insert_versions(ctx, STAGE, "s", ""), eff, "rows_versions")]
    sets = [("valid_to", d.param("eff")), ("is_current", d.false_sql)]
    expire = UpdateSpec(ctx.keys, sets, "d.mapper_new = 0", target_flag="is_current")
    return [
        delta_step(ctx, current_only=True),
        update_step(ctx, expire, "rows_expired", eff),
        Step("insert", _insert_versions(ctx, DELTA, "d", ""), eff, "rows_versions"),
    ]


def _insert_versions(ctx: ApplyContext, source: str, alias: str, where: str) -> str:
    d = ctx.dialect
    hash_sql = d.row_hash_expr(ctx.values, alias)
    if hash_sql is None:
        hash_sql = f"{alias}.{d.quote(PY_HASH)}"
    target_cols = d.cols([*ctx.names, *SCD2_COLUMNS])
    select = f"{d.cols(ctx.names, alias)}, {d.param('eff')}, NULL, {d.true_sql}, {hash_sql}"
    cond = f" WHERE {where}" if where else ""
    return f"INSERT INTO {d.table(ctx.target)} ({target_cols}) SELECT {select} FROM {d.temp_name(source)} {alias}{cond}"
