"""Pure planning: row estimates and key distributions in, frozen chunk specs out."""

from airflow_mapper_provider.planning.chunks import (
    Layout,
    PlanInputs,
    bucket_of,
    choose_layout,
    chunk_contains,
    make_chunks,
    thin_bounds,
)
from airflow_mapper_provider.planning.sampling import QuantilePlan, quantile_plan
from airflow_mapper_provider.planning.sizing import default_chunk_count, pick_bounds

__all__ = [
    "Layout",
    "PlanInputs",
    "QuantilePlan",
    "bucket_of",
    "choose_layout",
    "chunk_contains",
    "default_chunk_count",
    "make_chunks",
    "pick_bounds",
    "quantile_plan",
    "thin_bounds",
]
