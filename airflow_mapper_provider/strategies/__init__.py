"""Load strategies as dialect-agnostic statement lists: append, scd1, scd2."""

from airflow_mapper_provider.strategies.base import ApplyContext, Check, Step, apply_plan

__all__ = ["ApplyContext", "Check", "Step", "apply_plan"]
