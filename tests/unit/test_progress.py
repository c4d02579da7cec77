"""The pure parts of chunk progress: estimate, rate, ETA, formatting, the reporter's bookkeeping (fake clock, no
thread unless a test starts one), failure handling, and the progress SQL (golden text; it runs on SQLite)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from typing import Any

import pytest
from sqlalchemy import text

from airflow_mapper_provider import progress
from airflow_mapper_provider.dialects import PostgresDialect, SqliteDialect
from airflow_mapper_provider.identifiers import TableName
from airflow_mapper_provider.models import ChunkSpec
from airflow_mapper_provider.progress import (
    ChunkProgress,
    Snapshot,
    chunk_estimate,
    eta_seconds,
    human_duration,
    rows_per_second,
)
from airflow_mapper_provider.state.tables import CHUNKLOG_COLUMNS, JOBLOG_COLUMNS, PROGRESS_COLUMNS

T0 = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class Recorder:
    name = "the recorder"

    def __init__(self, fail: BaseException | None = None) -> None:
        self.snaps: list[Snapshot] = []
        self.fail = fail
        self.closed = False

    def publish(self, snap: Snapshot) -> None:
        if self.fail is not None:
            raise self.fail
        self.snaps.append(snap)

    def close(self) -> None:
        self.closed = True


def snap(**kw: Any) -> Snapshot:
    values: dict[str, Any] = {
        "label": "chunk 3/8 customer_id 100..199", "index": 2, "count": 8, "phase": "reading", "status": "running",
        "rows_read": 412_000, "rows_estimated": 500_000, "rows_per_s": 81_000.4, "eta_s": 1.1, "elapsed_s": 5.04,
        "started_at": T0, "updated_at": T0 + dt.timedelta(seconds=5),
    }  # fmt: skip
    values.update(kw)
    return Snapshot(**values)


def test_chunk_estimate_splits_the_plan_estimate_over_the_chunks():
    spec = ChunkSpec(index=0, count=8, kind="range", key_columns=("id",), estimated_rows=1_000_001)
    assert chunk_estimate(spec) == 125_001 == chunk_estimate(spec.to_dict())
    assert chunk_estimate(ChunkSpec(index=0, count=1, kind="all")) == 0  # no estimate: no ETA


def test_rate_and_eta():
    assert rows_per_second([(0.0, 0)]) is None
    assert rows_per_second([(0.0, 0), (0.0, 10)]) is None
    assert rows_per_second([(10.0, 100), (12.0, 300), (14.0, 900)]) == 200.0
    assert eta_seconds(400, 1_000, 200.0) == 3.0
    assert eta_seconds(1_200, 1_000, 200.0) == 0.0  # past the estimate
    assert eta_seconds(None, 1_000, 200.0) is None
    assert eta_seconds(400, 0, 200.0) is None
    assert eta_seconds(400, 1_000, None) is None and eta_seconds(400, 1_000, 0.0) is None


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0.4, "0 s"), (1.0, "1 s"), (59.4, "59 s"), (60, "1 min 00 s"), (125, "2 min 05 s"), (3780, "1 h 03 min")],
)
def test_human_duration(seconds, shown):
    assert human_duration(seconds) == shown


def test_lines_carry_counts_and_rates_only():
    assert snap().line() == (
        "chunk 3/8 customer_id 100..199: reading, 412,000 of ~500,000 rows, 81,000 rows/s, ETA 1 s, 5 s so far"
    )
    assert snap(rows_estimated=0, eta_s=None).line() == (
        "chunk 3/8 customer_id 100..199: reading, 412,000 rows, 81,000 rows/s, 5 s so far"
    )
    assert snap(phase="applying", rows_read=500_000, rows_per_s=None, eta_s=None).line() == (
        "chunk 3/8 customer_id 100..199: applying, 500,000 of ~500,000 rows, 5 s so far"
    )
    assert snap(status="stopped", rows_read=7).line() == (
        "chunk 3/8 customer_id 100..199: stopped, 7 of ~500,000 rows, after 5 s"
    )
    assert snap(rows_read=None, elapsed_s=75).line() == (
        "chunk 3/8 customer_id 100..199: reading for 1 min 15 s (this server cannot count the rows of a binary COPY)"
    )


def test_state_store_value_is_small_json():
    value = snap().to_state()
    assert json.loads(json.dumps(value)) == value
    assert value["rows_read"] == 412_000 and value["rows_per_s"] == 81_000.4 and value["eta_s"] == 1.1
    assert value["started_at"] == "2026-06-01T00:00:00+00:00" and value["message"].endswith("5 s so far")
    assert len(json.dumps(value)) < 1_000


def reporter(*sinks: Any, estimate: int = 1_000, copy_rows: Any = None) -> tuple[ChunkProgress, Clock]:
    clock = Clock()
    rep = ChunkProgress("chunk 1/2 all rows", 0, 2, estimate, sinks, copy_rows=copy_rows, clock=clock)
    rep.reading()
    return rep, clock


def test_rate_is_measured_over_the_recent_window(monkeypatch):
    monkeypatch.setattr(progress, "RATE_WINDOW_S", 30.0)
    rep, clock = reporter(estimate=100_000)
    for _ in range(6):  # 1,000 rows/s for 60 s
        clock.t += 10
        rep.add_rows(10_000)
        rep.snapshot()
    for _ in range(3):  # then 100 rows/s
        clock.t += 10
        rep.add_rows(1_000)
        last = rep.snapshot()
    assert last.rows_read == 63_000
    assert last.rows_per_s == pytest.approx(100.0)  # the last 30 s, not the 90 s average
    assert last.eta_s == pytest.approx(37_000 / 100.0)


def test_phases_end_the_rate_and_the_eta():
    rep, clock = reporter()
    clock.t += 2
    rep.add_rows(400)
    rep.phase(progress.APPLYING, 1_000)  # the exact count from the mover
    clock.t += 3
    s = rep.snapshot()
    assert (s.phase, s.rows_read, s.rows_per_s, s.eta_s) == ("applying", 1_000, None, None)


def test_salvage_reads_again_from_zero():
    rep, _ = reporter()
    rep.add_rows(700)
    rep.reading()
    rep.add_rows(5)
    assert rep.snapshot().rows_read == 5


def test_copy_rows_come_from_the_probe_and_stay_after_it_ends():
    seen: list[int] = []
    counts = iter([0, 250, 600])

    def copy_rows(pid: int) -> int | None:
        seen.append(pid)
        return next(counts)

    rep, _ = reporter(copy_rows=copy_rows)
    rep.watch_copy(4242)
    assert [rep.snapshot().rows_read for _ in range(3)] == [0, 250, 600]
    assert seen == [4242, 4242, 4242]
    assert rep.snapshot("failed").rows_read == 600  # no probe once the chunk ended: the last count stays


def test_a_database_that_cannot_count_a_copy_shows_no_rows(caplog):
    rep, _ = reporter()  # no copy_rows
    rep.watch_copy(1)
    assert rep.snapshot().rows_read is None

    def old_server(pid: int) -> int | None:
        raise RuntimeError("relation pg_stat_progress_copy does not exist")

    rep, _ = reporter(copy_rows=old_server)
    rep.watch_copy(1)
    with caplog.at_level(logging.DEBUG, logger="airflow_mapper_provider.progress"):
        assert rep.snapshot().rows_read is None and rep.snapshot().rows_read is None
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "cannot count the rows of the binary COPY (RuntimeError)" in warnings[0].message
    assert "does not exist" not in caplog.text  # the error's class, never its message


def test_a_failing_sink_is_logged_once_and_the_others_still_get_snapshots(caplog):
    good, bad = Recorder(), Recorder(fail=RuntimeError("secret value 42"))
    rep, clock = reporter(bad, good)
    with caplog.at_level(logging.DEBUG, logger="airflow_mapper_provider.progress"):
        for _ in range(3):
            clock.t += 5
            rep._publish(progress.RUNNING, log_line=False)
    assert len(good.snaps) == 3
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "could not write the recorder (RuntimeError)" in warnings[0].message
    assert "secret" not in caplog.text


def test_a_chunk_shorter_than_a_tick_publishes_nothing(monkeypatch):
    monkeypatch.setattr(progress, "TICK_S", 60.0)
    sink = Recorder()
    rep = ChunkProgress("chunk 1/1 all rows", 0, 1, 10, [sink])
    rep.start()
    rep.add_rows(10)
    rep.finish("success")
    assert sink.snaps == [] and sink.closed
    assert not [t for t in threading.enumerate() if t.name.startswith("mapper-progress-")]


def test_the_thread_ticks_then_finish_says_the_last_word(monkeypatch):
    monkeypatch.setattr(progress, "TICK_S", 0.01)
    sink = Recorder()
    rep = ChunkProgress("chunk 1/1 all rows", 0, 1, 10, [sink])
    rep.start()
    rep.add_rows(4)
    got = threading.Event()
    sink.publish = lambda s, _pub=sink.publish: (_pub(s), got.set())  # type: ignore[method-assign]
    assert got.wait(5)
    rep.finish("stopped")
    assert sink.snaps[0].status == "running" and sink.snaps[-1].status == "stopped"
    assert sink.snaps[-1].rows_read == 4 and sink.closed
    assert not [t for t in threading.enumerate() if t.name.startswith("mapper-progress-")]


# ---- progress SQL ---------------------------------------------------------------------------------------
PG, SQ = PostgresDialect(), SqliteDialect()


def test_upsert_sql_golden():
    table, names = TableName("mapper_chunk_progress", "dw"), ["mapref", "run_id", "chunk_index", "rows_read"]
    assert PG.upsert_sql(table, names, ["mapref", "run_id", "chunk_index"]) == (
        'INSERT INTO "dw"."mapper_chunk_progress" ("mapref", "run_id", "chunk_index", "rows_read") '
        "VALUES (%(mapref)s, %(run_id)s, %(chunk_index)s, %(rows_read)s) "
        'ON CONFLICT ("mapref", "run_id", "chunk_index") DO UPDATE SET "rows_read" = excluded."rows_read"'
    )
    assert SQ.upsert_sql(TableName("p"), ["k", "v"], ["k"]) == (
        'INSERT INTO "p" ("k", "v") VALUES (:k, :v) ON CONFLICT ("k") DO UPDATE SET "v" = excluded."v"'
    )
    assert PG.copy_progress_sql() == "SELECT tuples_processed FROM pg_stat_progress_copy WHERE pid = %(pid)s"
    assert SQ.copy_progress_sql() is None


def insert(conn: Any, table: str, **values: Any) -> None:
    names = ", ".join(values)
    conn.execute(text(f"INSERT INTO {table} ({names}) VALUES ({', '.join(':' + n for n in values)})"), values)


def test_progress_view_on_sqlite(sqlite_conn):
    """The view's arithmetic: a committed chunk, a running retry of a failed one, a stopped one, a live row of an
    attempt that a later ledger row superseded; running counts, rate and ETA only while the run is running."""
    from airflow_mapper_provider.dialects import Column

    j, c, p = TableName("mapper_joblog"), TableName("mapper_chunklog"), TableName("mapper_chunk_progress")
    for table, cols in ((j, JOBLOG_COLUMNS), (c, CHUNKLOG_COLUMNS), (p, PROGRESS_COLUMNS)):
        sqlite_conn.execute(text(SQ.create_table_sql(table, [Column(n, t) for n, t in cols])))
    sqlite_conn.execute(text(SQ.progress_view_sql(TableName("mapper_progress"), j, c, p)))
    run = {"mapref": "m", "run_id": "r"}
    insert(sqlite_conn, "mapper_joblog", **run, status="running", chunks_planned=5, rows_estimated=1000)
    for i, status, attempt, n in ((0, "success", 1, 200), (1, "failed", 1, 0), (2, "stopped", 1, 0),
                                  (3, "success", 2, 200)):  # fmt: skip
        insert(sqlite_conn, "mapper_chunklog", **run, chunk_index=i, status=status, attempt=attempt, rows_read=n)
    live = ((1, "running", 2, 150, 50.0, "t2"), (2, "stopped", 1, 30, None, "t1"), (3, "running", 1, 10, 9.0, "t0"),
            (4, "running", 1, 50, 30.0, "t3"))  # fmt: skip
    for i, status, attempt, n, rate, at in live:
        insert(sqlite_conn, "mapper_chunk_progress", **run, chunk_index=i, status=status, attempt=attempt,
               rows_read=n, rows_per_s=rate, updated_at=at)  # fmt: skip
    cols = "chunks_planned, chunks_done, chunks_running, chunks_failed, rows_so_far, rows_per_s, eta_seconds"
    select = text(f"SELECT {cols}, progress_at FROM mapper_progress")
    # done: 0 and 3 (400 rows); running: 1 (attempt 2 after a failed 1) and 4 (200 rows, 80 rows/s); failed: 2
    assert sqlite_conn.execute(select).fetchall() == [(5, 2, 2, 1, 600, 80.0, 400 / 80.0, "t3")]
    sqlite_conn.execute(text("UPDATE mapper_joblog SET status = 'failed'"))
    assert sqlite_conn.execute(select).fetchall() == [(5, 2, 0, 1, 400, None, None, "t3")]
