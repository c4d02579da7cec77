"""The pure planner: layout choice, bound thinning, frozen chunk specs, and the partition property.

The partition property is the planner's contract: for any key set, every key lands in exactly one chunk, and
chunks hold about ``chunk_size`` rows however the keys are distributed. Bounds are computed the way the plan
task computes them at run time (every ``step``-th key in key order, the first excluded); the second half of the
file runs the real quantile and chunk SQL on SQLite and checks the same property on real rows.
"""

from __future__ import annotations

import collections
import datetime as dt
import decimal
import math
import os
import random
import subprocess
import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from airflow_mapper_provider.models import ChunkSpec, decode_value, encode_value
from airflow_mapper_provider.planning import (
    PlanInputs,
    bucket_of,
    choose_layout,
    chunk_contains,
    make_chunks,
    thin_bounds,
)
from airflow_mapper_provider.planning.chunks import Layout

# ---- helpers --------------------------------------------------------------------------------------------------


def inputs(
    estimated_rows: int,
    *,
    chunk_size: int = 100,
    min_rows_for_parallel: int = 0,
    max_chunks: int = 1024,
    key_columns: tuple[str, ...] = ("k",),
    key_orderable: bool = True,
) -> PlanInputs:
    return PlanInputs(
        estimated_rows=estimated_rows,
        chunk_size=chunk_size,
        min_rows_for_parallel=min_rows_for_parallel,
        max_chunks=max_chunks,
        key_columns=key_columns,
        key_orderable=key_orderable,
    )


def quantiles(keys: Sequence[Any], step: int) -> list[Any]:
    """Python mirror of ``Dialect.quantile_sql``: non-null keys in key order, ranked from 1 (ROW_NUMBER), keeping
    rows with ``(rn - 1) % step == 0 and rn > 1`` - i.e. 0-based positions step, 2*step, ..."""
    ordered = sorted(k for k in keys if k is not None)
    return [ordered[i] for i in range(step, len(ordered), step)]


@dataclass
class Plan:
    layout: Layout
    chunks: list[ChunkSpec]


def plan_keys(
    keys: Sequence[Any],
    *,
    chunk_size: int,
    key_columns: tuple[str, ...] = ("k",),
    orderable: bool = True,
    max_chunks: int = 1024,
    estimate: int | None = None,
    min_rows_for_parallel: int = 0,
) -> Plan:
    """What the plan task does at run time, with the measuring done in Python."""
    layout = choose_layout(
        inputs(
            len(keys) if estimate is None else estimate,
            chunk_size=chunk_size,
            min_rows_for_parallel=min_rows_for_parallel,
            max_chunks=max_chunks,
            key_columns=key_columns,
            key_orderable=orderable,
        )
    )
    bounds: list[Any] = []
    if layout.kind == "range":
        bounds = thin_bounds(quantiles(keys, layout.step), max_chunks)
    return Plan(layout, make_chunks(layout, key_columns, bounds, effective_time="2026-01-01T00:00:00+00:00"))


def as_tuple(key: Any) -> tuple[Any, ...]:
    return key if isinstance(key, tuple) else (key,)


def assert_partition(chunks: Sequence[ChunkSpec], keys: Sequence[Any]) -> list[int]:
    """Every key in exactly one chunk; returns the number of keys per chunk."""
    n = len(chunks)
    assert [c.index for c in chunks] == list(range(n))
    assert {c.count for c in chunks} == {n}
    sizes = [0] * n
    for key in keys:
        owners = [c.index for c in chunks if chunk_contains(c, as_tuple(key))]
        assert len(owners) == 1, f"key {key!r} is in chunks {owners}"
        sizes[owners[0]] += 1
    return sizes


# ---- key sets ---------------------------------------------------------------------------------------------------


def dense(rng: random.Random) -> list[Any]:
    keys = list(range(1, 1001))
    rng.shuffle(keys)
    return keys


def sparse(rng: random.Random) -> list[Any]:
    keys, value = [], 0
    for _ in range(1000):
        value += rng.randint(1, 10**9)
        keys.append(value)
    rng.shuffle(keys)
    return keys


def skewed(rng: random.Random) -> list[Any]:
    """970 keys packed into [10**9, 10**9 + 970), 30 spread up to 10**15: equal-width ranges would fail."""
    near = [10**9 + i for i in range(970)]
    far = rng.sample(range(0, 10**15, 7919), 30)
    keys = sorted(set(near + far))
    rng.shuffle(keys)
    return keys


def skewed_float(rng: random.Random) -> list[Any]:
    near = {0.5 + rng.random() * 1e-9 for _ in range(950)}
    far = {rng.uniform(-1e12, 1e12) for _ in range(50)}
    return sorted(near | far, key=lambda _: rng.random())


def duplicates(rng: random.Random) -> list[Any]:
    """Repeated keys (append loads allow them), including one hot key that alone exceeds chunk_size."""
    keys = [v for v in range(200) for _ in range(rng.randint(1, 5))]
    keys += [77] * 300
    rng.shuffle(keys)
    return keys


def with_nulls(rng: random.Random) -> list[Any]:
    keys: list[Any] = [*range(1, 501), *([None] * 37)]
    rng.shuffle(keys)
    return keys


def all_nulls(rng: random.Random) -> list[Any]:
    return [None] * 25


def strings(rng: random.Random) -> list[Any]:
    alphabet = "abcXYZ019_- éü中文🙂"
    keys = {"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8))) for _ in range(800)}
    return sorted(keys, key=lambda _: rng.random())


def decimals(rng: random.Random) -> list[Any]:
    return list({decimal.Decimal(rng.randint(-(10**8), 10**8)) / 100 for _ in range(600)})


def dates(rng: random.Random) -> list[Any]:
    start = dt.date(1990, 1, 1)
    return list({start + dt.timedelta(days=rng.randint(0, 20000)) for _ in range(600)})


def datetimes(rng: random.Random) -> list[Any]:
    start = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
    return list({start + dt.timedelta(microseconds=rng.randint(0, 10**13)) for _ in range(600)})


def uuids(rng: random.Random) -> list[Any]:
    return [uuid.UUID(int=rng.getrandbits(128)) for _ in range(600)]


def single(rng: random.Random) -> list[Any]:
    return [42]


def empty(rng: random.Random) -> list[Any]:
    return []


RANGE_CASES: dict[str, tuple[Callable[[random.Random], list[Any]], int]] = {
    "dense": (dense, 100),
    "dense-uneven": (dense, 37),
    "sparse": (sparse, 64),
    "skewed": (skewed, 50),
    "skewed-float": (skewed_float, 90),
    "duplicates": (duplicates, 40),
    "nulls": (with_nulls, 60),
    "all-nulls": (all_nulls, 7),
    "strings": (strings, 75),
    "decimals": (decimals, 55),
    "dates": (dates, 55),
    "datetimes": (datetimes, 55),
    "uuids": (uuids, 55),
    "single-row": (single, 1),
    "empty": (empty, 10),
}


# ---- choose_layout ----------------------------------------------------------------------------------------------


def test_below_min_rows_for_parallel_is_one_chunk() -> None:
    layout = choose_layout(inputs(99_999, chunk_size=10, min_rows_for_parallel=100_000))
    assert (layout.kind, layout.chunks, layout.step) == ("all", 1, 0)
    assert "min_rows_for_parallel 100000" in layout.reason


def test_min_rows_for_parallel_is_inclusive() -> None:
    layout = choose_layout(inputs(100_000, chunk_size=10_000, min_rows_for_parallel=100_000))
    assert (layout.kind, layout.chunks, layout.step) == ("range", 10, 10_000)


@pytest.mark.parametrize("estimate", [0, 10, 10**9])
def test_no_key_columns_is_one_chunk_however_big(estimate: int) -> None:
    layout = choose_layout(inputs(estimate, chunk_size=10, key_columns=()))
    assert (layout.kind, layout.chunks) == ("all", 1)
    assert "key_columns" in layout.reason  # the reason names the fix


def test_one_orderable_key_gives_ranges_of_chunk_size() -> None:
    layout = choose_layout(inputs(1_000_001, chunk_size=50_000))
    assert (layout.kind, layout.chunks, layout.step) == ("range", 21, 50_000)


@pytest.mark.parametrize(
    ("key_columns", "orderable"),
    [(("a", "b"), True), (("a", "b"), False), (("a",), False)],
    ids=["composite", "composite-unorderable", "single-unorderable"],
)
def test_composite_or_unorderable_key_gives_hash_buckets(key_columns: tuple[str, ...], orderable: bool) -> None:
    layout = choose_layout(inputs(1000, chunk_size=100, key_columns=key_columns, key_orderable=orderable))
    assert (layout.kind, layout.chunks, layout.step) == ("hash", 10, 100)


@pytest.mark.parametrize("estimate", [0, 1, 100])
def test_estimate_fitting_one_chunk_is_one_chunk(estimate: int) -> None:
    layout = choose_layout(inputs(estimate, chunk_size=100))
    assert (layout.kind, layout.chunks, layout.step) == ("all", 1, 0)


def test_negative_estimate_counts_as_zero() -> None:
    layout = choose_layout(inputs(-5, chunk_size=100))
    assert (layout.kind, layout.chunks) == ("all", 1)


def test_max_chunks_caps_chunks_and_step_grows() -> None:
    layout = choose_layout(inputs(10_000_000, chunk_size=1000, max_chunks=1024))
    assert (layout.kind, layout.chunks, layout.step) == ("range", 1024, math.ceil(10_000_000 / 1024))


def test_max_chunks_of_one_is_one_chunk() -> None:
    layout = choose_layout(inputs(10_000, chunk_size=10, max_chunks=1))
    assert (layout.kind, layout.chunks) == ("all", 1)


@pytest.mark.parametrize("estimate", [101, 999, 1000, 1001, 12_345, 10**6, 10**8 + 7])
@pytest.mark.parametrize("chunk_size", [1, 7, 100, 50_000])
@pytest.mark.parametrize("max_chunks", [2, 16, 1024])
@pytest.mark.parametrize("key_columns", [("k",), ("a", "b")])
def test_layout_invariants(estimate: int, chunk_size: int, max_chunks: int, key_columns: tuple[str, ...]) -> None:
    layout = choose_layout(inputs(estimate, chunk_size=chunk_size, max_chunks=max_chunks, key_columns=key_columns))
    assert 1 <= layout.chunks <= max_chunks
    if layout.kind == "all":
        assert layout.chunks == 1
        return
    assert layout.kind == ("range" if len(key_columns) == 1 else "hash")
    assert layout.step >= chunk_size  # the step only ever grows
    assert layout.chunks == min(math.ceil(estimate / chunk_size), max_chunks)
    assert layout.chunks * layout.step >= estimate  # the chunks cover the estimate


# ---- thin_bounds ------------------------------------------------------------------------------------------------


def test_thin_bounds_keeps_the_database_order_and_drops_repeats() -> None:
    """Bounds arrive in the order the source compares keys (byte order for text): never re-sorted in Python."""
    assert thin_bounds([10, 10, 20, 30, 30], max_chunks=10) == [10, 20, 30]
    assert thin_bounds(["B", "a", "b"], max_chunks=10) == ["B", "a", "b"]  # byte order, as COLLATE "C" gives


def test_thin_bounds_spreads_evenly() -> None:
    assert thin_bounds(list(range(100)), max_chunks=5) == [20, 40, 60, 80]


@pytest.mark.parametrize("bounds", [[], [5]])
def test_thin_bounds_small_inputs(bounds: list[int]) -> None:
    assert thin_bounds(bounds, max_chunks=4) == bounds


def test_thin_bounds_single_chunk_means_no_bounds() -> None:
    assert thin_bounds(list(range(10)), max_chunks=1) == []


@pytest.mark.parametrize("n", [0, 1, 2, 3, 9, 10, 11, 99, 100, 101, 1000, 4097])
@pytest.mark.parametrize("max_chunks", [1, 2, 3, 7, 10, 64, 1024])
def test_thin_bounds_invariants(n: int, max_chunks: int) -> None:
    bounds = [i * 3 for i in range(n)]
    out = thin_bounds(bounds, max_chunks)
    assert len(out) + 1 <= max_chunks
    assert out == sorted(set(out))  # strictly increasing
    assert set(out) <= set(bounds)
    if n < max_chunks:
        assert out == bounds  # nothing to thin
    else:
        assert len(out) == max_chunks - 1  # thinning keeps as many chunks as allowed


def test_thin_bounds_gaps_are_even() -> None:
    out = thin_bounds(list(range(1000)), max_chunks=7)
    gaps = [b - a for a, b in zip([0, *out], [*out, 1000], strict=True)]
    assert max(gaps) - min(gaps) <= 1


# ---- make_chunks ------------------------------------------------------------------------------------------------

COMMON: dict[str, Any] = {
    "effective_time": "2026-01-01T00:00:00+00:00",
    "sql_fingerprint": "abc123",
    "estimated_rows": 999,
}


def test_make_chunks_ranges_are_half_open_and_unbounded_at_the_ends() -> None:
    chunks = make_chunks(Layout("range", 3, 10, ""), ["id"], [10, 20], **COMMON)
    assert [(c.index, c.count, c.kind) for c in chunks] == [(0, 3, "range"), (1, 3, "range"), (2, 3, "range")]
    assert [(c.lower, c.upper) for c in chunks] == [
        (None, {"t": "int", "v": "10"}),
        ({"t": "int", "v": "10"}, {"t": "int", "v": "20"}),
        ({"t": "int", "v": "20"}, None),
    ]
    for c in chunks:
        assert c.key_columns == ("id",)
        assert (c.effective_time, c.sql_fingerprint, c.estimated_rows) == ("2026-01-01T00:00:00+00:00", "abc123", 999)


def test_make_chunks_count_follows_bounds_not_layout() -> None:
    """The layout's chunk count is the estimate's; the measured (and thinned) bounds decide."""
    chunks = make_chunks(Layout("range", 10, 5, ""), ["id"], [7])
    assert [c.count for c in chunks] == [2, 2]


def test_make_chunks_range_without_bounds_is_one_chunk() -> None:
    """All keys NULL, or fewer rows than the estimate: the quantile query returns nothing."""
    chunks = make_chunks(Layout("range", 4, 10, ""), ["id"], [], **COMMON)
    assert [(c.index, c.count, c.kind, c.lower, c.upper) for c in chunks] == [(0, 1, "all", None, None)]
    assert chunks[0].effective_time == COMMON["effective_time"]


def test_make_chunks_hash() -> None:
    chunks = make_chunks(Layout("hash", 4, 10, ""), ["a", "b"], **COMMON)
    assert [(c.index, c.count, c.kind, c.bucket, c.buckets) for c in chunks] == [(i, 4, "hash", i, 4) for i in range(4)]
    assert all(c.key_columns == ("a", "b") and c.lower is None and c.upper is None for c in chunks)


def test_make_chunks_all() -> None:
    chunks = make_chunks(Layout("all", 1, 0, ""), [], **COMMON)
    assert [(c.index, c.count, c.kind, c.key_columns) for c in chunks] == [(0, 1, "all", ())]


@pytest.mark.parametrize(
    "bounds",
    [
        [decimal.Decimal("1.10"), decimal.Decimal("2.25")],
        [dt.date(2020, 1, 1), dt.date(2021, 6, 30)],
        [dt.datetime(2020, 1, 1, 12, tzinfo=dt.timezone.utc), dt.datetime(2020, 1, 2, tzinfo=dt.timezone.utc)],
        ["b", "é"],
        [0.1, 2.5e300],
        [uuid.UUID(int=1), uuid.UUID(int=2**100)],
        [2**63 - 1 - 1, 2**63 - 1],
    ],
    ids=["decimal", "date", "datetime", "str", "float", "uuid", "bigint"],
)
def test_make_chunks_bounds_survive_encoding(bounds: list[Any]) -> None:
    chunks = make_chunks(Layout("range", 3, 1, ""), ["k"], bounds)
    assert [decode_value(c.upper) for c in chunks[:-1]] == bounds
    assert [decode_value(c.lower) for c in chunks[1:]] == bounds
    for b in bounds:  # a bound belongs to the chunk it opens
        assert [c.index for c in chunks if chunk_contains(c, (b,))] == [bounds.index(b) + 1]


# ---- chunk_contains / bucket_of ---------------------------------------------------------------------------------


def range_spec(lower: Any, upper: Any, index: int = 0) -> ChunkSpec:
    return ChunkSpec(index, 3, "range", ("k",), encode_value(lower), encode_value(upper))


def test_range_is_half_open() -> None:
    spec = range_spec(10, 20)
    assert [v for v in (9, 10, 11, 19, 20, 21) if chunk_contains(spec, (v,))] == [10, 11, 19]


def test_null_key_belongs_to_the_first_range_only() -> None:
    assert chunk_contains(range_spec(None, 10), (None,))
    assert not chunk_contains(range_spec(10, 20), (None,))
    assert not chunk_contains(range_spec(20, None), (None,))


def test_unbounded_ends() -> None:
    assert chunk_contains(range_spec(None, 10), (-(10**30),))
    assert chunk_contains(range_spec(20, None), (10**30,))


def test_all_chunk_contains_everything() -> None:
    spec = ChunkSpec(0, 1, "all")
    assert all(chunk_contains(spec, key) for key in [(None,), (1,), ("x", 2), ()])


def test_hash_chunk_follows_bucket_of() -> None:
    specs = make_chunks(Layout("hash", 5, 1, ""), ["a", "b"])
    for key in [(1, "x"), (2, None), (None, None), ("é", 3.5)]:
        owners = [s.bucket for s in specs if chunk_contains(s, key)]
        assert owners == [bucket_of(key, 5)]


def test_bucket_of_is_in_range_and_deterministic() -> None:
    keys = [(i, f"k{i}") for i in range(500)]
    first = [bucket_of(k, 7) for k in keys]
    assert first == [bucket_of(k, 7) for k in keys]
    assert set(first) == set(range(7))


def test_bucket_of_distinguishes_types_and_nulls() -> None:
    """1, "1", 1.0 and True are different keys; NULL differs from the empty string and from the text "None"."""
    texts = {bucket_of(k, 2**61) for k in [(1,), ("1",), (1.0,), (True,), (None,), ("",), ("None",), ("\x00",)]}
    assert len(texts) == 8


def test_bucket_of_does_not_depend_on_the_process() -> None:
    """Mapped load_chunk instances run in different processes: the bucket must not use Python's salted hash()."""
    keys = [(1, "a"), ("é", None), (dt.date(2020, 1, 1), 2.5), (decimal.Decimal("1.50"),)]
    code = (
        "import datetime\nfrom decimal import Decimal\n"
        "from airflow_mapper_provider.planning import bucket_of\n"
        f"print([bucket_of(k, 1009) for k in {keys!r}])"
    )
    here = [bucket_of(k, 1009) for k in keys]
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert out.stdout.strip() == str(here)


# ---- the partition property -------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(RANGE_CASES))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_key_in_exactly_one_range_chunk(case: str, seed: int) -> None:
    make, chunk_size = RANGE_CASES[case]
    keys = make(random.Random(f"{case}-{seed}"))
    plan = plan_keys(keys, chunk_size=chunk_size)
    sizes = assert_partition(plan.chunks, keys)
    assert sum(sizes) == len(keys)

    non_null = sorted(k for k in keys if k is not None)
    nulls = len(keys) - len(non_null)
    if len(keys) <= chunk_size or not non_null:
        assert [c.kind for c in plan.chunks] == ["all"]
        return
    step = plan.layout.step
    assert (plan.layout.kind, step) == ("range", chunk_size)
    assert sizes[0] >= nulls  # NULL keys go to the first chunk
    counts = collections.Counter(non_null)
    if max(counts.values()) == 1:
        # Unique keys: every chunk but the last holds exactly `step` keys (the first also the NULLs).
        assert len(plan.chunks) == math.ceil(len(non_null) / step)
        assert sizes[0] - nulls == step
        assert all(s == step for s in sizes[1:-1])
        assert 1 <= sizes[-1] <= step
    else:
        # Duplicates: a chunk holds up to `step` keys plus the copies of the key value that opens it.
        lowers = [decode_value(c.lower) for c in plan.chunks]
        for i, size in enumerate(sizes):
            extra = counts[lowers[i]] - 1 if lowers[i] is not None else nulls
            assert 1 <= size <= step + extra, (i, size)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hot_key_stays_in_one_chunk(seed: int) -> None:
    keys = duplicates(random.Random(seed))
    plan = plan_keys(keys, chunk_size=40)
    owners = {c.index for c in plan.chunks if chunk_contains(c, (77,))}
    assert len(owners) == 1
    assert len(plan.chunks) < math.ceil(len(keys) / 40)  # the hot key's copies make fewer, bigger chunks


@pytest.mark.parametrize("case", ["dense", "sparse", "skewed", "strings"])
def test_underestimate_is_capped_by_max_chunks(case: str) -> None:
    """The estimate says 100 rows, the source has 1000: the quantiles give too many bounds; thinning caps them."""
    make, _ = RANGE_CASES[case]
    keys = make(random.Random(case))
    plan = plan_keys(keys, chunk_size=10, estimate=100, max_chunks=8)
    assert plan.layout.step == 13  # ceil(100 / 8): the step grew to respect max_chunks ...
    assert len(plan.chunks) == 8  # ... and the real data still gives no more than max_chunks chunks
    sizes = assert_partition(plan.chunks, keys)
    assert max(sizes) <= 2 * math.ceil(len(keys) / 8)


@pytest.mark.parametrize("case", ["dense", "sparse", "skewed"])
def test_max_chunks_grows_the_step(case: str) -> None:
    make, _ = RANGE_CASES[case]
    keys = make(random.Random(case))
    plan = plan_keys(keys, chunk_size=5, max_chunks=16)
    assert plan.layout.step == math.ceil(len(keys) / 16)
    assert len(plan.chunks) <= 16
    sizes = assert_partition(plan.chunks, keys)
    assert max(sizes) <= plan.layout.step


def test_overestimate_gives_fewer_chunks() -> None:
    keys = list(range(100))
    plan = plan_keys(keys, chunk_size=30, estimate=10_000)
    assert plan.layout.chunks == 334
    assert len(plan.chunks) == 4  # 30, 30, 30, 10
    assert assert_partition(plan.chunks, keys) == [30, 30, 30, 10]


def test_below_min_rows_for_parallel_all_keys_in_the_single_chunk() -> None:
    keys = dense(random.Random(0))
    plan = plan_keys(keys, chunk_size=10, min_rows_for_parallel=10_000)
    assert [c.kind for c in plan.chunks] == ["all"]
    assert assert_partition(plan.chunks, [*keys, None]) == [len(keys) + 1]


def composite_keys(rng: random.Random) -> list[tuple[Any, ...]]:
    return [(rng.randint(0, 50), rng.choice(["DE", "FR", "US", None, "é"]), i) for i in range(5000)]


@pytest.mark.parametrize("seed", [0, 1])
def test_every_composite_key_in_exactly_one_hash_bucket(seed: int) -> None:
    keys = composite_keys(random.Random(seed))
    plan = plan_keys(keys, chunk_size=1000, key_columns=("a", "b", "c"))
    assert (plan.layout.kind, len(plan.chunks)) == ("hash", 5)
    sizes = assert_partition(plan.chunks, keys)
    assert all(700 <= s <= 1300 for s in sizes), sizes  # about chunk_size each


def test_unorderable_single_key_is_hashed() -> None:
    keys = [(f"{{'doc': {i}}}",) for i in range(300)]
    plan = plan_keys(keys, chunk_size=100, key_columns=("doc",), orderable=False)
    assert plan.layout.kind == "hash"
    assert sum(assert_partition(plan.chunks, keys)) == 300


def test_hash_with_repeated_keys_keeps_each_key_together() -> None:
    keys = [(i % 37, "x") for i in range(1000)]
    plan = plan_keys(keys, chunk_size=100, key_columns=("a", "b"))
    for value in range(37):
        assert len({c.index for c in plan.chunks if chunk_contains(c, (value, "x"))}) == 1


# ---- the same property on SQLite: the real quantile SQL and chunk predicates ------------------------------------

SQLITE_CASES: dict[str, tuple[Callable[[random.Random], list[Any]], int]] = {
    "dense": (dense, 100),
    "sparse": (sparse, 64),
    "skewed": (skewed, 50),
    "skewed-float": (skewed_float, 90),
    "duplicates": (duplicates, 40),
    "nulls": (with_nulls, 60),
    "all-nulls": (all_nulls, 7),
    "strings": (strings, 75),
    "single-row": (single, 1),
    "empty": (empty, 10),
}

SOURCE_SQL = "SELECT id, k, v FROM src"


def load_source(conn: Any, keys: Sequence[Any]) -> None:
    from sqlalchemy import text

    conn.execute(text("CREATE TABLE src (id INTEGER PRIMARY KEY, k, v TEXT)"))
    if keys:
        rows = [{"id": i, "k": k, "v": f"row {i}"} for i, k in enumerate(keys)]
        conn.execute(text("INSERT INTO src (id, k, v) VALUES (:id, :k, :v)"), rows)


@pytest.mark.parametrize("case", list(SQLITE_CASES))
def test_sqlite_quantile_sql_matches_the_python_mirror(case: str, sqlite_conn: Any, sqlite_dialect: Any) -> None:
    from sqlalchemy import text

    make, chunk_size = SQLITE_CASES[case]
    keys = make(random.Random(case))
    load_source(sqlite_conn, keys)
    sql = sqlite_dialect.quantile_sql(SOURCE_SQL, "k")
    for step in (1, 2, chunk_size, 997):
        measured = [r[0] for r in sqlite_conn.execute(text(sql), {"step": step})]
        assert measured == quantiles(keys, step), step


@pytest.mark.parametrize("case", list(SQLITE_CASES))
@pytest.mark.parametrize("max_chunks", [1024, 4])
def test_sqlite_chunks_partition_the_source(case: str, max_chunks: int, sqlite_conn: Any, sqlite_dialect: Any) -> None:
    from sqlalchemy import text

    make, chunk_size = SQLITE_CASES[case]
    keys = make(random.Random(case))
    load_source(sqlite_conn, keys)
    d = sqlite_dialect
    layout = choose_layout(inputs(len(keys), chunk_size=chunk_size, max_chunks=max_chunks))
    bounds: list[Any] = []
    if layout.kind == "range":
        rows = sqlite_conn.execute(text(d.quantile_sql(SOURCE_SQL, "k")), {"step": layout.step})
        bounds = thin_bounds([r[0] for r in rows], max_chunks)
    chunks = make_chunks(layout, ["k"], bounds)
    assert len(chunks) <= max_chunks

    seen: list[int] = []
    for spec in chunks:
        select, params = d.chunk_select(SOURCE_SQL, ["id", "k", "v"], spec)
        rows = sqlite_conn.execute(text(select), params).fetchall()
        # The Python mirror agrees with the SQL predicate on every row the database returned.
        assert all(chunk_contains(spec, (k,)) for _, k, _ in rows)
        seen += [row_id for row_id, _, _ in rows]
        # The probe on a target holding the same rows sees the chunk exactly when it has rows.
        where, where_params = d.chunk_predicate(spec, "t")
        probe = d.probe_sql(_src_table(), where)
        assert bool(sqlite_conn.execute(text(probe), where_params).fetchall()) == bool(rows)
    assert len(seen) == len(set(seen)), "a row was read by two chunks"
    assert sorted(seen) == list(range(len(keys))), "the chunks missed rows"


def _src_table() -> Any:
    from airflow_mapper_provider.identifiers import TableName

    return TableName("src")


def test_sqlite_hash_chunks_filter_in_python(sqlite_conn: Any, sqlite_dialect: Any) -> None:
    """SQLite has no usable hash: a hash chunk reads everything and keeps its bucket in Python, as the loader does."""
    from sqlalchemy import text

    sqlite_conn.execute(text("CREATE TABLE src (id INTEGER PRIMARY KEY, a INTEGER, b TEXT)"))
    rows = [{"id": i, "a": i % 13, "b": ["x", "y", None][i % 3]} for i in range(600)]
    sqlite_conn.execute(text("INSERT INTO src VALUES (:id, :a, :b)"), rows)
    chunks = make_chunks(choose_layout(inputs(600, chunk_size=150, key_columns=("a", "b"))), ["a", "b"])
    assert [c.kind for c in chunks] == ["hash"] * 4
    seen: list[int] = []
    for spec in chunks:
        assert sqlite_dialect.filters_in_python(spec)
        select, params = sqlite_dialect.chunk_select("SELECT id, a, b FROM src", ["id", "a", "b"], spec)
        assert params == {}
        read = sqlite_conn.execute(text(select), params).fetchall()
        seen += [r[0] for r in read if bucket_of((r[1], r[2]), spec.buckets) == spec.bucket]
    assert sorted(seen) == list(range(600))
