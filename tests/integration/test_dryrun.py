"""The dry run: every statement plan, a chunk and finalize would run, rendered for the connections' dialects, with
nothing written (real PostgreSQL and SQLite; Oracle as a dialect with no connection)."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlglot

from airflow_mapper_provider.dialects import Column, ColumnType, PostgresDialect
from airflow_mapper_provider.dialects.oracle import OracleDialect
from airflow_mapper_provider.dryrun import Recorder, Script, dry_run
from tests.helpers import CUSTOMER_COLUMNS, config, make_customers, rows, sessions

REPO = Path(__file__).resolve().parents[2]
SQL = f"SELECT {CUSTOMER_COLUMNS} FROM customers"


def _phases(script: Script) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for st in script.statements:
        out.setdefault(st.phase.split(" (")[0], []).append(st.sql)
    return out


@pytest.mark.parametrize("strategy", ["scd1", "scd2"])
def test_postgres_dry_run_renders_every_phase_and_writes_nothing(pg_dbs, strategy: str) -> None:
    make_customers(pg_dbs.source_dsn, 500)
    tables = (
        "SELECT count(*) FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
    )
    before = rows(pg_dbs.target_dsn, tables)
    cfg = config(strategy, "dw.dim_customer")
    with sessions(pg_dbs.source_uri, pg_dbs.target_uri) as (src, tgt):
        script = Script()
        dry_run(cfg, SQL, Recorder(src.dialect, script, src), Recorder(tgt.dialect, script, tgt))
    phases = _phases(script)
    assert list(phases) == ["plan", "load_chunk", "finalize"]
    assert any(s.startswith('CREATE TABLE "dw"."dim_customer"') for s in phases["plan"])
    assert any(s.startswith('CREATE TABLE "dw"."mapper_joblog"') for s in phases["plan"])
    # PostgreSQL to PostgreSQL: the binary COPY relay, source side and target side (scd1: straight into the new
    # table, its primary key being the key; scd2 into staging: the dry run does not know the created table's types
    # as the database will report them, so it shows the staged path)
    into = '"dw"."dim_customer"' if strategy == "scd1" else '"mapper_stage"'
    assert any(s.startswith("COPY (SELECT") and s.endswith("TO STDOUT (FORMAT BINARY)") for s in phases["load_chunk"])
    assert any(re.match(rf"COPY {into} \(.*\) FROM STDIN \(FORMAT BINARY\)", s) for s in phases["load_chunk"])
    assert any(s.startswith('INSERT INTO "dw"."mapper_chunklog"') for s in phases["load_chunk"])
    assert any(s.startswith('INSERT INTO "dw"."mapper_joblog"') for s in phases["finalize"]), phases["finalize"]
    assert "%(mapref)s" in script.render()  # bind placeholders as the driver takes them, never values
    assert rows(pg_dbs.target_dsn, tables) == before  # nothing was created, nothing written
    assert rows(pg_dbs.target_dsn, "SELECT to_regnamespace('dw') IS NULL") == [(True,)]


def test_dry_run_for_oracle_renders_oracle_sql_without_a_connection() -> None:
    """Oracle as the target, described without a server (the columns given): its statements are Oracle's."""
    columns = [Column("customer_id", ColumnType("bigint")), Column("name", ColumnType("varchar", length=80)),
               Column("balance", ColumnType("numeric", precision=12, scale=2))]  # fmt: skip
    cfg = config("scd2", "dw.dim_customer", chunk_size=None, min_rows_for_parallel=0)
    script = Script()
    source = Recorder(PostgresDialect(), script, columns=columns)
    dry_run(cfg, "SELECT customer_id, name, balance FROM crm.customers", source, Recorder(OracleDialect(), script))
    text = script.render()
    assert 'CREATE TABLE "DW"."DIM_CUSTOMER"' in text and "NUMBER(1)" in text  # folded names, NUMBER(1) booleans
    assert "CREATE PRIVATE TEMPORARY TABLE" in text
    assert re.search(r'CREATE UNIQUE INDEX "DW"\."\w+" ON "DW"\."DIM_CUSTOMER" \(CASE WHEN', text)  # one current row
    oracle = [s.sql for s in script.statements if s.phase != "plan" or not s.sql.startswith("SELECT mapper_src")]
    readable = [s for s in oracle if not re.match(r"(CREATE PRIVATE|EXPLAIN|CREATE (UNIQUE )?INDEX \"\w+\"\.|SAVEPOINT"
                                                   r"|COMMIT|ROLLBACK|--|COPY)", s)]  # fmt: skip
    assert readable
    for sql in readable:  # each statement that sqlglot's Oracle dialect can read at all, it reads
        sqlglot.parse_one(re.sub(r":(\w+)", r":\1", sql), read="oracle")


def test_dry_run_command_on_the_demo_dag(tmp_path: Path) -> None:
    src, dw = tmp_path / "src.db", tmp_path / "dw.db"
    with sqlite3.connect(src) as conn:
        conn.execute("CREATE TABLE customers (customer_id INTEGER PRIMARY KEY, name TEXT, email TEXT, country TEXT, "
                     "balance NUMERIC(12,2), updated_at TIMESTAMP)")  # fmt: skip
    env = {
        **os.environ,
        "AIRFLOW_CONN_MAPPER_DEMO_SRC": f"sqlite:///{src}",
        "AIRFLOW_CONN_MAPPER_DEMO_DW": f"sqlite:///{dw}",
    }
    command = [sys.executable, "-m", "airflow_mapper_provider.dryrun", "dags/mapper_demo.py"]
    done = subprocess.run([*command, "load_customers"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    for phase in ("plan", "load_chunk (chunk 1/1 all rows)", "finalize"):
        assert f"-- ==== {phase} " in out
    assert 'CREATE TABLE "dim_customer"' in out and '"valid_from" TIMESTAMPTZ' in out
    assert 'INSERT INTO "mapper_stage"' in out and "--   binds: p0, p1" in out
    with sqlite3.connect(dw) as conn:  # SQLite makes the file on connect; nothing is written into it
        assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)
    wrong = subprocess.run([*command, "nope"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert wrong.returncode != 0 and "it has: load_customers" in wrong.stderr
