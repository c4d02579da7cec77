"""What every database's error classification shares: the three kinds, :class:`DbError`, safe-text helpers."""

from __future__ import annotations

import re
from dataclasses import dataclass

TRANSIENT, DATA, PERMANENT = "transient", "data", "permanent"

_CAST = "cast or clean the column in source_sql"


@dataclass(frozen=True)
class DbError:
    """A classified database error. ``text`` is safe to log; ``full`` may quote row values.

    :param code: SQLSTATE, ORA-/DPY- code, SQLite result name, or the driver's exception class where the
        driver raised it without a code (``psycopg.DataError``, ``sqlite3.ProgrammingError``, ``OverflowError``).
    :param kind: :data:`TRANSIENT`, :data:`DATA` or :data:`PERMANENT`.
    :param text: safe text: code, condition without values, identifiers, fix.
    :param full: the database's own message (for ``mapper_rejects`` only).
    :param table: the table named by the error, where known.
    :param column: the column named by the error, where known.
    :param datatype: the type named by the error's message (``character varying(3)``, ``smallint``), where any:
        :func:`name_column` finds the column by it.
    """

    code: str | None
    kind: str
    text: str
    full: str
    table: str | None = None
    column: str | None = None
    datatype: str | None = None

    @property
    def retryable(self) -> bool:
        return self.kind == TRANSIENT


def _without_values(message: str, names: set[str]) -> str:
    """``message`` without the quoted parts that may be values (identifiers in ``names`` stay)."""

    def keep(m: re.Match[str]) -> str:
        return m.group(0) if m.group(0)[1:-1] in names else ""

    text = re.sub(r'"(?:[^"]|"")*"|\'(?:[^\']|\'\')*\'', keep, message)
    text = re.sub(r"\s+([:,.)])", r"\1", re.sub(r"\(\s*\)", "", text))
    return re.sub(r"\s{2,}", " ", text).strip().rstrip(":").strip()


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""
