"""Names: derived names fit the identifier limit for 63-character inputs; targets that cannot work are refused at
parse time (MapperConfig) with a message naming the fix."""

from __future__ import annotations

import re
from typing import Any

import pytest

from airflow_mapper_provider.config import MapperConfig
from airflow_mapper_provider.dialects import PostgresDialect, SqliteDialect
from airflow_mapper_provider.exceptions import ConfigError
from airflow_mapper_provider.identifiers import (
    MAX_IDENTIFIER,
    TableName,
    derived_name,
    fit_identifier,
    index_name,
    validate_column_name,
    validate_identifier,
    validate_schema,
)
from airflow_mapper_provider.strategies.base import DELTA, RN, STAGE
from airflow_mapper_provider.strategies.deletes import SeenKeys

LONG_T, LONG_K, LONG_S = "t" * 63, "k" * 63, "s" * 63


def _dialects() -> list[Any]:

    return [PostgresDialect(), SqliteDialect()]


@pytest.mark.parametrize(
    ("base", "suffix"),
    [
        ("dim_customer", "key_ix"),  # short: unchanged
        (LONG_T, "key_from_ux"),
        (LONG_T, "current_ux"),
        ("t" * 52, "key_ix"),  # the 52..63 range that used to fail at plan time
        (STAGE, LONG_K),  # a temp-table index on a 63-character column
        (LONG_T, LONG_K),
        ("x", "y" * 70),
    ],
)
def test_derived_names_fit_and_stay_plain_identifiers(base: str, suffix: str) -> None:
    name = derived_name(base, suffix)
    assert len(name) <= MAX_IDENTIFIER
    assert validate_identifier(name) == name
    assert derived_name(base, suffix) == name  # stable: the same inputs, the same name, on every run
    if len(f"{base}_{suffix}") <= MAX_IDENTIFIER:
        assert name == f"{base}_{suffix}"
    else:
        assert name.startswith(base[:8])


def test_derived_names_of_different_inputs_differ() -> None:
    """Two long tables sharing their first 50 characters (one schema: index names share its namespace)."""
    a, b = "a" * 50 + "_orders_current", "a" * 50 + "_orders_history"
    names = {derived_name(t, s) for t in (a, b) for s in ("key_from_ux", "current_ux", "key_ix")}
    assert len(names) == 6
    cols = {derived_name(STAGE, "c" * 60 + suffix) for suffix in ("_a", "_b", "_c")}
    assert len(cols) == 3


def test_index_name_keeps_its_former_shape() -> None:
    """index_name delegates to derived_name: short names unchanged, long ones <cut table>_<digest>_<suffix>."""
    assert index_name("dim_customer", "key_ix") == "dim_customer_key_ix"
    long = index_name(LONG_T, "key_from_ux")
    assert len(long) == 63 and long.endswith("_key_from_ux")
    assert re.fullmatch(r"t+_[0-9a-f]{8}_key_from_ux", long)


def test_fit_identifier() -> None:
    assert fit_identifier("mapper_salvage") == "mapper_salvage"
    long = fit_identifier("p" * 80)
    assert len(long) == 63 and validate_identifier(long) == long and long != fit_identifier("p" * 81)


@pytest.mark.parametrize("dialect", _dialects(), ids=lambda d: d.name)
def test_every_derived_name_in_sql_fits_for_63_character_names(dialect: Any) -> None:
    """The temp-table index, the savepoint and the key table's index, built by the dialect for 63-character table,
    column and schema names: each quoted name fits (quote() would refuse a longer one)."""
    statements = [
        dialect.create_temp_index_sql(STAGE, LONG_K),
        dialect.create_temp_index_sql(DELTA, RN),
        *dialect.number_rows_sql(STAGE, STAGE + "_n", RN, "mapper_ok"),
        dialect.savepoint_sql("set", "mapper_" + "x" * 60),
        *SeenKeys(dialect, TableName(LONG_T, LONG_S), [LONG_K], LONG_S, "mapref." + "m" * 200).create_sql(),
        dialect.create_index_sql(TableName(LONG_T, LONG_S), index_name(LONG_T, "key_from_ux"), [LONG_K]),
    ]
    names = [n for sql in statements for n in re.findall(r'"([^"]*)"', sql)]
    assert names and all(len(n) <= MAX_IDENTIFIER for n in names), [n for n in names if len(n) > MAX_IDENTIFIER]
    index = re.search(r'CREATE INDEX "([^"]+)"', statements[0])
    assert index is not None and len(index.group(1)) <= MAX_IDENTIFIER and index.group(1).startswith(STAGE)


# ---- parse time: targets that cannot work ------------------------------------------------------------------------

BASE: dict[str, Any] = {"source_conn_id": "s", "target_conn_id": "t", "mapref": "m", "key_columns": ("id",)}


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("mapper_stage", "reserved for the mapper's own tables"),  # would resolve to the chunk's temp table
        ("dw.mapper_joblog", "reserved for the mapper's own tables"),  # the job log itself
        ("dw.MAPPER_Keys_1", "reserved for the mapper's own tables"),
        ("pg_temp.dim", "reserves it for itself"),  # a temp table: the loaded rows vanish with the session
        ("pg_catalog.dim", "reserves it for itself"),
        ("information_schema.dim", "reserves it for itself"),
        ("temp.dim", "reserves it for itself"),  # SQLite's temp database
        ("dw." + "t" * 64, "at most 63 characters"),
        ("s" * 64 + ".t", "at most 63 characters"),
    ],
)
def test_targets_that_cannot_work_are_refused_at_parse_time(target: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        MapperConfig(**BASE, target_table=target)


@pytest.mark.parametrize("target", [f"{LONG_S}.{LONG_T}", LONG_T, "dw.dim_mapper", "dw.mappers", "pgx.t", "tempo.t"])
def test_long_and_near_miss_targets_are_accepted(target: str) -> None:
    assert str(MapperConfig(**BASE, target_table=target).table) == target


def test_schema_and_column_checks() -> None:
    assert validate_schema("dw") == "dw"
    with pytest.raises(ConfigError, match="use a schema of your own"):
        validate_schema("pg_toast")
    assert validate_column_name(LONG_K) == LONG_K
    for name in ("mapper_rn", "Mapper_OK", "mapper_run"):
        with pytest.raises(ConfigError, match="reserved for the mapper's own columns"):
            validate_column_name(name, "key column")
