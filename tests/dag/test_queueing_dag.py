"""Runs of one mapref queue (dag.test(), PostgreSQL, production defaults): a plan that finds the mapref owned by
a live run waits for it as a reschedule (no worker slot held), takes over an owner that died, and gives up after
``lock_timeout`` naming the owner.

The owner here is a run planned in this process (no Airflow): its target session stays open, so it holds the
session lock that says "a task of it is executing", until the test closes it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import pytest

from airflow_mapper_provider.planner import plan_run
from tests.dag.conftest import mapper_dag
from tests.helpers import config, make_customers, rows, sessions

pytestmark = [pytest.mark.pg, pytest.mark.dag]

SQL = "SELECT * FROM customers"
OWNER = "owner_run"


@contextlib.contextmanager
def live_owner(pg, mapref: str) -> Iterator[threading.Event]:
    """Run OWNER plans ``mapref`` and keeps executing (its session open) until the yielded event is set."""
    release, ready = threading.Event(), threading.Event()

    def hold() -> None:
        with sessions(pg.source_uri, pg.target_uri) as (src, tgt):
            cfg = config("scd1", "dw.cust", mapref=mapref)
            plan_run(cfg, SQL, OWNER, "2026-06-01T00:00:00+00:00", 1024, src, tgt)
            ready.set()
            release.wait(120)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert ready.wait(60), "the owner's plan did not finish"
    try:
        yield release
    finally:
        release.set()
        holder.join(30)


def _plan_ti(dr):
    return next(ti for ti in dr.get_task_instances() if ti.task_id == "load.plan")


def _reschedules(dr) -> int:
    return _reschedules_of(dr.dag_id)


def _reschedules_of(dag_id: str) -> int:
    """Reschedule requests of the DAG's plan task (in the Airflow metadata database)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.taskreschedule import TaskReschedule
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        query = (
            select(func.count())
            .select_from(TaskReschedule)
            .join(TaskInstance, TaskInstance.id == TaskReschedule.ti_id)
            .where(TaskInstance.dag_id == dag_id, TaskInstance.task_id == "load.plan")
        )
        return session.scalar(query) or 0


def _release_after_reschedules(dag_id: str, count: int, release: threading.Event) -> None:
    deadline = time.monotonic() + 120
    while not release.is_set() and time.monotonic() < deadline:
        if _reschedules_of(dag_id) >= count:
            release.set()
        time.sleep(0.2)


def test_a_run_waits_for_a_live_owner_then_takes_over_when_it_dies(pg_conns, caplog, capfd):
    make_customers(pg_conns.source_dsn, 3_000)
    dag = mapper_dag("t_queue_wait", source_sql=SQL, target_table="dw.cust", key_columns=["customer_id"],
                     load_strategy="scd1", lock_poke_interval=10, lock_timeout=300)  # fmt: skip
    with live_owner(pg_conns, "t_queue_wait.load") as release:
        # the owner's process dies (its session closes) once the plan has been rescheduled
        threading.Thread(target=_release_after_reschedules, args=("t_queue_wait", 1, release), daemon=True).start()
        dr = dag.test()
    task_log = caplog.text + "".join(capfd.readouterr())  # the tasks' logging records, and what dag.test() printed
    assert dr.state == "success"
    assert _reschedules(dr) >= 1, "the plan did not wait as a reschedule"
    assert f"waiting for run {OWNER}" in task_log and "a task of it is executing" in task_log
    assert "gives its worker slot back" in task_log
    assert rows(pg_conns.target_dsn, "SELECT count(*) FROM dw.cust") == [(3_000,)]
    log = dict(rows(pg_conns.target_dsn, "SELECT run_id, status FROM dw.mapper_joblog"))
    assert log == {OWNER: "abandoned", dr.run_id: "success"}


def test_a_run_that_waits_longer_than_lock_timeout_fails_naming_the_owner(pg_conns, caplog, capfd):
    make_customers(pg_conns.source_dsn, 100)
    dag = mapper_dag("t_queue_timeout", source_sql=SQL, target_table="dw.cust", key_columns=["customer_id"],
                     load_strategy="scd1", lock_poke_interval=10, lock_timeout=4)  # fmt: skip
    with live_owner(pg_conns, "t_queue_timeout.load"):
        dr = dag.test()
        owner_status = rows(pg_conns.target_dsn, f"SELECT status FROM dw.mapper_joblog WHERE run_id = '{OWNER}'")
    task_log = caplog.text + "".join(capfd.readouterr())  # the tasks' logging records, and what dag.test() printed
    assert dr.state == "failed"
    plan = _plan_ti(dr)
    assert plan.state == "failed" and plan.try_number == 1  # no retry spent on waiting longer
    assert _reschedules(dr) >= 1  # checked at the start and at lock_timeout (before the next 10 s poke)
    assert "LockTimeoutError: waited" in task_log and f"run '{OWNER}' of t_queue_timeout.load owns" in task_log
    assert "Stop that run (mark it failed), or raise lock_timeout" in task_log
    assert owner_status == [("running",)]  # the owner was left alone
    assert rows(pg_conns.target_dsn, "SELECT count(*) FROM dw.cust") == [(0,)]


def test_lock_parameters_are_checked_when_the_dag_is_parsed():
    from airflow.sdk import DAG

    from airflow_mapper_provider import MapperOperator
    from airflow_mapper_provider.exceptions import ConfigError

    with DAG("t_queue_bad", schedule=None), pytest.raises(ConfigError, match="lock_timeout must be positive"):
        MapperOperator(task_id="load", source_conn_id="a", source_sql=SQL, target_conn_id="b",
                       target_table="t", key_columns=["customer_id"], lock_timeout=0)  # fmt: skip
