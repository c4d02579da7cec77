"""The mapper tables of an earlier version gain the columns this version writes (upgrades need no manual DDL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_mapper_provider.db import Session
from airflow_mapper_provider.state.tables import JOBLOG_COLUMNS, LOCK_COLUMNS, MapperTables
from tests.helpers import config, make_customers, pg_exec, run_all, sessions
from tests.pgserver import PgDatabases

_TABLES = ("mapper_joblog", "mapper_chunklog", "mapper_checkpoint", "mapper_lock", "mapper_rejects")


def _columns(sess: Session, table: str) -> set[str]:
    return {c.name for c in sess.describe(f"SELECT * FROM {table}")}


def _old_layout(sess: Session) -> None:
    """Create the tables, then drop the columns an earlier version did not have (the newest columns)."""
    MapperTables(None).ensure(sess)
    sess.execute("ALTER TABLE mapper_joblog DROP COLUMN plan_json, DROP COLUMN message")
    sess.execute("ALTER TABLE mapper_lock DROP COLUMN acquired_at")
    sess.commit()


@pytest.mark.pg
def test_existing_postgres_mapper_tables_gain_missing_columns(pg_dbs: PgDatabases) -> None:
    with sessions(pg_dbs.source_uri, pg_dbs.target_uri) as (_, tgt):
        _old_layout(tgt)
        assert "plan_json" not in _columns(tgt, "mapper_joblog")
        pg_exec(pg_dbs.target_dsn, "INSERT INTO mapper_joblog (mapref, run_id, status) VALUES ('old', 'r0', 'success')")
        MapperTables(None).ensure(tgt)
        tgt.commit()
        assert _columns(tgt, "mapper_joblog") == {name for name, _ in JOBLOG_COLUMNS}
        assert _columns(tgt, "mapper_lock") == {name for name, _ in LOCK_COLUMNS}
    # the earlier version's row is still there, its new columns NULL; a run on the upgraded tables works
    assert pg_exec(pg_dbs.target_dsn, "SELECT status, plan_json FROM mapper_joblog WHERE mapref = 'old'") == [
        ("success", None)
    ]
    make_customers(pg_dbs.source_dsn, 1_000)
    cfg = config("scd1", "dw_customers")
    _, _, summary = run_all(cfg, pg_dbs.source_uri, pg_dbs.target_uri, "r1", "SELECT * FROM customers")
    assert summary.status == "success" and summary.rows_inserted == 1_000


def test_existing_sqlite_mapper_tables_gain_missing_columns(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'dw.db'}"
    with sessions(uri, uri) as (_, tgt):
        MapperTables(None).ensure(tgt)
        tgt.execute("ALTER TABLE mapper_joblog DROP COLUMN plan_json")
        tgt.commit()
        MapperTables(None).ensure(tgt)
        tgt.commit()
        assert {n for n, _ in JOBLOG_COLUMNS} <= _columns(tgt, "mapper_joblog")
        assert set(_TABLES) <= {r[0] for r in tgt.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
