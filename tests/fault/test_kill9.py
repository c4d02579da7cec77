"""kill -9 of the process running a chunk, at chosen and at random points; a re-run then gives a clean run's target.

Each trial: reset the target to its state before the run, plan a run, start the chunk in a worker process
(:mod:`tests.fault.chunk_worker`), watch its backends in ``pg_stat_activity`` (and the COPY progress view and the
chunk ledger) and SIGKILL it at the trial's point:

- ``reading``: the source's ``COPY ... TO STDOUT`` is running, less than 15 % of the rows staged;
- ``staging``: the ``COPY ... FROM STDIN`` into staging (into the target for append) is 30-95 % through;
- ``apply``: one of the set-based statements (delta table, UPDATE, INSERT) is running on the target;
- ``committed``: the chunk's ledger row is committed (the worker still "reports" its result);
- ``random``: a uniformly random delay after the worker opened its sessions.

Then: wait until the killed process's backends are gone, check the target holds either nothing of the chunk or
all of it (as the ledger says), re-run the chunk with the same run id (attempt 2) and finalize, and compare the
target row by row (EXCEPT ALL both ways) with the target a clean run of the same plan produced.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from airflow_mapper_provider.finalizer import finalize_run
from airflow_mapper_provider.loader import ChunkJob
from airflow_mapper_provider.models import ChunkSpec
from airflow_mapper_provider.planner import plan_run
from tests.fault.chunk_worker import job_args
from tests.fault.conftest import report
from tests.helpers import CUSTOMER_COLUMNS, config, make_customers, pg_exec, run_all, sessions

pytestmark = pytest.mark.pg

REPO = Path(__file__).resolve().parents[2]
N = 20_000  # customers before the run; the run then reads N + N/10 rows (N/5 of them changed)
TABLE = "dw.t"
RUN0, RUN1 = "2026-06-01T00:00:00+00:00", "2026-06-02T00:00:00+00:00"
APP = "airflow-mapper"
HANG_GUARD_S = 60

#: Source side: a per-row cost, only in sessions of the worker (the setting ``fault.slow``).
BURN_FN = """CREATE FUNCTION burn() RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF current_setting('fault.slow', true) = 'on' THEN PERFORM count(*) FROM generate_series(1, 100); END IF;
    RETURN true;
END $$"""
#: Target side: a per-row cost on every write into the target table (COPY, UPDATE, INSERT), worker only.
SLOW_TRIGGER = """
CREATE FUNCTION public.fault_slow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('fault.slow', true) = 'on' THEN PERFORM count(*) FROM generate_series(1, 300); END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER fault_slow BEFORE INSERT OR UPDATE ON dw.t FOR EACH ROW EXECUTE FUNCTION public.fault_slow()"""
SQL = f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE burn()"

#: Trials per strategy (append has no apply step: its COPY goes straight into the target).
PLAN = {
    "scd1": ["reading", "staging", "staging", "apply", "apply", "apply", "committed", "committed", "random", "random"],
    "scd2": ["reading", "staging", "staging", "apply", "apply", "apply", "committed", "committed", "random", "random"],
    "append": ["reading", "staging", "staging", "committed", "random", "random"],
}
APPLY_STATEMENTS = ('CREATE TEMPORARY TABLE "mapper_delta"', 'UPDATE "dw"."t"', 'INSERT INTO "dw"."t"')


@dataclass
class Backend:
    state: str
    query: str
    copied: int


@dataclass
class Snapshot:
    source: Backend | None
    target: Backend | None
    ledger: str | None

    def describe(self, expected: int) -> str:
        """Where the chunk is, in words (for the report)."""
        if self.ledger == "success":
            return "committed"
        t, s = self.target, self.source
        if t and t.state == "active" and t.query.startswith("COPY"):
            return f"COPY {t.copied}/{expected} rows in" + (
                ", source COPY running" if s and s.state == "active" else ""
            )
        if s and s.state == "active" and s.query.startswith("COPY"):
            return "source COPY running"
        if t and t.state == "active":
            return "apply: " + t.query[:40]
        return "between statements" if t or s else "no backend"


class Lab:
    """A source, a target and the state the target had before the run under test."""

    def __init__(self, dbs: Any, strategy: str) -> None:
        self.dbs, self.strategy = dbs, strategy
        self.cfg = config(strategy, TABLE, chunk_size=10**7, min_rows_for_parallel=10**8)
        self.mon = psycopg.connect(dbs.target_dsn, autocommit=True)
        self.expected = 0
        self.clean_seconds = 0.0

    def close(self) -> None:
        self.mon.close()

    def sql(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        cur = self.mon.execute(sql, params or {})
        return list(cur.fetchall()) if cur.description else []

    # ---- set-up --------------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Source with changes to load; ``dw.base`` = the target before the run; ``dw.ref`` = a clean run's."""
        src = self.dbs.source_dsn
        make_customers(src, N)
        pg_exec(src, BURN_FN)
        if self.strategy != "append":
            run_all(self.cfg, self.dbs.source_uri, self.dbs.target_uri, "initial", SQL, RUN0)
        pg_exec(src, "UPDATE customers SET balance = balance + 1, name = name || '+' WHERE customer_id % 5 = 0")
        pg_exec(src, f"INSERT INTO customers SELECT customer_id + {N}, name, email, country, balance, created_at, "
                     f"active, birth, notes FROM customers WHERE customer_id <= {N // 10}")  # fmt: skip
        self.expected = N + N // 10
        chunks = self.plan("clean")  # creates the target table on the append path
        self.sql(SLOW_TRIGGER)
        self.sql("CREATE TABLE dw.base AS SELECT * FROM dw.t")  # append: empty
        proc = self.spawn("clean", chunks[0])
        started = time.monotonic()
        out, err = proc.communicate(timeout=HANG_GUARD_S)
        self.clean_seconds = time.monotonic() - started - 0.5  # minus the worker's linger
        assert proc.returncode == 0 and "result " in out, err[-3000:]
        self.finalize("clean", chunks)
        self.sql("CREATE TABLE dw.ref AS SELECT * FROM dw.t")
        assert self.sql(
            "SELECT count(*) FROM dw.ref WHERE " + ("is_current" if self.strategy == "scd2" else "true")
        ) == [(self.expected,)]

    def reset(self) -> None:
        self.sql("TRUNCATE dw.t")
        self.sql("INSERT INTO dw.t SELECT * FROM dw.base")

    def plan(self, run_id: str) -> list[dict[str, Any]]:
        with sessions(self.dbs.source_uri, self.dbs.target_uri) as (src, tgt):
            chunks = plan_run(self.cfg, SQL, run_id, RUN1, 1024, src, tgt)
            tgt.commit()
        assert len(chunks) == 1
        return chunks

    def finalize(self, run_id: str, chunks: list[dict[str, Any]]) -> None:
        with sessions(self.dbs.source_uri, self.dbs.target_uri) as (_, tgt):
            assert finalize_run(self.cfg, run_id, chunks, tgt).status == "success"

    def rerun(self, run_id: str, chunk: dict[str, Any]) -> bool:
        """Run the chunk again in this process (attempt 2); True when it returned the ledger's result."""
        with sessions(self.dbs.source_uri, self.dbs.target_uri) as (src, tgt):
            result = ChunkJob(self.cfg, ChunkSpec.from_dict(chunk), SQL, run_id, 2, src, tgt).run()
        assert result.status == "success"
        return result.from_ledger

    def spawn(self, run_id: str, chunk: dict[str, Any]) -> subprocess.Popen[str]:
        arg = job_args(self.dbs.source_uri, self.dbs.target_uri, self.cfg, chunk, SQL, run_id)
        err = tempfile.TemporaryFile("w+")  # noqa: SIM115  # the worker's log; read after it ended
        proc = subprocess.Popen([sys.executable, "-m", "tests.fault.chunk_worker", arg], cwd=REPO, text=True,
                                stdout=subprocess.PIPE, stderr=err)  # fmt: skip
        proc.stderr = err
        return proc

    # ---- observation --------------------------------------------------------------------------------
    def snapshot(self, run_id: str) -> Snapshot:
        found = self.sql(
            "SELECT a.datname = %(src)s, a.state, a.query, coalesce(c.tuples_processed, 0) FROM pg_stat_activity a "
            "LEFT JOIN pg_stat_progress_copy c ON c.pid = a.pid "
            "WHERE a.application_name = %(app)s AND a.datname IN (%(src)s, %(tgt)s)",
            {"src": self.dbs.source_db, "tgt": self.dbs.target_db, "app": APP},
        )
        side = {is_src: Backend(state, query, int(n)) for is_src, state, query, n in found}
        ledger = self.sql("SELECT status FROM dw.mapper_chunklog WHERE mapref = %(m)s AND run_id = %(r)s",
                          {"m": self.cfg.mapref, "r": run_id})  # fmt: skip
        return Snapshot(side.get(True), side.get(False), ledger[0][0] if ledger else None)

    def backends(self) -> int:
        """Connections of the chunk (application_name airflow-mapper) on the source or the target database."""
        found = self.sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = %(app)s "
                         "AND datname IN (%(src)s, %(tgt)s)",
                         {"app": APP, "src": self.dbs.source_db, "tgt": self.dbs.target_db})  # fmt: skip
        return int(found[0][0])

    def diff(self, table: str, want: str) -> tuple[int, int]:
        """(rows of ``want`` missing from ``table``, rows of ``table`` not in ``want``), compared as multisets."""
        lost = self.sql(f"SELECT count(*) FROM (SELECT * FROM {want} EXCEPT ALL SELECT * FROM {table}) x")
        extra = self.sql(f"SELECT count(*) FROM (SELECT * FROM {table} EXCEPT ALL SELECT * FROM {want}) x")
        return int(lost[0][0]), int(extra[0][0])

    def key_violations(self) -> int:
        """Keys with more than one row (scd2: more than one current row, or two versions from one time)."""
        if self.strategy == "scd2":
            sql = ("SELECT (SELECT count(*) FROM (SELECT customer_id FROM dw.t WHERE is_current GROUP BY 1 "
                   "HAVING count(*) > 1) a) + (SELECT count(*) FROM (SELECT customer_id, valid_from FROM dw.t "
                   "GROUP BY 1, 2 HAVING count(*) > 1) b)")  # fmt: skip
        else:
            sql = "SELECT count(*) FROM (SELECT customer_id FROM dw.t GROUP BY 1 HAVING count(*) > 1) a"
        return int(self.sql(sql)[0][0])


class Trigger:
    """Decides, from successive snapshots, when to send SIGKILL for one trial."""

    def __init__(self, phase: str, rng: random.Random, expected: int, clean_seconds: float) -> None:
        self.phase = phase
        self.threshold = {"reading": rng.uniform(0, 0.15), "staging": rng.uniform(0.3, 0.95)}.get(phase, 0) * expected
        self.statement = rng.choice(APPLY_STATEMENTS)
        self.delay = rng.uniform(0, 0.08) if phase == "apply" and "delta" not in self.statement else 0.0
        if phase == "random":
            self.delay = rng.uniform(0, 0.95 * clean_seconds)
        self.seen: float | None = None
        self.aim = {
            "reading": f"source COPY, < {self.threshold:.0f} rows in",
            "staging": f"COPY >= {self.threshold:.0f} rows in",
            "apply": f"{self.statement.split()[0]} {self.statement.split()[-1]} + {self.delay * 1000:.0f} ms",
            "committed": "ledger row committed",
            "random": f"{self.delay:.3f} s after start",
        }[phase]

    def fire(self, snap: Snapshot, elapsed: float) -> bool:
        s, t = snap.source, snap.target
        copying = t is not None and t.state == "active" and t.query.startswith("COPY")
        if self.phase == "reading":
            return bool(
                s and s.state == "active" and s.query.startswith("COPY") and (t.copied if t else 0) <= self.threshold
            )
        if self.phase == "staging":
            return copying and t is not None and t.copied >= self.threshold
        if self.phase == "committed":
            return snap.ledger == "success"
        if self.phase == "random":
            return elapsed >= self.delay
        if self.seen is None and t is not None and t.state == "active" and t.query.startswith(self.statement):
            self.seen = elapsed
        return self.seen is not None and elapsed - self.seen >= self.delay


@dataclass
class Trial:
    strategy: str
    number: int
    phase: str
    aim: str
    killed: bool
    at: str
    orphans: int
    orphan_seconds: float
    committed: bool
    from_ledger: bool
    partial: int
    lost: int
    duplicated: int
    key_violations: int
    leftover: int

    def line(self) -> str:
        kill = f"SIGKILL at [{self.at}]" if self.killed else "worker finished first (no kill)"
        return (
            f"{self.strategy} #{self.number:02d} {self.phase:<9} aim [{self.aim}] {kill}; backends left by the kill "
            f"{self.orphans} (gone in {self.orphan_seconds:.2f} s); committed before re-run={self.committed}; "
            f"re-run from ledger={self.from_ledger}; partial rows={self.partial} lost={self.lost} "
            f"duplicated={self.duplicated} key violations={self.key_violations} leftover queries={self.leftover}"
        )


def kill_at(lab: Lab, run_id: str, chunk: dict[str, Any], trigger: Trigger) -> tuple[bool, str, int]:
    """Run the chunk in a worker and SIGKILL it when ``trigger`` fires; (killed, where, backends right after)."""
    proc = lab.spawn(run_id, chunk)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "started":
        proc.wait(HANG_GUARD_S)
        assert proc.stderr is not None
        proc.stderr.seek(0)
        pytest.fail(f"worker did not start: {line!r} {proc.stderr.read()[-3000:]}")
    t0 = time.monotonic()
    killed, where = False, ""
    while proc.poll() is None:
        assert time.monotonic() - t0 < HANG_GUARD_S, "hang guard: the worker ran for a minute"
        snap = lab.snapshot(run_id)
        if trigger.fire(snap, time.monotonic() - t0):
            os.kill(proc.pid, signal.SIGKILL)
            killed, where = True, snap.describe(lab.expected)
            break
        time.sleep(0.002)
    proc.wait(HANG_GUARD_S)
    orphans = lab.backends()
    if not killed:
        assert proc.returncode == 0, "the worker failed without being killed"
    return killed, where, orphans


def wait_backends_gone(lab: Lab) -> float:
    t0 = time.monotonic()
    while lab.backends():
        assert time.monotonic() - t0 < HANG_GUARD_S, "hang guard: the killed worker's backends never went away"
        time.sleep(0.01)
    return time.monotonic() - t0


def one_trial(lab: Lab, number: int, phase: str, rng: random.Random) -> Trial:
    run_id = f"{phase}-{number}"
    lab.reset()
    chunk = lab.plan(run_id)[0]
    trigger = Trigger(phase, rng, lab.expected, lab.clean_seconds)
    killed, where, orphans = kill_at(lab, run_id, chunk, trigger)
    orphan_seconds = wait_backends_gone(lab)
    committed = lab.snapshot(run_id).ledger == "success"
    partial = sum(lab.diff("dw.t", "dw.ref" if committed else "dw.base"))  # all of the chunk or none of it
    from_ledger = lab.rerun(run_id, chunk)
    lab.finalize(run_id, [chunk])
    lost, duplicated = lab.diff("dw.t", "dw.ref")
    return Trial(lab.strategy, number, phase, trigger.aim, killed, where, orphans, orphan_seconds, committed,
                 from_ledger, int(partial), lost, duplicated, lab.key_violations(), lab.backends())  # fmt: skip


@pytest.mark.parametrize("strategy", ["scd1", "scd2", "append"])
def test_kill9_then_rerun_equals_clean_run(pg_dbs, strategy):
    seed = int(os.environ.get("MAPPER_FAULT_SEED") or time.time_ns() % 2**31)
    rng = random.Random(seed)
    lab = Lab(pg_dbs, strategy)
    started = time.monotonic()
    try:
        lab.prepare()
        trials: list[Trial] = []
        for phase in PLAN[strategy]:
            for _ in range(3):  # a phase can be missed (the worker was faster than the poll): try again
                trial = one_trial(lab, len(trials) + 1, phase, rng)
                trials.append(trial)
                report(trial.line())
                if trial.killed:
                    break
    finally:
        lab.close()
    kills = Counter(t.phase for t in trials if t.killed)
    report(
        f"{strategy}: seed {seed}; {len(trials)} trials, {sum(kills.values())} kills ({dict(kills)}); "
        f"lost rows {sum(t.lost for t in trials)}, duplicated rows {sum(t.duplicated for t in trials)}, "
        f"partial rows seen after a kill {sum(t.partial for t in trials)}, key violations "
        f"{sum(t.key_violations for t in trials)}, leftover queries {sum(t.leftover for t in trials)}; "
        f"clean chunk {lab.clean_seconds:.2f} s; {time.monotonic() - started:.1f} s"
    )
    for t in trials:
        assert (t.lost, t.duplicated, t.partial, t.key_violations, t.leftover) == (0, 0, 0, 0, 0), t.line()
        assert t.from_ledger == t.committed, t.line()  # a committed chunk is never loaded twice
    assert all(kills[p] >= 1 for p in set(PLAN[strategy]) - {"random"}), kills
    assert sum(kills.values()) >= len(PLAN[strategy]) - 2, kills
