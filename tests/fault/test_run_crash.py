"""kill -9 of a whole DAG run after some of its chunks committed; then the documented recovery, or a new run.

Each test: a source ``orders`` table, a first load of 50,000 rows (in this process, no Airflow: set-up), then
changes, so that the run under test (R) reads a KEY-checkpoint window of 100,000 rows (scd1/scd2: 20,000 updated
rows and 80,000 new ones; append: 100,000 new rows) in 10 chunks. The newest ``updated_at`` of the window is on
its lowest key (chunk 0). A clean run of the same two loads into ``dw.ref`` (in this process) is the reference.

R runs with dag.test() in its own process (:mod:`tests.fault.crash_runner`, Airflow production defaults), its
source made slow (a per-row function, active only inside the chunk's COPY and only in that process's sessions).
dag.test() runs one chunk at a time, in no fixed order. Once the chunk ledger shows at least 2 chunks committed,
chunk 0 among them (unless it is the last one left), and the next chunk's COPY is running, the test SIGKILLs the
runner's process group: every process of the run, mid-chunk. Then either

- the documented recovery: R's tasks run again with the same run id. dag.test() with R's logical date and
  run_after replaces the DagRun by one with the same run id and runs every task again, which is, for the mapper,
  clearing the whole run (README: plan returns the chunk list it froze; ``airflow dags test`` cannot do this, it
  names each run after the current time). R's plan must re-use its frozen plan, committed chunks come from the
  ledger, the rest load, finalize writes R's totals and moves the checkpoint; or
- a new run (N) started at once, no manual step: N's plan waits (reschedule) until R is seen dead (its chunk
  ``running`` in Airflow, no process executing it) at two checks 30 s apart (10 s checks; operators/queueing.py), then N
  takes the mapref over, R's job log becomes 'abandoned' with the counters of what R committed and a message
  naming N, N does not read again what R committed, its checkpoint includes R's marks; running R again later
  (clearing it) does nothing.

Both must end with the reference's target (EXCEPT ALL both ways, no key twice), the reference's checkpoint, and
job log counters that add up to what was committed (invariant 3). The process that runs the recovery or N is
started (Airflow imported, nothing run) while R runs, as a scheduler would already be up.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.fault.conftest import report
from tests.helpers import config, pg_exec, run_all

pytestmark = [pytest.mark.pg, pytest.mark.dag]

REPO = Path(__file__).resolve().parents[2]
HANG_GUARD_S = 120
BASE = 50_000  # rows of the first load
WINDOW = 100_000  # rows the run under test reads
CHUNK = 10_000
COMMITTED_BEFORE_KILL = 2
MAPREF, TABLE, REF_TABLE = "crash.orders", "dw.t", "dw.ref"
COUNTS = ("rows_read", "rows_inserted", "rows_updated", "rows_expired", "rows_unchanged")
#: R's logical date (= run_after, so its run id is fixed), and the new run's.
WHEN_R, WHEN_N = "2026-06-01T00:00:00+00:00", "2026-06-01T01:00:00+00:00"

#: A per-row cost inside the chunks' COPY, only in sessions that set ``fault.slow`` (PGOPTIONS of the killed run).
BURN_FN = """CREATE FUNCTION burn() RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF current_setting('fault.slow', true) = 'on' AND current_query() LIKE 'COPY%' THEN
        PERFORM count(*) FROM generate_series(1, 150);
    END IF;
    RETURN true;
END $$"""
SQL = "SELECT order_id, status, amount, updated_at FROM orders WHERE burn()"
ORDERS_DDL = ("CREATE TABLE orders (order_id bigint PRIMARY KEY, status text NOT NULL, amount numeric(10,2), "
              "updated_at timestamptz NOT NULL)")  # fmt: skip
ADD = ("INSERT INTO orders SELECT g, 'new', g / 10.0, %(at)s::timestamptz + (%(sign)s * g) * interval '1 ms' "
       "FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) g")  # fmt: skip
#: Changes of the window: newest updated_at on the lowest key (the window's maximum is in its first chunk).
CHANGE_AT = "2026-05-02T00:03:20+00:00"  # minus key milliseconds: from 2026-05-02 00:03:19.999 down
UPDATE = ("UPDATE orders SET status = 'paid', amount = amount + 1, "
          "updated_at = %(at)s::timestamptz - order_id * interval '1 ms' WHERE order_id <= %(n)s")  # fmt: skip

STRATEGY = {
    "append": {},
    "scd1": {},
    "scd2": {"scd2_effective_time": "updated_at"},  # versions dated by the row: a clean run's target is exact
}


@dataclass
class Runner:
    """A :mod:`tests.fault.crash_runner` process: one DAG run per time written to it, results read from its log."""

    proc: subprocess.Popen[str]
    log: Path
    results: list[dict[str, Any]] = field(default_factory=list)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def lines(self, prefix: str) -> list[str]:
        return [line for line in self.text().splitlines() if line.startswith(prefix)]

    def wait_for(self, prefix: str, count: int) -> list[str]:
        """Wait until the log has ``count`` lines starting with ``prefix`` (hang guard; the process must live)."""
        t0 = time.monotonic()
        while len(found := self.lines(prefix)) < count:
            assert self.proc.poll() is None, f"the runner exited ({self.proc.returncode}):\n{self.text()[-4000:]}"
            assert time.monotonic() - t0 < HANG_GUARD_S, f"hang guard: no {prefix!r} line:\n{self.text()[-4000:]}"
            time.sleep(0.05)
        return found

    def send(self, when: str) -> None:
        """Start the run at ``when`` (the runner must be ready)."""
        self.wait_for("ready", 1)
        assert self.proc.stdin is not None
        self.proc.stdin.write(when + "\n")
        self.proc.stdin.flush()

    def run(self, when: str) -> dict[str, Any]:
        """One DAG run to its end; its ``result`` line."""
        self.send(when)
        line = self.wait_for("result ", len(self.results) + 1)[len(self.results)]
        result: dict[str, Any] = json.loads(line[len("result ") :])
        assert result["unit_test_mode"] is False
        self.results.append(result)
        return result

    def kill(self) -> None:
        """SIGKILL the process group: the process and anything it started."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(HANG_GUARD_S)

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(HANG_GUARD_S)
            except subprocess.TimeoutExpired:
                self.kill()

    def error(self, name: str) -> str:
        """The first log line that names ``name`` (an exception class), from that name on, shortened."""
        found = [line for line in self.text().splitlines() if f"{name}:" in line]
        return found[0][found[0].index(name) :][:240] if found else ""


class Lab:
    """The source, the target under test (mapref ``crash.orders``) and the reference (a clean run, ``dw.ref``)."""

    def __init__(self, dbs: Any, strategy: str, dag_id: str, logs: Path) -> None:
        self.dbs, self.strategy, self.dag_id, self.logs = dbs, strategy, dag_id, logs
        common = {"checkpoint_column": "updated_at", "chunk_size": CHUNK, "min_rows_for_parallel": 1_000,
                  **STRATEGY[strategy]}  # fmt: skip
        self.cfg = config(strategy, TABLE, ("order_id",), mapref=MAPREF, **common)
        self.ref_cfg = config(strategy, REF_TABLE, ("order_id",), mapref="crash.ref", **common)
        self.dag_kwargs = {"dag_id": dag_id, "source_sql": SQL, "target_table": TABLE, "mapref": MAPREF,
                           "key_columns": ["order_id"], "load_strategy": strategy, "retries": 0,
                           "lock_poke_interval": 10, **common}  # fmt: skip
        self.mon = psycopg.connect(dbs.target_dsn, autocommit=True)
        self.ref_counts: dict[str, int] = {}
        self.ref_checkpoint = ""
        self.ref_added = 0
        self.runners: list[Runner] = []

    def close(self) -> None:
        for runner in self.runners:
            runner.close()
        self.mon.close()

    def sql(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        cur = self.mon.execute(sql, params or {})
        return list(cur.fetchall()) if cur.description else []

    def one(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        return self.sql(sql, params)[0][0]

    # ---- set-up ----------------------------------------------------------------------------------------
    def prepare(self) -> None:
        """First load into both targets, then the window's changes, then the clean run of them into dw.ref."""
        src = self.dbs.source_dsn
        pg_exec(src, ORDERS_DDL)
        pg_exec(src, BURN_FN)
        pg_exec(src, ADD, {"at": "2026-05-01T00:00:00+00:00", "sign": 1, "lo": 1, "hi": BASE})
        pg_exec(src, "ANALYZE orders")
        for cfg in (self.cfg, self.ref_cfg):
            assert run_all(cfg, self.dbs.source_uri, self.dbs.target_uri, "base", SQL)[2].status == "success"
        new = WINDOW if self.strategy == "append" else WINDOW - BASE * 2 // 5
        if self.strategy != "append":
            pg_exec(src, UPDATE, {"at": CHANGE_AT, "n": WINDOW - new})
        pg_exec(src, ADD, {"at": CHANGE_AT, "sign": -1, "lo": BASE + 1, "hi": BASE + new})
        pg_exec(src, "ANALYZE orders")
        _, _, summary = run_all(self.ref_cfg, self.dbs.source_uri, self.dbs.target_uri, "clean", SQL)
        assert summary.status == "success" and summary.rows_read == WINDOW, summary
        assert summary.chunks_planned >= 8, summary
        self.ref_counts = {name: getattr(summary, name) for name in COUNTS}
        self.ref_checkpoint = self.one("SELECT value FROM dw.mapper_checkpoint WHERE mapref = 'crash.ref'")
        self.ref_added = int(self.one(f"SELECT count(*) FROM {REF_TABLE}")) - BASE

    # ---- runs ------------------------------------------------------------------------------------------
    def runner(self, slow: bool = False) -> Runner:
        env = {k: v for k, v in os.environ.items() if k != "AIRFLOW__CORE__UNIT_TEST_MODE"}  # production defaults
        if slow:
            env["PGOPTIONS"] = "-c fault.slow=on"
        log = self.logs / f"runner-{len(self.runners)}.log"
        arg = json.dumps(self.dag_kwargs)
        with log.open("w") as out:
            proc = subprocess.Popen([sys.executable, "-m", "tests.fault.crash_runner", arg], cwd=REPO, env=env,
                                    stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT, text=True,
                                    start_new_session=True)  # fmt: skip
        runner = Runner(proc, log)
        self.runners.append(runner)
        return runner

    def run_and_kill(self, when: str) -> tuple[str, float, str]:
        """Run R (slow source) and SIGKILL its process group once :func:`kill_now` says so and a chunk reads;
        (run id, seconds after the run started, what was running at the kill)."""
        runner = self.runner(slow=True)
        runner.send(when)
        t0 = time.monotonic()
        while True:
            assert runner.proc.poll() is None, "the run ended before it was killed:\n" + runner.text()[-4000:]
            assert time.monotonic() - t0 < HANG_GUARD_S, "hang guard: the run never committed 2 chunks"
            found = self.sql("SELECT j.run_id, j.chunks_planned, array_agg(c.chunk_index) FROM dw.mapper_joblog j "
                             "JOIN dw.mapper_chunklog c ON c.mapref = j.mapref AND c.run_id = j.run_id "
                             "WHERE j.mapref = %(m)s AND j.run_id <> 'base' AND c.status = 'success' GROUP BY 1, 2",
                             {"m": MAPREF})  # fmt: skip
            if found and kill_now(found[0][1], found[0][2]):
                break
            time.sleep(0.005)
        run_id, t_ready = found[0][0], time.monotonic()
        while not (reading := self.copying()) and time.monotonic() - t_ready < 5:  # the next chunk's COPY
            time.sleep(0.002)
        runner.kill()
        return run_id, time.monotonic() - t0, f"a chunk's COPY ({reading})" if reading else "no COPY running"

    def copying(self) -> str:
        """The mapper's active COPY statements on the source and the target, in words ("" when none)."""
        found = self.sql("SELECT datname, left(query, 20) FROM pg_stat_activity WHERE application_name = "
                         "'airflow-mapper' AND state = 'active' AND query LIKE 'COPY%%' AND datname IN (%(s)s, %(t)s)",
                         {"s": self.dbs.source_db, "t": self.dbs.target_db})  # fmt: skip
        return ", ".join(f"{'source' if db == self.dbs.source_db else 'target'} {q}..." for db, q in found)

    # ---- observation -----------------------------------------------------------------------------------
    def diff(self) -> tuple[int, int]:
        """(rows of the reference missing from the target, rows of the target not in the reference): multisets."""
        lost = self.one(f"SELECT count(*) FROM (SELECT * FROM {REF_TABLE} EXCEPT ALL SELECT * FROM {TABLE}) x")
        extra = self.one(f"SELECT count(*) FROM (SELECT * FROM {TABLE} EXCEPT ALL SELECT * FROM {REF_TABLE}) x")
        return int(lost), int(extra)

    def target_rows(self) -> int:
        return int(self.one(f"SELECT count(*) FROM {TABLE}"))

    def keys_twice(self) -> int:
        """Keys with two rows (scd2: two current rows)."""
        where = "WHERE is_current" if self.strategy == "scd2" else ""
        return int(self.one(f"SELECT count(*) FROM (SELECT order_id FROM {TABLE} {where} GROUP BY 1 "
                            "HAVING count(*) > 1) x"))  # fmt: skip

    def joblog(self, run_id: str) -> dict[str, Any]:
        cols = ("status", *COUNTS, "chunks_planned", "chunks_succeeded", "message")
        found = self.sql(f"SELECT {', '.join(cols)} FROM dw.mapper_joblog WHERE mapref = %(m)s AND run_id = %(r)s",
                         {"m": MAPREF, "r": run_id})  # fmt: skip
        return dict(zip(cols, found[0], strict=True)) if found else {}

    def ledger(self, run_id: str) -> dict[int, tuple[Any, ...]]:
        """chunk index -> (status, attempt, finished_at, rows_read) of the run's chunk ledger rows."""
        found = self.sql("SELECT chunk_index, status, attempt, finished_at, rows_read FROM dw.mapper_chunklog "
                         "WHERE mapref = %(m)s AND run_id = %(r)s", {"m": MAPREF, "r": run_id})  # fmt: skip
        return {r[0]: tuple(r[1:]) for r in found}

    def committed_counts(self, run_id: str) -> dict[str, int]:
        """Sum of each counter over the run's committed chunks (what it wrote)."""
        found = self.sql(f"SELECT {', '.join(f'coalesce(sum({c}), 0)' for c in COUNTS)} FROM dw.mapper_chunklog "
                         "WHERE mapref = %(m)s AND run_id = %(r)s AND status = 'success'",
                         {"m": MAPREF, "r": run_id})  # fmt: skip
        return dict(zip(COUNTS, (int(v) for v in found[0]), strict=True))

    def checkpoint(self) -> str:
        return str(self.one("SELECT value FROM dw.mapper_checkpoint WHERE mapref = %(m)s", {"m": MAPREF}))

    def lock_owner(self) -> str | None:
        found = self.sql("SELECT run_id FROM dw.mapper_lock WHERE mapref = %(m)s", {"m": MAPREF})
        return found[0][0] if found else None

    def backends(self) -> int:
        """Connections of the mapper (application_name airflow-mapper) on either database."""
        sql = (
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'airflow-mapper' "
            "AND datname IN (%(s)s, %(t)s)"
        )
        return int(self.one(sql, {"s": self.dbs.source_db, "t": self.dbs.target_db}))


def kill_now(planned: int, committed: list[int]) -> bool:
    """At least 2 chunks committed, chunk 0 (the window's newest updated_at) among them unless it is the last one
    left: then a takeover's checkpoint must come from R's committed marks (chunks run in no fixed order)."""
    return len(committed) >= COMMITTED_BEFORE_KILL and (0 in committed or len(committed) == planned - 1)


def counts_of(row: dict[str, Any]) -> dict[str, int]:
    return {name: int(row.get(name) or 0) for name in COUNTS}


def crash(lab: Lab) -> tuple[dict[str, Any], Runner]:
    """Set up, run R and kill it: what R left behind (the job log, the lock, the ledger, the target), and a ready
    runner for what comes next (started while R runs), once the killed run's connections are gone."""
    lab.prepare()
    following = lab.runner()
    run_id, seconds, at = lab.run_and_kill(WHEN_R)
    left, t0 = lab.backends(), time.monotonic()
    while lab.backends():  # a killed client's backend ends when it next reads from the socket: a moment
        assert time.monotonic() - t0 < HANG_GUARD_S, "hang guard: the killed run's connections stay"
        time.sleep(0.01)
    ledger = lab.ledger(run_id)
    committed = sorted(i for i, row in ledger.items() if row[0] == "success")
    found = {
        "run_id": run_id,
        "kill_s": seconds,
        "at": at,
        "ledger": ledger,
        "committed": committed,
        "committed_counts": lab.committed_counts(run_id),
        "joblog": lab.joblog(run_id),
        "lock": lab.lock_owner(),
        "rows_added": lab.target_rows() - BASE,
        "backends": (left, time.monotonic() - t0),
    }
    return found, following


def describe(lab: Lab, r: dict[str, Any]) -> str:
    log = r["joblog"]
    return (
        f"{lab.strategy}: R killed {r['kill_s']:.1f} s after its start, during {r['at']}, with chunks "
        f"{r['committed']} of {log.get('chunks_planned')} committed ({r['rows_added']} rows added to the target, "
        f"the ledger says {r['committed_counts']['rows_read']} read); R's job log then {log.get('status')!r} "
        f"rows_read={log.get('rows_read')} rows_inserted={log.get('rows_inserted')}; lock owner {r['lock']!r}; "
        f"mapper connections left after the kill {r['backends'][0]} (gone {r['backends'][1]:.2f} s later)"
    )


def check_crash(r: dict[str, Any]) -> None:
    """R was killed mid-run: some but not all chunks committed, a chunk was reading, the job log says running."""
    assert r["joblog"]["status"] == "running" and 0 < len(r["committed"]) < r["joblog"]["chunks_planned"], r
    assert r["at"] != "no COPY running", r


@pytest.mark.parametrize("strategy", list(STRATEGY))
def test_run_killed_then_cleared_ends_like_a_clean_run(pg_conns, strategy, tmp_path):
    """The documented recovery: run R's tasks again (same run id) after R was killed mid-run."""
    started = time.monotonic()
    lab = Lab(pg_conns, strategy, f"crash_recover_{strategy}", tmp_path)
    try:
        r, runner = crash(lab)
        run_id = r["run_id"]
        resumed = runner.run(WHEN_R)
        lost, extra = lab.diff()
        log = lab.joblog(run_id)
        ledger = lab.ledger(run_id)
        checkpoint, keys_twice, owner, leftover = lab.checkpoint(), lab.keys_twice(), lab.lock_owner(), lab.backends()
        rows_added = lab.target_rows() - BASE
    finally:
        lab.close()
    report(
        f"{describe(lab, r)}. Recovery (same run id): run {resumed['state']}; vs a clean run lost {lost} extra "
        f"{extra} rows, target rows added {rows_added} (clean {lab.ref_added}); job log {log.get('status')!r} "
        f"{counts_of(log)} (clean {lab.ref_counts}); checkpoint {checkpoint} (clean {lab.ref_checkpoint}); "
        f"lock owner {owner!r}; {time.monotonic() - started:.0f} s"
    )
    check_crash(r)
    assert resumed["state"] == "success", resumed
    assert (lost, extra, keys_twice) == (0, 0, 0)
    if strategy == "append":
        assert log["rows_inserted"] == rows_added  # the job log counts what is in the target
    assert log["status"] == "success" and log["chunks_succeeded"] == log["chunks_planned"], log
    assert counts_of(log) == lab.ref_counts  # the totals of all R's chunks, the ones committed before the kill too
    # committed chunks were skipped by the ledger: their rows are attempt 1's, unchanged
    assert {i: ledger[i] for i in r["committed"]} == {i: r["ledger"][i] for i in r["committed"]}
    assert checkpoint == lab.ref_checkpoint
    assert owner == run_id and leftover == 0


@pytest.mark.parametrize("strategy", list(STRATEGY))
def test_run_killed_then_new_run_takes_over_and_ends_like_a_clean_run(pg_conns, strategy, tmp_path):
    """A new run started at once after R was killed: it takes the mapref over; append loads only what R did not,
    scd1/scd2 read everything again and write only what R did not."""
    started = time.monotonic()
    lab = Lab(pg_conns, strategy, f"crash_takeover_{strategy}", tmp_path)
    try:
        r, runner = crash(lab)
        run_id = r["run_id"]
        new = runner.run(WHEN_N)
        refused = runner.error("RunLockedError")
        lost, extra = lab.diff()
        rows_added = lab.target_rows() - BASE
        log_r, log_n = lab.joblog(run_id), lab.joblog(new["run_id"])
        checkpoint, keys_twice, owner = lab.checkpoint(), lab.keys_twice(), lab.lock_owner()
        ledger_r = lab.ledger(run_id)
        # later, someone clears R: nothing happens
        again = runner.run(WHEN_R) if new["state"] == "success" else None
        after = (lab.diff(), lab.target_rows() - BASE, lab.joblog(run_id), lab.checkpoint(), lab.ledger(run_id))
        leftover = lab.backends()
    finally:
        lab.close()
    total = {c: counts_of(log_r)[c] + counts_of(log_n)[c] for c in COUNTS}
    report(
        f"{describe(lab, r)}. New run {new['run_id']} at once: {new['state']}"
        f"{f' ({refused})' if refused else ''}; vs a clean run lost {lost} extra {extra} rows, target rows added "
        f"{rows_added} (clean {lab.ref_added}); job log R {log_r.get('status')!r} {counts_of(log_r)} (R committed "
        f"{r['committed_counts']}) message {log_r.get('message')!r}; N {log_n.get('status')!r} {counts_of(log_n)}; "
        f"R + N {total} (clean {lab.ref_counts}); checkpoint {checkpoint} (clean {lab.ref_checkpoint}, from R's "
        f"chunk 0: {0 in r['committed']}); lock owner {owner!r}; R cleared later: {again and again['state']}, its "
        f"job log then {after[2].get('status')!r}; {time.monotonic() - started:.0f} s"
    )
    check_crash(r)
    assert new["state"] == "success", new
    assert (lost, extra, keys_twice) == (0, 0, 0)
    if strategy == "append":
        assert total["rows_inserted"] == rows_added  # the job log counts what is in the target
    assert log_n["status"] == "success", log_n
    assert log_r["status"] == "abandoned" and new["run_id"] in (log_r["message"] or ""), log_r
    assert counts_of(log_r) == r["committed_counts"]  # R's counters reconciled from its committed chunks
    if strategy == "append":
        assert total == lab.ref_counts  # N did not read again what R committed (it would append it twice)
    else:  # scd: N reads everything again (idempotent); R's committed rows are unchanged for N
        writes = ("rows_inserted", "rows_updated", "rows_expired")
        assert {c: total[c] for c in writes} == {c: lab.ref_counts[c] for c in writes}
        assert counts_of(log_n)["rows_read"] == lab.ref_counts["rows_read"]
        assert counts_of(log_n)["rows_unchanged"] == r["committed_counts"]["rows_read"]
    assert checkpoint == lab.ref_checkpoint  # includes R's committed marks
    assert owner == new["run_id"]
    # clearing the abandoned run: its plan returns no chunks, no data changes
    assert again is not None and again["state"] == "success", again
    assert not any(state in ("success", "failed") for key, (state, _) in again["tis"].items() if ".load_chunk" in key)
    assert after == ((0, 0), rows_added, log_r, checkpoint, ledger_r)
    assert leftover == 0
