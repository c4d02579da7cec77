"""Column metadata shared by all dialects: a neutral type kind plus the source's own type text."""

from __future__ import annotations

from dataclasses import dataclass

#: Neutral kinds a dialect can map to its own DDL.
KINDS = (
    "bool", "smallint", "int", "bigint", "numeric", "real", "double", "text", "varchar", "char",
    "date", "timestamp", "timestamptz", "time", "bytes", "json", "uuid", "interval", "other",
)  # fmt: skip

#: Kinds whose values have a total order usable for key ranges.
ORDERABLE = frozenset(
    {"smallint", "int", "bigint", "numeric", "real", "double", "text", "varchar", "char", "date",
     "timestamp", "timestamptz", "time", "uuid"}
)  # fmt: skip


#: Kinds compared by collation: range bounds on them always compare in byte order.
TEXT_KINDS = frozenset({"text", "varchar", "char"})


@dataclass(frozen=True)
class ColumnType:
    """A column's type: neutral ``kind`` plus the exact ``native`` text of the dialect it came from.

    :param kind: one of :data:`KINDS`.
    :param native: the type as the source dialect spells it (e.g. ``numeric(12,2)``), or "".
    :param dialect: the dialect name ``native`` belongs to.
    """

    kind: str
    native: str = ""
    dialect: str = ""
    length: int | None = None
    precision: int | None = None
    scale: int | None = None


@dataclass(frozen=True)
class Column:
    """A named column of a source query or target table."""

    name: str
    type: ColumnType

    @property
    def orderable(self) -> bool:
        return self.type.kind in ORDERABLE


def kind_of_python(value: object) -> str:
    """Neutral kind for a Python value (used where the driver reports no types, e.g. SQLite)."""
    import datetime as dt
    import decimal
    import uuid

    checks: tuple[tuple[type | tuple[type, ...], str], ...] = (
        (bool, "bool"),
        (int, "bigint"),
        (float, "double"),
        (decimal.Decimal, "numeric"),
        (dt.datetime, "timestamp"),
        (dt.date, "date"),
        (dt.time, "time"),
        ((bytes, bytearray, memoryview), "bytes"),
        (uuid.UUID, "uuid"),
        ((dict, list), "json"),
    )
    for py_type, kind in checks:
        if isinstance(value, py_type):
            if kind == "timestamp" and getattr(value, "tzinfo", None) is not None:
                return "timestamptz"
            return kind
    return "text"
