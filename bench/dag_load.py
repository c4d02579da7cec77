"""Wall time of a whole MapperOperator run through dag.test(), PostgreSQL -> PostgreSQL.

    .venv/bin/python -m bench.dag_load --rows 1000000 --strategy scd1

Starts a throwaway PostgreSQL (or uses MAPPER_TEST_PG_DSN), generates the customers source (10 mixed-type
columns), runs the DAG once (initial load), changes 1% of the rows and runs it again; prints both wall times
and the job log rows. Not a test: no assertion on time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--strategy", choices=["append", "scd1", "scd2"], default="scd1")
    parser.add_argument("--chunk-size", type=int, default=100_000)
    args = parser.parse_args()

    home = tempfile.mkdtemp(prefix="mapper-bench-airflow-")
    os.environ.update(
        AIRFLOW_HOME=home,
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__UNIT_TEST_MODE="True",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db",
    )
    from tests.helpers import add_customers, make_customers, pg_exec
    from tests.pgserver import start_server

    server = start_server()
    try:
        src, tgt = server.dsn(server.create_database("bench_src")), server.dsn(server.create_database("bench_tgt"))
        t0 = time.monotonic()
        make_customers(src, args.rows)
        print(f"source: {args.rows} rows generated in {time.monotonic() - t0:.1f} s")
        os.environ["AIRFLOW_CONN_BENCH_SRC"], os.environ["AIRFLOW_CONN_BENCH_TGT"] = src, tgt
        dag = _dag(args)
        for label in ("initial", "1% changed"):
            started = time.monotonic()
            run = dag.test()
            wall = time.monotonic() - started
            log = pg_exec(
                tgt,
                "SELECT status, rows_read, rows_inserted, rows_updated, rows_expired, rows_unchanged, chunks_planned "
                "FROM dw.mapper_joblog WHERE run_id = %(r)s",
                {"r": run.run_id},
            )
            print(f"{args.strategy} {label}: state={run.state} wall={wall:.1f} s "
                  f"({args.rows / wall:,.0f} rows/s) joblog={log}")  # fmt: skip
            if label == "initial":
                pg_exec(src, "UPDATE customers SET balance = balance + 1 WHERE customer_id % 100 = 0")
                add_customers(src, args.rows + 1, args.rows + args.rows // 1000)
    finally:
        server.close()


def _dag(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from airflow.sdk import DAG
    from airflow.utils import db

    from airflow_mapper_provider import MapperOperator
    from tests.dag.conftest import serialize

    db.resetdb()
    with DAG("bench_dag_load", schedule=None, start_date=dt.datetime(2026, 1, 1)) as dag:
        MapperOperator(
            task_id="load", source_conn_id="bench_src", target_conn_id="bench_tgt",
            source_sql="SELECT customer_id, name, email, country, balance, created_at, active, birth, notes "
                       "FROM customers",
            target_table="dw.bench_target", key_columns=["customer_id"], load_strategy=args.strategy,
            chunk_size=args.chunk_size, retries=0,
        )  # fmt: skip
    serialize(dag)
    return dag


if __name__ == "__main__":
    main()
