"""Progress while chunks run, end to end with dag.test() (real Airflow 3.3 task state store, real PostgreSQL),
and the grid labels of chunks that have not started (the provider's cluster policy, as its entry point loads it).

dag.test() runs in the test's main thread (Airflow installs signal handlers there); an observer thread reads, while
the run is in flight, what a user would: the task state store key ``progress`` of the running map index (Airflow's
metadata database, as the REST API serves it) and the ``mapper_progress`` view and ``mapper_joblog`` row on the
target. Chunks are slowed by a source function that sleeps every 100 rows inside the chunk's COPY only.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_mapper_provider import progress
from tests.dag.conftest import mapper_dag
from tests.dag.test_dag_runs import joblog
from tests.helpers import CUSTOMER_COLUMNS, make_customers, pg_exec, rows, source_rows
from tests.progress_support import Lines, progress_lines

pytestmark = [pytest.mark.pg, pytest.mark.dag]

ROWS, CHUNK = 4_500, 1_500
PACE_FN = """
CREATE FUNCTION pace(k bigint) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF current_query() LIKE 'COPY%' AND k % 100 = 0 THEN
        PERFORM pg_sleep(0.1);
    END IF;
    RETURN true;
END $$"""
#: pace() in the select list, not in WHERE: the plan's estimate stays the table's (a WHERE on a function is 1/3).
SQL = (
    "SELECT "
    + CUSTOMER_COLUMNS.replace("name,", "CASE WHEN pace(customer_id) THEN name END AS name,", 1)
    + (" FROM customers")
)
TASK = "load.load_chunk"


@pytest.fixture
def progress_log() -> Iterator[Lines]:
    with progress_lines() as lines:
        yield lines


def state_store(dag_id: str) -> list[tuple[int, str | None, dict[str, Any]]]:
    """(map index, its task instance's state, the ``progress`` value) of the DAG's chunks, from the metadata DB."""
    from airflow.models.task_state_store import TaskStateStoreModel
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import and_, select

    with create_session() as session:
        query = (
            select(TaskStateStoreModel.map_index, TaskInstance.state, TaskStateStoreModel.value)
            .join(
                TaskInstance,
                and_(
                    TaskInstance.dag_id == TaskStateStoreModel.dag_id,
                    TaskInstance.run_id == TaskStateStoreModel.run_id,
                    TaskInstance.task_id == TaskStateStoreModel.task_id,
                    TaskInstance.map_index == TaskStateStoreModel.map_index,
                ),
            )
            .where(
                TaskStateStoreModel.dag_id == dag_id,
                TaskStateStoreModel.task_id == TASK,
                TaskStateStoreModel.key == "progress",
            )
        )
        return [(i, state, json.loads(value)) for i, state, value in session.execute(query)]


def chunk_labels(dag_id: str) -> list[tuple[int, str | None, str | None]]:
    """(map index, state, stored rendered_map_index) of the DAG's chunk task instances."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        query = select(TaskInstance.map_index, TaskInstance.state, TaskInstance._rendered_map_index).where(
            TaskInstance.dag_id == dag_id, TaskInstance.task_id == TASK, TaskInstance.map_index >= 0
        )
        return [tuple(r) for r in session.execute(query)]  # type: ignore[misc]


@pytest.fixture
def grid_labels() -> Iterator[None]:
    """The provider's cluster policy: loaded by Airflow from its ``airflow.policy`` entry point where the
    installed package declares it, else registered here the same way."""
    from airflow.settings import get_policy_plugin_manager

    from airflow_mapper_provider import policy

    pm = get_policy_plugin_manager()
    if pm.is_registered(policy):
        yield
        return
    pm.register(policy, name="test-mapper-policy")
    try:
        yield
    finally:
        pm.unregister(name="test-mapper-policy")


def live_view(dsn: str) -> list[dict[str, Any]]:
    if rows(dsn, "SELECT to_regclass('dw.mapper_progress')") == [(None,)]:
        return []
    cols = ("status", "chunks_planned", "chunks_done", "chunks_running", "rows_so_far", "rows_per_s", "eta_seconds")
    return [dict(zip(cols, r, strict=True)) for r in rows(dsn, f"SELECT {', '.join(cols)} FROM dw.mapper_progress")]


def live_joblog(dsn: str) -> list[tuple[Any, ...]]:
    if rows(dsn, "SELECT to_regclass('dw.mapper_joblog')") == [(None,)]:
        return []
    return rows(dsn, "SELECT status, chunks_running, rows_so_far, progress_at FROM dw.mapper_joblog")


class Observer(threading.Thread):
    """Collects what the store, the view and the job log show while the DAG runs."""

    def __init__(self, dag_id: str, dsn: str) -> None:
        super().__init__(daemon=True)
        self.dag_id, self.dsn = dag_id, dsn
        self.done = threading.Event()
        self.store: list[tuple[int, str | None, dict[str, Any]]] = []
        self.view: list[dict[str, Any]] = []
        self.joblog: list[tuple[Any, ...]] = []
        self.waiting: list[tuple[int, str | None, str | None]] = []
        self.errors: list[BaseException] = []

    def run(self) -> None:
        deadline = time.monotonic() + 180
        while not self.done.is_set() and time.monotonic() < deadline:
            try:
                self.store += [s for s in state_store(self.dag_id) if s[1] == "running"]
                self.waiting += [t for t in chunk_labels(self.dag_id) if t[1] in (None, "scheduled", "queued")]
                self.view += [v for v in live_view(self.dsn) if v["status"] == "running"]
                self.joblog += [j for j in live_joblog(self.dsn) if j[0] == "running"]
            except Exception as exc:  # a locked metadata DB for a moment: try again
                self.errors.append(exc)
            time.sleep(0.1)


def test_running_chunks_show_progress_in_the_state_store_the_job_log_and_the_task_log(
    pg_conns, monkeypatch, progress_log, grid_labels
):
    monkeypatch.setattr(progress, "TICK_S", 0.3)
    monkeypatch.setattr(progress, "LOG_S", 0.6)
    make_customers(pg_conns.source_dsn, ROWS)
    pg_exec(pg_conns.source_dsn, PACE_FN)
    dag = mapper_dag("t_progress", source_sql=SQL, target_table="dw.dim_progress", key_columns=["customer_id"],
                     load_strategy="scd1", chunk_size=CHUNK, min_rows_for_parallel=1_000)  # fmt: skip
    observer = Observer("t_progress", pg_conns.target_dsn)
    observer.start()
    try:
        dr = dag.test()
    finally:
        observer.done.set()
        observer.join(30)
    assert dr.state == "success"
    assert source_rows(pg_conns.target_dsn, "dw.dim_progress") == source_rows(pg_conns.source_dsn)

    # the task state store, per map index, while that chunk's task instance was running
    running = [(i, v) for i, _, v in observer.store if v["status"] == "running" and v["phase"] == "reading"]
    assert {i for i, _ in running} == {0, 1, 2}, observer.store[-3:]
    for i, value in running:
        assert value["index"] == i and value["count"] == 3 and value["label"].startswith(f"chunk {i + 1}/3 ")
        assert value["rows_read"] is not None and 0 <= value["rows_read"] <= CHUNK + 50
        assert value["rows_estimated"] == ROWS // 3
    assert any(v["rows_read"] and v["rows_per_s"] and v["eta_s"] is not None for _, v in running)
    final = {i: v for i, _, v in state_store("t_progress")}
    assert {i: (v["status"], v["rows_read"]) for i, v in final.items()} == {i: ("success", CHUNK) for i in range(3)}

    # the job log: the view and the live columns moved while the run was running
    moving = [v for v in observer.view if v["chunks_running"] == 1 and v["rows_so_far"] > 0]
    assert moving, observer.view[-3:]
    assert all(v["chunks_planned"] == 3 and v["rows_so_far"] <= ROWS for v in moving)
    assert any(v["chunks_done"] >= 1 and v["rows_so_far"] > CHUNK for v in moving)
    assert any(j[1] == 1 and j[2] > 0 and j[3] is not None for j in observer.joblog), observer.joblog[-3:]
    log = joblog(pg_conns.target_dsn, dr.run_id)
    assert (log["status"], log["rows_read"], log["chunks_succeeded"]) == ("success", ROWS, 3)
    assert rows(pg_conns.target_dsn, "SELECT chunks_done, chunks_running, rows_so_far, rows_per_s FROM "
                "dw.mapper_joblog") == [(3, 0, ROWS, None)]  # fmt: skip

    # chunks that had not started yet already showed their range in the grid (the policy, at expansion)
    labels = {i: label for i, _, v in observer.store for label in [v["label"]]}
    assert {i for i, _, _ in observer.waiting} >= {1, 2}, observer.waiting[-5:]
    assert all(label == labels[i] for i, _, label in observer.waiting), observer.waiting[-5:]

    # the task log has progress lines: counts and rates
    lines = progress_log.lines
    assert any(f"of ~{ROWS // 3:,} rows" in line and "rows/s" in line for line in lines), lines
    assert sum(f"success, {CHUNK:,} of ~{ROWS // 3:,} rows" in line for line in lines) == 3, lines
