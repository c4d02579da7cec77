"""scd2 (history) from PostgreSQL to PostgreSQL: crm customers -> dw.dim_customer_history.

A changed customer gets its current version closed (valid_to = the run's effective time, is_current = false)
and a new current version inserted; new customers get a first version; unchanged ones are not touched. The
target table (with valid_from, valid_to, is_current, row_hash) is created on the first run. Connections:
``crm`` (source), ``dw`` (target).
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG

from airflow_mapper_provider import MapperOperator

with DAG(
    dag_id="example_scd2_postgres",
    schedule="@daily",
    start_date=dt.datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,  # one run at a time; a second run of the mapref started anyway waits for the first
    tags=["mapper"],
    doc_md=__doc__,
):
    MapperOperator(
        task_id="load_dim_customer_history",
        source_conn_id="crm",
        source_sql="SELECT customer_id, name, email, country, balance, updated_at FROM public.customers",
        target_conn_id="dw",
        target_table="dw.dim_customer_history",
        key_columns=["customer_id"],
        load_strategy="scd2",
        chunk_size=100_000,
        max_active_chunks=4,
        retries=2,
        retry_delay=dt.timedelta(seconds=30),
        retry_exponential_backoff=2.0,
    )
