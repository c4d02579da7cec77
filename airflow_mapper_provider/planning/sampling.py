"""How range bounds are measured: exactly (every ``step``-th key) or from a random sample of the keys.

Exact bounds rank every key of the source (a sort of all keys: 0.3-2.5 s per million rows on 2 busy cores, where
a sampled plan costs about one scan, like ``count(*)``: 0.15-0.5 s). Above :data:`SAMPLE_MIN_ROWS` the plan ranks
a Bernoulli sample instead, drawn where the database can (PostgreSQL ``random()``): a fraction ``per_chunk /
step`` of the keys, so each chunk is backed by about ``per_chunk`` sampled keys and lands within a few percent of
``chunk_size`` rows (relative spread about ``1 / sqrt(per_chunk)``), however skewed the keys are. (A plan sized
for the parallel slots samples a grid 8 times finer: about 3,200 sampled keys per chunk, spread under 2%.) The
bound on sampled rank is ``per_chunk``: the number of chunks then follows the rows actually present, not the
estimate. Bounds are still frozen once and cover every key (the first range is
unbounded below, the last above), so a sample can only make chunks uneven, never lose or repeat a key.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Below this row estimate, bounds are exact (ranking every key costs about as much as one scan there).
SAMPLE_MIN_ROWS = 250_000
#: Sampled keys per chunk: relative spread of chunk sizes about 1/sqrt(400) = 5%.
SAMPLE_PER_CHUNK = 400


@dataclass(frozen=True)
class QuantilePlan:
    """How to measure the bounds: ``fraction`` of keys sampled (None: every key), bound every ``step``-th.

    :param fraction: probability with which each key enters the sample, or None for exact bounds.
    :param step: rank distance between bounds, in the (sampled) ordered key list.
    """

    fraction: float | None
    step: int

    @property
    def sampled(self) -> bool:
        return self.fraction is not None


def quantile_plan(
    estimated_rows: int,
    step: int,
    *,
    min_rows: int = SAMPLE_MIN_ROWS,
    per_chunk: int = SAMPLE_PER_CHUNK,
    can_sample: bool = True,
) -> QuantilePlan:
    """Exact bounds for small sources (or where the database cannot sample), else a sample of ``per_chunk``
    keys per chunk of ``step`` rows.

    :param estimated_rows: the plan's row estimate.
    :param step: target rows per chunk (the layout's step).
    :param can_sample: the source dialect can draw a row sample in SQL.
    """
    if not can_sample or estimated_rows < min_rows or step <= per_chunk:
        return QuantilePlan(None, step)
    return QuantilePlan(per_chunk / step, per_chunk)
