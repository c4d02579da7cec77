"""Runs of one mapref queue under a real scheduler (LocalExecutor), and a dead owner never blocks.

The session's Airflow (``tests/scheduler/conftest.py``); DAGs with ``max_active_runs=2``, so that Airflow starts
two runs at once and the mapper, not Airflow, makes them take turns. ``lock_poke_interval`` is 10 s, not less: a
reschedule that comes due before the scheduler has read the previous execution's exit (a task's supervisor may take
~5 s to report it on a busy machine) is failed by Airflow as "state changed externally" (Airflow issue #10790,
seen here with 2 s). The source's
chunk reads are paced by a function that sleeps per row inside the chunk's COPY only (planning stays fast) while
the source table ``pace_ctl`` says so.

- Two runs triggered together: one plans and loads; the other's plan finds the mapref owned by a live run, logs
  "waiting for run <owner>" and gives its worker slot back (``up_for_reschedule``, no try spent) until the owner
  finished, then plans and loads. Both succeed, one after the other, and the end state is one clean run's.
- A run whose owner's chunk processes were killed (SIGKILL of each running chunk's task process and of its
  LocalExecutor worker, the supervisor: Airflow keeps showing them ``running`` until the heartbeat timeout, 300 s)
  takes the mapref over by itself once the owner has been seen dead for the grace period, and loads: the target
  equals a clean load, the dead run's job log row is ``abandoned``, and the killed chunks are still ``running`` in
  Airflow when the new run's plan succeeds (the takeover did not wait for Airflow's dead-worker detection).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.fault.airflow_stack import AirflowStack
from tests.helpers import CUSTOMER_COLUMNS, make_customers, pg_exec, rows, source_rows
from tests.scheduler.conftest import add_connections, finished, report, task_log, trigger, write_dag

pytestmark = [pytest.mark.pg, pytest.mark.dag]

PLAN, TASK = "load.plan", "load.load_chunk"
COUNTERS = "status, rows_read, rows_inserted, rows_updated, rows_expired, rows_unchanged, rows_rejected, rows_deleted"
#: Sleeps ``pace_ctl.ms`` ({ms}) per row read by a chunk's COPY while ``pace_ctl.slow``.
PACE_FN = """
CREATE TABLE pace_ctl (slow boolean NOT NULL, ms int NOT NULL);
INSERT INTO pace_ctl VALUES (true, {ms});
CREATE FUNCTION pace(k bigint) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
DECLARE c pace_ctl;
BEGIN
    IF current_query() LIKE 'COPY%' THEN
        SELECT * INTO c FROM pace_ctl;
        IF c.slow THEN
            PERFORM pg_sleep(c.ms / 1000.0);
        END IF;
    END IF;
    RETURN true;
END $$"""
DAG_FILE = """
import datetime as dt

from airflow.sdk import DAG

from airflow_mapper_provider import MapperOperator

# two runs at once in Airflow: the mapper, not max_active_runs, makes them take turns
with DAG({dag_id!r}, schedule=None, start_date=dt.datetime(2026, 1, 1), catchup=False, max_active_runs=2):
    MapperOperator(
        task_id="load",
        source_conn_id={src!r},
        target_conn_id={tgt!r},
        source_sql={sql!r},
        target_table="dw.customers",
        key_columns=["customer_id"],
        load_strategy="scd1",
        chunk_size={chunk},
        min_rows_for_parallel=100,
        max_active_chunks={active},
        lock_poke_interval=dt.timedelta(seconds={poke}),
        retries=0,
    )
"""
SQL = f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE pace(customer_id)"


POKE_S = 10


def dag_file(dag_id: str, conns: tuple[str, str], chunk: int, active: int) -> str:
    return DAG_FILE.format(dag_id=dag_id, src=conns[0], tgt=conns[1], sql=SQL, chunk=chunk, active=active,
                           poke=POKE_S)  # fmt: skip


def run_id(base: str) -> str:
    return base.rsplit("/", 1)[1]


def joblog(dsn: str) -> dict[str, tuple[Any, ...]]:
    """run id -> (status, counters..., started_at, finished_at, message)."""
    found = rows(dsn, f"SELECT run_id, {COUNTERS}, started_at, finished_at, message FROM dw.mapper_joblog")
    return {r[0]: r[1:] for r in found}


def chunklog(dsn: str, rid: str) -> list[tuple[Any, ...]]:
    return rows(dsn, f"SELECT chunk_index, status, attempt FROM dw.mapper_chunklog WHERE run_id = '{rid}' ORDER BY 1")


def reschedules(stack: AirflowStack, dag_id: str, rid: str, task_id: str = PLAN) -> int:
    """Rows in Airflow's task_reschedule for one task instance (each is one poke that gave the slot back)."""
    found = stack.metadata_query(
        "SELECT count(*) FROM task_reschedule r JOIN task_instance t ON r.ti_id = t.id "
        "WHERE t.dag_id = %s AND t.run_id = %s AND t.task_id = %s", (dag_id, rid, task_id),
    )  # fmt: skip
    return int(found[0][0])


def mapper_sessions(dbs: Any) -> list[tuple[Any, ...]]:
    names = {"s": dbs.source_db, "t": dbs.target_db}
    return pg_exec(dbs.target_dsn, "SELECT datname, pid, state FROM pg_stat_activity WHERE application_name = "
                   "'airflow-mapper' AND datname IN (%(s)s, %(t)s)", names)  # fmt: skip


def active_copies(dbs: Any) -> int:
    found = pg_exec(dbs.source_dsn, "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                    "'airflow-mapper' AND state = 'active' AND query LIKE 'COPY%%' AND datname = %(s)s",
                    {"s": dbs.source_db})  # fmt: skip
    return int(found[0][0])


def test_two_runs_triggered_together_run_one_after_the_other(airflow_stack, pg_dbs):
    started = time.monotonic()
    stack, dag_id, n = airflow_stack, "queue_two_runs", 2_000
    make_customers(pg_dbs.source_dsn, n)
    pg_exec(pg_dbs.source_dsn, PACE_FN.replace("{ms}", "3"))  # 500 rows a chunk: about 1.5 s of reading
    write_dag(stack, dag_id, dag_file(dag_id, add_connections(stack, "queue_two", pg_dbs), chunk=500, active=2))

    runs = [trigger(stack, dag_id), trigger(stack, dag_id)]  # no step after this one
    seen: dict[str, set[str]] = {base: set() for base in runs}

    def both_finished() -> bool:
        for base in runs:
            seen[base].add(str(stack.get(f"{base}/taskInstances/{PLAN}")["state"]))
        return all(finished(stack, base) for base in runs)

    stack.wait_for(both_finished, "both runs to finish", guard=300, every=1.5)
    states = {run_id(b): stack.get(b)["state"] for b in runs}
    plans = {run_id(b): stack.get(f"{b}/taskInstances/{PLAN}") for b in runs}
    logs = {run_id(b): task_log(stack, b, PLAN) for b in runs}
    ids = list(states)
    waiters = [r for r in ids if f"waiting for run {next(o for o in ids if o != r)}" in logs[r]]
    pokes = {r: reschedules(stack, dag_id, r) for r in ids}
    jl = joblog(pg_dbs.target_dsn)

    report(
        f"queueing, two runs triggered together: {states}; plan states seen "
        f"{ {run_id(b): sorted(s) for b, s in seen.items()} }; reschedules {pokes}; waiting run(s) {waiters}; "
        f"{time.monotonic() - started:.0f} s"
    )
    assert states == dict.fromkeys(ids, "success"), states
    assert len(waiters) == 1, {r: log[-3000:] for r, log in logs.items()}
    waiter = waiters[0]
    owner = next(r for r in ids if r != waiter)
    waiter_base = next(b for b in runs if run_id(b) == waiter)
    assert "up_for_reschedule" in seen[waiter_base], seen
    assert pokes[waiter] >= 1 and pokes[owner] == 0, pokes
    assert plans[waiter]["try_number"] == 1, "waiting spent a try"
    # one after the other: the waiter planned (job log row started) after the owner's finalize closed its row
    assert jl[owner][-2] <= jl[waiter][-3], (jl[owner], jl[waiter])
    assert jl[owner][:8] == ("success", n, n, 0, 0, 0, 0, 0), jl[owner]
    assert jl[waiter][:8] == ("success", n, 0, 0, 0, n, 0, 0), jl[waiter]
    for rid in ids:
        assert chunklog(pg_dbs.target_dsn, rid) == [(i, "success", 1) for i in range(n // 500)]
    assert source_rows(pg_dbs.target_dsn, "dw.customers") == source_rows(pg_dbs.source_dsn)
    assert rows(pg_dbs.target_dsn, "SELECT run_id FROM dw.mapper_lock") == [(waiter,)]


def _supervisor(pid: int) -> int | None:
    """The parent of a task process when it is a LocalExecutor worker (the task's supervisor), else None."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    ppid = int(stat.rsplit(")", 1)[1].split()[1])
    title = Path(f"/proc/{ppid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    return ppid if title.startswith("airflow worker -- LocalExecutor") else None


def _kill_running_chunks(stack: AirflowStack, base: str) -> list[tuple[int, int, int | None]]:
    """SIGKILL each running chunk's task process and its supervisor; returns (map index, pid, supervisor pid)."""
    killed = []
    for ti in stack.get(f"{base}/taskInstances/{TASK}/listMapped")["task_instances"]:
        if ti["state"] != "running" or not ti.get("pid"):
            continue
        pid = int(ti["pid"])
        parent = _supervisor(pid)
        for victim in (parent, pid):
            if victim is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(victim, signal.SIGKILL)
        killed.append((ti["map_index"], pid, parent))
    return killed


def test_a_run_whose_owner_was_killed_takes_over_without_a_manual_step(airflow_stack, pg_dbs):
    started = time.monotonic()
    stack, dag_id, n, chunks = airflow_stack, "queue_dead_owner", 2_000, 4
    make_customers(pg_dbs.source_dsn, n)
    pg_exec(pg_dbs.source_dsn, PACE_FN.replace("{ms}", "200"))  # 500 rows a chunk: 100 s (they are killed first)
    conns = add_connections(stack, "queue_dead", pg_dbs)
    write_dag(stack, dag_id, dag_file(dag_id, conns, chunk=n // chunks, active=chunks))

    dead = trigger(stack, dag_id)
    stack.wait_for(lambda: active_copies(pg_dbs) == chunks, "every chunk of the first run to read", guard=180)
    new = trigger(stack, dag_id)
    stack.wait_for(lambda: stack.get(f"{new}/taskInstances/{PLAN}")["state"] == "up_for_reschedule",
                   "the second run's plan to wait for the first", guard=120)  # fmt: skip
    killed = _kill_running_chunks(stack, dead)
    t_kill = time.monotonic()
    pg_exec(pg_dbs.source_dsn, "UPDATE pace_ctl SET slow = false")  # the second run reads at full speed

    dead_states_at_plan: dict[int, str] = {}

    def new_run_planned() -> bool:
        state = stack.get(f"{new}/taskInstances/{PLAN}")["state"]
        if state in ("success", "failed") and not dead_states_at_plan:
            mapped = stack.get(f"{dead}/taskInstances/{TASK}/listMapped")["task_instances"]
            dead_states_at_plan.update({ti["map_index"]: ti["state"] for ti in mapped})
        return state in ("success", "failed")

    stack.wait_for(new_run_planned, "the second run's plan to take over", guard=240, every=1.5)
    t_planned = time.monotonic()
    stack.wait_for(lambda: finished(stack, new), "the second run to finish", guard=240, every=1.5)
    new_state = stack.get(new)["state"]
    log = task_log(stack, new, PLAN)
    jl = joblog(pg_dbs.target_dsn)
    dead_id, new_id = run_id(dead), run_id(new)
    pokes = reschedules(stack, dag_id, new_id)

    report(
        f"queueing, dead owner: killed {len(killed)} chunk(s) (map index, task pid, supervisor pid) {killed}; the "
        f"waiting run planned {t_planned - t_kill:.0f} s after the kill ({pokes} reschedules in all), the killed "
        f"chunks then {dead_states_at_plan} in Airflow; second run {new_state}; dead run's job log "
        f"{jl.get(dead_id, ('?',))[0]}; {time.monotonic() - started:.0f} s"
    )
    assert sorted(i for i, _, _ in killed) == list(range(chunks)), killed
    assert all(parent is not None for _, _, parent in killed), killed
    assert dead_states_at_plan == dict.fromkeys(range(chunks), "running"), dead_states_at_plan
    assert new_state == "success", log[-3000:]
    assert f"waiting for run {dead_id}" in log, log[-3000:]
    assert source_rows(pg_dbs.target_dsn, "dw.customers") == source_rows(pg_dbs.source_dsn)
    assert jl[new_id][:8] == ("success", n, n, 0, 0, 0, 0, 0), jl[new_id]
    assert jl[dead_id][0] == "abandoned", jl[dead_id]
    assert f"taken over by run {new_id!r}" in jl[dead_id][-1], jl[dead_id]
    assert chunklog(pg_dbs.target_dsn, new_id) == [(i, "success", 1) for i in range(chunks)]
    assert rows(pg_dbs.target_dsn, "SELECT run_id FROM dw.mapper_lock") == [(new_id,)]
    stack.wait_for(lambda: not mapper_sessions(pg_dbs), "no mapper session to be left", guard=30)
