"""All SQL text lives here: one module per database family, sharing the portable base."""

from airflow_mapper_provider.dialects.base import SRC, Dialect, UpdateSpec
from airflow_mapper_provider.dialects.generic import GenericDialect
from airflow_mapper_provider.dialects.postgres import PostgresDialect
from airflow_mapper_provider.dialects.types import Column, ColumnType

__all__ = ["SRC", "Column", "ColumnType", "Dialect", "GenericDialect", "PostgresDialect", "UpdateSpec"]
