"""Into an existing MariaDB/MySQL target whose DECIMAL or DATETIME keeps fewer digits than the source's values:
MySQL rounds those values and only notes it (strict mode or not), so the mapper refuses them instead; values that
fit load exactly (real PostgreSQL source, real MariaDB target)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from airflow_mapper_provider.exceptions import ConversionError
from tests.helpers import config, pg_exec, run_all
from tests.mysqlserver import mysql_db_fixture, mysql_server_fixture  # noqa: F401

pytestmark = pytest.mark.mysql

SQL = "SELECT id, amount, at FROM s"
TARGET = "CREATE TABLE t (id BIGINT PRIMARY KEY, amount DECIMAL(10,2), at DATETIME)"


def _load(pg_dbs, mysql_server, mysql_db, strategy: str, rows: str) -> None:
    pg_exec(pg_dbs.source_dsn, "CREATE TABLE s (id bigint PRIMARY KEY, amount numeric(12,4), at timestamp)")
    pg_exec(pg_dbs.source_dsn, f"INSERT INTO s VALUES {rows}")
    mysql_server.run(mysql_db, TARGET)
    cfg = config(strategy, "t", ("id",), min_rows_for_parallel=0, on_schema_change="ignore")
    run_all(cfg, pg_dbs.source_uri, mysql_server.uri(mysql_db), "r1", SQL)


@pytest.mark.parametrize("strategy", ["append", "scd1"])
@pytest.mark.parametrize(
    ("rows", "column"),
    [
        ("(1, 1.2345, '2026-01-01 10:00:00'), (2, 2.5, '2026-01-01 10:00:00')", "amount"),
        ("(1, 1.25, '2026-01-01 10:00:00.5'), (2, 2.5, '2026-01-01 10:00:00')", "at"),
    ],
    ids=["decimal-places", "fractional-seconds"],
)
def test_a_value_the_target_would_round_fails_the_chunk(pg_dbs, mysql_server, mysql_db, strategy, rows, column):
    with pytest.raises(ConversionError, match=rf"column {column}: a value has more than .* round it in source_sql"):
        _load(pg_dbs, mysql_server, mysql_db, strategy, rows)
    assert mysql_server.run(mysql_db, "SELECT * FROM t") == []  # nothing rounded, nothing committed


def test_values_that_fit_load_exactly(pg_dbs, mysql_server, mysql_db):
    _load(pg_dbs, mysql_server, mysql_db, "scd1", "(1, 1.2300, '2026-01-01 10:00:00'), (2, -2.5, NULL)")
    assert mysql_server.run(mysql_db, "SELECT * FROM t ORDER BY id") == [
        (1, Decimal("1.23"), dt.datetime(2026, 1, 1, 10, 0)), (2, Decimal("-2.50"), None),
    ]  # fmt: skip
