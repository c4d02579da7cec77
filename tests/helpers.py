"""Test helpers: sessions from URIs, source tables, target snapshots, whole-run drivers without Airflow."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg

from airflow_mapper_provider.config import MapperConfig
from airflow_mapper_provider.db import Session, connect
from airflow_mapper_provider.finalizer import finalize_run
from airflow_mapper_provider.loader import ChunkJob
from airflow_mapper_provider.models import ChunkResult, ChunkSpec, RunSummary
from airflow_mapper_provider.planner import plan_run

CUSTOMERS_DDL = """
CREATE TABLE customers (
    customer_id bigint PRIMARY KEY, name text NOT NULL, email text, country char(2),
    balance numeric(12,2), created_at timestamptz, active boolean, birth date, notes varchar(200)
)"""

CUSTOMERS_FILL = """
INSERT INTO customers
SELECT g, 'name ' || g, CASE WHEN g %% 7 = 0 THEN NULL ELSE 'e' || g || '@example.org' END,
       (ARRAY['DE','FR','US','GB'])[1 + g %% 4], (g %% 100000) / 100.0,
       timestamptz '2026-01-01 00:00:00+00' + (g || ' min')::interval, g %% 2 = 0,
       date '1970-01-01' + (g %% 20000)::int, repeat('x', (g %% 50)::int)
FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) g"""

CUSTOMER_COLUMNS = "customer_id, name, email, country, balance, created_at, active, birth, notes"


def airflow_connection(conn_id: str, uri: str) -> Any:
    from airflow.models.connection import Connection

    return Connection(conn_id=conn_id, uri=uri)


@contextlib.contextmanager
def sessions(source_uri: str, target_uri: str) -> Iterator[tuple[Session, Session]]:
    src = connect(airflow_connection("src", source_uri), "source")
    tgt = connect(airflow_connection("tgt", target_uri), "target")
    try:
        yield src, tgt
    finally:
        for s in (src, tgt):
            with contextlib.suppress(Exception):
                s.rollback()
            s.close()


def pg_exec(dsn: str, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    """Run one statement in autocommit; return its rows (if any)."""
    with psycopg.connect(dsn, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return list(cur.fetchall()) if cur.description else []


def make_customers(dsn: str, n: int, start: int = 1) -> None:
    pg_exec(dsn, CUSTOMERS_DDL)
    add_customers(dsn, start, start + n - 1)


def add_customers(dsn: str, lo: int, hi: int) -> None:
    pg_exec(dsn, CUSTOMERS_FILL, {"lo": lo, "hi": hi})
    pg_exec(dsn, "ANALYZE customers")


def rows(dsn: str, sql: str) -> list[tuple[Any, ...]]:
    return pg_exec(dsn, sql)


def source_rows(dsn: str, table: str = "customers", cols: str = CUSTOMER_COLUMNS) -> list[tuple[Any, ...]]:
    return rows(dsn, f"SELECT {cols} FROM {table} ORDER BY 1")


def run_all(
    cfg: MapperConfig,
    source_uri: str,
    target_uri: str,
    run_id: str,
    sql: str,
    effective_time: str = "2026-06-01T00:00:00+00:00",
    max_chunks: int = 1024,
) -> tuple[list[dict[str, Any]], list[ChunkResult], RunSummary]:
    """plan -> every chunk in turn -> finalize, in this process (no Airflow scheduler)."""
    with sessions(source_uri, target_uri) as (src, tgt):
        chunks = plan_run(cfg, sql, run_id, effective_time, max_chunks, src, tgt)
        results = [ChunkJob(cfg, ChunkSpec.from_dict(c), sql, run_id, 1, src, tgt).run() for c in chunks]
        summary = finalize_run(cfg, run_id, chunks, tgt)
    return chunks, results, summary


def config(strategy: str, table: str, keys: Sequence[str] = ("customer_id",), **kw: Any) -> MapperConfig:
    values: dict[str, Any] = {
        "source_conn_id": "src",
        "target_conn_id": "tgt",
        "target_table": table,
        "mapref": f"test.{table}",
        "key_columns": tuple(keys),
        "load_strategy": strategy,
        "chunk_size": 1000,
        "min_rows_for_parallel": 2000,
    }
    values.update(kw)
    return MapperConfig(**values)
