"""Sampled range bounds on a real PostgreSQL: every key in exactly one chunk, balanced chunks on skewed keys,
and loads over sampled bounds end up equal to the source."""

from __future__ import annotations

import collections
import functools
import itertools

import pytest

from airflow_mapper_provider import planner
from airflow_mapper_provider.models import ChunkSpec
from airflow_mapper_provider.planning import QuantilePlan, chunk_contains, quantile_plan
from tests.helpers import config, pg_exec, rows, run_all, sessions

SQL = "SELECT k, v FROM skewed"
CHUNK = 2_000


@pytest.fixture
def measured(monkeypatch: pytest.MonkeyPatch) -> list[QuantilePlan]:
    """The QuantilePlans the planner chose, in order."""
    chosen: list[QuantilePlan] = []

    def record(*args, **kwargs) -> QuantilePlan:
        chosen.append(quantile_plan(*args, **kwargs))
        return chosen[-1]

    monkeypatch.setattr(planner, "quantile_plan", record)
    return chosen


@pytest.fixture
def always_sample(monkeypatch: pytest.MonkeyPatch, measured: list[QuantilePlan]) -> list[QuantilePlan]:
    """Sample from any size up (the real threshold is millions of rows)."""
    record = planner.quantile_plan
    monkeypatch.setattr(planner, "quantile_plan", functools.partial(record, min_rows=0))
    return measured


def make_skewed(dsn: str) -> list[int]:
    """30,000 dense keys, 10,000 keys spread over 10^12, 5,000 in a narrow far cluster, and NULL keys."""
    pg_exec(dsn, "CREATE TABLE skewed (k bigint, v text)")
    pg_exec(dsn, "INSERT INTO skewed SELECT g, 'd' || g FROM generate_series(1, 30000) g")
    pg_exec(dsn, "INSERT INTO skewed SELECT 100000 + g::bigint * 100000000, 's' FROM generate_series(1, 10000) g")
    pg_exec(dsn, "INSERT INTO skewed SELECT 2000000000000::bigint + g, 'c' FROM generate_series(1, 5000) g")
    pg_exec(dsn, "INSERT INTO skewed SELECT NULL, 'null' FROM generate_series(1, 7)")
    pg_exec(dsn, "ANALYZE skewed")
    return [r[0] for r in rows(dsn, "SELECT k FROM skewed")]


def plan(pg_dbs, strategy: str = "append", run_id: str = "r1") -> list[ChunkSpec]:
    cfg = config(strategy, "dw.skewed", keys=("k",), chunk_size=CHUNK)
    with sessions(pg_dbs.source_uri, pg_dbs.target_uri) as (src, tgt):
        dicts = planner.plan_run(cfg, SQL, run_id, "2026-06-01T00:00:00+00:00", 1024, src, tgt)
    return [ChunkSpec.from_dict(c) for c in dicts]


def test_sampled_bounds_partition_skewed_keys(pg_dbs, always_sample):
    keys = make_skewed(pg_dbs.source_dsn)
    chunks = plan(pg_dbs)
    assert always_sample == [QuantilePlan(0.2, 400)]
    assert chunks[0].lower is None and chunks[-1].upper is None
    assert all(a.upper == b.lower for a, b in itertools.pairwise(chunks))
    sizes: collections.Counter[int] = collections.Counter()
    for k in keys:
        owners = [c.index for c in chunks if chunk_contains(c, (k,))]
        assert len(owners) == 1, f"key {k} is in chunks {owners}"
        sizes[owners[0]] += 1
    assert sum(sizes.values()) == len(keys)
    # balanced although the keys are skewed: about 400 sampled keys back every chunk (spread ~5%)
    assert 18 <= len(chunks) <= 27
    inner = [sizes[c.index] for c in chunks[:-1]]
    assert min(inner) > 0.6 * CHUNK and max(inner) < 1.4 * CHUNK
    assert sizes[chunks[-1].index] < 1.4 * CHUNK


def test_exact_bounds_below_the_threshold(pg_dbs, measured):
    make_skewed(pg_dbs.source_dsn)
    chunks = plan(pg_dbs)
    assert measured == [QuantilePlan(None, CHUNK)]
    assert len(chunks) == 23  # 45,000 non-null keys / 2,000 (the NULL keys ride in the first chunk)


@pytest.mark.parametrize("strategy", ["scd1", "scd2"])
def test_loads_over_sampled_bounds_match_the_source(pg_dbs, always_sample, strategy):
    make_skewed(pg_dbs.source_dsn)
    pg_exec(pg_dbs.source_dsn, "DELETE FROM skewed WHERE k IS NULL")
    cfg = config(strategy, "dw.skewed", keys=("k",), chunk_size=CHUNK)
    chunks, _, summary = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r1", SQL)
    assert len(chunks) > 10 and summary.status == "success" and summary.rows_read == 45_000
    current = " WHERE is_current" if strategy == "scd2" else ""
    assert rows(pg_dbs.target_dsn, f"SELECT k, v FROM dw.skewed{current} ORDER BY k") == rows(
        pg_dbs.source_dsn, "SELECT k, v FROM skewed ORDER BY k"
    )
