"""append from PostgreSQL to PostgreSQL: one day of crm orders per run -> dw.fact_orders.

append inserts every row it reads, so the source query selects only the run's data interval (templated):
scheduled runs, or manual runs given a logical date (a run without one has no data interval). The schedule is a
CronDataIntervalTimetable: a plain "@daily" string is a CronTriggerTimetable in Airflow 3, whose runs have
zero-length intervals (the plan refuses to run this query over one). One run at a time: runs of one job never
overlap.
key_columns is optional for append; with it, a large day is split into order_id ranges loaded in parallel.
The target table is created on the first run. Connections: ``crm`` (source), ``dw`` (target).
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG, CronDataIntervalTimetable

from airflow_mapper_provider import MapperOperator

ORDERS_SQL = """
SELECT order_id, customer_id, order_date, amount, status
FROM public.orders
WHERE order_date >= '{{ data_interval_start }}' AND order_date < '{{ data_interval_end }}'
"""

with DAG(
    dag_id="example_append_postgres",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=dt.datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["mapper"],
    doc_md=__doc__,
):
    MapperOperator(
        task_id="load_fact_orders",
        source_conn_id="crm",
        source_sql=ORDERS_SQL,
        target_conn_id="dw",
        target_table="dw.fact_orders",
        key_columns=["order_id"],
        load_strategy="append",
        chunk_size=250_000,
        max_active_chunks=4,
        retries=2,
        retry_delay=dt.timedelta(seconds=30),
        retry_exponential_backoff=2.0,
    )
