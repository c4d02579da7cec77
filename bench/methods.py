"""The measured methods that need no Airflow: the raw COPY pipe, the chunk path in a process pool, planning.

The chunk path is what the three tasks run, called directly: ``plan_run`` once, one ``ChunkJob`` per ChunkSpec
in a pool of worker processes (each opens its own connections, as a mapped task would), then ``finalize_run``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import psycopg

from airflow_mapper_provider.config import MapperConfig
from airflow_mapper_provider.db import PgSession
from airflow_mapper_provider.finalizer import finalize_run
from airflow_mapper_provider.loader import ChunkJob
from airflow_mapper_provider.models import ChunkSpec
from airflow_mapper_provider.planner import plan_run
from bench.data import COLUMNS, DDL, SOURCE_SQL, execute

EFFECTIVE = "2026-06-01T00:00:00+00:00"


@dataclass
class RunStats:
    """One run of the chunk path: wall seconds and the job's counters."""

    seconds: float
    rows_read: int
    chunks: int
    plan_seconds: float = 0.0
    counters: dict[str, int] = field(default_factory=dict)
    paths: list[str] = field(default_factory=list)


@contextlib.contextmanager
def pg_session(dsn: str) -> Iterator[PgSession]:
    """A PgSession on ``dsn`` (no Airflow connection needed), rolled back and closed on exit."""
    sess = PgSession(psycopg.connect(dsn, autocommit=False, application_name="mapper-bench"))
    try:
        yield sess
    finally:
        with contextlib.suppress(Exception):
            sess.rollback()
        sess.close()


def raw_copy(source: str, target: str, table: str = "dw.raw_copy") -> tuple[int, float]:
    """The physical limit: binary ``COPY (SELECT ...) TO STDOUT`` piped into ``COPY t FROM STDIN`` of a table
    with a primary key, one transaction; returns (rows, seconds)."""
    execute(target, f"DROP TABLE IF EXISTS {table}")
    execute(target, DDL.format(table=table))
    started = time.monotonic()
    with psycopg.connect(source) as src, psycopg.connect(target) as tgt:
        out, into = src.cursor(), tgt.cursor()
        with (
            out.copy(f"COPY ({SOURCE_SQL}) TO STDOUT (FORMAT BINARY)") as reader,
            into.copy(f"COPY {table} ({COLUMNS}) FROM STDIN (FORMAT BINARY)") as writer,
        ):
            for block in reader:
                writer.write(block)
        rows = into.rowcount
        tgt.commit()
    return rows, time.monotonic() - started


def mapper_config(
    strategy: str, table: str, mapref: str, chunk_size: int, key_checkpoint: bool = False
) -> MapperConfig:
    """The benchmark's job: customers by customer_id; with ``key_checkpoint``, KEY on updated_at."""
    extra: dict[str, Any] = {}
    if key_checkpoint:
        extra = {"checkpoint_column": "updated_at", "checkpoint_strategy": "KEY"}
    return MapperConfig(
        source_conn_id="bench_src",
        target_conn_id="bench_tgt",
        target_table=table,
        mapref=mapref,
        key_columns=("customer_id",),
        load_strategy=strategy,
        chunk_size=chunk_size,
        min_rows_for_parallel=min(100_000, chunk_size * 2),
        **extra,
    )


def load_chunk(args: tuple[MapperConfig, dict[str, Any], str, str, str, str]) -> dict[str, Any]:
    """Worker process: one ChunkJob on its own connections; returns the ChunkResult dict."""
    cfg, chunk, sql, run_id, source, target = args
    with pg_session(source) as src, pg_session(target) as tgt:
        return ChunkJob(cfg, ChunkSpec.from_dict(chunk), sql, run_id, 1, src, tgt).run().to_dict()


def chunk_path(
    cfg: MapperConfig, run_id: str, source: str, target: str, pool: Executor, sql: str = SOURCE_SQL
) -> RunStats:
    """plan -> every chunk in ``pool`` -> finalize; wall time of the whole run."""
    started = time.monotonic()
    with pg_session(source) as src, pg_session(target) as tgt:
        chunks = plan_run(cfg, sql, run_id, _now(), 1024, src, tgt)
    planned = time.monotonic() - started
    jobs = [(cfg, c, sql, run_id, source, target) for c in chunks]
    results = list(pool.map(load_chunk, jobs))
    with pg_session(target) as tgt:
        summary = finalize_run(cfg, run_id, chunks, tgt)
    seconds = time.monotonic() - started
    counters = {k: int(getattr(summary, k)) for k in ("rows_inserted", "rows_updated", "rows_expired",
                                                      "rows_unchanged")}  # fmt: skip
    paths = sorted({str(r.get("path")) for r in results})
    return RunStats(seconds, int(summary.rows_read), len(chunks), planned, counters, paths)


def _now() -> str:
    """The run's effective time (scd2 valid_from): the wall clock, so every run's versions are newer."""
    return dt.datetime.now(dt.timezone.utc).isoformat()


def planning(source: str, target: str, table: str, chunk_size: int, exact: bool) -> tuple[int, float]:
    """Time ``plan_run`` only on ``table`` (scd1 by customer_id); ``exact`` forces ranking every key (the
    planner's behaviour before sampling). Returns (chunks, seconds)."""
    from airflow_mapper_provider import planner

    tag = "exact" if exact else "sampled"
    cfg = mapper_config("scd1", f"dw.plan_{tag}", f"bench.plan_{tag}_{time.time_ns()}", chunk_size)
    sql = SOURCE_SQL.replace("FROM customers", f"FROM {table}")
    original = planner.quantile_plan
    if exact:
        planner.quantile_plan = lambda est, step, **kw: original(est, step, can_sample=False)
    try:
        with pg_session(source) as src, pg_session(target) as tgt:
            started = time.monotonic()
            chunks = plan_run(cfg, sql, f"plan_{tag}", EFFECTIVE, 1024, src, tgt)
            return len(chunks), time.monotonic() - started
    finally:
        planner.quantile_plan = original
