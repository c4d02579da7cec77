"""source_sql is judged by the database's own parser, on real PostgreSQL and SQLite.

``validate_source_sql`` only drops surrounding whitespace and trailing ``;``. Every statement the mapper runs
embeds the query as a subquery, so valid SQL of any shape loads, and a second statement or DML is refused by the
database before anything runs; ``source_sql_checked_by_database`` turns that refusal into a ConfigError naming the
fix.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest

from airflow_mapper_provider._compat import AirflowFailException
from airflow_mapper_provider.config import MapperConfig, source_sql_checked_by_database, validate_source_sql
from airflow_mapper_provider.db import Session, connect
from airflow_mapper_provider.exceptions import ConfigError
from airflow_mapper_provider.finalizer import finalize_run
from airflow_mapper_provider.loader import ChunkJob
from airflow_mapper_provider.models import ChunkSpec
from airflow_mapper_provider.operators.common import airflow_errors
from airflow_mapper_provider.planner import plan_run
from tests.helpers import pg_exec, rows, sessions

EFFECTIVE = "2026-06-01T00:00:00+00:00"
SOURCE = [(1, "one"), (2, "two"), (3, "three")]
#: Valid on both databases; the old hand-written scanner refused the first.
PORTABLE_OK = [
    ("compact", "SELECT*FROM v", SOURCE),
    ("trailing semicolon", "SELECT id, a FROM v ;\n", SOURCE),
    ("trailing comment", "SELECT id, a FROM v -- every row; really", SOURCE),
    ("semicolon in a string", "SELECT id, 'x;y' AS a FROM v", [(i, "x;y") for i, _ in SOURCE]),
]
PG_OK = [
    ("dollar-quoted string with ;", "SELECT id, $$a;b$$ AS a FROM v", [(i, "a;b") for i, _ in SOURCE]),
    ("E'' string with \\' and ;", "SELECT id, E'a\\';b' AS a FROM v", [(i, "a';b") for i, _ in SOURCE]),
]
SQLITE_OK = [("bracket-quoted name with ;", "SELECT id, a FROM [v;2]", SOURCE)]
REFUSED = [
    ("two statements", "SELECT 1; SELECT 2"),
    ("DML", "DELETE FROM t RETURNING *"),
    ("DML inside WITH", "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d"),
]


def cfg(table: str) -> MapperConfig:
    return MapperConfig(source_conn_id="src", target_conn_id="tgt", target_table=table, mapref=f"sql.{table}",
                        key_columns=("id",), load_strategy="scd1")  # fmt: skip


def load(config: MapperConfig, sql: str, src: Session, tgt: Session) -> str:
    """plan -> every chunk -> finalize through the Airflow error boundary; returns the run's status."""
    with airflow_errors():
        chunks = plan_run(config, sql, "r1", EFFECTIVE, 1024, src, tgt)
        for c in chunks:
            ChunkJob(config, ChunkSpec.from_dict(c), sql, "r1", 1, src, tgt).run()
        return finalize_run(config, "r1", chunks, tgt).status


def describe_checked(src: Session, sql: str) -> None:
    """The plan's first statement on the source query, under the check the plan runs it with."""
    try:
        with source_sql_checked_by_database():
            src.describe(validate_source_sql(sql))
    finally:
        src.rollback()


# ---- PostgreSQL -------------------------------------------------------------------------------------------------


@pytest.fixture
def pg_source(pg_dbs):
    pg_exec(pg_dbs.source_dsn, "CREATE TABLE t (id bigint PRIMARY KEY, a text NOT NULL)")
    pg_exec(pg_dbs.source_dsn, "INSERT INTO t VALUES (1, 'one'), (2, 'two'), (3, 'three')")
    pg_exec(pg_dbs.source_dsn, "CREATE VIEW v AS SELECT id, a FROM t")
    with sessions(pg_dbs.source_uri, pg_dbs.target_uri) as (src, tgt):
        yield pg_dbs, src, tgt


@pytest.mark.parametrize(("what", "sql", "expected"), PORTABLE_OK + PG_OK, ids=[c[0] for c in PORTABLE_OK + PG_OK])
def test_postgres_loads_valid_sql(pg_source: Any, what: str, sql: str, expected: list[tuple[Any, ...]]) -> None:
    dbs, src, tgt = pg_source
    assert load(cfg("dw.t_ok"), sql, src, tgt) == "success"
    assert rows(dbs.target_dsn, "SELECT id, a FROM dw.t_ok ORDER BY id") == expected


@pytest.mark.parametrize(("what", "sql"), REFUSED, ids=[c[0] for c in REFUSED])
def test_postgres_refuses_non_queries_and_changes_nothing(pg_source: Any, what: str, sql: str) -> None:
    dbs, src, tgt = pg_source
    with pytest.raises(ConfigError) as info:
        describe_checked(src, sql)
    assert "source_sql must be a single SELECT statement" in str(info.value)
    assert "SQLSTATE 42601" in str(info.value) or "SQLSTATE 0A000" in str(info.value)
    with pytest.raises(AirflowFailException) as failed:  # the whole plan: fails at once, no retry spent
        load(cfg("dw.t_bad"), sql, src, tgt)
    assert "SQLSTATE 42601" in str(failed.value) or "SQLSTATE 0A000" in str(failed.value)
    assert rows(dbs.source_dsn, "SELECT id, a FROM t ORDER BY id") == SOURCE
    assert rows(dbs.target_dsn, "SELECT to_regclass('dw.t_bad')") == [(None,)]


def test_postgres_other_errors_pass_unchanged(pg_source: Any) -> None:
    """A missing table is not a shape problem: it keeps the database's own classification."""
    _, src, _ = pg_source
    with pytest.raises(psycopg.errors.UndefinedTable) as info:
        describe_checked(src, "SELECT * FROM no_such_table")
    assert not isinstance(info.value, ConfigError)
    assert getattr(info.value, "sqlstate", None) == "42P01"


# ---- SQLite -----------------------------------------------------------------------------------------------------


def sqlite_session(path: Path, role: str) -> Session:
    conn = SimpleNamespace(conn_id=role, conn_type="sqlite", host=str(path), schema=None, extra_dejson={})
    return connect(conn, role)


@pytest.fixture
def sqlite_dbs(tmp_path: Path) -> Iterator[tuple[Path, Session, Session]]:
    with sqlite3.connect(tmp_path / "src.db") as c:
        c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT NOT NULL)")
        c.executemany("INSERT INTO t VALUES (?, ?)", SOURCE)
        c.execute("CREATE VIEW v AS SELECT id, a FROM t")
        c.execute("CREATE VIEW [v;2] AS SELECT id, a FROM t")
    src, tgt = sqlite_session(tmp_path / "src.db", "source"), sqlite_session(tmp_path / "dw.db", "target")
    try:
        yield tmp_path, src, tgt
    finally:
        for s in (src, tgt):
            with contextlib.suppress(Exception):
                s.rollback()
            s.close()


def sqlite_rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(path)) as c:
        return c.execute(sql).fetchall()


@pytest.mark.parametrize(
    ("what", "sql", "expected"), PORTABLE_OK + SQLITE_OK, ids=[c[0] for c in PORTABLE_OK + SQLITE_OK]
)
def test_sqlite_loads_valid_sql(sqlite_dbs: Any, what: str, sql: str, expected: list[tuple[Any, ...]]) -> None:
    path, src, tgt = sqlite_dbs
    assert load(cfg("t_ok"), sql, src, tgt) == "success"
    got = sqlite_rows(path / "dw.db", "SELECT * FROM t_ok ORDER BY id")
    assert [(i, a) for i, a, *_ in got] == expected


@pytest.mark.parametrize(("what", "sql"), REFUSED, ids=[c[0] for c in REFUSED])
def test_sqlite_refuses_non_queries_and_changes_nothing(sqlite_dbs: Any, what: str, sql: str) -> None:
    path, src, tgt = sqlite_dbs
    with pytest.raises(ConfigError) as info:
        describe_checked(src, sql)
    assert "source_sql must be a single SELECT statement" in str(info.value)
    assert "SQLITE_ERROR" in str(info.value) and "syntax error" in str(info.value)
    with pytest.raises(AirflowFailException) as failed:  # the whole plan: fails at once, no retry spent
        load(cfg("t_bad"), sql, src, tgt)
    assert "syntax error" in str(failed.value)
    assert sqlite_rows(path / "src.db", "SELECT id, a FROM t ORDER BY id") == SOURCE
    assert sqlite_rows(path / "dw.db", "SELECT name FROM sqlite_master WHERE name = 't_bad'") == []


def test_sqlite_second_statement_after_the_subquery_is_refused_before_it_runs(sqlite_dbs: Any) -> None:
    """A query that closes the wrapping parenthesis itself: Python's sqlite3 refuses the second statement."""
    path, src, _ = sqlite_dbs
    with pytest.raises(ConfigError, match="the driver runs one statement at a time"):
        describe_checked(src, "SELECT 1 AS id) x; DELETE FROM t; SELECT * FROM (SELECT 1 AS id")
    assert sqlite_rows(path / "src.db", "SELECT id, a FROM t ORDER BY id") == SOURCE
