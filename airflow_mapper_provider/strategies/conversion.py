"""SQL of converting staging into an existing target's column types (see :mod:`airflow_mapper_provider.convert`).

The statements only read, flag and rebuild the staging table; the casts and the "value would change" conditions
come from the dialect (:meth:`~airflow_mapper_provider.dialects.base.Dialect.cast_sql`, ``lossy_sql``).
"""

from __future__ import annotations

from collections.abc import Sequence

from airflow_mapper_provider.dialects import Dialect
from airflow_mapper_provider.strategies.base import OK, RN, STAGE


def stage_sql(d: Dialect) -> str:
    """Every staged row (described to learn the staged column types)."""
    return f"SELECT * FROM {d.temp_name(STAGE)}"


def lossy_counts_sql(d: Dialect, conditions: Sequence[str]) -> str:
    """One pass over staging: per condition, the rows where it holds (staging alias ``s``)."""
    sums = ", ".join(f"SUM(CASE WHEN {cond} THEN 1 ELSE 0 END)" for cond in conditions)
    return f"SELECT {sums} FROM {d.temp_name(STAGE)} s"


def lossy_rows_sql(d: Dialect, condition: str) -> str:
    """Salvage mode: numbers of the ok staged rows in :mapper_lo..:mapper_hi where ``condition`` holds."""
    rn, ok = d.quote(RN), d.quote(OK)
    return (
        f"SELECT s.{rn} FROM {d.temp_name(STAGE)} s WHERE s.{ok} = 1 "
        f"AND s.{rn} BETWEEN {d.param('mapper_lo')} AND {d.param('mapper_hi')} AND ({condition})"
    )


def flag_sql(d: Dialect, params: Sequence[str], flag: int) -> str:
    """Set ``mapper_ok`` to ``flag`` on the staged rows numbered by the bind parameters ``params``."""
    listed = ", ".join(d.param(p) for p in params)
    return f"UPDATE {d.temp_name(STAGE)} SET {d.quote(OK)} = {int(flag)} WHERE {d.quote(RN)} IN ({listed})"


def rebuild_sql(d: Dialect, selected: Sequence[str], index: bool) -> list[str]:
    """Replace staging by ``SELECT <selected> FROM staging s`` (keeping its name; ``index``: on the row numbers)."""
    temp = STAGE + "_c"
    out = [
        d.create_temp_as_sql(temp, f"SELECT {', '.join(selected)} FROM {d.temp_name(STAGE)} s"),
        f"DROP TABLE {d.temp_name(STAGE)}",
        f"ALTER TABLE {d.temp_name(temp)} RENAME TO {d.quote(STAGE)}",
    ]
    return [*out, d.create_temp_index_sql(STAGE, RN)] if index else out
