"""End to end with dag.test(): PostgreSQL into a real MariaDB/MySQL through Airflow connections of type mysql
(plan -> mapped chunks -> finalize, live progress on the autocommit side connection)."""

from __future__ import annotations

import pytest

from airflow_mapper_provider import progress
from tests.dag.conftest import mapper_dag
from tests.dag.test_dag_runs import mapped_states
from tests.helpers import CUSTOMER_COLUMNS, make_customers, pg_exec
from tests.mysqlserver import mysql_db_fixture, mysql_server_fixture  # noqa: F401

pytestmark = [pytest.mark.pg, pytest.mark.dag, pytest.mark.mysql]

#: Slows the source read (0.1 s every 500 rows) so that each chunk lives through a few progress ticks.
PACE_FN = """
CREATE FUNCTION pace(k bigint) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF k % 500 = 0 THEN PERFORM pg_sleep(0.1); END IF;
    RETURN true;
END $$"""
SQL = "SELECT " + CUSTOMER_COLUMNS.replace("name,", "CASE WHEN pace(customer_id) THEN name END AS name,", 1)
SQL += " FROM customers"


def test_scd1_dag_into_mariadb(pg_dbs, mysql_server, mysql_db, monkeypatch, airflow_db):
    monkeypatch.setenv("AIRFLOW_CONN_MAPPER_SRC", pg_dbs.source_uri)
    monkeypatch.setenv("AIRFLOW_CONN_MAPPER_TGT", mysql_server.uri(mysql_db))
    monkeypatch.setattr(progress, "TICK_S", 0.2)
    make_customers(pg_dbs.source_dsn, 6_000)
    pg_exec(pg_dbs.source_dsn, PACE_FN)
    dag = mapper_dag("t_mysql_scd1", source_sql=SQL, target_table="dim_customer", key_columns=["customer_id"],
                     load_strategy="scd1", chunk_size=2_000, min_rows_for_parallel=3_000)  # fmt: skip
    dr = dag.test()
    assert dr.state == "success" and len(mapped_states(dr)) >= 3 and set(mapped_states(dr)) == {"success"}
    pg_exec(pg_dbs.source_dsn, "UPDATE customers SET name = upper(name) WHERE customer_id % 40 = 0")  # 150
    dr2 = dag.test()
    assert dr2.state == "success"
    log = mysql_server.run(mysql_db, "SELECT status, rows_read, rows_inserted, rows_updated, chunks_planned, "
                                     "chunks_succeeded FROM mapper_joblog ORDER BY started_at")  # fmt: skip
    n = len(mapped_states(dr))
    assert log == [("success", 6_000, 6_000, 0, n, n), ("success", 6_000, 0, 150, n, n)]
    live = mysql_server.run(mysql_db, "SELECT status, COUNT(*), SUM(rows_read) FROM mapper_chunk_progress "
                                      "WHERE run_id = %s GROUP BY status", (dr2.run_id,))  # fmt: skip
    assert live == [("success", n, 6_000)]  # one live row per chunk, upserted on the autocommit connection
    view = mysql_server.run(mysql_db, "SELECT status, chunks_done, rows_so_far FROM mapper_progress WHERE run_id = %s",
                            (dr2.run_id,))  # fmt: skip
    assert view == [("success", n, 6_000)]
