"""Incremental and backfill runs end to end with dag.test() on PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from airflow.sdk import CronDataIntervalTimetable

from tests.dag.conftest import mapper_dag
from tests.helpers import pg_exec, rows

pytestmark = pytest.mark.dag

UTC = dt.timezone.utc
DAY = dt.timedelta(days=1)


def make_orders(dsn: str) -> None:
    pg_exec(dsn, "CREATE TABLE orders (order_id bigint PRIMARY KEY, status text, amount numeric(10,2), "
                 "updated_at timestamptz NOT NULL)")  # fmt: skip


def add_orders(dsn: str, lo: int, hi: int, at: dt.datetime, status: str = "new") -> None:
    sql = (
        "INSERT INTO orders SELECT g, %(s)s, g / 10.0, %(at)s + g * interval '1 millisecond' "
        "FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) g"
    )
    pg_exec(dsn, sql, {"s": status, "at": at, "lo": lo, "hi": hi})


def joblog(dsn: str) -> list[tuple]:
    return rows(dsn, "SELECT rows_read, rows_inserted, rows_updated, status FROM dw.mapper_joblog ORDER BY started_at")


def test_key_checkpoint_three_dag_runs_read_only_changes(pg_conns):
    make_orders(pg_conns.source_dsn)
    add_orders(pg_conns.source_dsn, 1, 12_000, dt.datetime(2026, 5, 1, tzinfo=UTC))
    pg_exec(pg_conns.source_dsn, "ANALYZE orders")
    dag = mapper_dag("t_incr", source_sql="SELECT order_id, status, amount, updated_at FROM orders",
                     target_table="dw.orders", key_columns=["order_id"], load_strategy="scd2",
                     checkpoint_column="updated_at", chunk_size=1_500, min_rows_for_parallel=3_000)  # fmt: skip
    source = "SELECT order_id, status, amount, updated_at FROM orders ORDER BY 1"
    target = "SELECT order_id, status, amount, updated_at FROM dw.orders WHERE is_current ORDER BY 1"
    assert dag.test().state == "success"
    assert rows(pg_conns.target_dsn, target) == rows(pg_conns.source_dsn, source)
    pg_exec(pg_conns.source_dsn, "UPDATE orders SET status = 'paid', updated_at = '2026-05-02' WHERE order_id <= 300")
    add_orders(pg_conns.source_dsn, 12_001, 12_200, dt.datetime(2026, 5, 2, 1, tzinfo=UTC))
    assert dag.test().state == "success"
    assert rows(pg_conns.target_dsn, target) == rows(pg_conns.source_dsn, source)
    pg_exec(pg_conns.source_dsn, "UPDATE orders SET status = 'shipped', updated_at = '2026-05-03' "
                                 "WHERE order_id BETWEEN 100 AND 149")  # fmt: skip
    assert dag.test().state == "success"
    assert rows(pg_conns.target_dsn, target) == rows(pg_conns.source_dsn, source)
    assert joblog(pg_conns.target_dsn) == [
        (12_000, 12_000, 0, "success"),
        (500, 200, 300, "success"),
        (50, 0, 50, "success"),
    ]
    assert rows(pg_conns.target_dsn, "SELECT value FROM dw.mapper_checkpoint") == [("2026-05-03T00:00:00+00:00",)]


def test_backfill_over_three_daily_intervals(pg_conns):
    make_orders(pg_conns.source_dsn)
    day1 = dt.datetime(2026, 4, 1, tzinfo=UTC)
    for i in range(4):  # orders of days 1-4; a status change of day 1's orders on day 3
        add_orders(pg_conns.source_dsn, 1 + 1_000 * i, 1_000 * (i + 1), day1 + i * DAY)
    sql = (
        "SELECT order_id, status, amount, updated_at FROM orders "
        "WHERE updated_at >= '{{ data_interval_start }}' AND updated_at < '{{ data_interval_end }}'"
    )
    dag = mapper_dag("t_backfill", source_sql=sql, target_table="dw.orders_hist", key_columns=["order_id"],
                     load_strategy="scd2", scd2_effective_time="data_interval_end",
                     schedule=CronDataIntervalTimetable("@daily", timezone="UTC"))  # fmt: skip
    runs = []
    for i in range(3):
        dr = dag.test(logical_date=day1 + (i + 1) * DAY)
        assert dr.state == "success"
        runs.append(dr)
    intervals = [(dr.data_interval_start, dr.data_interval_end) for dr in runs]
    assert [e - s for s, e in intervals] == [DAY] * 3  # three consecutive daily windows
    want = pg_exec(pg_conns.source_dsn, "SELECT order_id FROM orders WHERE updated_at >= %(a)s AND updated_at < %(b)s "
                                     "ORDER BY 1", {"a": intervals[0][0], "b": intervals[-1][1]})  # fmt: skip
    assert rows(pg_conns.target_dsn, "SELECT order_id FROM dw.orders_hist WHERE is_current ORDER BY 1") == want
    valid_from = rows(pg_conns.target_dsn, "SELECT DISTINCT valid_from FROM dw.orders_hist ORDER BY 1")
    assert [v for (v,) in valid_from] == [e for _, e in intervals]  # history lines up with business time
    # an older interval after the newer ones is refused, and nothing changes
    before = rows(pg_conns.target_dsn, "SELECT count(*) FROM dw.orders_hist")
    assert dag.test(logical_date=day1).state == "failed"
    assert rows(pg_conns.target_dsn, "SELECT count(*) FROM dw.orders_hist") == before
