"""Progress of one running chunk: rows read so far, rows/s, ETA from the plan's estimate, and the phase.

The loader and the row mover report into a :class:`Progress` (the no-op default) or a :class:`ChunkProgress`:
a daemon thread that every :data:`TICK_S` seconds takes a :class:`Snapshot` and hands it to its sinks (the task
state store key ``progress``, the job log's live row), and every :data:`LOG_S` seconds logs one line. Rows are
counted where they pass anyway: per batch on the rows path; on PostgreSQL's binary COPY pipe, where no row is
decoded in Python, by a probe the reporter runs on its own connection (``pg_stat_progress_copy``, PostgreSQL 14+).
Nothing here touches the chunk's connections or transaction, and a failing sink is logged once and skipped:
progress never fails or slows a chunk. A chunk that ends within its first tick publishes nothing.

Counts and rates only: no row value ever reaches a log line, the state store or the job log.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import functools
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)

#: Seconds between two snapshots (task state store, job log). Tests shorten it.
TICK_S = 5.0
#: Seconds between two progress lines in the task log.
LOG_S = 10.0
#: The rate is measured over the samples of this many seconds (the reading rate now, not since the start).
RATE_WINDOW_S = 30.0
#: How long finishing waits for a snapshot in flight.
JOIN_S = 5.0
#: Key of the task state store (per task instance and map index).
STATE_KEY = "progress"

READING, APPLYING, COMMITTING = "reading", "applying", "committing"
RUNNING = "running"


# ---- pure parts -----------------------------------------------------------------------------------------
def chunk_estimate(chunk: Any) -> int:
    """The plan's row estimate of one chunk: the run's estimate (``estimated_rows``, the same on every chunk)
    split evenly over its ``count`` chunks (range bounds are quantiles and hash buckets are even: chunks are
    balanced by construction); 0 where the plan had none. ``chunk``: a ChunkSpec or its dict."""
    get = chunk.get if isinstance(chunk, dict) else lambda name, default=None: getattr(chunk, name, default)
    total, count = int(get("estimated_rows", 0) or 0), int(get("count", 1) or 1)
    return math.ceil(total / count) if total > 0 else 0


def rows_per_second(samples: Sequence[tuple[float, int]]) -> float | None:
    """Rate between the first and the last ``(seconds, rows)`` sample (None with fewer than two, or no time)."""
    if len(samples) < 2:
        return None
    (t0, r0), (t1, r1) = samples[0], samples[-1]
    return (r1 - r0) / (t1 - t0) if t1 > t0 else None


def eta_seconds(rows: int | None, estimate: int, rate: float | None) -> float | None:
    """Seconds left at ``rate`` until ``estimate`` rows are read (0 once reached; None when unknown)."""
    if rows is None or estimate <= 0 or not rate or rate <= 0:
        return None
    return max(estimate - rows, 0) / rate


def human_duration(seconds: float) -> str:
    """``7 s``, ``2 min 05 s``, ``1 h 03 min``."""
    s = max(round(seconds), 0)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


@dataclass(frozen=True)
class Snapshot:
    """One chunk's progress at one moment.

    :param rows_read: rows read so far (None: not countable, e.g. the COPY pipe on PostgreSQL before 14).
    :param rows_estimated: the plan's estimate for the chunk (0: none).
    :param rows_per_s: the reading rate (None before two samples, and after reading).
    :param eta_s: seconds left reading (None when unknown).
    :param status: ``running`` until the chunk ends, then ``success``, ``failed`` or ``stopped``.
    """

    label: str
    index: int
    count: int
    phase: str
    status: str
    rows_read: int | None
    rows_estimated: int
    rows_per_s: float | None
    eta_s: float | None
    elapsed_s: float
    started_at: dt.datetime
    updated_at: dt.datetime

    def line(self) -> str:
        """The task log line, e.g. ``chunk 3/8 customer_id 100..199: reading, 412,000 of ~500,000 rows,
        81,000 rows/s, ETA 1 s``."""
        head = f"{self.label}: {self.phase if self.status == RUNNING else self.status}"
        if self.rows_read is None:
            return f"{head} for {human_duration(self.elapsed_s)} (this server cannot count the rows of a binary COPY)"
        of = f" of ~{self.rows_estimated:,}" if self.rows_estimated else ""
        parts = [f"{head}, {self.rows_read:,}{of} rows"]
        if self.phase == READING and self.status == RUNNING:
            if self.rows_per_s is not None:
                parts.append(f"{self.rows_per_s:,.0f} rows/s")
            if self.eta_s is not None:
                parts.append(f"ETA {human_duration(self.eta_s)}")
        parts.append(f"{human_duration(self.elapsed_s)} so far" if self.status == RUNNING else
                     f"after {human_duration(self.elapsed_s)}")  # fmt: skip
        return ", ".join(parts)

    def to_state(self) -> dict[str, Any]:
        """The task state store value (JSON; times as ISO-8601 text)."""
        data = dataclasses.asdict(self)
        data["started_at"], data["updated_at"] = self.started_at.isoformat(), self.updated_at.isoformat()
        data["rows_per_s"] = None if self.rows_per_s is None else round(self.rows_per_s, 1)
        data["eta_s"] = None if self.eta_s is None else round(self.eta_s, 1)
        data["elapsed_s"] = round(self.elapsed_s, 1)
        data["message"] = self.line()
        return data


# ---- reporting ------------------------------------------------------------------------------------------
class Sink(Protocol):
    """Where snapshots go (the task state store, the job log). ``publish`` may raise: the reporter logs it once."""

    name: str

    def publish(self, snap: Snapshot) -> None: ...

    def close(self) -> None: ...


class Progress:
    """What the loader and the row mover report to; this base class ignores it all (no reporter configured)."""

    def start(self) -> None:
        """The chunk started."""

    def reading(self) -> None:
        """(Re)start reading: the row count starts at 0 (salvage mode reads the chunk a second time)."""

    def add_rows(self, n: int) -> None:
        """``n`` more rows read (rows path)."""

    def watch_copy(self, pid: int | None) -> None:
        """Rows are moved by a binary COPY into the target's backend ``pid`` (no row passes Python)."""

    def phase(self, name: str, rows: int | None = None) -> None:
        """Enter phase ``name``; ``rows``: the exact count of rows read, where now known."""

    def finish(self, status: str) -> None:
        """The chunk ended (``success``, ``failed``, ``stopped``): stop reporting (every path calls it)."""


class ChunkProgress(Progress):
    """The reporter of one running chunk: counts, a daemon thread, its sinks.

    :param label: the chunk's label (``chunk 3/8 customer_id 100..199``).
    :param index: chunk index; ``count``: chunks in the run.
    :param estimate: the plan's row estimate for the chunk (0: none; then no ETA).
    :param sinks: where snapshots go, each failing on its own.
    :param copy_rows: asks the target how many rows the COPY in backend ``pid`` wrote so far (on the reporter's
        own connection; None: the rows of a COPY are not counted).
    :param clock: monotonic seconds (tests pass a fake).
    """

    def __init__(
        self,
        label: str,
        index: int,
        count: int,
        estimate: int,
        sinks: Sequence[Sink] = (),
        copy_rows: Callable[[int], int | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label, self.index, self.count, self.estimate = label, index, count, estimate
        self.sinks = list(sinks)
        self.copy_rows = copy_rows
        self.clock = clock
        self.rows = 0
        self.current = READING
        self._probe: Callable[[], int | None] | None = None
        self._countable = True
        self._samples: collections.deque[tuple[float, int]] = collections.deque()
        self._t0 = clock()
        self._started_at = _utcnow()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_log = self._t0
        self._published = False
        self._failed: set[str] = set()
        self._rate: float | None = None

    # ---- reports from the chunk's thread ------------------------------------------------------------------
    def start(self) -> None:
        self._t0 = self._last_log = self.clock()
        self._started_at = _utcnow()
        self.reading()
        self._thread = threading.Thread(target=self._run, name=f"mapper-progress-{self.index}", daemon=True)
        self._thread.start()

    def reading(self) -> None:
        self.rows, self.current, self._probe, self._countable = 0, READING, None, True
        self._samples = collections.deque([(self.clock(), 0)])
        self._rate = None

    def add_rows(self, n: int) -> None:
        self.rows += n

    def watch_copy(self, pid: int | None) -> None:
        if self.copy_rows is None or pid is None:
            self._countable = False
        else:
            self._probe = functools.partial(self.copy_rows, pid)

    def phase(self, name: str, rows: int | None = None) -> None:
        if self.current == READING and name != READING:
            self._rate = rows_per_second([self._samples[0], (self.clock(), rows if rows is not None else self.rows)])
        if rows is not None:
            self.rows, self._countable = rows, True
        self._probe = None  # reading is over: the count is what it is
        self.current = name

    def finish(self, status: str) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(JOIN_S)
        if self._published and (thread is None or not thread.is_alive()):
            self._publish(status, log_line=True)  # the last word where anything was said
        for sink in self.sinks:
            try:
                sink.close()
            except Exception:
                log.debug("progress: closing %s failed", sink.name, exc_info=True)

    # ---- the reporter's thread --------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.wait(TICK_S):
            try:
                due = self.clock() - self._last_log >= LOG_S - 1e-6
                self._publish(RUNNING, log_line=due)
            except Exception:  # never let the thread die loudly; the chunk goes on
                log.debug("progress: snapshot failed", exc_info=True)

    def snapshot(self, status: str = RUNNING) -> Snapshot:
        """The chunk's progress now (pure but for the probe, which runs on the reporter's own connection)."""
        now = self.clock()
        if self._probe is not None and self.current == READING and status == RUNNING:
            self._sample_probe()
        rows = self.rows if self._countable else None
        rate = self._rate
        if self.current == READING and rows is not None:
            self._samples.append((now, rows))
            while len(self._samples) > 2 and now - self._samples[1][0] >= RATE_WINDOW_S:
                self._samples.popleft()
            rate = rows_per_second(self._samples)
        reading = self.current == READING and status == RUNNING
        return Snapshot(
            label=self.label,
            index=self.index,
            count=self.count,
            phase=self.current,
            status=status,
            rows_read=rows,
            rows_estimated=self.estimate,
            rows_per_s=rate if reading else None,
            eta_s=eta_seconds(rows, self.estimate, rate) if reading else None,
            elapsed_s=now - self._t0,
            started_at=self._started_at,
            updated_at=_utcnow(),
        )

    def _sample_probe(self) -> None:
        """Ask the target how many rows the COPY wrote (no row of it yet: 0); a failure or a database that cannot
        tell makes the rows uncountable for this read."""
        assert self._probe is not None
        try:
            found = self._probe()
        except Exception as exc:
            found = None
            self._once("copy-probe", f"progress: cannot count the rows of the binary COPY ({_safe(exc)})")
        if found is None:
            self._probe, self._countable = None, False
        else:
            self.rows = max(self.rows, int(found))

    def _publish(self, status: str, log_line: bool) -> None:
        snap = self.snapshot(status)
        if log_line:
            log.info("%s", snap.line())
            self._last_log = self.clock()
        for sink in self.sinks:
            try:
                sink.publish(snap)
            except Exception as exc:
                self._once(sink.name, f"progress: could not write {sink.name} ({_safe(exc)}); the chunk goes on")
        self._published = True

    def _once(self, key: str, text: str) -> None:
        """Log a progress failure once per chunk and kind (warning), later ones at debug."""
        log.log(logging.DEBUG if key in self._failed else logging.WARNING, "%s", text)
        self._failed.add(key)


def _safe(exc: BaseException) -> str:
    """The error's class and SQLSTATE-like code, never its message (a database message may quote values)."""
    code = getattr(exc, "sqlstate", None) or getattr(getattr(exc, "orig", None), "sqlite_errorname", None)
    return f"{type(exc).__name__}{f' {code}' if code else ''}"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class StateStoreSink:
    """The task state store key ``progress`` (Airflow 3.3, per task instance and map index), readable while the
    task runs: ``GET /api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/state-store/progress
    ?map_index={i}``."""

    name = "the task state store"

    def __init__(self, store: Any) -> None:
        self.store = store

    def publish(self, snap: Snapshot) -> None:
        self.store.set(STATE_KEY, snap.to_state())

    def close(self) -> None:
        pass
