"""State the mapper keeps in the target database, committed with the data it describes."""

from airflow_mapper_provider.state.ledger import ChunkLedger
from airflow_mapper_provider.state.tables import MapperTables

__all__ = ["ChunkLedger", "MapperTables"]
