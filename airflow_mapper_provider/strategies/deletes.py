"""detect_deletes: the keys a run saw, and the target keys it never saw (deleted by scd1, closed by scd2).

Invariant 2, "a key that the source returned is never deleted or closed by that run", lives here. Each chunk
records the keys of every row it staged (rejected rows included) in the run's key table, in the chunk's own
transaction; finalize, once every chunk succeeded, deletes or closes the target keys absent from the keys of the
run (and of the unfinished runs whose committed chunks it took over). The target never evaluates a chunk's
predicate, so no collation, time zone or hash function decides which target rows a chunk may delete.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from airflow_mapper_provider.dialects import ColumnType, Dialect
from airflow_mapper_provider.identifiers import TableName, derived_name
from airflow_mapper_provider.strategies.base import STAGE

RUN, CHUNK = "mapper_run", "mapper_chunk"


@dataclass(frozen=True)
class SeenKeys:
    """The key table of one mapref: ``mapper_run``, ``mapper_chunk`` and the key columns in the target's types.

    :param dialect: the target's dialect.
    :param target: the target table.
    :param keys: the business key columns.
    :param schema: schema of the mapper tables.
    :param mapref: the job identity (names the table).
    """

    dialect: Dialect
    target: TableName
    keys: Sequence[str]
    schema: str | None
    mapref: str

    @property
    def table(self) -> TableName:
        digest = hashlib.sha256(self.mapref.encode("utf-8")).hexdigest()[:12]
        return TableName(f"mapper_keys_{digest}", self.schema)

    def create_sql(self) -> list[str]:
        """The table, with the target's key column types (copied by CREATE TABLE AS), and its index."""
        d, t = self.dialect, self.dialect.table(self.target)
        select = (
            f"SELECT {d.typed_null(ColumnType('varchar', length=250))} AS {d.quote(RUN)}, "
            f"{d.typed_null(ColumnType('int'))} AS {d.quote(CHUNK)}, "
            f"{d.cols(self.keys, 't')} FROM {t} t WHERE 1 = 0"
        )
        return [
            f"CREATE TABLE {d.table(self.table)} AS {select}",
            d.create_index_sql(self.table, derived_name(self.table.table, "ix"), [*self.keys, RUN]),
        ]

    def record_staged_sql(self) -> str:
        """Record the keys of every staged row (``:run``, ``:chunk``)."""
        d = self.dialect
        not_null = " AND ".join(f"s.{d.quote(k)} IS NOT NULL" for k in self.keys)
        return (
            f"INSERT INTO {d.table(self.table)} ({d.cols([RUN, CHUNK, *self.keys])}) "
            f"SELECT {d.param('run')}, {d.param('chunk')}, {d.cols(self.keys, 's')} FROM {d.temp_name(STAGE)} s "
            f"WHERE {not_null}"
        )

    def absent(self, runs: Sequence[str], current_only: bool) -> tuple[str, dict[str, Any]]:
        """Condition on target alias ``t``: a (current) non-NULL key that none of ``runs`` saw."""
        d = self.dialect
        marks = ", ".join(d.param(f"r{i}") for i in range(len(runs)))
        seen = (
            f"SELECT 1 FROM {d.table(self.table)} k WHERE k.{d.quote(RUN)} IN ({marks}) "
            f"AND {d.key_join(self.keys, 'k', 't')}"
        )
        cond = " AND ".join(f"t.{d.quote(k)} IS NOT NULL" for k in self.keys) + f" AND NOT EXISTS ({seen})"
        if current_only:
            cond = f"t.{d.quote('is_current')} = {d.true_sql} AND {cond}"
        return cond, {f"r{i}": run for i, run in enumerate(runs)}

    def count_sql(self, where: str) -> str:
        return f"SELECT COUNT(*) FROM {self.dialect.table(self.target)} t" + (f" WHERE {where}" if where else "")

    def delete_sql(self, where: str) -> str:
        return self.dialect.target_delete_sql(self.target, where)

    def close_sql(self, where: str) -> str:
        """scd2: close the absent keys' current versions at the run's effective time ``:eff`` (never before the
        version's own valid_from, so no version ends before it starts)."""
        d = self.dialect
        vf = f"t.{d.quote('valid_from')}"
        to = f"CASE WHEN {vf} > {d.param('eff')} THEN {vf} ELSE {d.param('eff')} END"
        sets = f"{d.quote('valid_to')} = {to}, {d.quote('is_current')} = {d.false_sql}"
        return d.target_update_sql(self.target, sets, where)

    def forget_sql(self, runs: Sequence[str]) -> tuple[str, dict[str, Any]]:
        """Drop the recorded keys of ``runs`` (after their deletes were applied)."""
        d = self.dialect
        marks = ", ".join(d.param(f"r{i}") for i in range(len(runs)))
        sql = f"DELETE FROM {d.table(self.table)} WHERE {d.quote(RUN)} IN ({marks})"
        return sql, {f"r{i}": run for i, run in enumerate(runs)}
