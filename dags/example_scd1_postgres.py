"""scd1 (upsert) from PostgreSQL to PostgreSQL: crm customers -> dw.dim_customer.

New customers are inserted, changed ones are updated in place, identical rows are left alone. The target
table (with a primary key on customer_id) is created on the first run. Connections: ``crm`` (source), ``dw``
(target).
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG

from airflow_mapper_provider import MapperOperator

with DAG(
    dag_id="example_scd1_postgres",
    schedule="@daily",
    start_date=dt.datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,  # one run at a time; a second run of the mapref started anyway waits for the first
    tags=["mapper"],
    doc_md=__doc__,
):
    MapperOperator(
        task_id="load_dim_customer",
        source_conn_id="crm",
        source_sql="SELECT customer_id, name, email, country, balance, updated_at FROM public.customers",
        target_conn_id="dw",
        target_table="dw.dim_customer",
        key_columns=["customer_id"],
        load_strategy="scd1",
        chunk_size=100_000,
        max_active_chunks=4,
        # task_kwargs: applied to plan, every load_chunk and finalize
        retries=2,
        retry_delay=dt.timedelta(seconds=30),
        retry_exponential_backoff=2.0,
    )
