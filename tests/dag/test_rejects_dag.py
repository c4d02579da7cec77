"""Rejected rows end to end with dag.test(): 10 bad rows in 20,000 (real PostgreSQL, real Airflow)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.dag.conftest import mapper_dag
from tests.dag.test_dag_runs import joblog
from tests.helpers import CUSTOMER_COLUMNS, make_customers, pg_exec, rows

pytestmark = [pytest.mark.pg, pytest.mark.dag]

SQL = f"SELECT {CUSTOMER_COLUMNS} FROM customers"
TARGET = """
CREATE SCHEMA IF NOT EXISTS dw;
CREATE TABLE dw.dim_rej (
    customer_id bigint PRIMARY KEY, name text NOT NULL, email text, country char(2),
    balance numeric(12,2) CHECK (balance >= 0), created_at timestamptz, active boolean, birth date, notes text
)"""


def _setup(pg) -> None:
    make_customers(pg.source_dsn, 20_000)
    pg_exec(pg.source_dsn, "UPDATE customers SET balance = -5 WHERE customer_id BETWEEN 12001 AND 12010")
    pg_exec(pg.target_dsn, TARGET)


def _chunk_tis(dr) -> list:
    return [ti for ti in dr.get_task_instances() if ti.task_id == "load.load_chunk"]


@pytest.mark.parametrize(("budget", "outcome"), [(100, "success"), (5, "failed")])
def test_ten_bad_rows_in_twenty_thousand(pg_conns, budget: int, outcome: str):
    _setup(pg_conns)
    dag = mapper_dag(f"t_rejects_{budget}", source_sql=SQL, target_table="dw.dim_rej", key_columns=["customer_id"],
                     load_strategy="scd1", chunk_size=2_000, min_rows_for_parallel=5_000, max_error_rows=budget,
                     retries=2, retry_delay=dt.timedelta(seconds=1))  # fmt: skip
    dr = dag.test()
    assert dr.state == outcome
    log = joblog(pg_conns.target_dsn, dr.run_id)
    rejects = rows(pg_conns.target_dsn, "SELECT key_values::json->>'customer_id', error_code FROM dw.mapper_rejects "
                                        f"WHERE run_id = '{dr.run_id}' ORDER BY 1")  # fmt: skip
    loaded = rows(pg_conns.target_dsn, "SELECT count(*) FROM dw.dim_rej")[0][0]
    if budget == 100:
        assert (log["status"], log["rows_rejected"], log["rows_inserted"]) == ("success", 10, 19_990)
        assert loaded == 19_990
        assert rejects == [(str(k), "23514") for k in range(12001, 12011)]
        return
    tis = _chunk_tis(dr)
    failed = [ti for ti in tis if ti.state == "failed"]
    assert len(failed) == 1 and failed[0].try_number == 1  # a data error over the budget spends no retry
    assert all(ti.state == "success" for ti in tis if ti is not failed[0])
    assert log["status"] == "failed" and log["rows_rejected"] == 0 and rejects == []
    in_failed_chunk = rows(pg_conns.target_dsn, "SELECT lower_bound, upper_bound FROM dw.mapper_chunklog "
                                                f"WHERE run_id = '{dr.run_id}' AND status = 'failed'")  # fmt: skip
    lo, hi = (int(v) for v in in_failed_chunk[0])
    assert lo <= 12001 and hi > 12010
    assert loaded == 20_000 - (hi - lo)  # every other chunk committed; the failed one committed nothing
