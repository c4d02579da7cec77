"""Sampled range bounds: when the planner samples, and the SQL it runs (PostgreSQL samples, SQLite never)."""

from __future__ import annotations

import pytest

from airflow_mapper_provider.dialects import PostgresDialect, SqliteDialect
from airflow_mapper_provider.planning import QuantilePlan, quantile_plan
from airflow_mapper_provider.planning.sampling import SAMPLE_MIN_ROWS, SAMPLE_PER_CHUNK

SOURCE = "SELECT customer_id, name FROM crm.customers"


@pytest.mark.parametrize(
    ("estimate", "step", "can_sample", "expected"),
    [
        (SAMPLE_MIN_ROWS - 1, 50_000, True, QuantilePlan(None, 50_000)),
        (SAMPLE_MIN_ROWS, 50_000, True, QuantilePlan(SAMPLE_PER_CHUNK / 50_000, SAMPLE_PER_CHUNK)),
        (10_000_000, 100_000, True, QuantilePlan(0.004, 400)),
        (10_000_000, 100_000, False, QuantilePlan(None, 100_000)),
        (10_000_000, SAMPLE_PER_CHUNK, True, QuantilePlan(None, SAMPLE_PER_CHUNK)),
    ],
    ids=["small", "threshold", "10M", "cannot-sample", "tiny-chunks"],
)
def test_quantile_plan(estimate: int, step: int, can_sample: bool, expected: QuantilePlan) -> None:
    assert quantile_plan(estimate, step, can_sample=can_sample) == expected


def test_sample_keeps_about_per_chunk_keys_per_chunk() -> None:
    plan = quantile_plan(10_000_000, 50_000)
    assert plan.sampled and plan.fraction is not None
    assert plan.fraction * 50_000 == pytest.approx(plan.step)


def test_postgres_sampled_quantile_sql() -> None:
    sql = PostgresDialect().quantile_sql(SOURCE, "customer_id", sampled=True)
    assert sql == (
        'SELECT mapper_k FROM (SELECT mapper_src."customer_id" AS mapper_k, ROW_NUMBER() OVER (ORDER BY '
        'mapper_src."customer_id") AS mapper_rn FROM (SELECT customer_id, name FROM crm.customers\n) mapper_src '
        'WHERE mapper_src."customer_id" IS NOT NULL AND random() < %(fraction)s) mapper_q '
        "WHERE MOD(mapper_rn - 1, %(step)s) = 0 AND mapper_rn > 1 ORDER BY mapper_rn"
    )


def test_unsampled_quantile_sql_is_unchanged() -> None:
    d = PostgresDialect()
    assert d.quantile_sql(SOURCE, "customer_id") == d.quantile_sql(SOURCE, "customer_id", sampled=False)
    assert "random()" not in d.quantile_sql(SOURCE, "customer_id")


def test_generic_dialect_does_not_sample() -> None:

    assert SqliteDialect().sample_predicate("fraction") is None
    assert PostgresDialect().sample_predicate("fraction") == "random() < %(fraction)s"
