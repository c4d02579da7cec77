"""Default chunk sizing through dag.test(): the plan sees that tasks run one at a time (one slot), unless
max_active_chunks says otherwise; outside dag.test() it sees Airflow's parallelism."""

from __future__ import annotations

import pytest

from airflow_mapper_provider._compat import runs_tasks_one_at_a_time
from airflow_mapper_provider.planning import sizing
from tests.dag.conftest import mapper_dag
from tests.helpers import CUSTOMER_COLUMNS, make_customers, source_rows

SQL = f"SELECT {CUSTOMER_COLUMNS} FROM customers"


@pytest.fixture
def small_band(monkeypatch: pytest.MonkeyPatch) -> None:
    """The size band scaled down 100x (dag.test() runs the tasks in this process)."""
    monkeypatch.setattr(sizing, "FLOOR_ROWS", sizing.FLOOR_ROWS // 100)
    monkeypatch.setattr(sizing, "CEILING_ROWS", sizing.CEILING_ROWS // 100)


def chunks_of(dr) -> int:
    return len([ti for ti in dr.get_task_instances() if ti.task_id == "load.load_chunk"])


@pytest.mark.parametrize(("max_active_chunks", "expected"), [(None, 1), (3, 3)])
def test_dag_test_plans_one_chunk_per_slot(pg_conns, small_band, max_active_chunks, expected):
    make_customers(pg_conns.source_dsn, 15_000)  # under the (scaled) ceiling: one chunk for one slot
    dag = mapper_dag(f"t_sized_{expected}", source_sql=SQL, target_table=f"dw.sized_{expected}",
                     key_columns=["customer_id"], load_strategy="scd1", min_rows_for_parallel=0,
                     max_active_chunks=max_active_chunks)  # fmt: skip
    dr = dag.test()
    assert dr.state == "success" and chunks_of(dr) == expected
    assert source_rows(pg_conns.target_dsn, f"dw.sized_{expected}") == source_rows(pg_conns.source_dsn)


def test_outside_dag_test_tasks_do_not_run_one_at_a_time():
    assert runs_tasks_one_at_a_time() is False
