"""The load strategies as objects, looked up in one table: each owns its target layout, checks, steps, counters.

A dialect may replace a strategy's whole write by defining ``<strategy>_steps(ctx)`` (dbt's ``postgres__*``
macro idea): :meth:`Strategy.write` calls it instead of the portable steps, so a database with ``MERGE`` uses it
without a special case here or in the callers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from airflow_mapper_provider.dialects import Column, Dialect
from airflow_mapper_provider.identifiers import TableName, index_name
from airflow_mapper_provider.strategies import append, scd1, scd2
from airflow_mapper_provider.strategies.base import ApplyContext, Check, Step, key_checks
from airflow_mapper_provider.strategies.versions import VERSION_COLUMNS

Work = list[Step | Check]


@dataclass(frozen=True)
class Strategy:
    """One load strategy.

    :param name: as ``load_strategy`` spells it.
    :param keyed: needs the business key: key checks, a compare with the target, one row per key.
    :param versioned: keeps history: the target has :data:`VERSION_COLUMNS` besides the source's.
    :param key_is_primary: a target the mapper creates has the key as its primary key.
    :param counters: the ChunkResult counters its statements feed.
    """

    name: str
    keyed: bool
    versioned: bool
    key_is_primary: bool
    counters: tuple[str, ...]
    _steps: Callable[[ApplyContext], Sequence[Step | Check]]

    @property
    def extra_columns(self) -> tuple[Column, ...]:
        """Target columns this strategy adds to the source's."""
        return VERSION_COLUMNS if self.versioned else ()

    def checks(self, ctx: ApplyContext) -> list[Check]:
        """Checks on staging before any write (salvage mode applies the key rules row by row instead)."""
        return key_checks(ctx) if self.keyed and not ctx.salvage else []

    def write(self, ctx: ApplyContext) -> Work:
        """The statements that write staging into the target: the dialect's own ``<name>_steps`` where it has
        one, else the portable steps."""
        override: Callable[[ApplyContext], Sequence[Step | Check]] | None = getattr(
            ctx.dialect, f"{self.name}_steps", None
        )
        return list(override(ctx) if override is not None else self._steps(ctx))

    def direct_checks(self, ctx: ApplyContext) -> list[Check]:
        """After rows were copied straight into the target (no staging): the checks staging would have made."""
        return scd2.direct_checks(ctx) if self.versioned else []

    def create_sql(self, d: Dialect, table: TableName, columns: Sequence[Column], keys: Sequence[str]) -> list[str]:
        """DDL of a target table the mapper creates for this strategy, with its indexes."""
        if self.versioned:
            # (key, valid_from, valid_to): a key's versions are unique, and an empty version (closed at its own
            # start, a deleted key dated in the future) may share its start with the version that follows it
            history = [*keys, "valid_from", "valid_to"]
            current = f"{d.quote('is_current')} = {d.true_sql}"
            return [
                d.create_table_sql(table, [*columns, *self.extra_columns], primary_key=(), keys=keys),
                d.create_index_sql(table, _index(d, table, "key_from_ux"), history, unique=True),
                d.create_index_sql(table, _index(d, table, "current_ux"), keys, unique=True, where=current),
            ]
        out = [d.create_table_sql(table, columns, primary_key=keys if self.key_is_primary else (), keys=keys)]
        if not self.keyed and keys:
            out.append(d.create_index_sql(table, _index(d, table, "key_ix"), keys))
        return out


def _index(d: Dialect, table: TableName, suffix: str) -> str:
    return index_name(table.table, suffix, d.caps.max_identifier)


STRATEGIES: dict[str, Strategy] = {
    s.name: s
    for s in (
        Strategy("append", False, False, False, ("rows_inserted",), append.steps),
        Strategy("scd1", True, False, True, ("rows_inserted", "rows_updated"), scd1.steps),
        Strategy("scd2", True, True, False, ("rows_inserted", "rows_updated", "rows_expired"), scd2.steps),
    )
}


def strategy(name: str) -> Strategy:
    """The strategy ``load_strategy`` names (validated at parse time)."""
    return STRATEGIES[name]
