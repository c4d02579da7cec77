"""The session interface every database family implements (one open connection and its transaction).

A new database adds a module beside this one with a :class:`Session` subclass and registers it for its Airflow
connection types (:func:`airflow_mapper_provider.db.registry.register`); nothing else in the package branches on
the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from airflow_mapper_provider.dialects import Column, Dialect
from airflow_mapper_provider.exceptions import UnsupportedError
from airflow_mapper_provider.identifiers import TableName

#: A value conversion of the rows path: one function applied to one column's values.
Codec = Any
#: Rows the other databases' describe reads to type a query's columns (where the driver reports no types).
SAMPLE_ROWS = 1000


class Session:
    """One open connection and its transaction."""

    dialect: Dialect

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> int:
        raise NotImplementedError

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def scalar(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        rows = self.query(sql, params)
        return rows[0][0] if rows else None

    def describe(self, source_sql: str) -> list[Column]:
        raise NotImplementedError

    def estimate_rows(self, source_sql: str, where: str = "", params: dict[str, Any] | None = None) -> tuple[int, str]:
        """Row estimate of ``source_sql`` (restricted by ``where``) and its method; the portable way counts."""
        return int(self.scalar(self.dialect.count_sql(source_sql, where), params) or 0), "count"

    def has_primary_key(self, table: TableName, keys: Sequence[str]) -> bool:
        """The table's primary key is exactly ``keys`` (then a bulk insert cannot duplicate a key)."""
        return False

    def stream(self, sql: str, params: dict[str, Any], batch: int) -> Iterator[list[tuple[Any, ...]]]:
        raise NotImplementedError

    def insert_batches(self, table: str, columns: Sequence[str], batches: Iterable[list[tuple[Any, ...]]]) -> int:
        raise NotImplementedError

    def insert_rows_reporting(
        self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
    ) -> list[tuple[int, str, str]]:
        """Insert ``rows``, the statement continuing past the rows the database refuses; returns each refused
        row's (position in ``rows``, error code, the database's message). Only where
        ``dialect.caps.array_dml_errors`` (salvage mode then needs no savepoint bisection)."""
        raise NotImplementedError(f"{type(self).__name__} reports no per-row errors (caps.array_dml_errors is false)")

    def table_exists(self, table: TableName) -> bool:
        raise NotImplementedError

    def schema_exists(self, schema: str) -> bool:
        raise NotImplementedError

    def ensure_schema(self, schema: str) -> None:
        """Create ``schema`` if it is missing. Only then: ``CREATE SCHEMA IF NOT EXISTS`` needs the CREATE
        privilege on the database even when the schema exists (PostgreSQL), which a least-privilege role lacks."""
        if not self.schema_exists(schema):
            self.execute(self.dialect.create_schema_sql(schema))

    def commit(self) -> None:
        raise NotImplementedError

    def rollback(self) -> None:
        raise NotImplementedError

    def cancel(self) -> None:
        """Cancel the statement in flight (called from another thread by on_kill)."""

    def close(self) -> None:
        raise NotImplementedError

    # ---- the rows path between two databases (transfer.py) ------------------------------------------------
    def row_encoders(self, table: TableName, columns: Sequence[Column]) -> list[tuple[int, Codec]] | None:
        """As a target: (position, function) converting the rows path's values of ``columns`` into what this
        database stores for ``table``'s columns; None where values are written as the source's driver read them."""
        return None

    def row_decoders(self, columns: Sequence[Column]) -> list[tuple[int, Codec]]:
        """As a source: (position, function) turning the values it stored back into the values ``columns``'
        declared types mean, for another database; [] where the driver's values are already those."""
        return []

    def prepare_read_for(self, target: Session) -> None:
        """As a source: set up the driver's value loading for a target that encodes values itself
        (:meth:`row_encoders`)."""

    # ---- one read point for every chunk of a run (where the source database has one) ---------------------
    def snapshot(self) -> str:
        """As a source, at plan: the current read point (Oracle: the SCN) every chunk will read as of; "" where
        the database has none the mapper can use."""
        return ""

    def begin_snapshot(self, snapshot: str) -> None:
        """As a source, before a chunk reads: read as of ``snapshot`` (from :meth:`snapshot`) for the rest of the
        session."""
        if snapshot:
            raise UnsupportedError(f"{type(self).__name__} cannot read as of a snapshot")

    def rowid_ranges(self, table: TableName, chunks: int) -> list[tuple[str, str]]:
        """As a source: about ``chunks`` ROWID ranges (inclusive) covering ``table`` (Oracle)."""
        raise UnsupportedError(
            f"chunk_by='rowid' needs an Oracle source; {type(self).__name__} has no ROWIDs: use chunk_by='auto'"
        )

    def backend_pid(self) -> int | None:
        """The server process of this connection, where the database can report a COPY's progress by it."""
        return None

    # ---- binary COPY (only where ``dialect.caps.binary_copy``) -------------------------------------------
    def copy_out(self, sql: str, params: dict[str, Any]) -> Iterator[bytes | bytearray | memoryview]:
        """Stream ``COPY ... TO STDOUT`` as raw blocks of rows."""
        raise NotImplementedError(f"{type(self).__name__} has no binary COPY (dialect.caps.binary_copy is false)")

    def copy_in(self, sql: str, data: Iterable[bytes | bytearray | memoryview]) -> int:
        """Write raw blocks into ``COPY ... FROM STDIN``; returns the rows written."""
        raise NotImplementedError(f"{type(self).__name__} has no binary COPY (dialect.caps.binary_copy is false)")
