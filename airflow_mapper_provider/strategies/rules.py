"""SQL of salvage mode: number the staged rows, find rows breaking the key rules, flag and fetch rows.

Salvage mode (see :mod:`airflow_mapper_provider.salvage`) loads a chunk that holds bad rows; the statements here
only read and flag the staging table, the writes come from the strategies with ``ctx.salvage`` set.
"""

from __future__ import annotations

from collections.abc import Sequence

from airflow_mapper_provider.strategies.base import OK, RN, STAGE, ApplyContext, null_keys


def number_staging(ctx: ApplyContext) -> list[str]:
    """Number the staged rows 1..n and flag them ok (the statements replace the staging table)."""
    return ctx.dialect.number_rows_sql(STAGE, STAGE + "_n", RN, OK)


def null_key_rows_sql(ctx: ApplyContext) -> str:
    d = ctx.dialect
    return f"SELECT {d.quote(RN)} FROM {d.temp_name(STAGE)} WHERE {d.quote(OK)} = 1 AND ({null_keys(ctx)})"


def duplicate_count_sql(ctx: ApplyContext) -> str:
    """Rows in excess of one per key (the least number of rejects the duplicate rule makes)."""
    d = ctx.dialect
    keys = d.cols(ctx.keys)
    return (
        f"SELECT COALESCE(SUM(mapper_n - 1), 0) FROM (SELECT COUNT(*) AS mapper_n FROM {d.temp_name(STAGE)} "
        f"WHERE {d.quote(OK)} = 1 GROUP BY {keys} HAVING COUNT(*) > 1) mapper_dup"
    )


def duplicate_rows_sql(ctx: ApplyContext) -> str:
    """Every ok staged row whose key appears more than once: row number, then the source columns."""
    d = ctx.dialect
    rn = d.quote(RN)
    # staging named once: MySQL cannot open a TEMPORARY table twice in one statement (error 1137)
    counted = (
        f"SELECT s.*, COUNT(*) OVER (PARTITION BY {d.cols(ctx.keys, 's')}) AS mapper_n "
        f"FROM {d.temp_name(STAGE)} s WHERE s.{d.quote(OK)} = 1"
    )
    return f"SELECT s.{rn}, {d.cols(ctx.names, 's')} FROM ({counted}) s WHERE s.mapper_n > 1 ORDER BY s.{rn}"


def staged_row_sql(ctx: ApplyContext) -> str:
    d = ctx.dialect
    return f"SELECT {d.cols(ctx.names)} FROM {d.temp_name(STAGE)} WHERE {d.quote(RN)} = {d.param('rn')}"


def flag_rows_sql(ctx: ApplyContext, params: Sequence[str]) -> str:
    """Set ``mapper_ok = 0`` on the staged rows numbered by the bind parameters ``params``."""
    d = ctx.dialect
    listed = ", ".join(d.param(p) for p in params)
    return f"UPDATE {d.temp_name(STAGE)} SET {d.quote(OK)} = 0 WHERE {d.quote(RN)} IN ({listed})"
