"""The MySQL target's guard against silent rounding: which values it refuses, and where it needs no check."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from airflow_mapper_provider.dialects import Column, ColumnType
from airflow_mapper_provider.dialects.mysql_types import column_type, fraction_digits, guarded, rounding_check
from airflow_mapper_provider.exceptions import ConversionError


def test_decimals_beyond_the_scale_are_refused_and_others_pass_unchanged() -> None:
    check = rounding_check("amount", column_type("decimal(65,30)"))
    assert check is not None
    for fits in (Decimal("1.5"), Decimal("1.230000"), Decimal("-0." + "1" * 30), 3, None, 0.5, Decimal("NaN")):
        assert check(fits) is fits
    with pytest.raises(ConversionError, match="column amount: a value has more than 30 decimal place"):
        check(Decimal("0." + "1" * 31))
    cents = rounding_check("price", column_type("decimal(10,2)"))
    assert cents is not None and cents(0.25) == 0.25
    with pytest.raises(ConversionError, match="column price: a value has more than 2 decimal place"):
        cents(0.125)  # a float: its shortest decimal form is what MySQL would round


@pytest.mark.parametrize(("native", "digits"), [("datetime", 0), ("datetime(3)", 3), ("time(6)", 6), ("int(11)", None)])
def test_fraction_digits_of_mysql_types(native: str, digits: int | None) -> None:
    assert fraction_digits(column_type(native)) == digits


def test_fractional_seconds_beyond_the_column_are_refused() -> None:
    check = rounding_check("at", column_type("datetime(3)"))
    assert check is not None
    assert check(dt.datetime(2026, 1, 1, 10, 0, 0, 123000)) is not None
    with pytest.raises(ConversionError, match="more than 3 fractional second digit"):
        check(dt.datetime(2026, 1, 1, 10, 0, 0, 123400))
    assert rounding_check("at", column_type("datetime(6)")) is None  # keeps microseconds: nothing to refuse


def test_no_check_where_the_source_type_already_fits() -> None:
    target = column_type("decimal(12,2)")
    narrow = Column("a", ColumnType("numeric", "numeric(12,2)", "postgres", precision=12, scale=2))
    wide = Column("a", ColumnType("numeric", "numeric(12,4)", "postgres", precision=12, scale=4))
    free = Column("a", ColumnType("numeric", "numeric", "postgres"))
    assert guarded(narrow, None, target) is None
    assert guarded(wide, None, target) is not None and guarded(free, None, target) is not None
    stamp = Column("t", ColumnType("timestamp", "timestamp(0) without time zone", "postgres"))
    assert guarded(stamp, None, column_type("datetime")) is None
    assert guarded(Column("t", ColumnType("timestamp", "timestamp", "postgres")), None, column_type("datetime"))
