"""The PostgreSQL integration scenarios against a real Oracle: Oracle as source (PostgreSQL target), Oracle as
target (PostgreSQL source), and Oracle to Oracle. scd1/scd2/append end states, the KEY checkpoint, rejects, a chunk
failing midway, a chunk stopped mid-read and run again. Skipped (one reason) unless MAPPER_TEST_ORACLE_DSN is set.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from typing import Any

import pytest

from airflow_mapper_provider.loader import ChunkJob
from airflow_mapper_provider.models import ChunkSpec
from airflow_mapper_provider.planner import plan_run
from tests.helpers import CUSTOMER_COLUMNS, add_customers, config, make_customers, pg_exec, rows, run_all, sessions
from tests.oracle.support import ENV, SKIP_REASON, OracleDb, normalized

if not os.environ.get(ENV):
    pytest.skip(SKIP_REASON, allow_module_level=True)

RUN1, RUN2, RUN3 = "2026-06-01T00:00:00+00:00", "2026-06-02T00:00:00+00:00", "2026-06-03T00:00:00+00:00"


def ora_sql(table: str) -> str:
    return f"SELECT {CUSTOMER_COLUMNS} FROM {table}"


def pg_customers(dsn: str, table: str, where: str = "") -> list[tuple[Any, ...]]:
    cond = f" WHERE {where}" if where else ""
    return [normalized(r) for r in rows(dsn, f"SELECT {CUSTOMER_COLUMNS} FROM {table}{cond} ORDER BY 1")]


def cfg_for(strategy: str, table: str, **kw: Any) -> Any:
    return config(strategy, table, chunk_size=1_000, min_rows_for_parallel=2_000, **kw)


# ---- Oracle source, PostgreSQL target -------------------------------------------------------------------------


def test_scd1_oracle_to_pg_exact_types_and_lower_case_names(ora: OracleDb, pg_dbs: Any) -> None:
    src = ora.make_customers(6_000)
    cfg = cfg_for("scd1", "dw.dim_customer")
    chunks, _, s1 = run_all(cfg, ora.uri, pg_dbs.target_uri, "r1", ora_sql(src))
    assert len(chunks) >= 4 and s1.status == "success" and s1.rows_read == s1.rows_inserted == 6_000
    assert pg_customers(pg_dbs.target_dsn, "dw.dim_customer") == ora.customers(src)
    types = dict(rows(pg_dbs.target_dsn, "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                                         "WHERE attrelid = 'dw.dim_customer'::regclass AND attnum > 0"))  # fmt: skip
    assert types["customer_id"] == "numeric(19,0)" and types["balance"] == "numeric(12,2)"
    assert types["created_at"] == "timestamp with time zone" and types["birth"].startswith("timestamp")
    assert types["country"] == "character(2)" and types["notes"] == "character varying(200)"

    ora.exec(f"UPDATE {src} SET balance = balance + 1 WHERE MOD(customer_id, 100) = 0")
    ora.exec(f"UPDATE {src} SET email = NULL WHERE customer_id IN (1, 2, 3)")
    ora.add_customers(src, 6_001, 6_500)
    _, _, s2 = run_all(cfg, ora.uri, pg_dbs.target_uri, "r2", ora_sql(src), RUN2)
    assert (s2.rows_read, s2.rows_inserted, s2.rows_updated) == (6_500, 500, 63)
    assert pg_customers(pg_dbs.target_dsn, "dw.dim_customer") == ora.customers(src)


def test_scd2_oracle_to_pg_keeps_history(ora: OracleDb, pg_dbs: Any) -> None:
    src = ora.make_customers(4_000)
    cfg = cfg_for("scd2", "dw.dim_hist")
    run_all(cfg, ora.uri, pg_dbs.target_uri, "r1", ora_sql(src), RUN1)
    ora.exec(f"UPDATE {src} SET balance = balance + 1 WHERE customer_id <= 50")
    _, _, s2 = run_all(cfg, ora.uri, pg_dbs.target_uri, "r2", ora_sql(src), RUN2)
    assert (s2.rows_inserted, s2.rows_updated) == (0, 50)
    assert pg_customers(pg_dbs.target_dsn, "dw.dim_hist", "is_current") == ora.customers(src)
    assert rows(pg_dbs.target_dsn, "SELECT count(*) FROM dw.dim_hist") == [(4_050,)]


@pytest.mark.parametrize("chunk_by", ["auto", "rowid"])
def test_append_oracle_to_pg(ora: OracleDb, pg_dbs: Any, chunk_by: str) -> None:
    src = ora.make_customers(5_000)
    cfg = cfg_for("append", "dw.fact_customer", chunk_by=chunk_by)
    chunks, _, s = run_all(cfg, ora.uri, pg_dbs.target_uri, "r1", ora_sql(src))
    assert s.rows_read == s.rows_inserted == 5_000 and len(chunks) >= 2
    assert all(c["snapshot"] for c in chunks)  # one SCN for every chunk of the run
    if chunk_by == "rowid":
        assert {c["kind"] for c in chunks} == {"rowid"}
    assert pg_customers(pg_dbs.target_dsn, "dw.fact_customer") == ora.customers(src)


def test_key_checkpoint_oracle_to_pg_reads_only_changes(ora: OracleDb, pg_dbs: Any) -> None:
    acc = ora.name("accounts")
    ora.exec(f"CREATE TABLE {acc} (id NUMBER(10) PRIMARY KEY, balance NUMBER(12,2), "
             "updated_at TIMESTAMP(6) WITH TIME ZONE NOT NULL)")  # fmt: skip
    ora.exec(f"INSERT INTO {acc} SELECT LEVEL, LEVEL, TIMESTAMP '2026-03-01 00:00:00 +00:00' + "
             "NUMTODSINTERVAL(LEVEL, 'SECOND') FROM dual CONNECT BY LEVEL <= 3000")  # fmt: skip
    sql = f"SELECT id, balance, updated_at FROM {acc}"
    cfg = cfg_for("scd1", "dw.acc", keys=("id",), checkpoint_column="updated_at")
    _, _, s1 = run_all(cfg, ora.uri, pg_dbs.target_uri, "r1", sql, RUN1)
    assert s1.rows_read == 3_000
    ora.exec(f"UPDATE {acc} SET balance = balance + 1, updated_at = TIMESTAMP '2026-03-02 00:00:00 +05:30' "
             "WHERE MOD(id, 100) = 0")  # fmt: skip
    _, _, s2 = run_all(cfg, ora.uri, pg_dbs.target_uri, "r2", sql, RUN2)
    assert (s2.rows_read, s2.rows_updated) == (30, 30)
    want = [normalized(r, (2,)) for r in ora.rows(f"SELECT id, balance, SYS_EXTRACT_UTC(updated_at) FROM {acc} "
                                                  "ORDER BY 1")]  # fmt: skip
    assert [normalized(r, (2,)) for r in rows(pg_dbs.target_dsn, "SELECT * FROM dw.acc ORDER BY 1")] == want


def test_rejects_oracle_to_pg(ora: OracleDb, pg_dbs: Any) -> None:
    src = ora.make_customers(8_000)
    ora.exec(f"UPDATE {src} SET balance = -1 WHERE customer_id IN (100, 200, 300, 400)")
    pg_exec(pg_dbs.target_dsn, "CREATE SCHEMA dw; CREATE TABLE dw.dim_rej (customer_id bigint PRIMARY KEY, "
            "name text NOT NULL, email text, country char(2), balance numeric(12,2) CHECK (balance >= 0), "
            "created_at timestamptz, active smallint, birth timestamp, notes varchar(200))")  # fmt: skip
    cfg = cfg_for("scd1", "dw.dim_rej", max_error_rows=10, on_schema_change="ignore")
    _, _, s = run_all(cfg, ora.uri, pg_dbs.target_uri, "r1", ora_sql(src))
    assert (s.status, s.rows_rejected, s.rows_inserted) == ("success", 4, 7_996)
    codes = rows(pg_dbs.target_dsn, "SELECT error_code, count(*) FROM dw.mapper_rejects GROUP BY 1")
    assert codes == [("23514", 4)]


def test_stopped_oracle_read_rolls_back_and_runs_again(ora: OracleDb, pg_dbs: Any) -> None:
    """on_kill cancels the Oracle read (Connection.cancel); nothing of the chunk commits; clearing it loads it."""
    src = ora.make_customers(3_000)
    ora.exec("CREATE OR REPLACE FUNCTION " + ora.name("pace") + " (k NUMBER) RETURN NUMBER IS BEGIN "
             "DBMS_SESSION.SLEEP(0.005); RETURN k; END;")  # fmt: skip
    slow = (
        f"SELECT {CUSTOMER_COLUMNS.replace('customer_id', f'pace_{ora.suffix}(customer_id) AS customer_id')} FROM {src}"
    )
    cfg = cfg_for("scd1", "dw.dim_stop", min_rows_for_parallel=10**9)  # one chunk
    with sessions(ora.uri, pg_dbs.target_uri) as (s, t):
        spec = ChunkSpec.from_dict(plan_run(cfg, slow, "r1", RUN1, 1024, s, t)[0])
        job = ChunkJob(cfg, spec, slow, "r1", 1, s, t)
        failed: list[BaseException] = []
        worker = threading.Thread(target=lambda: _run_catching(job, failed))
        worker.start()
        time.sleep(3)
        job.stop_requested.set()
        s.cancel()
        worker.join(60)
        assert failed and not worker.is_alive()
        assert rows(pg_dbs.target_dsn, "SELECT count(*) FROM dw.dim_stop") == [(0,)]
        again = ChunkJob(cfg, spec, slow, "r1", 2, s, t).run()
    assert again.rows_inserted == 3_000
    assert pg_customers(pg_dbs.target_dsn, "dw.dim_stop") == ora.customers(src)


def _run_catching(job: ChunkJob, failed: list[BaseException]) -> None:
    try:
        job.run()
    except BaseException as exc:
        failed.append(exc)


# ---- PostgreSQL source, Oracle target -------------------------------------------------------------------------


def test_scd1_pg_to_oracle_upper_case_names(ora: OracleDb, pg_dbs: Any) -> None:
    make_customers(pg_dbs.source_dsn, 5_000)
    target = ora.target("dim_customer")
    cfg = cfg_for("scd1", target)
    _, _, s1 = run_all(cfg, pg_dbs.source_uri, ora.uri, "r1", ora_sql("customers"))
    assert s1.status == "success" and s1.rows_inserted == 5_000
    table = target.split(".")[1]
    assert pg_customers(pg_dbs.source_dsn, "customers") == ora.customers(table)
    cols = [r[0] for r in ora.rows("SELECT column_name FROM user_tab_columns WHERE table_name = :t ORDER BY "
                                   "column_id", {"t": table.upper()})]  # fmt: skip
    assert cols[:3] == ["CUSTOMER_ID", "NAME", "EMAIL"]
    pg_exec(pg_dbs.source_dsn, "UPDATE customers SET balance = balance + 1 WHERE customer_id % 100 = 0")
    add_customers(pg_dbs.source_dsn, 5_001, 5_200)
    _, _, s2 = run_all(cfg, pg_dbs.source_uri, ora.uri, "r2", ora_sql("customers"), RUN2)
    assert (s2.rows_inserted, s2.rows_updated) == (200, 50)
    assert pg_customers(pg_dbs.source_dsn, "customers") == ora.customers(table)


def test_scd2_pg_to_oracle_one_current_version_per_key(ora: OracleDb, pg_dbs: Any) -> None:
    make_customers(pg_dbs.source_dsn, 3_000)
    target = ora.target("dim_hist")
    cfg = cfg_for("scd2", target)
    run_all(cfg, pg_dbs.source_uri, ora.uri, "r1", ora_sql("customers"), RUN1)
    pg_exec(pg_dbs.source_dsn, "UPDATE customers SET name = name || '!' WHERE customer_id <= 40")
    _, _, s2 = run_all(cfg, pg_dbs.source_uri, ora.uri, "r2", ora_sql("customers"), RUN2)
    assert s2.rows_updated == 40
    table = target.split(".")[1]
    assert ora.customers(table, "is_current = 1") == pg_customers(pg_dbs.source_dsn, "customers")
    assert ora.rows(f"SELECT COUNT(*), SUM(is_current) FROM {table}") == [(3_040, 3_000)]


def test_append_pg_to_oracle(ora: OracleDb, pg_dbs: Any) -> None:
    make_customers(pg_dbs.source_dsn, 4_000)
    target = ora.target("fact_customer")
    _, _, s = run_all(cfg_for("append", target), pg_dbs.source_uri, ora.uri, "r1", ora_sql("customers"))
    assert s.rows_inserted == 4_000
    assert ora.customers(target.split(".")[1]) == pg_customers(pg_dbs.source_dsn, "customers")


def test_rejects_pg_to_oracle_by_row(ora: OracleDb, pg_dbs: Any) -> None:
    make_customers(pg_dbs.source_dsn, 6_000)
    pg_exec(pg_dbs.source_dsn, "UPDATE customers SET balance = -1 WHERE customer_id IN (10, 20, 30)")
    pg_exec(pg_dbs.source_dsn, "UPDATE customers SET notes = repeat('y', 60) WHERE customer_id IN (40, 50)")
    target = ora.target("dim_rej")
    table = target.split(".")[1]
    ora.exec(f"CREATE TABLE {table} (customer_id NUMBER(19) PRIMARY KEY, name CLOB NOT NULL, email CLOB, "
             "country CHAR(2 CHAR), balance NUMBER(12,2) CHECK (balance >= 0), created_at TIMESTAMP WITH TIME ZONE, "
             "active NUMBER(1), birth DATE, notes VARCHAR2(50 CHAR))")  # fmt: skip
    cfg = cfg_for("scd1", target, max_error_rows=10, on_schema_change="ignore")
    _, _, s = run_all(cfg, pg_dbs.source_uri, ora.uri, "r1", ora_sql("customers"))
    assert (s.status, s.rows_rejected) == ("success", 5)
    # TO_CHAR: a CLOB (where the mapper tables hold text as CLOB) cannot be grouped or compared
    codes = dict(ora.rows(f"SELECT TO_CHAR(error_code), COUNT(*) FROM {ora.schema}.mapper_rejects WHERE "
                          "TO_CHAR(mapref) = :m GROUP BY TO_CHAR(error_code)", {"m": cfg.mapref}))  # fmt: skip
    assert codes == {"ORA-02290": 3, "ORA-12899": 2}


def test_chunk_failing_midway_leaves_oracle_target_untouched(ora: OracleDb, pg_dbs: Any) -> None:
    make_customers(pg_dbs.source_dsn, 4_000)
    target = ora.target("atomic")
    cfg = cfg_for("scd1", target, min_rows_for_parallel=10**9)
    run_all(cfg, pg_dbs.source_uri, ora.uri, "r1", ora_sql("customers"))
    table = target.split(".")[1]
    before = ora.customers(table)
    pg_exec(pg_dbs.source_dsn, "UPDATE customers SET balance = balance + 5")
    bad = ora_sql("customers").replace("balance,", "balance + 0 * (1 / (customer_id - 3500)) AS balance,")
    with sessions(pg_dbs.source_uri, ora.uri) as (s, t):
        spec = ChunkSpec.from_dict(plan_run(cfg, bad, "r2", RUN2, 1024, s, t)[0])
        with pytest.raises(Exception, match=r"(?i)division by zero"):
            ChunkJob(cfg, spec, bad, "r2", 1, s, t).run()
    assert ora.customers(table) == before
    _, _, s3 = run_all(cfg, pg_dbs.source_uri, ora.uri, "r3", ora_sql("customers"), RUN3)  # the re-run loads all
    assert s3.rows_updated == 4_000 and ora.customers(table) == pg_customers(pg_dbs.source_dsn, "customers")


@pytest.mark.parametrize("strategy", ["append", "scd1", "scd2"])
def test_oracle_chunk_run_twice_is_a_noop(ora: OracleDb, pg_dbs: Any, strategy: str) -> None:
    make_customers(pg_dbs.source_dsn, 4_000)
    target = ora.target("twice")
    cfg = cfg_for(strategy, target)
    table = target.split(".")[1]
    with sessions(pg_dbs.source_uri, ora.uri) as (s, t):
        spec = ChunkSpec.from_dict(plan_run(cfg, ora_sql("customers"), "r1", RUN1, 1024, s, t)[1])
        first = ChunkJob(cfg, spec, ora_sql("customers"), "r1", 1, s, t).run()
        before = ora.rows(f"SELECT COUNT(*) FROM {table}")
        second = ChunkJob(cfg, spec, ora_sql("customers"), "r1", 2, s, t).run()
    assert second.from_ledger and second.rows_inserted == first.rows_inserted > 0
    assert ora.rows(f"SELECT COUNT(*) FROM {table}") == before


# ---- Oracle to Oracle -----------------------------------------------------------------------------------------


def test_scd1_oracle_to_oracle(ora: OracleDb) -> None:
    src = ora.make_customers(3_000)
    target = ora.target("copy")
    cfg = cfg_for("scd1", target)
    _, _, s = run_all(cfg, ora.uri, ora.uri, "r1", ora_sql(src))
    assert s.rows_inserted == 3_000
    assert ora.customers(target.split(".")[1]) == ora.customers(src)
    ora.exec(f"UPDATE {src} SET created_at = created_at + INTERVAL '1' HOUR WHERE customer_id <= 10")
    _, _, s2 = run_all(cfg, ora.uri, ora.uri, "r2", ora_sql(src), RUN2)
    assert s2.rows_updated == 10 and ora.customers(target.split(".")[1]) == ora.customers(src)


def test_naive_timestamps_are_utc_instants_across(ora: OracleDb, pg_dbs: Any) -> None:
    """A TIMESTAMP WITH TIME ZONE at +05:30, -03:30 and +14:00 reaches PostgreSQL as the same instant."""
    t = ora.name("zones")
    ora.exec(f"CREATE TABLE {t} (id NUMBER(9) PRIMARY KEY, at TIMESTAMP(6) WITH TIME ZONE)")
    for i, zone in enumerate(("+05:30", "-03:30", "+14:00")):
        ora.exec(f"INSERT INTO {t} VALUES (:i, TO_TIMESTAMP_TZ('1899-12-31 23:30:00 ' || :z, "
                 "'YYYY-MM-DD HH24:MI:SS TZH:TZM'))", {"i": i, "z": zone})  # fmt: skip
    run_all(cfg_for("scd1", "dw.zones", keys=("id",)), ora.uri, pg_dbs.target_uri, "r1", f"SELECT id, at FROM {t}")
    got = rows(pg_dbs.target_dsn, "SELECT id, at FROM dw.zones ORDER BY id")
    offsets = [dt.timedelta(hours=5, minutes=30), -dt.timedelta(hours=3, minutes=30), dt.timedelta(hours=14)]
    local = dt.datetime(1899, 12, 31, 23, 30)
    assert [r[1] for r in got] == [(local - o).replace(tzinfo=dt.UTC) for o in offsets]
