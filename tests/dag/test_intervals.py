"""Window queries and Airflow 3 timetables, end to end with dag.test() on PostgreSQL (production defaults).

A cron string schedule uses CronTriggerTimetable in Airflow 3: its runs have data_interval_start ==
data_interval_end, so a ``data_interval_start .. data_interval_end`` query would select nothing and succeed.
"""

from __future__ import annotations

import datetime as dt

import pytest
from airflow.sdk import CronDataIntervalTimetable, CronTriggerTimetable

from tests.dag.conftest import mapper_dag
from tests.helpers import pg_exec, rows

UTC = dt.timezone.utc
DAY = dt.timedelta(days=1)
DAY1 = dt.datetime(2026, 4, 1, tzinfo=UTC)
WINDOW_SQL = (
    "SELECT order_id, amount, updated_at FROM orders "
    "WHERE updated_at >= '{{ data_interval_start }}' AND updated_at < '{{ data_interval_end }}'"
)


@pytest.fixture
def orders(pg_conns):
    """1,000 orders on each of 2026-04-01 .. 2026-04-03 (order_id 1-1000 on day 1, and so on)."""
    pg_exec(pg_conns.source_dsn, "CREATE TABLE orders (order_id bigint PRIMARY KEY, amount numeric(10,2), "
                                 "updated_at timestamptz NOT NULL)")  # fmt: skip
    pg_exec(pg_conns.source_dsn, "INSERT INTO orders SELECT g, g / 10.0, %(day1)s + ((g - 1) / 1000) * interval "
                                 "'1 day' + g * interval '1 second' FROM generate_series(1, 3000) g",
            {"day1": DAY1})  # fmt: skip
    return pg_conns


def window_dag(dag_id: str, schedule: object):
    return mapper_dag(dag_id, source_sql=WINDOW_SQL, target_table="dw.orders_day", key_columns=["order_id"],
                      load_strategy="append", schedule=schedule)  # fmt: skip


def test_trigger_timetable_run_fails_at_plan_and_loads_nothing(orders, capfd):
    dag = window_dag("t_interval_trigger", CronTriggerTimetable("@daily", timezone="UTC"))
    dr = dag.test(logical_date=DAY1 + DAY)
    task_log = "".join(capfd.readouterr())  # dag.test() prints each task's log, with its exception, here
    assert dr.data_interval_start == dr.data_interval_end  # the premise: a zero-length interval
    assert dr.state == "failed"
    states = {ti.task_id: ti.state for ti in dr.get_task_instances()}
    assert states["load.plan"] == "failed" and states["load.finalize"] == "failed"
    plan = next(ti for ti in dr.get_task_instances() if ti.task_id == "load.plan")
    assert plan.try_number == 1  # AirflowFailException: no retry spent
    assert "AirflowFailException: ConfigError: source_sql selects data_interval_start" in task_log
    assert "this run has an empty data interval" in task_log
    assert "CronDataIntervalTimetable" in task_log and "create_cron_data_intervals" in task_log
    assert rows(orders.target_dsn, "SELECT to_regclass('dw.orders_day')") == [(None,)]  # plan stopped first
    got = rows(orders.target_dsn, f"SELECT status, rows_read FROM dw.mapper_joblog WHERE run_id = '{dr.run_id}'")
    assert got == [("failed", 0)]


def test_data_interval_timetable_run_loads_its_day(orders):
    dag = window_dag("t_interval_cron", CronDataIntervalTimetable("@daily", timezone="UTC"))
    dr = dag.test(logical_date=DAY1 + 2 * DAY)  # a manual run at this date gets the last complete day
    assert dr.state == "success"
    assert (dr.data_interval_start, dr.data_interval_end) == (DAY1 + DAY, DAY1 + 2 * DAY)
    assert rows(orders.target_dsn, "SELECT count(*), min(order_id), max(order_id) FROM dw.orders_day") == [
        (1000, 1001, 2000)
    ]
    got = rows(orders.target_dsn, f"SELECT status, rows_read FROM dw.mapper_joblog WHERE run_id = '{dr.run_id}'")
    assert got == [("success", 1000)]


def test_query_without_both_bounds_runs_on_a_trigger_timetable(orders):
    """The check looks only at queries naming both bounds: a full read on a cron schedule still runs."""
    dag = mapper_dag("t_interval_full", source_sql="SELECT order_id, amount, updated_at FROM orders",
                     target_table="dw.orders_all", key_columns=["order_id"], load_strategy="scd1",
                     schedule=CronTriggerTimetable("@daily", timezone="UTC"))  # fmt: skip
    dr = dag.test(logical_date=DAY1 + DAY)
    assert dr.state == "success"
    assert rows(orders.target_dsn, "SELECT count(*) FROM dw.orders_all") == [(3000,)]
