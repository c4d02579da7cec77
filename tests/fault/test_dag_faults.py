"""Faults in a DAG run with dag.test() on a real PostgreSQL: a connection killed by the server, a permanent error.

- The server terminates the chunk's connection (``pg_terminate_backend`` from a watcher thread as soon as the
  chunk's COPY shows in ``pg_stat_activity``): the error is transient, the chunk retries (try 2) and the run
  succeeds with the source's rows in the target.
- A permanent error in one chunk (a data error in a source expression, a target CHECK constraint, an error code
  that is neither transient nor data): no retry is spent although retries=3, the other chunks commit, finalize
  writes 'failed' to the job log and the KEY checkpoint stays where the previous run left it.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.dag.conftest import mapper_dag
from tests.fault.conftest import report
from tests.helpers import CUSTOMER_COLUMNS, add_customers, make_customers, pg_exec, rows, source_rows

pytestmark = [pytest.mark.pg, pytest.mark.dag]

REPO = Path(__file__).resolve().parents[2]
HANG_GUARD_S = 240  # a normal run takes about 10 s; CI runs three pytest processes on two cores

RETRIES = {"retries": 3, "retry_delay": dt.timedelta(seconds=1), "retry_exponential_backoff": 0}
#: A per-row cost so that a chunk's COPY lasts long enough to be seen (always on: this run is the one watched).
BURN_FN = """CREATE FUNCTION burn() RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN PERFORM count(*) FROM generate_series(1, 200); RETURN true; END $$"""


def chunk_tis(dr: Any) -> dict[int, Any]:
    return {ti.map_index: ti for ti in dr.get_task_instances() if ti.task_id == "load.load_chunk"}


def chunk_ledger(dsn: str, run_id: str) -> dict[int, tuple[Any, ...]]:
    found = rows(dsn, "SELECT chunk_index, status, attempt, lower_bound, upper_bound, message "
                      f"FROM dw.mapper_chunklog WHERE run_id = '{run_id}'")  # fmt: skip
    return {r[0]: r[1:] for r in found}


def mapper_backends(dbs: Any) -> int:
    sql = ("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'airflow-mapper' "
           "AND datname IN (%(s)s, %(t)s)")  # fmt: skip
    found = pg_exec(dbs.target_dsn, sql, {"s": dbs.source_db, "t": dbs.target_db})
    return int(found[0][0])


class Terminator(threading.Thread):
    """Terminate (once) the backend of the first chunk COPY seen on ``side``'s database."""

    def __init__(self, dbs: Any, side: str) -> None:
        super().__init__(daemon=True)
        self.dbs, self.side = dbs, side
        self.db = dbs.source_db if side == "source" else dbs.target_db
        self.done = threading.Event()
        self.killed: tuple[int, str] | None = None

    def run(self) -> None:
        sql = (
            "SELECT pid, left(query, 60) FROM pg_stat_activity WHERE application_name = 'airflow-mapper' "
            "AND datname = %(db)s AND state = 'active' AND query LIKE 'COPY%%' LIMIT 1"
        )
        while not self.done.is_set():
            found = pg_exec(self.dbs.target_dsn, sql, {"db": self.db})
            if found:
                pid, query = found[0]
                terminated = pg_exec(self.dbs.target_dsn, "SELECT pg_terminate_backend(%(p)s)", {"p": pid})
                if terminated == [(True,)]:
                    self.killed = (pid, query)
                    return
            time.sleep(0.005)


# target side: once hung (the abandoned source COPY generator held the source connection's lock); fixed by
# closing the source stream when the target fails mid-pipe (Transfer.move)
@pytest.mark.parametrize("side", ["source", "target"])
def test_connection_terminated_mid_copy_retries_and_succeeds(pg_conns, side):
    make_customers(pg_conns.source_dsn, 12_000)
    pg_exec(pg_conns.source_dsn, BURN_FN)
    sql = f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE burn()"
    job = {"dag_id": f"t_terminate_{side}", "source_sql": sql, "target_table": "dw.dim_term",
           "key_columns": ["customer_id"], "load_strategy": "scd1", "chunk_size": 3_000,
           "min_rows_for_parallel": 1_000, "retries": 3, "retry_delay_s": 1,
           "retry_exponential_backoff": 0}  # fmt: skip
    watcher = Terminator(pg_conns, side)
    watcher.start()
    try:  # dag.test() in its own process: a hang must fail the test, not CI
        proc = subprocess.run([sys.executable, "-m", "tests.fault.dag_runner", json.dumps(job)], cwd=REPO,
                              capture_output=True, text=True, timeout=HANG_GUARD_S, check=False)  # fmt: skip
    except subprocess.TimeoutExpired:
        report(f"pg_terminate_backend of the {side} COPY: dag.test() still running after {HANG_GUARD_S} s (hung)")
        raise
    finally:
        watcher.done.set()
        watcher.join(10)
    found = [line for line in proc.stdout.splitlines() if line.startswith("result ")]
    assert proc.returncode == 0 and found, proc.stderr[-3000:]
    run = json.loads(found[0][len("result ") :])
    tries = {int(i): n for i, (_, n) in run["chunks"].items()}
    ledger = chunk_ledger(pg_conns.target_dsn, run["run_id"])
    retried = [i for i, n in tries.items() if n > 1]
    report(
        f"pg_terminate_backend of the {side} COPY ({watcher.killed and watcher.killed[1]}): run {run['state']}; "
        f"tries per chunk {tries}; ledger {[(i, s, a) for i, (s, a, *_) in sorted(ledger.items())]}; "
        f"leftover connections {mapper_backends(pg_conns)}"
    )
    assert watcher.killed is not None, "no COPY was seen to terminate"
    assert run["state"] == "success"
    assert len(tries) == 4 and {state for state, _ in run["chunks"].values()} == {"success"}
    assert len(retried) == 1 and tries[retried[0]] == 2, tries  # the terminated chunk retried once
    assert {i: (s, a) for i, (s, a, *_) in ledger.items()} == {i: ("success", tries[i]) for i in tries}
    assert source_rows(pg_conns.target_dsn, "dw.dim_term") == source_rows(pg_conns.source_dsn)
    assert rows(pg_conns.target_dsn, f"SELECT status, rows_read, rows_inserted FROM dw.mapper_joblog "
                                     f"WHERE run_id = '{run['run_id']}'") == [("success", 12_000, 12_000)]  # fmt: skip
    assert mapper_backends(pg_conns) == 0


POISON_KEY = 8_500
#: name -> (source_sql, target DDL after the first run, SQLSTATE the failed chunk records)
POISONS = {
    "source_division_by_zero": (
        "SELECT "
        + CUSTOMER_COLUMNS.replace("balance,", f"balance + 0 * (1 / (customer_id - {POISON_KEY})) AS balance,")
        + " FROM customers",
        None,
        "22012",
    ),
    "target_check_constraint": (
        f"SELECT {CUSTOMER_COLUMNS} FROM customers",
        f"ALTER TABLE dw.dim_poison ADD CONSTRAINT fault_check CHECK (customer_id <> {POISON_KEY})",
        "23514",
    ),
    "source_permission_error": (
        f"SELECT {CUSTOMER_COLUMNS.replace('notes', 'CASE WHEN guard(customer_id) THEN notes END AS notes')} "
        "FROM customers",
        None,
        "42501",
    ),
}
GUARD_FN = f"""CREATE FUNCTION guard(k bigint) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF k = {POISON_KEY} THEN RAISE EXCEPTION 'not allowed' USING ERRCODE = '42501'; END IF;
    RETURN true;
END $$"""


@pytest.mark.parametrize("poison", list(POISONS))
def test_permanent_error_in_one_chunk_spends_no_retry_and_keeps_the_checkpoint(pg_conns, poison):
    sql, ddl, sqlstate = POISONS[poison]
    src, tgt = pg_conns.source_dsn, pg_conns.target_dsn
    make_customers(src, 6_000)
    pg_exec(src, GUARD_FN)
    dag = mapper_dag(f"t_poison_{poison}", source_sql=sql, target_table="dw.dim_poison", key_columns=["customer_id"],
                     load_strategy="scd1", checkpoint_column="created_at", chunk_size=1_000,
                     min_rows_for_parallel=2_000, **RETRIES)  # fmt: skip
    assert dag.test().state == "success"
    checkpoint = rows(tgt, "SELECT value FROM dw.mapper_checkpoint")
    assert checkpoint == [("2026-01-05T04:00:00+00:00",)]  # created_at of customer 6000
    if ddl:
        pg_exec(tgt, ddl)
    add_customers(src, 6_001, 10_000)

    dr = dag.test()
    tis = chunk_tis(dr)
    ledger = chunk_ledger(tgt, dr.run_id)
    failed = [i for i, ti in tis.items() if ti.state == "failed"]
    log = rows(tgt, "SELECT status, chunks_planned, chunks_succeeded, checkpoint_before, checkpoint_after, message "
                    f"FROM dw.mapper_joblog WHERE run_id = '{dr.run_id}'")  # fmt: skip
    report(
        f"permanent error ({poison}, SQLSTATE {sqlstate}): run {dr.state}; chunks "
        f"{ {i: (ti.state, ti.try_number, ti.max_tries) for i, ti in sorted(tis.items())} } (state, try, max_tries); "
        f"job log {log[0][:3]}; checkpoint {checkpoint[0][0]} -> {rows(tgt, 'SELECT value FROM dw.mapper_checkpoint')}"
    )
    assert dr.state == "failed"
    assert len(failed) == 1 and len(tis) >= 3, {i: ti.state for i, ti in tis.items()}
    bad = tis[failed[0]]
    assert (bad.try_number, bad.max_tries) == (1, 3), "a permanent error spent a retry"
    assert all(ti.state == "success" and ti.try_number == 1 for i, ti in tis.items() if i != failed[0])
    fin = next(ti for ti in dr.get_task_instances() if ti.task_id == "load.finalize")
    assert fin.state == "failed"
    status, _, lower, upper, message = ledger[failed[0]]
    assert status == "failed" and sqlstate in message, ledger[failed[0]]
    assert (lower == "" or int(lower) <= POISON_KEY) and (upper == "" or int(upper) > POISON_KEY)
    assert all(ledger[i][0] == "success" for i in tis if i != failed[0])
    assert log == [("failed", len(tis), len(tis) - 1, checkpoint[0][0], checkpoint[0][0], log[0][5])]
    assert str(failed[0]) in log[0][5]
    assert rows(tgt, "SELECT value FROM dw.mapper_checkpoint") == checkpoint  # did not move
    # the other chunks committed: the target has the first run's keys and the new keys outside the failed range
    lo, hi = int(lower or 0), int(upper or 10**9)
    want = [k for k in range(1, 10_001) if k <= 6_000 or not lo <= k < hi]
    assert [r[0] for r in rows(tgt, "SELECT customer_id FROM dw.dim_poison ORDER BY 1")] == want
    assert len(want) < 10_000
