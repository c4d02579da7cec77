"""Stop a running run the way the UI does, against a real scheduler, then clear its failed tasks: a clean end state.

A scheduler (LocalExecutor), a dag-processor and an api-server run as subprocesses on a temporary AIRFLOW_HOME
(:mod:`tests.fault.airflow_stack`). The DAG's chunks read slowly (a source function sleeps per row while the
source table ``fault_ctl`` says so, and only inside the chunk's COPY, so planning stays fast). Once chunk 0 has
committed and others are reading, the test marks the DAG run failed (``PATCH .../dagRuns/{run_id}``, what the
UI's "Mark run as failed" sends). The supervisors get a 409 on their next heartbeat and SIGTERM their task
processes, whose ``on_kill`` cancels the statements. Then: no mapper query is left in pg_stat_activity, the
ledger shows the running chunks ``stopped``, nothing of them was written. (Airflow 3.3 also marks chunk 0, which
had finished, failed: it marks every map index of a mapped task that had a running instance.) The test then makes
the source fast and clears load_chunk with its downstream (``POST .../clearTaskInstances``, task_ids
``[load.load_chunk]``, ``include_downstream``, not ``only_failed``: marking the run failed *skipped* finalize, so
"only failed" would leave it out, the job log at ``running`` and the mapref locked; the test checks that with a
dry run). Every chunk runs again, chunk 0 returns its recorded result without loading anything, the others load,
finalize succeeds and the target equals the source.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.fault.airflow_stack import AirflowStack
from tests.fault.conftest import report
from tests.helpers import CUSTOMER_COLUMNS, make_customers, pg_exec, rows, source_rows

pytestmark = [pytest.mark.pg, pytest.mark.dag]

DAG_ID = "fault_stop_resume"
TASK = "load.load_chunk"
ROWS, CHUNK = 2_000, 500
#: Per row of the chunk's COPY while fault_ctl.slow: 500 rows x 40 ms = 20 s a chunk; chunk 0 (keys <= 500) fast.
PACE_FN = """
CREATE TABLE fault_ctl (slow boolean NOT NULL);
INSERT INTO fault_ctl VALUES (true);
CREATE FUNCTION pace(k bigint) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF k > 500 AND current_query() LIKE 'COPY%' AND (SELECT slow FROM fault_ctl) THEN
        PERFORM pg_sleep(0.04);
    END IF;
    RETURN true;
END $$"""
SQL = f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE pace(customer_id)"
DAG_FILE = f"""
import datetime as dt

from airflow.sdk import DAG

from airflow_mapper_provider import MapperOperator

with DAG({DAG_ID!r}, schedule=None, start_date=dt.datetime(2026, 1, 1), catchup=False):
    MapperOperator(
        task_id="load",
        source_conn_id="mapper_src",
        target_conn_id="mapper_tgt",
        source_sql={SQL!r},
        target_table="dw.dim_stop",
        key_columns=["customer_id"],
        load_strategy="scd1",
        chunk_size={CHUNK},
        min_rows_for_parallel=100,
        max_active_chunks=2,
        retries=0,
    )
"""


def mapper_queries(dbs: Any) -> list[tuple[Any, ...]]:
    """The chunk's connections still open on either database (application_name airflow-mapper)."""
    return pg_exec(dbs.target_dsn, "SELECT datname, state, left(query, 60) FROM pg_stat_activity "
                   "WHERE application_name = 'airflow-mapper' AND datname IN (%(s)s, %(t)s)",
                   {"s": dbs.source_db, "t": dbs.target_db})  # fmt: skip


def ledger(dbs: Any, run_id: str) -> dict[int, tuple[str, int]]:
    """chunk index -> (status, attempt) of the run's chunk ledger rows (empty until plan created the table)."""
    if pg_exec(dbs.target_dsn, "SELECT to_regclass('dw.mapper_chunklog')") == [(None,)]:
        return {}
    found = pg_exec(dbs.target_dsn, "SELECT chunk_index, status, attempt FROM dw.mapper_chunklog "
                    "WHERE run_id = %(r)s", {"r": run_id})  # fmt: skip
    return {i: (status, attempt) for i, status, attempt in found}


def chunk_state(stack: AirflowStack, base: str, index: int) -> str | None:
    """State of one chunk's task instance (None before plan expanded the mapped task)."""
    return stack.get(f"{base}/taskInstances/{TASK}/{index}", ok=(200, 404)).get("state")


def copy_running(dbs: Any) -> bool:
    found = pg_exec(dbs.source_dsn, "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                    "'airflow-mapper' AND state = 'active' AND query LIKE 'COPY%%' AND datname = %(s)s",
                    {"s": dbs.source_db})  # fmt: skip
    return found[0][0] > 0


def test_stop_then_clear_with_a_real_scheduler(pg_dbs, tmp_path):
    started = time.monotonic()
    make_customers(pg_dbs.source_dsn, ROWS)
    pg_exec(pg_dbs.source_dsn, PACE_FN)
    stack = AirflowStack(tmp_path / "airflow", {"AIRFLOW_CONN_MAPPER_SRC": pg_dbs.source_uri,
                                                "AIRFLOW_CONN_MAPPER_TGT": pg_dbs.target_uri})  # fmt: skip
    (stack.dags / "fault_stop_resume.py").write_text(DAG_FILE)
    try:
        stack.start()
        stack.wait_for(lambda: stack.get(f"/dags/{DAG_ID}", ok=(200, 404)).get("dag_id"), "the DAG to be parsed")
        run = stack.api("POST", f"/dags/{DAG_ID}/dagRuns", {"logical_date": None})
        run_id = run["dag_run_id"]
        base = f"/dags/{DAG_ID}/dagRuns/{run_id}"

        # stop once chunk 0 committed and a slow chunk is reading
        stack.wait_for(lambda: chunk_state(stack, base, 0) == "success" and copy_running(pg_dbs),
                       "chunk 0 to succeed and a slow chunk to read")  # fmt: skip
        running = {ti["map_index"] for ti in stack.get(f"{base}/taskInstances/{TASK}/listMapped")["task_instances"]
                   if ti["state"] == "running"}  # fmt: skip
        t_stop = time.monotonic()
        stack.api("PATCH", base, {"state": "failed"})
        stack.wait_for(lambda: stack.get(base)["state"] == "failed" and set(ledger(pg_dbs, run_id)) >= running,
                       "the running chunks to record their end", guard=90)  # fmt: skip
        stop_seconds = time.monotonic() - t_stop
        active = [q for q in mapper_queries(pg_dbs) if q[1] == "active"]
        # a chunk handed to a worker just as the run was stopped can escape the stop and run to its end (a race in
        # Airflow: its task instance was not yet running when the run was marked failed): wait for it too
        stack.wait_for(lambda: not mapper_queries(pg_dbs), "the chunks' connections to close", guard=60)
        stopped_ledger = ledger(pg_dbs, run_id)
        target_rows = rows(pg_dbs.target_dsn, "SELECT count(*) FROM dw.dim_stop")[0][0]
        mapped = stack.get(f"{base}/taskInstances/{TASK}/listMapped")
        states = {ti["map_index"]: ti["state"] for ti in mapped["task_instances"]}
        finalize = stack.get(f"{base}/taskInstances/load.finalize")["state"]

        # "only failed" would not resume: marking the run failed skipped finalize, so it is not cleared with it
        only_failed = stack.api("POST", f"/dags/{DAG_ID}/clearTaskInstances", {
            "dry_run": True, "dag_run_id": run_id, "only_failed": True, "include_downstream": True,
        })  # fmt: skip
        # resume (README): make the source fast again; clear load_chunk (every map index) with its downstream
        pg_exec(pg_dbs.source_dsn, "UPDATE fault_ctl SET slow = false")
        cleared = stack.api("POST", f"/dags/{DAG_ID}/clearTaskInstances", {
            "dry_run": False, "dag_run_id": run_id, "task_ids": [TASK], "only_failed": False,
            "include_downstream": True,
        })  # fmt: skip
        stack.wait_for(lambda: stack.get(base)["state"] in ("success", "failed"), "the cleared run to finish")
        final = stack.get(base)["state"]
        after = stack.get(f"{base}/taskInstances/{TASK}/listMapped")
    finally:
        stack.stop()

    report(
        f"stop/resume (real scheduler, LocalExecutor): running chunks {sorted(running)} recorded their end "
        f"{stop_seconds:.1f} s after PATCH state=failed; chunk states then {dict(sorted(states.items()))}, "
        f"finalize {finalize}; ledger {dict(sorted(stopped_ledger.items()))}; queries active then "
        f"{len(active)} (of chunks not stopped); only_failed would clear "
        f"{len(only_failed['task_instances'])} task(s) (no finalize); "
        f"cleared {len(cleared['task_instances'])} task(s); run {final}; tries after resume "
        f"{sorted((ti['map_index'], ti['try_number']) for ti in after['task_instances'])}; "
        f"{time.monotonic() - started:.0f} s"
    )
    assert running and 0 not in running, running
    escaped = {i for i, (status, _) in stopped_ledger.items() if status == "success" and i != 0}
    assert stopped_ledger == {0: ("success", 1), **{i: ("stopped", 1) for i in running},
                              **{i: ("success", 1) for i in escaped}}, stopped_ledger  # fmt: skip
    assert not escaped & running, "a chunk running at the stop committed"
    # Airflow 3.3 marks every map index of a mapped task that had a running instance failed, finished ones too
    assert all(state == "failed" or i in escaped for i, state in states.items()), states
    assert finalize == "skipped"
    assert target_rows == CHUNK * (1 + len(escaped)), "a stopped chunk wrote rows"
    cleared_ids = sorted((ti["task_id"], ti["map_index"]) for ti in cleared["task_instances"])
    assert cleared_ids == sorted([("load.finalize", -1)] + [(TASK, i) for i in states])
    assert "load.finalize" not in {ti["task_id"] for ti in only_failed["task_instances"]}
    assert final == "success"
    assert after["total_entries"] == ROWS // CHUNK
    assert {(ti["state"], ti["try_number"]) for ti in after["task_instances"]} == {("success", 2)}
    assert source_rows(pg_dbs.target_dsn, "dw.dim_stop") == source_rows(pg_dbs.source_dsn)
    # chunk 0 ran again (try 2) but returned its recorded result: its ledger row is still attempt 1's
    done_before = {0, *escaped}
    assert ledger(pg_dbs, run_id) == {i: ("success", 1 if i in done_before else 2) for i in range(ROWS // CHUNK)}
    log = rows(pg_dbs.target_dsn, f"SELECT status, rows_read FROM dw.mapper_joblog WHERE run_id = '{run_id}'")
    assert log == [("success", ROWS)]
    assert mapper_queries(pg_dbs) == []
