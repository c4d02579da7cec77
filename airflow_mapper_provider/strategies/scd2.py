"""scd2: close the current version of a changed key and insert a new current version; new keys get one.

Target columns added to the source's: valid_from (the run's effective time), valid_to (NULL while current),
is_current, row_hash (over the non-key columns). Counters: rows_inserted = new keys, rows_updated = changed keys
(each got a new version), rows_expired = versions closed.
"""

from __future__ import annotations

from airflow_mapper_provider.dialects import UpdateSpec
from airflow_mapper_provider.strategies.base import (
    DELTA,
    PREV_TO,
    PY_HASH,
    STAGE,
    ApplyContext,
    Check,
    Step,
    all_of,
    delta_steps,
    null_keys_check,
    rows_slice,
    staged_ok,
    update_step,
)
from airflow_mapper_provider.strategies.versions import VERSION_NAMES


def steps(ctx: ApplyContext) -> list[Step | Check]:
    d = ctx.dialect
    eff = {"eff": ctx.effective_time}
    col = ctx.effective_column
    checks = _effective_checks(ctx) if col else []
    if ctx.empty_target:
        insert = Step("insert", _insert_versions(ctx, STAGE, "s"), eff, "rows_versions", sliced=ctx.salvage)
        return [*checks, insert]
    new_to = f"d.{d.quote(col)}" if col else d.param("eff")
    changed = all_of("d.mapper_new = 0", rows_slice(ctx, "d"))
    expire = UpdateSpec(ctx.keys, [("valid_to", new_to), ("is_current", d.false_sql)], changed, "is_current")
    out: list[Step | Check] = [*checks, *delta_steps(ctx, current_only=True)]
    if col:
        out.append(_order_check(ctx, col))
    out += [
        update_step(ctx, expire, "rows_expired", eff),
        Step("insert", _insert_versions(ctx, DELTA, "d"), eff, "rows_versions", sliced=ctx.salvage),
    ]
    return out


def _effective_checks(ctx: ApplyContext) -> list[Step | Check]:
    d, col = ctx.dialect, ctx.effective_column or ""
    sql = f"SELECT COUNT(*) FROM {d.temp_name(STAGE)} WHERE {d.quote(col)} IS NULL"
    return [Check("null_effective", sql, f"{{n}} row(s) have NULL in the scd2_effective_time column {col!r}")]


def _order_check(ctx: ApplyContext, col: str) -> Check:
    d = ctx.dialect
    sql = (
        f"SELECT COUNT(*) FROM {d.temp_name(DELTA)} d JOIN {d.table(ctx.target)} t ON {d.key_join(ctx.keys, 't', 'd')} "
        f"AND t.{d.quote('is_current')} = {d.true_sql} "
        f"WHERE d.mapper_new = 0 AND d.{d.quote(col)} <= t.{d.quote('valid_from')}"
    )
    return Check(
        "version_order",
        sql,
        f"{{n}} changed key(s) have {col!r} at or before the valid_from of their current version: history must "
        "move forward; fix the source's effective times",
    )


def _insert_versions(ctx: ApplyContext, source: str, alias: str) -> str:
    d = ctx.dialect
    hash_sql = d.row_hash_expr(ctx.values, alias)
    if hash_sql is None:
        hash_sql = f"{alias}.{d.quote(PY_HASH)}"
    valid_from = f"{alias}.{d.quote(ctx.effective_column)}" if ctx.effective_column else d.param("eff")
    if ctx.effective_column and source == DELTA:  # a returning key starts where its closed history ended
        prev = f"{alias}.{d.quote(PREV_TO)}"
        valid_from = f"CASE WHEN {prev} > {valid_from} THEN {prev} ELSE {valid_from} END"
    target_cols = d.cols([*ctx.names, *VERSION_NAMES])
    select = f"{d.cols(ctx.names, alias)}, {valid_from}, NULL, {d.true_sql}, {hash_sql}"
    sql = f"INSERT INTO {d.table(ctx.target)} ({target_cols}) SELECT {select} FROM {d.temp_name(source)} {alias}"
    where = all_of(staged_ok(ctx, alias) if source == STAGE else "", rows_slice(ctx, alias))
    return sql + (f" WHERE {where}" if where else "")


def direct_checks(ctx: ApplyContext) -> list[Check]:
    """After new versions were copied straight into the target: no NULL key arrived (the unique indexes allow
    NULLs; they use the key index, so this is a lookup, not a scan)."""
    return [null_keys_check(ctx, ctx.dialect.table(ctx.target))]
