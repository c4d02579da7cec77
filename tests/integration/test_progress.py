"""Progress while a chunk runs, on real databases: the live row and the job log move while the chunk's
transaction is open, they are written on a connection of their own (a chunk that fails or is stopped rolls its
data back while its live row says so), the task log gets progress lines, a stop is reported as a stop.

Each chunk is slowed by a source function that sleeps every N rows, only inside the chunk's read (COPY or the
rows path's FETCH), so planning stays fast.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_mapper_provider import progress, transfer
from airflow_mapper_provider.db import connect_side
from airflow_mapper_provider.finalizer import finalize_run
from airflow_mapper_provider.loader import ChunkJob
from airflow_mapper_provider.models import ChunkSpec
from airflow_mapper_provider.planner import plan_run
from airflow_mapper_provider.progress import ChunkProgress, Snapshot, chunk_estimate
from airflow_mapper_provider.state import MapperTables
from airflow_mapper_provider.state.progress_log import ProgressLog
from tests.helpers import CUSTOMER_COLUMNS, airflow_connection, config, make_customers, pg_exec, rows, sessions
from tests.progress_support import Lines, progress_lines

ROWS = 4_000
HANG_GUARD_S = 60
#: Every ``every``-th key sleeps ``seconds`` inside the chunk's read; ``fail_at``: that key raises division_by_zero.
PACE_FN = """
CREATE TABLE pace_ctl (every int NOT NULL, seconds float8 NOT NULL, fail_at bigint);
INSERT INTO pace_ctl VALUES (100, 0.05, NULL);
CREATE FUNCTION pace(k bigint) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
DECLARE c pace_ctl;
BEGIN
    IF current_query() LIKE 'COPY%' OR current_query() LIKE 'FETCH%' THEN
        SELECT * INTO c FROM pace_ctl;
        IF k = c.fail_at THEN
            RAISE EXCEPTION 'pace: failing on purpose' USING ERRCODE = '22012';
        END IF;
        IF k % c.every = 0 THEN
            PERFORM pg_sleep(c.seconds);
        END IF;
    END IF;
    RETURN true;
END $$"""
SQL = f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE pace(customer_id)"
EFFECTIVE = "2026-06-01T00:00:00+00:00"


class Recorder:
    """A sink keeping every snapshot (as the task state store would get them)."""

    name = "the recorder"

    def __init__(self) -> None:
        self.snaps: list[Snapshot] = []

    def publish(self, snap: Snapshot) -> None:
        self.snaps.append(snap)

    def close(self) -> None:
        pass


@pytest.fixture
def fast_ticks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "TICK_S", 0.2)
    monkeypatch.setattr(progress, "LOG_S", 0.4)


@pytest.fixture
def paced(pg_dbs: Any) -> Any:
    make_customers(pg_dbs.source_dsn, ROWS)
    pg_exec(pg_dbs.source_dsn, PACE_FN)
    return pg_dbs


def wait_for(check: Callable[[], Any], what: str, thread: threading.Thread | None = None) -> Any:
    t0 = time.monotonic()
    while not (found := check()):
        assert thread is None or thread.is_alive(), f"the chunk ended before {what}"
        assert time.monotonic() - t0 < HANG_GUARD_S, f"hang guard: {what}"
        time.sleep(0.05)
    return found


class ChunkThread(threading.Thread):
    """Plan one chunk, then run it in this thread (its own sessions) with a real reporter."""

    def __init__(self, cfg: Any, source_uri: str, target_uri: str, run_id: str) -> None:
        super().__init__(daemon=True)
        self.cfg, self.source_uri, self.target_uri, self.run_id = cfg, source_uri, target_uri, run_id
        with sessions(source_uri, target_uri) as (src, tgt):
            self.chunks = plan_run(cfg, SQL, run_id, EFFECTIVE, 1024, src, tgt)
        assert len(self.chunks) == 1
        self.spec = ChunkSpec.from_dict(self.chunks[0])
        self.recorder = Recorder()
        self.joblog = ProgressLog(MapperTables(cfg.meta_schema), cfg.mapref, run_id, 1, "host-a",
                                  lambda: connect_side(airflow_connection("tgt", target_uri)))  # fmt: skip
        self.reporter = ChunkProgress(self.spec.label, self.spec.index, self.spec.count, chunk_estimate(self.spec),
                                      [self.recorder, self.joblog], copy_rows=self.joblog.copy_rows)  # fmt: skip
        self.stop = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None
        self.job: ChunkJob | None = None

    def run(self) -> None:
        try:
            with sessions(self.source_uri, self.target_uri) as (src, tgt):
                self.job = ChunkJob(self.cfg, self.spec, SQL, self.run_id, 1, src, tgt, self.stop, self.reporter)
                self.result = self.job.run()
        except BaseException as exc:
            self.error = exc

    def finish(self) -> None:
        self.join(HANG_GUARD_S)
        assert not self.is_alive(), "hang guard: the chunk did not end"
        if self.error is None:
            with sessions(self.source_uri, self.target_uri) as (_, tgt):
                finalize_run(self.cfg, self.run_id, self.chunks, tgt)


def live_row(dsn: str, run_id: str, schema: str = "dw") -> dict[str, Any] | None:
    cols = ("status", "phase", "attempt", "rows_read", "rows_estimated", "rows_per_s", "hostname")
    found = rows(dsn, f"SELECT {', '.join(cols)} FROM {schema}.mapper_chunk_progress WHERE run_id = '{run_id}'")
    return dict(zip(cols, found[0], strict=True)) if found else None


def view_row(dsn: str, run_id: str) -> dict[str, Any]:
    cols = ("status", "chunks_planned", "chunks_done", "chunks_running", "chunks_failed", "rows_so_far",
            "rows_estimated", "rows_per_s", "eta_seconds", "progress_at")  # fmt: skip
    found = rows(dsn, f"SELECT {', '.join(cols)} FROM dw.mapper_progress WHERE run_id = '{run_id}'")
    assert len(found) == 1, found
    return dict(zip(cols, found[0], strict=True))


def joblog_live(dsn: str, run_id: str) -> dict[str, Any]:
    cols = ("status", "rows_estimated", "chunks_done", "chunks_running", "rows_so_far", "rows_per_s", "eta_seconds",
            "progress_at", "rows_read")  # fmt: skip
    found = rows(dsn, f"SELECT {', '.join(cols)} FROM dw.mapper_joblog WHERE run_id = '{run_id}'")
    return dict(zip(cols, found[0], strict=True))


def side_queries(dsn: str, db: str) -> list[tuple[Any, ...]]:
    return pg_exec(dsn, "SELECT state, left(query, 40) FROM pg_stat_activity WHERE application_name = "
                   "'airflow-mapper-progress' AND datname = %(d)s", {"d": db})  # fmt: skip


@pytest.fixture
def progress_log() -> Iterator[Lines]:
    with progress_lines() as lines:
        yield lines


def test_copy_pipe_progress_is_visible_while_the_chunk_runs(paced, fast_ticks, progress_log):
    """PostgreSQL -> PostgreSQL binary COPY straight into the target: rows counted by pg_stat_progress_copy."""
    cfg = config("scd1", "dw.dim_progress", chunk_size=100_000, min_rows_for_parallel=100_000)
    chunk = ChunkThread(cfg, paced.source_uri, paced.target_uri, "r1")
    assert chunk_estimate(chunk.spec) == ROWS  # the plan's estimate (an analysed table: exact here)
    chunk.start()
    live = wait_for(lambda: (r := live_row(paced.target_dsn, "r1")) and r["rows_read"] and r, "a live row", chunk)
    during = view_row(paced.target_dsn, "r1"), joblog_live(paced.target_dsn, "r1")
    visible = rows(paced.target_dsn, "SELECT count(*) FROM dw.dim_progress")[0][0]
    chunk.finish()

    assert chunk.error is None and chunk.result.path == "copy-direct"
    assert live["status"] == "running" and live["phase"] == "reading" and live["hostname"] == "host-a"
    assert 0 < live["rows_read"] < ROWS and live["rows_estimated"] == ROWS
    assert visible == 0, "the live row was written while the chunk's transaction was still open"
    view, joblog = during
    assert view["status"] == "running" and view["chunks_planned"] == 1 and view["chunks_running"] == 1
    assert view["chunks_done"] == 0 and 0 < view["rows_so_far"] < ROWS and view["rows_estimated"] == ROWS
    assert joblog["status"] == "running" and joblog["chunks_running"] == 1 and 0 < joblog["rows_so_far"] < ROWS
    assert joblog["progress_at"] is not None and joblog["rows_read"] == 0  # the final counters come at finalize

    reading = [s for s in chunk.recorder.snaps if s.status == "running" and s.phase == "reading"]
    counts = [s.rows_read for s in reading]
    assert len(counts) >= 3 and counts == sorted(counts) and counts[-1] > counts[0]
    assert any(s.rows_per_s and s.eta_s is not None for s in reading)
    assert chunk.recorder.snaps[-1].status == "success" and chunk.recorder.snaps[-1].rows_read == ROWS
    after = live_row(paced.target_dsn, "r1")
    assert after is not None and (after["status"], after["rows_read"]) == ("success", ROWS)
    final = joblog_live(paced.target_dsn, "r1")
    assert (final["status"], final["chunks_done"], final["chunks_running"], final["rows_so_far"]) == (
        "success", 1, 0, ROWS,
    )  # fmt: skip
    assert final["rows_per_s"] is None and final["eta_seconds"] is None
    view = view_row(paced.target_dsn, "r1")
    assert (view["chunks_done"], view["chunks_running"], view["rows_so_far"], view["eta_seconds"]) == (1, 0, ROWS, None)
    lines = progress_log.lines
    assert any(f"of ~{ROWS:,} rows" in line and "rows/s" in line and "ETA" in line for line in lines), lines
    assert lines[-1].startswith(f"{chunk.spec.label}: success, {ROWS:,} of ~{ROWS:,} rows"), lines[-1]
    assert side_queries(paced.target_dsn, paced.target_db) == []  # the reporter's connection is closed


def test_a_failed_chunk_rolls_back_while_its_live_row_says_failed(paced, fast_ticks):
    pg_exec(paced.source_dsn, "UPDATE pace_ctl SET fail_at = 3000")
    cfg = config("scd1", "dw.dim_fail", chunk_size=100_000, min_rows_for_parallel=100_000)
    chunk = ChunkThread(cfg, paced.source_uri, paced.target_uri, "r1")
    chunk.start()
    running = wait_for(lambda: (r := live_row(paced.target_dsn, "r1")) and r["rows_read"] and r, "a live row", chunk)
    chunk.finish()
    assert chunk.error is not None and running["status"] == "running"
    assert rows(paced.target_dsn, "SELECT count(*) FROM dw.dim_fail") == [(0,)]
    after = live_row(paced.target_dsn, "r1")
    assert after is not None and after["status"] == "failed" and after["rows_read"] > 0
    assert rows(paced.target_dsn, "SELECT status FROM dw.mapper_chunklog WHERE run_id = 'r1'") == [("failed",)]
    view = view_row(paced.target_dsn, "r1")
    assert (view["chunks_done"], view["chunks_running"], view["chunks_failed"], view["rows_so_far"]) == (0, 0, 1, 0)


def test_rows_path_into_sqlite_counts_batches_and_never_blocks_the_chunk(paced, fast_ticks, tmp_path, monkeypatch):
    """PostgreSQL -> SQLite streams rows in batches: each batch is counted. The chunk holds SQLite's write lock
    for its whole transaction: the reporter's job log writes skip (no wait, no warning) while it runs, and the
    final one lands after the commit."""
    monkeypatch.setattr(transfer, "BATCH_ROWS", 200)
    path = tmp_path / "target.db"
    uri = f"sqlite:///{path}"
    cfg = config("scd1", "dim_progress", chunk_size=100_000, min_rows_for_parallel=100_000)
    chunk = ChunkThread(cfg, paced.source_uri, uri, "r1")
    chunk.start()
    wait_for(lambda: [s for s in chunk.recorder.snaps if s.rows_read], "a snapshot with rows", chunk)
    chunk.finish()
    assert chunk.error is None and chunk.result.rows_read == ROWS and chunk.result.path.startswith("rows")
    reading = [s.rows_read for s in chunk.recorder.snaps if s.phase == "reading" and s.status == "running"]
    assert any(reading) and all(n is not None and n % 200 == 0 and n < ROWS for n in reading), reading
    assert chunk.recorder.snaps[-1].rows_read == ROWS
    with sqlite3.connect(path) as db:
        live = db.execute("SELECT status, rows_read FROM mapper_chunk_progress WHERE run_id = 'r1'").fetchall()
        view = db.execute("SELECT chunks_done, chunks_running, rows_so_far, status FROM mapper_progress "
                          "WHERE run_id = 'r1'").fetchall()  # fmt: skip
    assert live == [("success", ROWS)]
    assert view == [(1, 0, ROWS, "success")]
    assert not chunk.reporter._failed, "a skipped SQLite write was reported as a failure"


class FakeStore:
    """What ``context["task_state_store"]`` offers a task (the real one is tested under dag.test())."""

    def __init__(self) -> None:
        self.values: list[tuple[str, Any]] = []

    def set(self, key: str, value: Any) -> None:
        self.values.append((key, value))


def test_a_stop_is_reported_as_a_stop_and_rolls_the_chunk_back(paced, fast_ticks, monkeypatch):
    """on_kill (what Airflow calls when the user marks the run or task failed) cancels the chunk's statements:
    the task fails with "stopped by the user; the chunk rolled back", not as a transient error to retry; the
    ledger and the live row say 'stopped'; nothing of the chunk is in the target; no connection is left."""
    from airflow_mapper_provider.operators.load import MapperLoadChunkOperator

    monkeypatch.setenv("AIRFLOW_CONN_SRC", paced.source_uri)
    monkeypatch.setenv("AIRFLOW_CONN_TGT", paced.target_uri)
    cfg = config("scd1", "dw.dim_stop", chunk_size=100_000, min_rows_for_parallel=100_000)
    with sessions(paced.source_uri, paced.target_uri) as (src, tgt):
        chunks = plan_run(cfg, SQL, "r1", EFFECTIVE, 1024, src, tgt)
    op = MapperLoadChunkOperator(task_id="load_chunk", config=cfg.to_dict(), source_sql=SQL, chunk=chunks[0])
    store = FakeStore()
    ti = type("TI", (), {"try_number": 1, "hostname": "host-b"})()
    outcome: dict[str, Any] = {}

    def execute() -> None:
        try:
            outcome["result"] = op.execute({"ti": ti, "run_id": "r1", "task_state_store": store})
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=execute, daemon=True)
    thread.start()
    wait_for(lambda: (r := live_row(paced.target_dsn, "r1")) and r["rows_read"], "the chunk to read", thread)
    op.on_kill()
    thread.join(HANG_GUARD_S)
    assert not thread.is_alive()

    error = outcome.get("error")
    assert error is not None and type(error).__name__ == "ChunkStoppedError", repr(error)
    assert "stopped by the user; the chunk rolled back" in str(error) and "transient" not in str(error)
    assert type(error).retryable is True  # a worker shutting down stops a chunk the same way: Airflow retries it
    assert rows(paced.target_dsn, "SELECT status FROM dw.mapper_chunklog WHERE run_id = 'r1'") == [("stopped",)]
    live = live_row(paced.target_dsn, "r1")
    assert live is not None and live["status"] == "stopped" and live["hostname"] == "host-b"
    assert rows(paced.target_dsn, "SELECT count(*) FROM dw.dim_stop") == [(0,)]
    assert store.values and store.values[-1][0] == "progress" and store.values[-1][1]["status"] == "stopped"
    assert all(v["rows_read"] is not None for _, v in store.values)
    left = pg_exec(paced.target_dsn, "SELECT application_name FROM pg_stat_activity WHERE application_name "
                   "LIKE 'airflow-mapper%%' AND datname IN (%(s)s, %(t)s)",
                   {"s": paced.source_db, "t": paced.target_db})  # fmt: skip
    assert left == []
