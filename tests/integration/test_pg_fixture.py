"""The PostgreSQL fixtures give two distinct, usable databases."""

from __future__ import annotations

import psycopg
import pytest

from tests.pgserver import PgDatabases


@pytest.mark.pg
def test_source_and_target_are_distinct_databases(pg_dbs: PgDatabases) -> None:
    with psycopg.connect(pg_dbs.source_dsn) as conn:
        conn.execute("CREATE TABLE fixture_probe (id integer PRIMARY KEY, name text NOT NULL)")
        conn.execute("INSERT INTO fixture_probe VALUES (1, 'a'), (2, 'b'), (3, 'c')")
        conn.commit()
        rows = conn.execute("SELECT id, name FROM fixture_probe ORDER BY id").fetchall()
        source_db = conn.execute("SELECT current_database()").fetchone()
    assert rows == [(1, "a"), (2, "b"), (3, "c")]

    with psycopg.connect(pg_dbs.target_dsn) as conn:
        target_db = conn.execute("SELECT current_database()").fetchone()
        probe = conn.execute("SELECT to_regclass('fixture_probe')").fetchone()
    assert source_db is not None and target_db is not None
    assert (source_db[0], target_db[0]) == (pg_dbs.source_db, pg_dbs.target_db)
    assert source_db[0] != target_db[0]
    assert probe == (None,)
