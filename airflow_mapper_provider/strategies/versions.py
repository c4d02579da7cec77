"""The columns scd2 adds to a target, defined once: names, neutral types and what they hold."""

from __future__ import annotations

from airflow_mapper_provider.dialects.types import Column, ColumnType

#: valid_from (the version's start: the run's effective time or a source column), valid_to (NULL while
#: current), is_current, row_hash (over the non-key columns: change detection).
VERSION_COLUMNS = (
    Column("valid_from", ColumnType("timestamptz")),
    Column("valid_to", ColumnType("timestamptz")),
    Column("is_current", ColumnType("bool")),
    Column("row_hash", ColumnType("text")),
)
VERSION_NAMES = tuple(c.name for c in VERSION_COLUMNS)
