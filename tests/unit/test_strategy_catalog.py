"""The strategy table: one object per load strategy, and a dialect's own write replacing the portable steps."""

from __future__ import annotations

import pytest

from airflow_mapper_provider.config import LOAD_STRATEGIES, SCD2_COLUMNS
from airflow_mapper_provider.dialects import Column, ColumnType, PostgresDialect, SqliteDialect
from airflow_mapper_provider.identifiers import TableName
from airflow_mapper_provider.strategies import STRATEGIES, ApplyContext, Step, apply_plan, strategy
from airflow_mapper_provider.strategies.versions import VERSION_COLUMNS

COLUMNS = [Column("id", ColumnType("bigint")), Column("name", ColumnType("text"))]
TABLE = TableName("dim", "dw")


def _ctx(name: str, dialect: object = None) -> ApplyContext:
    return ApplyContext(dialect or PostgresDialect(), TABLE, COLUMNS, ("id",), name)  # type: ignore[arg-type]


def test_one_strategy_per_load_strategy_name() -> None:
    assert tuple(STRATEGIES) == LOAD_STRATEGIES
    assert [(s.keyed, s.versioned, s.key_is_primary) for s in STRATEGIES.values()] == [
        (False, False, False), (True, False, True), (True, True, False),
    ]  # fmt: skip


def test_the_scd2_columns_are_defined_once() -> None:
    assert (
        SCD2_COLUMNS == tuple(c.name for c in VERSION_COLUMNS) == tuple(c.name for c in strategy("scd2").extra_columns)
    )
    assert strategy("scd1").extra_columns == ()


def test_keyed_strategies_check_keys_and_append_does_not() -> None:
    assert [c.name for c in strategy("scd1").checks(_ctx("scd1"))] == ["null_keys", "duplicate_keys"]
    assert strategy("append").checks(_ctx("append")) == []


class MergeDialect(PostgresDialect):
    """A dialect that writes scd1 its own way."""

    def scd1_steps(self, ctx: ApplyContext) -> list[Step]:
        return [Step("merge", f"MERGE INTO {self.table(ctx.target)} ...", counter="rows_inserted")]


def test_a_dialect_may_replace_a_strategys_whole_write() -> None:
    checks, steps = apply_plan(_ctx("scd1", MergeDialect()))
    assert [s.name for s in steps] == ["analyze", "merge"]
    assert [c.name for c in checks] == ["null_keys", "duplicate_keys"]  # the checks stay the strategy's
    _, portable = apply_plan(_ctx("scd1"))
    assert [s.name for s in portable] == ["analyze", "delta", "update", "insert"]
    _, other = apply_plan(_ctx("scd2", MergeDialect()))  # only the strategy it names is replaced
    assert "merge" not in [s.name for s in other]


@pytest.mark.parametrize("dialect", [PostgresDialect(), SqliteDialect()], ids=lambda d: d.name)
def test_target_layout_per_strategy(dialect: object) -> None:
    ddl = {name: s.create_sql(dialect, TABLE if dialect.name == "postgres" else TableName("dim"), COLUMNS, ["id"])  # type: ignore[attr-defined]
           for name, s in STRATEGIES.items()}  # fmt: skip
    assert "PRIMARY KEY" in ddl["scd1"][0] and len(ddl["scd1"]) == 1
    assert "PRIMARY KEY" not in ddl["append"][0] and "CREATE INDEX" in ddl["append"][1]
    assert "valid_from" in ddl["scd2"][0] and "UNIQUE INDEX" in ddl["scd2"][2] and "WHERE" in ddl["scd2"][2]
