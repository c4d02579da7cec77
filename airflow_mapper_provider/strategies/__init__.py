"""Load strategies: append, scd1, scd2 (:mod:`.catalog`), as dialect-agnostic statement lists."""

from airflow_mapper_provider.strategies.base import ApplyContext, Check, Step, apply_plan
from airflow_mapper_provider.strategies.catalog import STRATEGIES, Strategy, strategy

__all__ = ["STRATEGIES", "ApplyContext", "Check", "Step", "Strategy", "apply_plan", "strategy"]
