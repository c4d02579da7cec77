"""Benchmark data: the source table, its 1% changes, and the database server.

The source is ``customers`` (10 columns of mixed types, as ``tests/helpers.py`` makes them) plus ``updated_at``
(timestamptz, indexed): the KEY checkpoint column. Everything is generated in SQL (``generate_series``).
"""

from __future__ import annotations

import datetime as dt
import platform
from dataclasses import dataclass
from typing import Any

import psycopg

from tests.pgserver import PgServer

#: The benchmark's source query (every method reads exactly these columns).
COLUMNS = "customer_id, name, email, country, balance, created_at, active, birth, notes, updated_at"
SOURCE_SQL = f"SELECT {COLUMNS} FROM customers"
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)

DDL = """
CREATE TABLE {table} (
    customer_id bigint PRIMARY KEY, name text NOT NULL, email text, country char(2),
    balance numeric(12,2), created_at timestamptz, active boolean, birth date, notes varchar(200),
    updated_at timestamptz NOT NULL
)"""

FILL = """
INSERT INTO {table}
SELECT g, 'name ' || g, CASE WHEN g %% 7 = 0 THEN NULL ELSE 'e' || g || '@example.org' END,
       (ARRAY['DE','FR','US','GB'])[1 + g %% 4], (g %% 100000) / 100.0,
       timestamptz '2026-01-01 00:00:00+00' + (g || ' min')::interval, g %% 2 = 0,
       date '1970-01-01' + (g %% 20000)::int, repeat('x', (g %% 50)::int),
       timestamptz '2026-01-01 00:00:00+00' + (g %% 86400 || ' s')::interval
FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) g"""


@dataclass(frozen=True)
class Dbs:
    """The benchmark's databases on one server: source and target DSNs."""

    server: PgServer
    source: str
    target: str


def execute(dsn: str, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    """Run one statement in autocommit; return its rows (if any)."""
    with psycopg.connect(dsn, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return list(cur.fetchall()) if cur.description else []


def make_source(dsn: str, rows: int, table: str = "customers") -> None:
    """Create and fill ``table`` with ``rows`` rows, index ``updated_at``, VACUUM ANALYZE."""
    execute(dsn, f"DROP TABLE IF EXISTS {table}")
    execute(dsn, DDL.format(table=table))
    execute(dsn, FILL.format(table=table), {"lo": 1, "hi": rows})
    execute(dsn, f"CREATE INDEX ON {table} (updated_at)")
    execute(dsn, f"VACUUM ANALYZE {table}")


def change_one_percent(dsn: str, round_no: int) -> int:
    """Change 1% of the rows (a different 1% each round) and move their ``updated_at`` past every earlier value.

    :return: the number of rows changed.
    """
    at = T0 + dt.timedelta(days=10 + round_no)
    sql = (
        "UPDATE customers SET balance = balance + 1, updated_at = %(at)s "
        "WHERE customer_id %% 100 = %(r)s RETURNING customer_id"
    )
    changed = len(execute(dsn, sql, {"at": at, "r": round_no % 100}))
    execute(dsn, "VACUUM ANALYZE customers")
    return changed


def reset_target(dsn: str) -> None:
    """Drop everything the loads created in the target (schema ``dw``)."""
    execute(dsn, "DROP SCHEMA IF EXISTS dw CASCADE")
    execute(dsn, "CREATE SCHEMA dw")


def machine(dsn: str) -> dict[str, Any]:
    """Cores, RAM, PostgreSQL and Python versions."""
    import os

    import psutil

    version = execute(dsn, "SHOW server_version")[0][0]
    settings = dict(execute(dsn, "SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'shared_buffers', "
                                 "'work_mem', 'synchronous_commit')"))  # fmt: skip
    return {
        "cores": os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": platform.processor() or platform.machine(),
        "postgresql": version,
        "pg_settings": settings,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "code": _code_version(),
    }


def _code_version() -> str:
    """The commit measured, and whether the provider had uncommitted changes (others edit the tree too)."""
    import subprocess

    def git(*argv: str) -> str:
        out = subprocess.run(["git", *argv], capture_output=True, text=True, check=False)
        return out.stdout.strip()

    dirty = git("status", "--porcelain", "--", "airflow_mapper_provider")
    return git("rev-parse", "--short", "HEAD") + (" + uncommitted provider changes" if dirty else "")
