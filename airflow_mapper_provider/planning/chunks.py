"""Chunk layout: how many chunks, of which kind, with which frozen bounds.

No I/O here. The operator measures (row estimate, key quantiles) through the dialect and passes the numbers in.
Range bounds come from the key's real distribution (every ``step``-th key in key order), so skewed and sparse
keys still give chunks of about ``chunk_size`` rows. Without a ``chunk_size`` the chunk count follows the parallel
chunk slots and the rows (:mod:`~airflow_mapper_provider.planning.sizing`).
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from airflow_mapper_provider.exceptions import ConfigError
from airflow_mapper_provider.models import ChunkSpec, decode_value, encode_value
from airflow_mapper_provider.planning.sizing import default_chunk_count


@dataclass(frozen=True)
class PlanInputs:
    """What the planner needs to decide a layout.

    :param estimated_rows: cheap estimate of the source rows.
    :param chunk_size: target rows per chunk as the user gave it; None: sized for ``slots`` (see sizing.py).
    :param min_rows_for_parallel: below this estimate, a single chunk.
    :param max_chunks: hard cap on chunks (Airflow's ``[core] max_map_length``).
    :param key_columns: business key (may be empty for append).
    :param key_orderable: the single key column has a total order usable for ranges.
    :param slots: chunks that can run at once (``max_active_chunks``, else what Airflow allows); used only
        without a ``chunk_size``.
    """

    estimated_rows: int
    chunk_size: int | None
    min_rows_for_parallel: int
    max_chunks: int
    key_columns: tuple[str, ...]
    key_orderable: bool
    slots: int = 1
    #: MapperConfig.chunk_by: ``auto`` picks ranges or hash buckets by the key; ``key``/``hash`` force one.
    chunk_by: str = "auto"


@dataclass(frozen=True)
class Layout:
    """The planner's decision: ``kind`` ("all", "range", "hash"), chunk count and range step.

    ``sized``: the chunk count follows ``slots`` (no chunk_size given); range bounds are then picked from a finer
    measured grid (:func:`~airflow_mapper_provider.planning.sizing.pick_bounds`), not cut every ``step`` keys.
    """

    kind: str
    chunks: int
    step: int
    reason: str
    sized: bool = False
    slots: int = 1


def choose_layout(inputs: PlanInputs) -> Layout:
    """Decide single chunk, key ranges or hash buckets, never more than ``max_chunks`` chunks."""
    est = max(inputs.estimated_rows, 0)
    if not inputs.key_columns:
        return Layout("all", 1, 0, "no key columns: one chunk (give key_columns to load in parallel)")
    if est < inputs.min_rows_for_parallel:
        return Layout("all", 1, 0, f"estimate {est} < min_rows_for_parallel {inputs.min_rows_for_parallel}")
    sized = inputs.chunk_size is None
    if inputs.chunk_size is None:
        chunks = min(default_chunk_count(est, inputs.slots), inputs.max_chunks)
        size = math.ceil(est / chunks) if est else 1
        how = f" (sized for {inputs.slots} parallel chunk slot(s))"
    else:
        size, how = inputs.chunk_size, ""
        chunks = max(1, math.ceil(est / size))
    step = size
    if chunks > inputs.max_chunks:
        chunks = inputs.max_chunks
        step = math.ceil(est / chunks)
    if chunks == 1:
        return Layout("all", 1, 0, f"estimate {est} fits one chunk of {size}{how}")
    ranges = len(inputs.key_columns) == 1 and inputs.key_orderable
    if inputs.chunk_by == "key" and not ranges:
        raise ConfigError(
            f"chunk_by='key' needs one key column the source orders in byte order; {inputs.key_columns} is not: "
            "use chunk_by='hash' (or 'auto')"
        )
    if ranges and inputs.chunk_by != "hash":
        return Layout("range", chunks, step, f"{chunks} key ranges of about {step} rows{how}", sized, inputs.slots)
    return Layout("hash", chunks, step, f"{chunks} hash buckets of the key (composite or unordered key){how}", sized,
                  inputs.slots)  # fmt: skip


def thin_bounds(bounds: Sequence[Any], max_chunks: int) -> list[Any]:
    """Bounds thinned evenly so that ``len(result) + 1 <= max_chunks``, repeats dropped.

    ``bounds`` come in the order the database compares keys in (byte order for text): that order is kept, never
    re-sorted in Python, so the chunks' ranges are exactly the ranges the source evaluates.
    """
    unique = [b for i, b in enumerate(bounds) if i == 0 or b != bounds[i - 1]]
    keep = max_chunks - 1
    if len(unique) <= keep:
        return unique
    stride = len(unique) / (keep + 1)
    picked = sorted({min(len(unique) - 1, round(stride * (i + 1))) for i in range(keep)})
    return [unique[i] for i in picked]


def make_chunks(
    layout: Layout,
    key_columns: Sequence[str],
    bounds: Sequence[Any] = (),
    *,
    effective_time: str = "",
    sql_fingerprint: str = "",
    estimated_rows: int = 0,
    snapshot: str = "",
) -> list[ChunkSpec]:
    """Turn a layout (and, for ranges, the measured lower bounds) into frozen chunk specs.

    Ranges are half-open ``[lower, upper)``; the first is unbounded below (and takes NULL keys), the last is
    unbounded above, so every key lands in exactly one chunk.
    """
    common: dict[str, Any] = {
        "key_columns": tuple(key_columns),
        "effective_time": effective_time,
        "sql_fingerprint": sql_fingerprint,
        "estimated_rows": estimated_rows,
        "snapshot": snapshot,
    }
    if layout.kind == "hash":
        n = layout.chunks
        return [ChunkSpec(index=i, count=n, kind="hash", bucket=i, buckets=n, **common) for i in range(n)]
    if layout.kind == "range" and bounds:
        edges: list[Any] = [None, *bounds, None]
        n = len(edges) - 1
        return [
            ChunkSpec(
                index=i,
                count=n,
                kind="range",
                lower=encode_value(edges[i]),
                upper=encode_value(edges[i + 1]),
                **common,
            )
            for i in range(n)
        ]
    return [ChunkSpec(index=0, count=1, kind="all", **common)]


def bucket_of(key: Sequence[Any], buckets: int) -> int:
    """Portable hash bucket of a key tuple (used where the database has no usable hash function), over a
    canonical form of each value: an instant in UTC, a decimal without trailing zeros, an exact float."""
    text = "\x1f".join(_canonical(v) for v in key)
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % buckets


def _canonical(value: Any) -> str:
    if value is None:
        return "\x00"
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc)
    elif isinstance(value, decimal.Decimal) and value.is_finite():
        value = value.normalize()
    elif isinstance(value, float):
        return f"float:{value.hex()}"
    return f"{type(value).__name__}:{value}"


def chunk_contains(spec: ChunkSpec, key: Sequence[Any]) -> bool:
    """Python mirror of a chunk's predicate: does ``key`` belong to ``spec``?"""
    if spec.kind == "all":
        return True
    if spec.kind == "hash":
        return bucket_of(key, spec.buckets) == spec.bucket
    value = key[0]
    lower, upper = decode_value(spec.lower), decode_value(spec.upper)
    if value is None:
        return spec.lower is None
    return (lower is None or value >= lower) and (upper is None or value < upper)
