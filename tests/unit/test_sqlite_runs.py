"""Whole runs (plan -> every chunk -> finalize) on SQLite files, without Airflow: the pieces the unit tests pin
down one by one, checked together. No database server, no Airflow metadata database.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_mapper_provider.config import MapperConfig
from airflow_mapper_provider.db import Session, connect
from airflow_mapper_provider.finalizer import finalize_run
from airflow_mapper_provider.loader import ChunkJob
from airflow_mapper_provider.models import ChunkResult, ChunkSpec, RunSummary
from airflow_mapper_provider.planner import plan_run

SQL = "SELECT region, id, name FROM src"


def sqlite_session(path: Path, role: str) -> Session:
    """What db.connect gets from an Airflow sqlite connection (only these attributes are read)."""
    conn = SimpleNamespace(conn_id=role, conn_type="sqlite", host=str(path), schema=None, extra_dejson={})
    return connect(conn, role)


def make_source(path: Path, rows: list[tuple[str, int, str]]) -> None:
    with sqlite3.connect(path) as c:
        c.execute("DROP TABLE IF EXISTS src")
        c.execute("CREATE TABLE src (region TEXT, id INTEGER, name TEXT)")
        c.executemany("INSERT INTO src VALUES (?, ?, ?)", rows)


def run(tmp_path: Path, cfg: MapperConfig, run_id: str, eff: str) -> tuple[list[dict[str, Any]], RunSummary]:
    src, tgt = sqlite_session(tmp_path / "src.db", "source"), sqlite_session(tmp_path / "dw.db", "target")
    try:
        chunks = plan_run(cfg, SQL, run_id, eff, 1024, src, tgt)
        results: list[ChunkResult] = [
            ChunkJob(cfg, ChunkSpec.from_dict(c), SQL, run_id, 1, src, tgt).run() for c in chunks
        ]
        assert all(r.status == "success" for r in results)
        return chunks, finalize_run(cfg, run_id, chunks, tgt)
    finally:
        for s in (src, tgt):
            s.rollback()
            s.close()


def current_keys(tmp_path: Path, table: str, scd2: bool) -> set[tuple[str, int]]:
    where = " WHERE is_current = 1" if scd2 else ""
    with sqlite3.connect(tmp_path / "dw.db") as c:
        return {(r, i) for r, i in c.execute(f"SELECT region, id FROM {table}{where}")}


def config(strategy: str, keys: tuple[str, ...], **kw: Any) -> MapperConfig:
    values: dict[str, Any] = {
        "source_conn_id": "src",
        "target_conn_id": "dw",
        "target_table": f"t_{strategy}",
        "mapref": f"unit.t_{strategy}",
        "key_columns": keys,
        "load_strategy": strategy,
        "chunk_size": 100,
        "min_rows_for_parallel": 0,
        **kw,
    }
    return MapperConfig(**values)


ROWS = [(region, i, f"n{i}") for i in range(300) for region in ("DE", "FR")]


@pytest.mark.parametrize("strategy", ["scd1", "scd2"])
def test_detect_deletes_with_key_ranges(tmp_path: Path, strategy: str) -> None:
    """Single orderable key: range chunks; only keys gone from the source are deleted (scd1) or closed (scd2)."""
    rows = [("DE", i, f"n{i}") for i in range(600)]
    make_source(tmp_path / "src.db", rows)
    cfg = config(strategy, ("id",), detect_deletes=True)
    chunks, summary = run(tmp_path, cfg, "r1", "2026-01-01T00:00:00+00:00")
    assert {c["kind"] for c in chunks} == {"range"} and len(chunks) == 6
    assert (summary.status, summary.rows_inserted, summary.rows_deleted) == ("success", 600, 0)

    make_source(tmp_path / "src.db", [r for r in rows if r[1] % 10])  # 60 keys disappear
    _, summary = run(tmp_path, cfg, "r2", "2026-01-02T00:00:00+00:00")
    assert (summary.status, summary.rows_deleted) == ("success", 60)
    assert current_keys(tmp_path, cfg.target_table, strategy == "scd2") == {("DE", i) for i in range(600) if i % 10}


@pytest.mark.parametrize("strategy", ["scd1", "scd2"])
def test_detect_deletes_with_hash_chunks_keeps_every_source_row(tmp_path: Path, strategy: str) -> None:
    make_source(tmp_path / "src.db", ROWS)
    cfg = config(strategy, ("region", "id"), detect_deletes=True)
    chunks, summary = run(tmp_path, cfg, "r1", "2026-01-01T00:00:00+00:00")
    # buckets are picked in Python on the source only; deletes are decided by finalize from the keys every
    # chunk saw, so the target never has to compute a bucket
    assert {c["kind"] for c in chunks} == {"hash"} and len(chunks) == 6
    assert summary.rows_deleted == 0
    assert current_keys(tmp_path, cfg.target_table, strategy == "scd2") == {(r, i) for r, i, _ in ROWS}
    _, again = run(tmp_path, cfg, "r2", "2026-01-02T00:00:00+00:00")
    assert (again.rows_deleted, again.rows_unchanged) == (0, len(ROWS))
    gone = {(r, i) for r, i, _ in ROWS[::20]}
    with sqlite3.connect(tmp_path / "src.db") as c:
        c.executemany("DELETE FROM src WHERE region = ? AND id = ?", sorted(gone))
    _, third = run(tmp_path, cfg, "r3", "2026-01-03T00:00:00+00:00")
    assert third.rows_deleted == len(gone)
    left = {(r, i) for r, i, _ in ROWS} - gone
    assert current_keys(tmp_path, cfg.target_table, strategy == "scd2") == left


@pytest.mark.parametrize("strategy", ["scd1", "scd2"])
def test_hash_chunks_without_detect_deletes_load_every_row(tmp_path: Path, strategy: str) -> None:
    """The control for the test above: the same hash plan without detect_deletes is complete and idempotent."""
    make_source(tmp_path / "src.db", ROWS)
    cfg = config(strategy, ("region", "id"))
    chunks, summary = run(tmp_path, cfg, "r1", "2026-01-01T00:00:00+00:00")
    assert {c["kind"] for c in chunks} == {"hash"} and len(chunks) == 6
    assert (summary.status, summary.rows_read, summary.rows_inserted) == ("success", 600, 600)
    assert current_keys(tmp_path, cfg.target_table, strategy == "scd2") == {(r, i) for r, i, _ in ROWS}
    _, again = run(tmp_path, cfg, "r2", "2026-01-02T00:00:00+00:00")
    assert (again.rows_inserted, again.rows_updated, again.rows_unchanged) == (0, 0, 600)


@pytest.mark.parametrize("strategy", ["scd1", "scd2", "append"])
def test_sqlite_target_rejects_refused_rows_under_savepoints(tmp_path: Path, strategy: str) -> None:
    """SQLite target with a CHECK and a NOT NULL: refused rows go to mapper_rejects, the rest commits."""
    make_source(tmp_path / "src.db", [("eu", i, f"n{i}") for i in range(1, 301)])
    with sqlite3.connect(tmp_path / "src.db") as c:
        c.execute("UPDATE src SET name = 'BAD' WHERE id IN (7, 150)")
        c.execute("UPDATE src SET name = NULL WHERE id = 299")
    extra = ", valid_from TEXT, valid_to TEXT, is_current BOOLEAN, row_hash TEXT" if strategy == "scd2" else ""
    with sqlite3.connect(tmp_path / "dw.db") as c:
        c.execute(f"CREATE TABLE dim (region TEXT, id INTEGER, name TEXT NOT NULL CHECK (name <> 'BAD'){extra})")
    keys = () if strategy == "append" else ("region", "id")
    cfg = config(strategy, keys, max_error_rows=3, target_table="dim")
    _, summary = run(tmp_path, cfg, "r1", "2026-01-01T00:00:00+00:00")
    assert (summary.rows_read, summary.rows_inserted, summary.rows_rejected) == (300, 297, 3)
    with sqlite3.connect(tmp_path / "dw.db") as c:
        assert c.execute("SELECT count(*) FROM dim").fetchone() == (297,)
        got = c.execute("SELECT key_values, error_code FROM mapper_rejects ORDER BY rowid").fetchall()
    codes = sorted(code for _, code in got)
    assert codes == ["SQLITE_CONSTRAINT_CHECK", "SQLITE_CONSTRAINT_CHECK", "SQLITE_CONSTRAINT_NOTNULL"]
    if keys:
        assert sorted(k for k, _ in got) == sorted(f'{{"region":"eu","id":{i}}}' for i in (7, 150, 299))


def test_sqlite_over_budget_commits_nothing(tmp_path: Path) -> None:
    from airflow_mapper_provider.exceptions import DataError

    make_source(tmp_path / "src.db", [("eu", i, "BAD" if i % 50 == 0 else f"n{i}") for i in range(1, 301)])
    with sqlite3.connect(tmp_path / "dw.db") as c:
        c.execute("CREATE TABLE dim (region TEXT, id INTEGER, name TEXT CHECK (name <> 'BAD'))")
    with pytest.raises(DataError, match="max_error_rows=5"):
        run(
            tmp_path,
            config("scd1", ("region", "id"), max_error_rows=5, target_table="dim", chunk_size=1000),
            "r1",
            "2026-01-01T00:00:00+00:00",
        )
    with sqlite3.connect(tmp_path / "dw.db") as c:
        assert c.execute("SELECT count(*) FROM dim").fetchone() == (0,)
        assert c.execute("SELECT count(*) FROM mapper_rejects").fetchone() == (0,)
