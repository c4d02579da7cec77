"""How many chunks when the user gave no ``chunk_size``: as many as can run at once, within a size band.

Under a real scheduler every task instance costs about 0.5-3 s of start-up and queueing, and a run has at least
three tasks in sequence (plan -> chunks -> finalize). Chunks smaller than that overhead buy nothing, and chunks
beyond the slots that can run at once wait for a second wave and pay the start-up again. So the default is one
wave: ``slots`` chunks (the parallel chunk slots the plan can see: ``max_active_chunks``, else the DAG's
``max_active_tasks`` and Airflow's ``[core] parallelism``), each holding between :data:`FLOOR_ROWS` and
:data:`CEILING_ROWS` rows:

- a source below ``2 * FLOOR_ROWS`` rows is one chunk (splitting it costs more task start-up than it saves);
- a source above ``slots * CEILING_ROWS`` rows gets whole waves of ``slots`` chunks, none above the ceiling (what
  a retry repeats and a staging table holds stays bounded).

The row estimate can be off by a few percent (EXPLAIN), which would leave a tiny extra chunk (a second wave) if the
bounds were cut every ``estimate / chunks`` keys. So a sized range plan measures a finer grid of key bounds
(:data:`GRID` per chunk), counts the rows from the grid and picks the bounds evenly from it
(:func:`pick_bounds`): the chunks are balanced to a grid step whatever the estimate said. A given ``chunk_size``
keeps its meaning (every ``chunk_size``-th key; the chunk count follows the rows present).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

#: Smallest chunk the default sizing makes: about 1-2 s of loading on a small machine, more than a task's start.
FLOOR_ROWS = 200_000
#: Largest chunk the default sizing makes: what one retry repeats (seconds to a few tens of seconds).
CEILING_ROWS = 2_000_000
#: Range bounds measured per planned chunk (sized plans): chunks are balanced to 1/GRID of a chunk.
GRID = 8


def default_chunk_count(rows: int, slots: int, floor: int | None = None, ceiling: int | None = None) -> int:
    """Chunks for ``rows`` rows and ``slots`` chunks that can run at once: one wave of ``slots`` where the rows
    allow, each between ``floor`` and ``ceiling`` rows; whole waves above ``slots * ceiling``.

    :param rows: the (estimated or measured) row count.
    :param slots: chunk task instances that can run at the same time (at least 1).
    :param floor: rows of the smallest chunk (default :data:`FLOOR_ROWS`).
    :param ceiling: rows of the largest chunk (default :data:`CEILING_ROWS`).
    """
    floor = FLOOR_ROWS if floor is None else floor
    ceiling = CEILING_ROWS if ceiling is None else ceiling
    rows, slots = max(rows, 0), max(slots, 1)
    most = max(1, rows // floor)  # no chunk below the floor
    least = max(1, math.ceil(rows / ceiling))  # none above the ceiling
    if least > slots:  # more than one wave: whole waves, where that keeps every chunk above the floor
        waves = slots * math.ceil(least / slots)
        return waves if waves <= most else least
    return max(least, min(slots, most))


def pick_bounds(grid: Sequence[Any], grid_step: int, slots: int, max_chunks: int) -> list[Any]:
    """Lower bounds of chunks 2..n chosen from a fine grid of bounds (every ``grid_step``-th row in key order):
    the chunk count follows the rows the grid measured (about ``(len(grid) + 1) * grid_step``), the bounds are
    spread evenly over the grid (so chunks differ by about one grid step at most).

    :param grid: the measured fine bounds, in the order the database compares keys.
    :param grid_step: rows between two grid bounds (for a sampled grid: on average).
    """
    unique = [b for i, b in enumerate(grid) if i == 0 or b != grid[i - 1]]
    measured = (len(grid) + 1) * max(grid_step, 1)
    chunks = min(default_chunk_count(measured, slots), max(max_chunks, 1), len(unique) + 1)
    # grid bound i closes about (i + 1) grid steps of rows: chunk k ends near bound k * (len + 1) / chunks - 1
    picked = sorted({round(k * (len(unique) + 1) / chunks) - 1 for k in range(1, chunks)})
    return [unique[i] for i in picked if 0 <= i < len(unique)]
