"""dag.test() plumbing: serialize a DAG built in a test, then run it in-process against real databases."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest


def serialize(dag: Any) -> None:
    """dag.test() needs the DAG serialized in the metadata DB (a DAG defined in a test file is not)."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(collect_dags=False)
    bag.bag_dag(dag)
    sync_bag_to_db(bag, "dags-folder", None)


def mapper_dag(dag_id: str, **mapper: Any) -> Any:
    """A DAG holding one MapperOperator (task_id 'load') reading connection 'mapper_src' into 'mapper_tgt'."""
    from airflow.sdk import DAG

    from airflow_mapper_provider import MapperOperator

    schedule = mapper.pop("schedule", None)
    params = {"source_conn_id": "mapper_src", "target_conn_id": "mapper_tgt", "retries": 0, **mapper}
    with DAG(dag_id, schedule=schedule, start_date=dt.datetime(2026, 1, 1), catchup=False) as dag:
        MapperOperator(task_id="load", **params)
    serialize(dag)
    return dag


@pytest.fixture
def pg_conns(pg_dbs, monkeypatch, airflow_db):
    """Airflow connections mapper_src / mapper_tgt pointing at the test's source and target databases."""
    monkeypatch.setenv("AIRFLOW_CONN_MAPPER_SRC", pg_dbs.source_uri)
    monkeypatch.setenv("AIRFLOW_CONN_MAPPER_TGT", pg_dbs.target_uri)
    return pg_dbs
