"""``mapper_rejects``: rows the target refused, each with its key, the row as JSON and the database's error.

The only place where row values are stored on purpose. Rows are written in the chunk's own transaction, so a
chunk that fails (or goes over ``max_error_rows``) leaves no rejects behind, and a retried chunk never doubles them.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from airflow_mapper_provider.db import Session
from airflow_mapper_provider.exceptions import RejectBudgetError
from airflow_mapper_provider.state.tables import REJECTS_COLUMNS, MapperTables


@dataclass(frozen=True)
class Reject:
    """One refused row: ``row`` maps column names to values; ``code`` is the SQLSTATE (or ORA-/SQLITE_ code)."""

    row: dict[str, Any]
    code: str
    message: str


class RejectLog:
    """Collects a chunk's rejects and enforces the budget as they arrive.

    :param budget: ``max_error_rows``; one more reject than this raises :class:`RejectBudgetError`.
    :param label: the chunk's label, for messages.
    """

    def __init__(self, budget: int, label: str) -> None:
        self.budget = budget
        self.label = label
        self.rows: list[Reject] = []

    def add(self, reject: Reject) -> None:
        self.rows.append(reject)
        self.check_room(0, self.rows[0].code)

    def check_room(self, more: int, code: str) -> None:
        """Raise when ``more`` further rejects would go over the budget."""
        if len(self.rows) + more > self.budget:
            raise RejectBudgetError(
                f"{self.label}: more than max_error_rows={self.budget} rows refused (first: error {code}); "
                "the chunk committed nothing. Fix the source rows, or raise max_error_rows to load the rest and "
                "keep the bad rows in mapper_rejects"
            )

    def __len__(self) -> int:
        return len(self.rows)


class RejectStore:
    """Writes rejects of one mapref into ``mapper_rejects`` (caller's transaction)."""

    def __init__(self, tables: MapperTables, mapref: str) -> None:
        self.tables = tables
        self.mapref = mapref

    def write(
        self, sess: Session, run_id: str, chunk_index: int, keys: Sequence[str], rejects: Sequence[Reject]
    ) -> None:
        if not rejects:
            return
        now = dt.datetime.now(dt.timezone.utc)
        rows = [
            (self.mapref, run_id, chunk_index, to_json({k: r.row.get(k) for k in keys}), to_json(r.row), r.code,
             r.message[:4000], now)
            for r in rejects
        ]  # fmt: skip
        names = [name for name, _ in REJECTS_COLUMNS]
        sess.insert_batches(sess.dialect.table(self.tables.rejects), names, [rows])


def to_json(values: dict[str, Any]) -> str:
    return json.dumps({k: _plain(v) for k, v in values.items()}, ensure_ascii=False, separators=(",", ":"))


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, (dict, list)):
        return value
    return str(value)
