"""Stateless daily windows: safe to backfill (`airflow backfill create`), history aligned with business time.

No checkpoint is read or written: each run loads exactly its data interval, so the schedule must give runs a real
interval: CronDataIntervalTimetable (a plain "@daily" string is a CronTriggerTimetable in Airflow 3, whose runs have
zero-length intervals; the plan refuses to run this query over one). With
scd2_effective_time="data_interval_end" every version's valid_from is its interval's end, so backfilling old
days oldest-first rebuilds the same history a daily schedule would have written. Backfilling a day older than
history already in the table is refused (run backfills oldest first, into a fresh table if needed).
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG, CronDataIntervalTimetable

from airflow_mapper_provider import MapperOperator

with DAG(
    dag_id="example_backfill_postgres",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=dt.datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["mapper"],
    doc_md=__doc__,
):
    MapperOperator(
        task_id="orders_history",
        source_conn_id="crm",
        source_sql=(
            "SELECT order_id, customer_id, status, amount, updated_at FROM public.orders "
            "WHERE updated_at >= '{{ data_interval_start }}' AND updated_at < '{{ data_interval_end }}'"
        ),
        target_conn_id="dw",
        target_table="dw.orders_history",
        key_columns=["order_id"],
        load_strategy="scd2",
        checkpoint_strategy="NONE",
        scd2_effective_time="data_interval_end",
        retries=2,
    )
