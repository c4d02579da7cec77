"""What a chunk runs after staging: checks, then statements whose row counts feed the chunk's counters.

Every strategy is expressed with the dialect's building blocks, so adding a database never touches this file.
Shape (scd1/scd2), after the ANCHORS lessons: compute the delta once in a read-only join into a temp table
(unchanged rows are filtered out before any write), then write from the delta.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_mapper_provider.dialects import Column, Dialect, UpdateSpec
from airflow_mapper_provider.identifiers import TableName

STAGE = "mapper_stage"
DELTA = "mapper_delta"
#: Staging column that carries a row hash computed in Python (dialects without SQL hashing).
PY_HASH = "mapper_row_hash"
#: Salvage mode (a chunk with bad rows): staged rows are numbered, writes run by slices of row numbers, and rows
#: rejected by the key rules carry ``mapper_ok = 0``.
RN = "mapper_rn"
OK = "mapper_ok"
SLICE_LO, SLICE_HI = "mapper_lo", "mapper_hi"
#: scd2 with an effective-time column: the latest valid_to of the key's closed versions (a returning key's new
#: version starts no earlier, so versions never overlap).
PREV_TO = "mapper_prev_to"


@dataclass(frozen=True)
class Step:
    """One statement; its row count is added to ``counter`` (None: not counted)."""

    name: str
    sql: str
    params: dict[str, Any] = field(default_factory=dict)
    counter: str | None = None
    #: Salvage mode: the statement writes staged rows numbered :mapper_lo..:mapper_hi only.
    sliced: bool = False


@dataclass(frozen=True)
class Check:
    """A query returning one count that must be zero, else the chunk fails with ``message``."""

    name: str
    sql: str
    message: str


@dataclass(frozen=True)
class ApplyContext:
    """Everything a strategy needs to render its statements.

    :param columns: the source columns, in order (all staged).
    :param empty_target: the chunk's key range holds no target rows (skip the compare join).
    :param python_hash: staging carries :data:`PY_HASH` (scd2 on a dialect without SQL row hashing).
    """

    dialect: Dialect
    target: TableName
    columns: Sequence[Column]
    keys: Sequence[str]
    strategy: str
    effective_time: Any = None
    empty_target: bool = False
    python_hash: bool = False
    #: A narrowing of the compare join to the target rows between the smallest and largest staged key (alias
    #: ``t``), and its parameters: exact by construction (the bounds come from the staged keys themselves), so it
    #: only saves reading the rest of the target. Never the plan's chunk predicate: the target does not evaluate
    #: that (its collation, time zone or hash could place a key elsewhere).
    target_where: str = ""
    target_params: dict[str, Any] = field(default_factory=dict)
    #: scd2: each version's valid_from comes from this source column (None: the run's effective time).
    effective_column: str | None = None
    #: Salvage mode: staging is numbered (:data:`RN`, :data:`OK`) and writes are sliced.
    salvage: bool = False

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def values(self) -> list[Column]:
        """Non-key columns: the ones compared for change detection."""
        keys = set(self.keys)
        return [c for c in self.columns if c.name not in keys]


def null_keys(ctx: ApplyContext) -> str:
    """Condition: a key column is NULL (unqualified column names)."""
    return " OR ".join(f"{ctx.dialect.quote(k)} IS NULL" for k in ctx.keys)


def null_keys_check(ctx: ApplyContext, table_sql: str) -> Check:
    """No row of ``table_sql`` (staging, or the target after a direct COPY) has a NULL key."""
    return Check(
        "null_keys",
        f"SELECT COUNT(*) FROM {table_sql} WHERE {null_keys(ctx)}",
        "{n} row(s) have NULL in a key column ({keys}): scd loads need a non-null business key; "
        "filter or fix them in source_sql, or set max_error_rows to send them to mapper_rejects",
    )


def key_checks(ctx: ApplyContext) -> list[Check]:
    """scd1/scd2 need a non-null key, once per extract."""
    return [
        null_keys_check(ctx, ctx.dialect.temp_name(STAGE)),
        Check(
            "duplicate_keys",
            _extra_rows_sql(ctx),
            "{n} row(s) repeat a key already in the extract ({keys}): make source_sql return one row per "
            "key (e.g. ROW_NUMBER() over the key, keeping the newest), or set max_error_rows to apply the "
            "duplicate rule (the row with the highest checkpoint value wins, the others go to mapper_rejects)",
        ),
    ]


def _extra_rows_sql(ctx: ApplyContext) -> str:
    """Staged rows beyond one per key: one pass with a DISTINCT count for a single key column (NULL keys were
    refused before), a grouping for composite keys."""
    d, stage = ctx.dialect, ctx.dialect.temp_name(STAGE)
    if len(ctx.keys) == 1:
        key = d.quote(ctx.keys[0])
        return f"SELECT COUNT({key}) - COUNT(DISTINCT {key}) FROM {stage}"
    keys = d.cols(ctx.keys)
    grouped = f"SELECT COUNT(*) AS mapper_n FROM {stage} GROUP BY {keys} HAVING COUNT(*) > 1"
    return f"SELECT COALESCE(SUM(mapper_n - 1), 0) FROM ({grouped}) mapper_dup"


def rows_slice(ctx: ApplyContext, alias: str) -> str:
    """Salvage mode: the condition restricting a write to the current slice of staged row numbers."""
    if not ctx.salvage:
        return ""
    d = ctx.dialect
    return f"{alias}.{d.quote(RN)} BETWEEN {d.param(SLICE_LO)} AND {d.param(SLICE_HI)}"


def staged_ok(ctx: ApplyContext, alias: str) -> str:
    """Salvage mode: the condition excluding staged rows rejected by the key rules."""
    return f"{alias}.{ctx.dialect.quote(OK)} = 1" if ctx.salvage else ""


def all_of(*conditions: str) -> str:
    """AND of the non-empty conditions (parenthesized where they hold an OR)."""
    present = [c for c in conditions if c]
    if len(present) == 1:
        return present[0]
    return " AND ".join(f"({c})" if " OR " in c else c for c in present)


def delta_steps(ctx: ApplyContext, current_only: bool) -> list[Step]:
    """The delta step; in salvage mode also an index on its row numbers (writes then go by slices)."""
    steps = [delta_step(ctx, current_only)]
    if ctx.salvage:
        steps.append(Step("delta_index", ctx.dialect.create_temp_index_sql(DELTA, RN)))
    return steps


def delta_step(ctx: ApplyContext, current_only: bool) -> Step:
    """Staged rows that are new or differ from the target, flagged ``mapper_new`` (1 new key, 0 changed)."""
    d = ctx.dialect
    on = d.key_join(ctx.keys, "t", "s")
    if current_only:
        on += f" AND t.{d.quote('is_current')} = {d.true_sql}"
    if ctx.target_where:
        on += f" AND {ctx.target_where}"
    first_key = f"t.{d.quote(ctx.keys[0])}"
    changed = [d.column_differs(f"t.{d.quote(c.name)}", f"s.{d.quote(c.name)}", c) for c in ctx.values]
    where = all_of(" OR ".join([f"{first_key} IS NULL", *changed]), staged_ok(ctx, "s"))
    extra = f", s.{d.quote(PY_HASH)}" if ctx.python_hash else ""
    extra += f", s.{d.quote(RN)}" if ctx.salvage else ""
    if current_only and ctx.effective_column:  # scd2: where the key's history ended, if it did
        history = f"h.{d.quote('valid_to')}"
        extra += (
            f", (SELECT MAX({history}) FROM {d.table(ctx.target)} h WHERE {d.key_join(ctx.keys, 'h', 's')}) "
            f"AS {d.quote(PREV_TO)}"
        )
    select = (
        f"SELECT {d.cols(ctx.names, 's')}{extra}, CASE WHEN {first_key} IS NULL THEN 1 ELSE 0 END AS mapper_new "
        f"FROM {d.temp_name(STAGE)} s LEFT JOIN {d.table(ctx.target)} t ON {on} WHERE {where}"
    )
    return Step("delta", d.create_temp_as_sql(DELTA, select), dict(ctx.target_params))


def apply_plan(ctx: ApplyContext) -> tuple[list[Check], list[Step | Check]]:
    """The checks and statements for ``ctx.strategy`` (staging already filled); statements may hold checks
    that need the delta (run in order)."""
    from airflow_mapper_provider.strategies.catalog import strategy

    chosen = strategy(ctx.strategy)
    steps: list[Step | Check] = [s for s in _prelude(ctx, chosen.keyed) if s.sql]
    steps += chosen.write(ctx)
    return chosen.checks(ctx), steps


def _prelude(ctx: ApplyContext, keyed: bool) -> list[Step]:
    """Statistics for the compare join's plan; an empty target range (or append) joins nothing."""
    if ctx.empty_target or not keyed:
        return []
    return [Step("analyze", ctx.dialect.analyze_sql(STAGE, ctx.keys))]


def update_step(ctx: ApplyContext, upd: UpdateSpec, counter: str, params: dict[str, Any] | None = None) -> Step:
    sql = ctx.dialect.update_from_sql(ctx.target, DELTA, upd)
    return Step("update", sql, params or {}, counter, sliced=ctx.salvage)
