"""The guard against silent rounding at MySQL and Oracle targets: which values it refuses, where it needs no check."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from airflow_mapper_provider.dialects import Column, ColumnType
from airflow_mapper_provider.dialects import mysql_types as my
from airflow_mapper_provider.dialects import oracle_types as ora
from airflow_mapper_provider.dialects.rounding import guard, rounding_check
from airflow_mapper_provider.exceptions import ConversionError

PG_NUMERIC_12_2 = Column("a", ColumnType("numeric", "numeric(12,2)", "postgres", precision=12, scale=2))
PG_NUMERIC_12_4 = Column("a", ColumnType("numeric", "numeric(12,4)", "postgres", precision=12, scale=4))
PG_NUMERIC = Column("a", ColumnType("numeric", "numeric", "postgres"))
PG_TIMESTAMP = Column("t", ColumnType("timestamp", "timestamp without time zone", "postgres"))
PG_TIMESTAMP_0 = Column("t", ColumnType("timestamp", "timestamp(0) without time zone", "postgres"))


def test_decimals_beyond_the_scale_are_refused_and_others_pass_unchanged() -> None:
    check = rounding_check("amount", my.column_type("decimal(65,30)"), my.fraction_digits)
    assert check is not None
    for fits in (Decimal("1.5"), Decimal("1.230000"), Decimal("-0." + "1" * 30), 3, None, 0.5, Decimal("NaN")):
        assert check(fits) is fits
    with pytest.raises(ConversionError, match="column amount: a value has more than 30 decimal place"):
        check(Decimal("0." + "1" * 31))
    cents = rounding_check("price", my.column_type("decimal(10,2)"), my.fraction_digits)
    assert cents is not None and cents(0.25) == 0.25
    with pytest.raises(ConversionError, match="column price: a value has more than 2 decimal place"):
        cents(0.125)  # a float: its shortest decimal form is what the database would round


def test_a_fraction_into_an_integer_column_is_refused() -> None:
    check = rounding_check("qty", ora.from_catalog("NUMBER", 9, 0, None), ora.fraction_digits)
    assert check is not None and check(Decimal("7")) == Decimal("7") and check(Decimal("7.000")) == Decimal("7.000")
    with pytest.raises(ConversionError, match="column qty: a value has more than 0 decimal place"):
        check(Decimal("7.5"))


@pytest.mark.parametrize(("native", "digits"), [("datetime", 0), ("datetime(3)", 3), ("time(6)", 6), ("int(11)", None)])
def test_fraction_digits_of_mysql_types(native: str, digits: int | None) -> None:
    assert my.fraction_digits(my.column_type(native)) == digits


def test_fractional_seconds_beyond_the_column_are_refused() -> None:
    check = rounding_check("at", my.column_type("datetime(3)"), my.fraction_digits)
    assert check is not None
    assert check(dt.datetime(2026, 1, 1, 10, 0, 0, 123000)) is not None
    with pytest.raises(ConversionError, match="more than 3 fractional second digit"):
        check(dt.datetime(2026, 1, 1, 10, 0, 0, 123400))
    assert rounding_check("at", my.column_type("datetime(6)"), my.fraction_digits) is None  # keeps microseconds
    oracle_date = rounding_check("at", ora.from_catalog("DATE", None, None, None), ora.fraction_digits)
    assert oracle_date is not None  # an Oracle DATE keeps whole seconds
    with pytest.raises(ConversionError, match="more than 0 fractional second digit"):
        oracle_date(dt.datetime(2026, 1, 1, 10, 0, 0, 1))


def test_no_check_where_the_source_type_already_fits() -> None:
    decimal_12_2 = my.column_type("decimal(12,2)")
    assert guard(PG_NUMERIC_12_2, None, decimal_12_2, my.fraction_digits) is None
    assert guard(PG_NUMERIC_12_4, None, decimal_12_2, my.fraction_digits) is not None
    assert guard(PG_NUMERIC, None, decimal_12_2, my.fraction_digits) is not None
    assert guard(PG_TIMESTAMP_0, None, my.column_type("datetime"), my.fraction_digits) is None
    assert guard(PG_TIMESTAMP, None, my.column_type("datetime"), my.fraction_digits) is not None
    assert guard(PG_TIMESTAMP, None, my.column_type("datetime(6)"), my.fraction_digits) is None
    assert guard(PG_NUMERIC, None, None, my.fraction_digits) is None  # a column the target does not have


def test_the_check_runs_after_the_encoding() -> None:
    encoded = guard(PG_NUMERIC, lambda v: v * 10, my.column_type("decimal(10,1)"), my.fraction_digits)
    assert encoded is not None and encoded(Decimal("0.25")) == Decimal("2.50")
