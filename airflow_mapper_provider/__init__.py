"""airflow-mapper-provider: parallel, chunked SQL-to-warehouse loads for Apache Airflow 3.

Public names are re-exported lazily: Airflow imports provider packages while it is itself still importing,
and an eager ``from airflow.sdk import ...`` here would break ``airflow db migrate``.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "MapperOperator": "airflow_mapper_provider.task_group",
    "MapperPlanOperator": "airflow_mapper_provider.operators.plan",
    "MapperLoadChunkOperator": "airflow_mapper_provider.operators.load",
    "MapperFinalizeOperator": "airflow_mapper_provider.operators.finalize",
    "MapperConfig": "airflow_mapper_provider.config",
    "MapperError": "airflow_mapper_provider.exceptions",
    "ConfigError": "airflow_mapper_provider.exceptions",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'airflow_mapper_provider' has no attribute {name!r}")
