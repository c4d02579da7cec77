"""Demo: SQLite source -> SQLite target, scd2, in parallel chunks (the README's first command runs this).

``bash scripts/demo`` creates the source (``scripts/make_demo_source.py``: 100,000 customers), defines
the connections ``mapper_demo_src`` and ``mapper_demo_dw`` as ``AIRFLOW_CONN_*`` variables, and runs this DAG
twice with ``airflow dags test``. The source query must match the ``customers`` table that script creates.
"""

from __future__ import annotations

import datetime as dt
import os

from airflow.sdk import DAG

from airflow_mapper_provider import MapperOperator

with DAG(
    dag_id="mapper_demo",
    schedule=None,
    start_date=dt.datetime(2026, 1, 1),
    catchup=False,
    tags=["mapper", "demo"],
    doc_md=__doc__,
):
    MapperOperator(
        task_id="load_customers",
        source_conn_id=os.environ.get("MAPPER_DEMO_SOURCE_CONN", "mapper_demo_src"),
        source_sql="SELECT customer_id, name, email, country, balance, updated_at FROM customers",
        target_conn_id=os.environ.get("MAPPER_DEMO_TARGET_CONN", "mapper_demo_dw"),
        target_table="dim_customer",
        key_columns=["customer_id"],
        load_strategy="scd2",
        chunk_size=25_000,
        min_rows_for_parallel=50_000,
    )
