"""Work a chunk or finalize need not repeat: what the plan established once is not asked again per task."""

from __future__ import annotations

import pytest

from airflow_mapper_provider.db import PgSession
from airflow_mapper_provider.finalizer import finalize_run
from airflow_mapper_provider.loader import ChunkJob
from airflow_mapper_provider.models import ChunkSpec
from airflow_mapper_provider.planner import plan_run
from tests.helpers import config, make_customers, rows, sessions

SQL = "SELECT customer_id, name, email, country, balance, created_at, active, birth, notes FROM customers"
EFF = "2026-06-01T00:00:00+00:00"


@pytest.fixture
def pk_asks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every PgSession.has_primary_key call (the catalog query a direct scd1 COPY depends on)."""
    calls: list[str] = []
    real = PgSession.has_primary_key

    def spy(self, table, keys):
        calls.append(str(table))
        return real(self, table, keys)

    monkeypatch.setattr(PgSession, "has_primary_key", spy)
    return calls


def load(cfg, pg_dbs, chunks, run_id: str = "r1"):
    with sessions(pg_dbs.source_uri, pg_dbs.target_uri) as (src, tgt):
        return [ChunkJob(cfg, ChunkSpec.from_dict(c), SQL, run_id, 1, src, tgt).run() for c in chunks]


def test_scd1_primary_key_is_checked_once_by_plan(pg_dbs, pk_asks):
    make_customers(pg_dbs.source_dsn, 5_000)
    cfg = config("scd1", "dw.pk_once")
    with sessions(pg_dbs.source_uri, pg_dbs.target_uri) as (src, tgt):
        chunks = plan_run(cfg, SQL, "r1", EFF, 1024, src, tgt)
    assert len(chunks) == 5 and {c["target_key_pk"] for c in chunks} == {True} and pk_asks == ["dw.pk_once"]
    results = load(cfg, pg_dbs, chunks)
    assert {r.path for r in results} == {"copy-direct"} and pk_asks == ["dw.pk_once"]  # no chunk asked again
    assert rows(pg_dbs.target_dsn, "SELECT count(*), count(DISTINCT customer_id) FROM dw.pk_once") == [(5_000, 5_000)]


def test_plan_of_an_earlier_version_still_works(pg_dbs, pk_asks):
    """A plan frozen by an earlier version has no target_key_pk: the chunk asks the target itself."""
    make_customers(pg_dbs.source_dsn, 2_000)
    cfg = config("scd1", "dw.pk_old")
    with sessions(pg_dbs.source_uri, pg_dbs.target_uri) as (src, tgt):
        chunks = [{k: v for k, v in c.items() if k != "target_key_pk"} for c in plan_run(cfg, SQL, "r1", EFF, 1024,
                                                                                        src, tgt)]  # fmt: skip
    pk_asks.clear()
    results = load(cfg, pg_dbs, chunks)
    assert {r.path for r in results} == {"copy-direct"} and len(pk_asks) == len(chunks)


def test_a_target_without_the_key_as_primary_key_is_staged(pg_dbs):
    """The plan's answer decides: no primary key on the key columns, so chunks stage (duplicates are checked)."""
    make_customers(pg_dbs.source_dsn, 2_000)
    with sessions(pg_dbs.source_uri, pg_dbs.target_uri) as (src, tgt):
        tgt.execute("CREATE SCHEMA IF NOT EXISTS dw")
        tgt.execute(
            "CREATE TABLE dw.pk_none (customer_id bigint, name text, email text, country char(2), "
            "balance numeric(12,2), created_at timestamptz, active boolean, birth date, notes varchar(200))"
        )
        tgt.execute("CREATE UNIQUE INDEX ON dw.pk_none (customer_id)")  # unique, but not the primary key
        tgt.commit()
        cfg = config("scd1", "dw.pk_none")
        chunks = plan_run(cfg, SQL, "r1", EFF, 1024, src, tgt)
    assert {c["target_key_pk"] for c in chunks} == {False}
    assert {r.path for r in load(cfg, pg_dbs, chunks)} == {"copy-stage"}


def test_finalize_after_a_plan_does_not_take_the_ddl_lock(pg_dbs, monkeypatch):
    make_customers(pg_dbs.source_dsn, 1_000)
    cfg = config("scd1", "dw.fin_quiet")
    with sessions(pg_dbs.source_uri, pg_dbs.target_uri) as (src, tgt):
        chunks = plan_run(cfg, SQL, "r1", EFF, 1024, src, tgt)
    load(cfg, pg_dbs, chunks)
    seen: list[str] = []
    real = PgSession.query

    def spy(self, sql, params=None):
        seen.append(sql)
        return real(self, sql, params)

    monkeypatch.setattr(PgSession, "query", spy)
    with sessions(pg_dbs.source_uri, pg_dbs.target_uri) as (_, tgt):
        summary = finalize_run(cfg, "r1", chunks, tgt)
    assert summary.status == "success" and summary.rows_read == 1_000
    assert not [s for s in seen if "airflow_mapper_provider.ddl" in s or "to_regclass" in s]


def test_finalize_after_a_failed_plan_creates_the_mapper_tables(pg_dbs):
    cfg = config("scd1", "dw.fin_noplan", metadata_schema="meta_noplan")
    with (
        sessions(pg_dbs.source_uri, pg_dbs.target_uri) as (_, tgt),
        pytest.raises(Exception, match="plan did not complete"),
    ):
        finalize_run(cfg, "r1", None, tgt)
    assert rows(pg_dbs.target_dsn, "SELECT status FROM meta_noplan.mapper_joblog WHERE run_id = 'r1'") == [("failed",)]
