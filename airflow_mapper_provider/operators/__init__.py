"""The three Airflow operators MapperOperator wires: plan, load_chunk (mapped), finalize."""

from airflow_mapper_provider.operators.finalize import MapperFinalizeOperator
from airflow_mapper_provider.operators.load import MapperLoadChunkOperator
from airflow_mapper_provider.operators.plan import MapperPlanOperator

__all__ = ["MapperFinalizeOperator", "MapperLoadChunkOperator", "MapperPlanOperator"]
