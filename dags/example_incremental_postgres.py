"""Scheduled incremental scd2 load: only rows changed since the last successful run (KEY checkpoint)."""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG

from airflow_mapper_provider import MapperOperator

with DAG(
    dag_id="example_incremental_postgres",
    schedule="@hourly",
    start_date=dt.datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["mapper"],
    doc_md=__doc__,
):
    MapperOperator(
        task_id="dim_customer_history",
        source_conn_id="crm",
        source_sql="SELECT customer_id, name, email, country, balance, updated_at FROM public.customers",
        target_conn_id="dw",
        target_table="dw.dim_customer_history",
        key_columns=["customer_id"],
        load_strategy="scd2",
        checkpoint_column="updated_at",  # KEY checkpoint: reads updated_at > last stored value
        checkpoint_lookback=dt.timedelta(minutes=15),  # re-read transactions that committed late
        retries=2,
        retry_delay=dt.timedelta(seconds=30),
        retry_exponential_backoff=2.0,
    )
