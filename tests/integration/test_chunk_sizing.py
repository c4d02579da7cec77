"""Default chunk sizing on a real PostgreSQL: a plan without chunk_size gets one chunk per parallel slot,
balanced even when the row estimate is off, and the load over those chunks equals the source."""

from __future__ import annotations

import collections

import pytest

from airflow_mapper_provider import planner
from airflow_mapper_provider.db import PgSession
from airflow_mapper_provider.finalizer import finalize_run
from airflow_mapper_provider.loader import ChunkJob
from airflow_mapper_provider.models import ChunkSpec
from airflow_mapper_provider.planning import chunk_contains, sizing
from tests.helpers import config, pg_exec, rows, sessions

SQL = "SELECT k, v FROM sized"
ROWS = 40_000
EFFECTIVE = "2026-06-01T00:00:00+00:00"


@pytest.fixture
def small_band(monkeypatch: pytest.MonkeyPatch) -> None:
    """The size band scaled down 100x, so that 40,000 rows behave as 4M rows would."""
    monkeypatch.setattr(sizing, "FLOOR_ROWS", sizing.FLOOR_ROWS // 100)
    monkeypatch.setattr(sizing, "CEILING_ROWS", sizing.CEILING_ROWS // 100)


@pytest.fixture
def estimate_off(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Make the planner's EXPLAIN estimate wrong by the factor the test appends."""
    factor: list[float] = []
    real = PgSession.estimate_rows

    def wrong(self, *args, **kwargs):
        rows_, method = real(self, *args, **kwargs)
        return int(rows_ * factor[0]), method

    monkeypatch.setattr(PgSession, "estimate_rows", wrong)
    return factor


def make_sized(dsn: str) -> None:
    """Dense keys with a gap and a far cluster: ranges must follow the keys, not their span."""
    pg_exec(dsn, "CREATE TABLE sized (k bigint PRIMARY KEY, v text)")
    pg_exec(dsn, f"INSERT INTO sized SELECT g, 'v' || g FROM generate_series(1, {ROWS // 2}) g")
    pg_exec(dsn, f"INSERT INTO sized SELECT 10^12 + g, 'far' FROM generate_series(1, {ROWS // 2}) g")
    pg_exec(dsn, "ANALYZE sized")


def plan(pg_dbs, strategy: str, slots: int, run_id: str = "r1", **kw) -> list[dict]:
    cfg = config(strategy, f"dw.sized_{strategy}", keys=("k",), chunk_size=None, min_rows_for_parallel=0, **kw)
    with sessions(pg_dbs.source_uri, pg_dbs.target_uri) as (src, tgt):
        return planner.plan_run(cfg, SQL, run_id, EFFECTIVE, 1024, src, tgt, slots=slots)


@pytest.mark.parametrize("factor", [0.85, 1.0, 1.12])
def test_one_balanced_wave_whatever_the_estimate(pg_dbs, small_band, estimate_off, factor):
    make_sized(pg_dbs.source_dsn)
    estimate_off.append(factor)
    chunks = [ChunkSpec.from_dict(c) for c in plan(pg_dbs, "scd1", slots=4)]
    assert len(chunks) == 4
    sizes: collections.Counter[int] = collections.Counter()
    for (k,) in rows(pg_dbs.source_dsn, "SELECT k FROM sized"):
        owners = [c.index for c in chunks if chunk_contains(c, (k,))]
        assert len(owners) == 1, f"key {k} is in chunks {owners}"
        sizes[owners[0]] += 1
    assert sum(sizes.values()) == ROWS
    assert max(sizes.values()) < 1.25 * min(sizes.values())  # balanced to a grid step (1/8 of a chunk)


def test_slots_and_given_chunk_size(pg_dbs, small_band):
    make_sized(pg_dbs.source_dsn)
    assert len(plan(pg_dbs, "append", slots=2, run_id="two")) == 2
    assert len(plan(pg_dbs, "append", slots=1, run_id="one")) == 2  # one slot: chunks stay under the ceiling
    assert len(plan(pg_dbs, "append", slots=3, run_id="max", max_active_chunks=3)) == 3
    given = config("append", "dw.sized_given", keys=("k",), chunk_size=10_000, min_rows_for_parallel=0)
    with sessions(pg_dbs.source_uri, pg_dbs.target_uri) as (src, tgt):
        assert len(planner.plan_run(given, SQL, "given", EFFECTIVE, 1024, src, tgt, slots=16)) == 4  # 40k / 10k


@pytest.mark.parametrize("strategy", ["scd1", "scd2"])
def test_loads_over_sized_chunks_match_the_source(pg_dbs, small_band, strategy):
    make_sized(pg_dbs.source_dsn)
    cfg = config(strategy, f"dw.sized_{strategy}", keys=("k",), chunk_size=None, min_rows_for_parallel=0)
    with sessions(pg_dbs.source_uri, pg_dbs.target_uri) as (src, tgt):
        chunks = planner.plan_run(cfg, SQL, "r1", EFFECTIVE, 1024, src, tgt, slots=4)
        results = [ChunkJob(cfg, ChunkSpec.from_dict(c), SQL, "r1", 1, src, tgt).run() for c in chunks]
        summary = finalize_run(cfg, "r1", chunks, tgt)
    assert len(chunks) == 4 and summary.status == "success" and summary.rows_read == ROWS
    assert {r.path for r in results} == {"copy-direct"}
    current = " WHERE is_current" if strategy == "scd2" else ""
    assert rows(pg_dbs.target_dsn, f"SELECT k, v FROM dw.sized_{strategy}{current} ORDER BY k") == rows(
        pg_dbs.source_dsn, "SELECT k, v FROM sized ORDER BY k"
    )
