"""Measurement series: what is run, in which order, how often; each returns :class:`Row` results.

One series per strategy and worker count, repeated ``repeat`` times on a fresh target:
initial load (full extract) -> 1% changed, full extract -> first KEY run (no checkpoint yet: reads everything,
nothing changed) -> 1% changed, KEY checkpoint (reads the changed rows only). ``append`` has the initial load only.
"""

from __future__ import annotations

import itertools
import statistics
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from bench.data import change_one_percent, reset_target
from bench.methods import RunStats, chunk_path, mapper_config, planning, raw_copy

#: Each 1%-change round touches a different 1% of the keys and moves updated_at forward.
ROUNDS = itertools.count(1)
STEPS = ("initial", "1% changed, full extract", "first KEY run, 0% changed", "1% changed, KEY checkpoint")


@dataclass
class Row:
    """One line of the result table: median seconds over ``runs``."""

    section: str
    method: str
    rows: int
    runs: list[float]
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return statistics.median(self.runs)

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def raw_copy_rows(source: str, target: str, repeat: int) -> Row:
    """The reference: raw binary COPY pipe into a table with a primary key."""
    reset_target(target)
    results = [raw_copy(source, target) for _ in range(repeat)]
    return Row("limit", "raw binary COPY pipe -> table with PK", results[0][0], [s for _, s in results])


def chunk_series(source: str, target: str, strategy: str, workers: int, repeat: int, chunk_size: int) -> list[Row]:
    """The chunk path (plan, chunks in ``workers`` processes, finalize) for one strategy."""
    steps: tuple[str, ...] = STEPS[:1] if strategy == "append" else STEPS
    runs: dict[str, list[RunStats]] = {s: [] for s in steps}
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(int, range(workers)))  # start the workers before timing
        for r in range(repeat):
            reset_target(target)
            table = f"dw.{strategy}_w{workers}"
            full = mapper_config(strategy, table, f"bench.{strategy}.full", chunk_size)
            key = mapper_config(strategy, table, f"bench.{strategy}.key", chunk_size, key_checkpoint=True)
            runs[steps[0]].append(chunk_path(full, f"initial_{r}", source, target, pool))
            if strategy == "append":
                continue
            change_one_percent(source, next(ROUNDS))
            runs[steps[1]].append(chunk_path(full, f"full_{r}", source, target, pool))
            runs[steps[2]].append(chunk_path(key, f"seed_{r}", source, target, pool))
            change_one_percent(source, next(ROUNDS))
            runs[steps[3]].append(chunk_path(key, f"key_{r}", source, target, pool))
    return [_row(f"chunk path, {workers} worker(s)", strategy, step, stats) for step, stats in runs.items()]


def _row(section: str, strategy: str, step: str, stats: list[RunStats]) -> Row:
    last = stats[-1]
    note = f"{last.chunks} chunk(s), paths {'/'.join(last.paths)}"
    extra = {"plan_seconds": [round(s.plan_seconds, 3) for s in stats], "counters": last.counters}
    return Row(section, f"{strategy} {step}", last.rows_read, [s.seconds for s in stats], note, extra)


def planning_rows(source: str, target: str, table: str, rows: int, repeat: int, chunk_size: int) -> list[Row]:
    """plan_run only, on a ``rows``-row source: sampled bounds (now) and exact bounds (before)."""
    out = []
    for exact in (False, True):
        reset_target(target)
        results = [planning(source, target, table, chunk_size, exact) for _ in range(repeat)]
        how = "exact bounds: ROW_NUMBER over every key (before)" if exact else "sampled bounds (now)"
        note = f"{results[-1][0]} chunks of {chunk_size:,}"
        out.append(Row("planning", f"plan_run, {how}", rows, [s for _, s in results], note))
    return out
