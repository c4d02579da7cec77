"""All SQL text lives here: one module per database family, sharing the portable base.

A database is a plug-in: a :class:`Dialect` subclass declaring its :class:`Capabilities` (README "What a new
dialect implements") and a session class in :mod:`airflow_mapper_provider.db` registered for its connection types.
"""

from airflow_mapper_provider.dialects.base import SRC, Dialect, UpdateSpec
from airflow_mapper_provider.dialects.capabilities import Capabilities
from airflow_mapper_provider.dialects.generic import GenericDialect
from airflow_mapper_provider.dialects.postgres import PostgresDialect
from airflow_mapper_provider.dialects.sqlite_dialect import SqliteDialect
from airflow_mapper_provider.dialects.types import Column, ColumnType

__all__ = [
    "SRC",
    "Capabilities",
    "Column",
    "ColumnType",
    "Dialect",
    "GenericDialect",
    "PostgresDialect",
    "SqliteDialect",
    "UpdateSpec",
]
