"""Field-test plumbing: the two sides of a run (PostgreSQL database or SQLite file), a run driver that keeps going
past a failed chunk, and one observed-facts dict per run so that a failure shows every counter at once.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from airflow_mapper_provider.config import MapperConfig
from airflow_mapper_provider.exceptions import ChunkFailedError
from airflow_mapper_provider.finalizer import finalize_run
from airflow_mapper_provider.loader import ChunkJob
from airflow_mapper_provider.models import ChunkResult, ChunkSpec, RunSummary
from airflow_mapper_provider.planner import plan_run
from tests.helpers import sessions


@dataclass(frozen=True)
class Endpoint:
    """One side of a run: a PostgreSQL database (``dsn``) or a SQLite file (``path``).

    SQL given to :meth:`execute` / :meth:`query` uses ``?`` placeholders on both. PostgreSQL results come in
    binary and parameters are read under ``DateStyle ISO``, so what the test sees does not depend on the database's
    session defaults (DateStyle, extra_float_digits); timestamptz values compare as instants whatever the zone.
    """

    label: str
    uri: str
    dsn: str | None = None
    path: Path | None = None

    @property
    def is_pg(self) -> bool:
        return self.dsn is not None

    @contextlib.contextmanager
    def _cursor(self) -> Iterator[Any]:
        if self.dsn is not None:
            with psycopg.connect(self.dsn, autocommit=True) as conn, conn.cursor(binary=True) as cur:
                cur.execute("SET datestyle = 'ISO'")
                yield cur
        else:
            conn = sqlite3.connect(str(self.path), isolation_level=None)
            try:
                yield conn.cursor()
            finally:
                conn.close()

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.is_pg else sql

    def _params(self, params: Sequence[Any]) -> tuple[Any, ...] | None:
        # psycopg without parameters: '%' in the SQL is plain SQL
        return tuple(params) or None if self.is_pg else tuple(params)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self._cursor() as cur:
            cur.execute(self._sql(sql), self._params(params))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self._cursor() as cur:
            if not self.is_pg:
                cur.execute("BEGIN")
            cur.executemany(self._sql(sql), [tuple(r) for r in rows])
            if not self.is_pg:
                cur.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._cursor() as cur:
            cur.execute(self._sql(sql), self._params(params))
            return [tuple(r) for r in cur.fetchall()]

    def analyze(self) -> None:
        """Fresh planner statistics (the mapper's row estimate on PostgreSQL comes from EXPLAIN)."""
        self.execute("ANALYZE")


@dataclass
class Run:
    """What one plan -> every chunk -> finalize did; ``errors`` holds the chunks that raised."""

    chunks: list[dict[str, Any]]
    results: list[ChunkResult]
    summary: RunSummary
    errors: list[str] = field(default_factory=list)

    @property
    def kinds(self) -> set[str]:
        return {c["kind"] for c in self.chunks}

    @property
    def failures(self) -> list[str]:
        """The first chunk errors and how many more (enough to see the kind of failure, short enough to read)."""
        more = [f"... and {len(self.errors) - 2} more chunk(s) failed"] if len(self.errors) > 2 else []
        return self.errors[:2] + more

    @property
    def read_by_chunks(self) -> int:
        """Rows the chunks read, summed: the source rows when every row fell in exactly one chunk."""
        return sum(r.rows_read for r in self.results)


def load(cfg: MapperConfig, source: Endpoint, target: Endpoint, run_id: str, sql: str, effective_time: str) -> Run:
    """Like tests.helpers.run_all, but a failing chunk is recorded and the others still run: the test then
    reports every counter, not only the first exception."""
    return load_detailed(cfg, source, target, run_id, sql, effective_time)


def counters(run: Run, *names: str) -> dict[str, int]:
    return {name: getattr(run.summary, name) for name in names}


def multiset_diff(
    got: Iterable[tuple[Any, ...]], want: Iterable[tuple[Any, ...]], key_width: int = 1
) -> dict[str, int]:
    """Rows of ``want`` missing from ``got`` and rows of ``got`` not in ``want``, as multisets (EXCEPT ALL both
    ways), plus keys (the first ``key_width`` columns) present more than once in ``got``."""
    g, w = Counter(got), Counter(want)
    keys = Counter(row[:key_width] for row in g.elements())
    return {
        "missing from target": sum((w - g).values()),
        "extra in target": sum((g - w).values()),
        "keys more than once": sum(1 for n in keys.values() if n > 1),
    }


#: The ``multiset_diff`` of a target that equals the source.
SAME = {"missing from target": 0, "extra in target": 0, "keys more than once": 0}


def check(what: str, got: dict[str, Any], want: dict[str, Any]) -> None:
    """Assert ``got == want``, naming every differing fact in one line (pytest would truncate a dict diff)."""
    wrong = [f"{key}={got.get(key)!r} (want {value!r})" for key, value in want.items() if got.get(key) != value]
    wrong += [f"{key}={got[key]!r} (unexpected)" for key in got.keys() - want.keys()]
    assert not wrong, f"{what}: " + "; ".join(wrong)


@dataclass
class DetailedRun(Run):
    """A :class:`Run` that also keeps the exceptions the chunks raised (whole messages, for checking their text)."""

    exceptions: list[BaseException] = field(default_factory=list)


def load_detailed(
    cfg: MapperConfig, source: Endpoint, target: Endpoint, run_id: str, sql: str, effective_time: str
) -> DetailedRun:
    """Like :func:`load`, keeping each failed chunk's exception. A plan that fails raises, as in :func:`load`."""
    exceptions: list[BaseException] = []
    errors: list[str] = []
    results: list[ChunkResult] = []
    with sessions(source.uri, target.uri) as (src, tgt):
        chunks = plan_run(cfg, sql, run_id, effective_time, 1024, src, tgt)
        for chunk in chunks:
            spec = ChunkSpec.from_dict(chunk)
            try:
                results.append(ChunkJob(cfg, spec, sql, run_id, 1, src, tgt).run())
            except Exception as exc:
                exceptions.append(exc)
                errors.append(f"chunk {spec.index}: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}")
                src.rollback()
        try:
            summary = finalize_run(cfg, run_id, chunks, tgt)
        except ChunkFailedError:
            summary = RunSummary.from_results([ChunkSpec.from_dict(c).index for c in chunks], results)
    return DetailedRun(chunks, results, summary, errors, exceptions)
