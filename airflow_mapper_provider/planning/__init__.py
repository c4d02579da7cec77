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

__all__ = ["Layout", "PlanInputs", "bucket_of", "choose_layout", "chunk_contains", "make_chunks", "thin_bounds"]
