"""exact_row_count: plan counts the source instead of taking the optimizer's estimate (real PostgreSQL)."""

from __future__ import annotations

import pytest

from airflow_mapper_provider.exceptions import ConfigError
from airflow_mapper_provider.planner import plan
from tests.helpers import CUSTOMER_COLUMNS, config, make_customers, pg_exec, sessions

# PostgreSQL estimates "x % 7 = 0" at its default 0.5% selectivity: 15 of 3,000 rows, where 428 match
SQL = f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE customer_id % 7 = 0"


@pytest.mark.parametrize("exact", [False, True])
def test_exact_row_count_counts_instead_of_estimating(pg_dbs, exact: bool) -> None:
    make_customers(pg_dbs.source_dsn, 3_000)
    pg_exec(pg_dbs.source_dsn, "ANALYZE customers")
    cfg = config("scd1", "dw.dim_customer", min_rows_for_parallel=10, exact_row_count=exact)
    with sessions(pg_dbs.source_uri, pg_dbs.target_uri) as (src, tgt):
        specs = plan(cfg, SQL, "r1", "2026-06-01T00:00:00+00:00", 1024, src, tgt)
    if exact:
        assert specs[0].estimated_rows == 428
    else:
        assert specs[0].estimated_rows < 100  # the optimizer's guess, taken as it is above min_rows_for_parallel


def test_exact_row_count_is_a_boolean() -> None:
    with pytest.raises(ConfigError, match="exact_row_count must be True or False"):
        config("scd1", "dw.t", exact_row_count="yes")
