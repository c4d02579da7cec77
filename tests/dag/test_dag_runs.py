"""End to end with dag.test(): plan -> mapped chunks -> finalize, on PostgreSQL and on the SQLite demo path."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.dag.conftest import mapper_dag, serialize
from tests.helpers import CUSTOMER_COLUMNS, add_customers, make_customers, pg_exec, rows, source_rows

pytestmark = pytest.mark.dag

SQL = f"SELECT {CUSTOMER_COLUMNS} FROM customers"
REPO = Path(__file__).resolve().parents[2]


def joblog(dsn: str, run_id: str) -> dict:
    cols = ("status", "rows_read", "rows_inserted", "rows_updated", "rows_expired", "rows_unchanged",
            "rows_rejected", "chunks_planned", "chunks_succeeded")  # fmt: skip
    got = rows(dsn, f"SELECT {', '.join(cols)} FROM dw.mapper_joblog WHERE run_id = '{run_id}'")
    assert len(got) == 1, got
    return dict(zip(cols, got[0], strict=True))


def mapped_states(dr) -> list[str]:
    return [ti.state for ti in dr.get_task_instances() if ti.task_id == "load.load_chunk"]


def test_scd1_dag_many_chunks(pg_conns):
    make_customers(pg_conns.source_dsn, 20_000)
    dag = mapper_dag("t_scd1", source_sql=SQL, target_table="dw.dim_customer", key_columns=["customer_id"],
                     load_strategy="scd1", chunk_size=2_000, min_rows_for_parallel=5_000)  # fmt: skip
    dr = dag.test()
    assert dr.state == "success"
    assert len(mapped_states(dr)) >= 8 and set(mapped_states(dr)) == {"success"}
    assert source_rows(pg_conns.target_dsn, "dw.dim_customer") == source_rows(pg_conns.source_dsn)
    log1 = joblog(pg_conns.target_dsn, dr.run_id)
    assert log1["status"] == "success" and log1["rows_read"] == log1["rows_inserted"] == 20_000
    assert log1["chunks_planned"] == log1["chunks_succeeded"] == len(mapped_states(dr))

    pg_exec(pg_conns.source_dsn, "UPDATE customers SET name = upper(name) WHERE customer_id % 40 = 0")  # 500
    add_customers(pg_conns.source_dsn, 20_001, 20_300)
    dr2 = dag.test()
    assert dr2.state == "success"
    assert source_rows(pg_conns.target_dsn, "dw.dim_customer") == source_rows(pg_conns.source_dsn)
    log2 = joblog(pg_conns.target_dsn, dr2.run_id)
    assert (log2["rows_read"], log2["rows_inserted"], log2["rows_updated"], log2["rows_unchanged"]) == (
        20_300, 300, 500, 19_500,
    )  # fmt: skip


def test_scd2_dag_many_chunks_keeps_history(pg_conns):
    make_customers(pg_conns.source_dsn, 16_000)
    dag = mapper_dag("t_scd2", source_sql=SQL, target_table="dw.dim_customer_hist", key_columns=["customer_id"],
                     load_strategy="scd2", chunk_size=2_000, min_rows_for_parallel=5_000)  # fmt: skip
    assert dag.test().state == "success"
    pg_exec(pg_conns.source_dsn, "UPDATE customers SET balance = balance + 1 WHERE customer_id % 20 = 0")  # 800
    add_customers(pg_conns.source_dsn, 16_001, 16_100)
    dr = dag.test()
    assert dr.state == "success" and len(mapped_states(dr)) >= 8
    t = "dw.dim_customer_hist"
    current = rows(pg_conns.target_dsn, f"SELECT {CUSTOMER_COLUMNS} FROM {t} WHERE is_current ORDER BY 1")
    assert current == source_rows(pg_conns.source_dsn)
    assert rows(pg_conns.target_dsn, f"SELECT count(*), count(*) FILTER (WHERE NOT is_current) FROM {t}") == [
        (16_100 + 800, 800)
    ]
    assert rows(pg_conns.target_dsn, f"SELECT customer_id FROM {t} WHERE is_current GROUP BY 1 "
                                     "HAVING count(*) > 1") == []  # fmt: skip
    log = joblog(pg_conns.target_dsn, dr.run_id)
    assert (log["rows_read"], log["rows_inserted"], log["rows_updated"], log["rows_expired"]) == (
        16_100, 100, 800, 800,
    )  # fmt: skip
    assert log["rows_unchanged"] == 16_100 - 900 and log["status"] == "success"


def test_failed_chunk_fails_the_run_after_writing_the_job_log(pg_conns):
    make_customers(pg_conns.source_dsn, 10_000)
    bad = SQL.replace("balance,", "balance + 0 * (1 / (customer_id - 7777)) AS balance,")
    dag = mapper_dag("t_fail", source_sql=bad, target_table="dw.dim_fail", key_columns=["customer_id"],
                     load_strategy="scd1", chunk_size=1_000, min_rows_for_parallel=2_000)  # fmt: skip
    dr = dag.test()
    assert dr.state == "failed"
    states = mapped_states(dr)
    assert states.count("failed") == 1 and states.count("success") == len(states) - 1
    fin = next(ti for ti in dr.get_task_instances() if ti.task_id == "load.finalize")
    assert fin.state == "failed"
    log = joblog(pg_conns.target_dsn, dr.run_id)
    assert log["status"] == "failed" and log["chunks_succeeded"] == log["chunks_planned"] - 1
    assert log["rows_inserted"] == rows(pg_conns.target_dsn, "SELECT count(*) FROM dw.dim_fail")[0][0] == 9_000
    failed = rows(pg_conns.target_dsn, "SELECT lower_bound, upper_bound FROM dw.mapper_chunklog "
                                       f"WHERE run_id = '{dr.run_id}' AND status = 'failed'")  # fmt: skip
    assert len(failed) == 1 and int(failed[0][0]) <= 7777 < int(failed[0][1])


def test_sqlite_demo_dag(tmp_path, monkeypatch, airflow_db):
    src, dw = tmp_path / "source.db", tmp_path / "warehouse.db"
    with sqlite3.connect(src) as c:
        c.execute("CREATE TABLE customers (customer_id INTEGER PRIMARY KEY, name TEXT, email TEXT, country TEXT, "
                  "balance NUMERIC, updated_at TEXT)")  # fmt: skip
        c.executemany("INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?)",
                      [(i, f"n{i}", f"e{i}@x", "DE", i / 4, "2026-01-01") for i in range(1, 60_001)])  # fmt: skip
    monkeypatch.setenv("AIRFLOW_CONN_MAPPER_DEMO_SRC", f"sqlite:///{src}")
    monkeypatch.setenv("AIRFLOW_CONN_MAPPER_DEMO_DW", f"sqlite:///{dw}")
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(str(REPO / "dags" / "mapper_demo.py")).get_dag("mapper_demo")
    serialize(dag)
    assert dag.test().state == "success"
    with sqlite3.connect(src) as c:
        c.execute("UPDATE customers SET name = name || '!' WHERE customer_id % 100 = 0")  # 600 changed
    dr = dag.test()
    assert dr.state == "success"
    with sqlite3.connect(dw) as c:
        log = c.execute("SELECT status, rows_read, rows_inserted, rows_updated, rows_expired, chunks_planned "
                        "FROM mapper_joblog WHERE run_id = ?", (dr.run_id,)).fetchone()  # fmt: skip
        assert log == ("success", 60_000, 0, 600, 600, log[5]) and log[5] >= 2
        assert c.execute("SELECT count(*), sum(is_current) FROM dim_customer").fetchone() == (60_600, 60_000)
        changed = c.execute("SELECT count(*) FROM dim_customer WHERE is_current AND name LIKE '%!'").fetchone()
        assert changed == (600,)


def test_plan_failure_still_writes_a_failed_job_log_row(pg_conns):
    dag = mapper_dag("t_planfail", source_sql="SELECT customer_id, name FROM no_such_table",
                     target_table="dw.never", key_columns=["customer_id"], load_strategy="scd1")  # fmt: skip
    dr = dag.test()
    assert dr.state == "failed"
    states = {ti.task_id: ti.state for ti in dr.get_task_instances()}
    assert states["load.plan"] == "failed" and states["load.finalize"] == "failed"
    got = rows(pg_conns.target_dsn, "SELECT status, message, started_at, finished_at FROM dw.mapper_joblog "
                                    f"WHERE run_id = '{dr.run_id}'")  # fmt: skip
    assert len(got) == 1
    status, message, started_at, finished_at = got[0]
    assert (status, message) == ("failed", "plan did not complete: see the plan task's log")
    assert started_at == dr.start_date  # finalize wrote the row: it records the DAG run's start, not NULL
    assert started_at <= finished_at
