"""Default chunk sizing (no chunk_size given): one wave of parallel chunks within a size band, bounds picked
from a finer grid so that an estimate a few percent off leaves no tiny extra chunk; a given chunk_size wins."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from airflow_mapper_provider.config import MapperConfig
from airflow_mapper_provider.operators.plan import chunk_slots
from airflow_mapper_provider.planning import (
    PlanInputs,
    choose_layout,
    chunk_contains,
    default_chunk_count,
    make_chunks,
    pick_bounds,
)
from airflow_mapper_provider.planning.sizing import CEILING_ROWS, FLOOR_ROWS, GRID


def inputs(estimate: int, chunk_size: int | None = None, slots: int = 4, **kw: Any) -> PlanInputs:
    base: dict[str, Any] = {"min_rows_for_parallel": 100_000, "max_chunks": 1024, "key_columns": ("k",),
                            "key_orderable": True}  # fmt: skip
    return PlanInputs(estimate, chunk_size, **{**base, **kw}, slots=slots)


@pytest.mark.parametrize(
    ("rows", "slots", "expected"),
    [
        (0, 4, 1),
        (2 * FLOOR_ROWS - 1, 4, 1),  # splitting would make a chunk under the floor
        (2 * FLOOR_ROWS, 4, 2),
        (1_000_000, 4, 4),  # one wave of 250,000
        (1_000_000, 1, 1),
        (1_000_000, 64, 5),  # many slots: the floor decides
        (5_000_000, 4, 4),  # one wave of 1.25M
        (4 * CEILING_ROWS + 1, 4, 8),  # above slots x ceiling: whole waves
        (10_000_000, 3, 6),
        (100_000_000, 16, 64),
        (100_000_000, 1, 50),
    ],
)
def test_default_chunk_count(rows: int, slots: int, expected: int) -> None:
    assert default_chunk_count(rows, slots) == expected


@pytest.mark.parametrize("rows", [0, 1, 199_999, 200_000, 399_999, 400_001, 1_234_567, 8_000_001, 10**9])
@pytest.mark.parametrize("slots", [1, 2, 3, 4, 7, 32, 1000])
def test_default_chunk_count_stays_in_the_band(rows: int, slots: int) -> None:
    n = default_chunk_count(rows, slots)
    assert n >= 1
    assert rows / n <= CEILING_ROWS  # never above the ceiling
    if n > 1:
        assert rows / n >= FLOOR_ROWS  # never below the floor (a single chunk may be smaller)
    if rows <= slots * CEILING_ROWS:
        assert n <= slots  # one wave
    elif n % slots:  # whole waves, except where they would cut chunks under the floor
        assert rows / (slots * math.ceil(n / slots)) < FLOOR_ROWS


def test_sized_layout_follows_the_slots() -> None:
    layout = choose_layout(inputs(1_000_000, slots=4))
    assert (layout.kind, layout.chunks, layout.step, layout.sized, layout.slots) == ("range", 4, 250_000, True, 4)
    assert "sized for 4 parallel chunk slot(s)" in layout.reason


def test_given_chunk_size_wins() -> None:
    layout = choose_layout(inputs(1_000_000, chunk_size=50_000, slots=4))
    assert (layout.kind, layout.chunks, layout.step, layout.sized) == ("range", 20, 50_000, False)


def test_sized_layout_keeps_min_rows_for_parallel_and_max_chunks() -> None:
    assert choose_layout(inputs(1_000_000, min_rows_for_parallel=2_000_000)).chunks == 1
    capped = choose_layout(inputs(100_000_000, slots=16, max_chunks=10))
    assert (capped.chunks, capped.step) == (10, 10_000_000)


def test_sized_composite_key_gets_as_many_hash_buckets() -> None:
    layout = choose_layout(inputs(1_000_000, key_columns=("a", "b"), slots=4))
    assert (layout.kind, layout.chunks, layout.sized) == ("hash", 4, True)
    assert len(make_chunks(layout, ("a", "b"))) == 4


def grid_of(keys: list[int], step: int) -> list[int]:
    """What the quantile SQL returns: every step-th key in key order (rank 1 + step, 1 + 2 step, ...)."""
    ordered = sorted(keys)
    return [ordered[i] for i in range(step, len(ordered), step)]


@pytest.mark.parametrize("error", [0.85, 0.97, 1.0, 1.03, 1.15])
@pytest.mark.parametrize("skew", ["dense", "skewed"])
def test_a_wrong_estimate_leaves_no_tiny_extra_chunk(error: float, skew: str) -> None:
    """The estimate is off by up to 15%: still one wave of balanced chunks, every key in exactly one chunk."""
    rng = random.Random(7)
    rows = 1_000_000
    keys = (
        list(range(rows))
        if skew == "dense"
        else sorted(rng.sample(range(10**12), rows // 2)) + [10**12 + i for i in range(rows // 2)]
    )
    layout = choose_layout(inputs(int(rows * error), slots=4))
    step = layout.step // GRID
    bounds = pick_bounds(grid_of(keys, step), step, layout.slots, 1024)
    chunks = make_chunks(layout, ("k",), bounds)
    assert len(chunks) == 4
    sizes = [0] * len(chunks)
    for key in keys[::97]:  # a sample of the keys: each lands in exactly one chunk
        owners = [c.index for c in chunks if chunk_contains(c, (key,))]
        assert len(owners) == 1
    lowers = [-math.inf, *bounds]
    for i, lo in enumerate(lowers):
        hi = bounds[i] if i < len(bounds) else math.inf
        sizes[i] = sum(1 for k in keys if lo <= k < hi)
    assert sum(sizes) == rows
    assert max(sizes) - min(sizes) <= 1.01 * step  # balanced to one grid step


def test_pick_bounds_follows_the_measured_rows() -> None:
    """A grid far longer than the estimate promised (the estimate was 3x low): more chunks, whole waves."""
    grid = list(range(1, 24 * GRID))  # 24 chunks' worth of grid steps of 1M rows / 8
    assert len(pick_bounds(grid, CEILING_ROWS // GRID, 4, 1024)) + 1 == 24
    assert len(pick_bounds(grid, CEILING_ROWS // GRID, 4, 10)) + 1 == 10  # max_chunks still caps
    assert pick_bounds([], 1000, 4, 1024) == []
    assert pick_bounds([5, 5, 5], 10**6, 4, 1024) == [5]  # repeats dropped: at most one chunk per distinct bound


def cfg(**kw: Any) -> MapperConfig:
    return MapperConfig(source_conn_id="s", target_conn_id="t", target_table="dw.x", mapref="m",
                        key_columns=("k",), **kw)  # fmt: skip


@pytest.mark.parametrize(
    ("max_active_chunks", "parallelism", "dag_cap", "expected"),
    [(3, 32, 16, 3), (None, 4, 16, 4), (None, 32, 16, 16), (None, 32, None, 32), (None, 0, None, 1)],
)
def test_chunk_slots(max_active_chunks: int | None, parallelism: int, dag_cap: int | None, expected: int) -> None:
    assert chunk_slots(cfg(max_active_chunks=max_active_chunks), parallelism, dag_cap) == expected


def test_chunk_slots_where_tasks_run_one_at_a_time() -> None:
    """dag.test() without an executor runs the chunks one after another: one slot, unless the user gave some."""
    assert chunk_slots(cfg(), 32, 16, one_at_a_time=True) == 1
    assert chunk_slots(cfg(max_active_chunks=4), 32, 16, one_at_a_time=True) == 4
