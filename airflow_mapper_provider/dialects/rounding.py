"""Values a target column would round without an error, refused before they are bound.

MySQL and Oracle round a number with more decimal places than a column keeps (``DECIMAL(10,2)``, ``NUMBER(10,2)``,
an integer column) and drop fractional seconds a ``DATETIME``/``TIMESTAMP(0)``/``DATE`` cannot hold, silently (MySQL
only notes it, strict mode or not). Where such a target does not convert in SQL (``caps.converts_in_sql``), its
session checks each value of the rows path against the target column's declared type with :func:`guard`: a value
that would change fails the chunk with a :class:`ConversionError` naming the column and the fix.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Callable
from typing import Any

from airflow_mapper_provider.dialects.types import Column, ColumnType
from airflow_mapper_provider.exceptions import ConversionError

Encode = Callable[[Any], Any]
#: Fractional second digits a column of the target database keeps (None: not a date/time type).
FractionDigits = Callable[[ColumnType], "int | None"]
#: Room for any DECIMAL/NUMBER and any Python Decimal read from a source: quantize never raises for lack of it.
_WIDE = decimal.Context(prec=400)
_INTEGERS = ("smallint", "int", "bigint")
_TEMPORAL = ("timestamp", "timestamptz", "time")


def guard(column: Column, encode: Encode | None, target: ColumnType | None, digits: FractionDigits) -> Encode | None:
    """``encode`` followed by the refusal of a value the target column (of type ``target``) would round, where the
    source ``column``'s type does not already fit; None where neither applies."""
    check = None
    if target is not None and not fits(column.type, target, digits):
        check = rounding_check(column.name, target, digits)
    if check is None:
        return encode
    if encode is None:
        return check
    return lambda value: check(encode(value))


def rounding_check(name: str, target: ColumnType, digits: FractionDigits) -> Encode | None:
    """A check raising :class:`ConversionError` for a value column ``name`` of type ``target`` would round."""
    scale = 0 if target.kind in _INTEGERS else target.scale if target.kind == "numeric" else None
    if scale is not None:
        return _decimal_check(name, target, scale)
    keeps = digits(target)
    if keeps is None or keeps >= 6:
        return None
    step = 10 ** (6 - keeps)

    def check_fraction(value: Any) -> Any:
        if isinstance(value, (dt.datetime, dt.time)) and value.microsecond % step:
            raise ConversionError(_rounded(name, target, f"more than {keeps} fractional second digit(s)"))
        return value

    return check_fraction


def _decimal_check(name: str, target: ColumnType, scale: int) -> Encode:
    quantum = decimal.Decimal(1).scaleb(-scale)

    def check_decimal(value: Any) -> Any:
        exact = decimal.Decimal(repr(value)) if isinstance(value, float) else value
        finite = isinstance(exact, decimal.Decimal) and exact.is_finite()
        if finite and exact != exact.quantize(quantum, context=_WIDE):
            raise ConversionError(_rounded(name, target, f"more than {scale} decimal place(s)"))
        return value

    return check_decimal


def fits(source: ColumnType, target: ColumnType, digits: FractionDigits) -> bool:
    """Every value of ``source`` keeps its decimal places / fractional seconds in ``target``: no check needed."""
    if source.kind in (*_INTEGERS, "bool", "date"):
        return True
    if target.kind in _INTEGERS:
        return source.kind == "numeric" and source.scale == 0
    if target.kind == "numeric":
        return source.kind == "numeric" and source.scale is not None and source.scale <= (target.scale or 0)
    keeps = digits(target)
    if keeps is None:
        return True
    given = source_fraction_digits(source)
    return given is not None and given <= keeps


def source_fraction_digits(ctype: ColumnType) -> int | None:
    """Fractional second digits a source column's values may have: its declared ``(n)``, else the database's
    default (MySQL 0, every other 6); None for a type without them."""
    if ctype.kind not in _TEMPORAL:
        return None
    if ctype.precision is not None:
        return ctype.precision
    found = re.search(r"\((\d)\)", ctype.native)
    if found:
        return int(found.group(1))
    return 0 if ctype.dialect == "mysql" else 6


def _rounded(name: str, target: ColumnType, what: str) -> str:
    return (
        f"column {name}: a value has {what}, which the target's {target.native} would round without an error: "
        "round it in source_sql (e.g. ROUND(x, n) or a cast) or widen the target column; nothing was rounded and "
        "the chunk committed nothing"
    )
