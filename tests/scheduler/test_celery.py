"""Scale-out on CeleryExecutor: chunks of one run spread over two workers, the same end state as LocalExecutor.

The session's Airflow (``tests/scheduler/conftest.py``: ``[core] executor = LocalExecutor,CeleryExecutor``, two
``airflow celery worker`` processes ``worker-a`` and ``worker-b`` with two task slots each, on the machine's Redis).
Two DAG files differ only in their dag id, their target schema and ``executor="CeleryExecutor"`` on the mapper's
tasks (task_kwargs reach plan, every chunk and finalize); both runs load the same source (8 chunks, scd1, KEY
checkpoint on ``created_at``) at the same time. The Celery run's tasks report both worker names as their hostnames
(REST ``listMapped``); the reference's report the machine's. Target rows, job log counters, chunk ledger and
checkpoint of the two runs are equal, and the target equals the source.

Needs Redis (``MAPPER_TEST_REDIS_URL``, default ``redis://127.0.0.1:6379/13``, flushed before and after): skips
without it, fails without it when ``CI`` is set.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.helpers import make_customers, rows, source_rows
from tests.scheduler.conftest import add_connections, finished, report, trigger, write_dag

pytestmark = [pytest.mark.pg, pytest.mark.dag]

ROWS, CHUNK = 4_000, 500
TASK = "load.load_chunk"
COUNTERS = "status, rows_read, rows_inserted, rows_updated, rows_expired, rows_unchanged, rows_rejected, rows_deleted"
DAG_FILE = """
import datetime as dt

from airflow.sdk import DAG

from airflow_mapper_provider import MapperOperator

with DAG({dag_id!r}, schedule=None, start_date=dt.datetime(2026, 1, 1), catchup=False, max_active_runs=1):
    MapperOperator(
        task_id="load",
        source_conn_id="celery_src",
        target_conn_id="celery_tgt",
        source_sql="SELECT customer_id, name, email, country, balance, created_at, active, birth, notes FROM customers",
        target_table={table!r},
        key_columns=["customer_id"],
        load_strategy="scd1",
        checkpoint_column="created_at",
        chunk_size={chunk},
        min_rows_for_parallel=100,
        max_active_chunks=4,
        retries=0,{extra}
    )
"""
RUNS_TABLE = "dw_celery.customers"
RUNS = {  # dag id -> (target table, task arguments)
    "celery_scale_out": (RUNS_TABLE, '\n        executor="CeleryExecutor",'),
    "celery_reference_local": ("dw_local.customers", ""),
}


def end_state(dsn: str, table: str) -> dict[str, Any]:
    """What a run leaves: target rows, job log counters, chunk ledger, checkpoint (no run ids, no times)."""
    schema = table.split(".")[0]
    return {
        "target": source_rows(dsn, table),
        "joblog": rows(dsn, f"SELECT {COUNTERS}, chunks_planned, chunks_succeeded, checkpoint_before, "
                       f"checkpoint_after, load_strategy, target_table FROM {schema}.mapper_joblog"),
        "chunks": rows(dsn, f"SELECT chunk_index, lower_bound, upper_bound, {COUNTERS}, attempt, checkpoint_max "
                       f"FROM {schema}.mapper_chunklog ORDER BY chunk_index"),
        "checkpoint": rows(dsn, f"SELECT checkpoint_column, value, value_type FROM {schema}.mapper_checkpoint"),
    }  # fmt: skip


def test_two_celery_workers_share_the_chunks_and_match_local_executor(airflow_stack, celery_workers, pg_dbs):
    started = time.monotonic()
    stack = airflow_stack
    make_customers(pg_dbs.source_dsn, ROWS)
    add_connections(stack, "celery", pg_dbs)
    for dag_id, (table, extra) in RUNS.items():
        write_dag(stack, dag_id, DAG_FILE.format(dag_id=dag_id, table=table, chunk=CHUNK, extra=extra))
    t_parsed = time.monotonic()
    bases = {dag_id: trigger(stack, dag_id) for dag_id in RUNS}
    for dag_id, base in bases.items():
        stack.wait_for(lambda b=base: finished(stack, b), f"{dag_id} to finish", guard=300, every=1.5)
    t_done = time.monotonic()
    states = {d: stack.get(b)["state"] for d, b in bases.items()}
    mapped = {d: stack.get(f"{b}/taskInstances/{TASK}/listMapped")["task_instances"] for d, b in bases.items()}
    others = {d: {stack.get(f"{b}/taskInstances/{t}")["hostname"] for t in ("load.plan", "load.finalize")}
              for d, b in bases.items()}  # fmt: skip

    hosts = {d: sorted({ti["hostname"] for ti in tis}) for d, tis in mapped.items()}
    per_worker = {w: sum(ti["hostname"] == w for ti in mapped["celery_scale_out"]) for w in celery_workers}
    report(
        f"celery scale-out: {ROWS // CHUNK} chunks on {per_worker} (2 slots each), reference LocalExecutor run on "
        f"{hosts['celery_reference_local']}; runs {states}; both runs {t_done - t_parsed:.0f} s from trigger to "
        f"finish; {time.monotonic() - started:.0f} s in all"
    )
    assert states == dict.fromkeys(RUNS, "success"), states
    assert all(len(tis) == ROWS // CHUNK for tis in mapped.values()), {d: len(t) for d, t in mapped.items()}
    assert hosts["celery_scale_out"] == sorted(celery_workers), hosts
    assert others["celery_scale_out"] <= set(celery_workers), others  # plan and finalize ran on Celery too
    assert not {*hosts["celery_reference_local"], *others["celery_reference_local"]} & set(celery_workers)
    celery, local = (end_state(pg_dbs.target_dsn, RUNS[d][0]) for d in RUNS)
    assert celery["target"] == source_rows(pg_dbs.source_dsn)
    mark = celery["checkpoint"][0][1]
    want = ("success", ROWS, ROWS, 0, 0, 0, 0, 0, ROWS // CHUNK, ROWS // CHUNK, None, mark, "scd1", RUNS_TABLE)
    assert celery["joblog"] == [want], celery["joblog"]
    local["joblog"] = [(*r[:-1], RUNS_TABLE) for r in local["joblog"]]  # the one intended difference
    assert celery == local
