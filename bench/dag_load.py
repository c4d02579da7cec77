"""The Airflow side of the benchmark, in its own process: MapperOperator through ``dag.test()`` and Airflow's
GenericTransfer. ``bench.run`` starts it; it writes its rows as JSON.

    .venv/bin/python -m bench.dag_load --source DSN --target DSN --json out.json [--strategies scd1,scd2,append]

Airflow reads its configuration at import time, so the environment is set before anything imports airflow.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import tempfile
import time
from typing import Any

from bench.data import DDL, SOURCE_SQL, change_one_percent, execute, reset_target
from bench.scenarios import ROUNDS, STEPS, Row

GT_LIMIT_S = 600.0


def _airflow_env(source: str, target: str) -> None:
    home = tempfile.mkdtemp(prefix="mapper-bench-airflow-")
    os.environ.update(
        AIRFLOW_HOME=home,
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db",
        AIRFLOW__LOGGING__LOGGING_LEVEL="WARNING",
        AIRFLOW_CONN_BENCH_SRC=source,
        AIRFLOW_CONN_BENCH_TGT=target,
    )


def _dag(strategy: str, key: bool, chunk_size: int) -> Any:
    from airflow.sdk import DAG

    from airflow_mapper_provider import MapperOperator
    from tests.dag.conftest import serialize

    dag_id = f"bench_{strategy}_{'key' if key else 'full'}"
    extra: dict[str, Any] = {"checkpoint_column": "updated_at", "checkpoint_strategy": "KEY"} if key else {}
    with DAG(dag_id, schedule=None, start_date=dt.datetime(2026, 1, 1)) as dag:
        MapperOperator(
            task_id="load", source_conn_id="bench_src", target_conn_id="bench_tgt", source_sql=SOURCE_SQL,
            target_table=f"dw.dag_{strategy}", key_columns=["customer_id"], load_strategy=strategy,
            chunk_size=chunk_size, min_rows_for_parallel=min(100_000, 2 * chunk_size), retries=0, **extra,
        )  # fmt: skip
    serialize(dag)
    return dag


def _timed_run(dag: Any) -> tuple[float, int]:
    started = time.monotonic()
    run = dag.test()
    seconds = time.monotonic() - started
    if str(run.state) != "success" and getattr(run.state, "value", "") != "success":
        raise RuntimeError(f"{dag.dag_id} run {run.run_id} ended {run.state}")
    return seconds, run.run_id


def dag_series(source: str, target: str, strategy: str, repeat: int, chunk_size: int) -> list[Row]:
    full, key = _dag(strategy, False, chunk_size), _dag(strategy, True, chunk_size)
    steps: tuple[str, ...] = STEPS[:1] if strategy == "append" else STEPS
    runs: dict[str, list[float]] = {s: [] for s in steps}
    rows: dict[str, int] = {}
    for _ in range(repeat):
        reset_target(target)
        for i, (step, dag) in enumerate(zip(steps, (full, full, key, key), strict=False)):
            if i in (1, 3):
                change_one_percent(source, next(ROUNDS))
            seconds, run_id = _timed_run(dag)
            runs[step].append(seconds)
            rows[step] = execute(target, "SELECT rows_read FROM dw.mapper_joblog WHERE run_id = %(r)s", {"r": run_id})[
                0
            ][0]
    note = "dag.test(): every task in-process, chunks one at a time"
    return [Row("dag.test() end to end", f"{strategy} {s}", rows[s], runs[s], note) for s in steps]


def generic_transfer(source: str, target: str, rows: int, repeat: int) -> Row:
    """GenericTransfer (default settings) into a table with a primary key; at 100k rows when the full size
    would take longer than GT_LIMIT_S."""
    from airflow.providers.common.sql.operators.generic_transfer import GenericTransfer

    def once(n: int) -> float:
        op = GenericTransfer(
            task_id="gt", source_conn_id="bench_src", destination_conn_id="bench_tgt",
            sql=f"{SOURCE_SQL} WHERE customer_id <= {int(n)}", destination_table="dw.gt",
            preoperator=["DROP TABLE IF EXISTS dw.gt", DDL.format(table="dw.gt")],
        )  # fmt: skip
        started = time.monotonic()
        op.execute(context={})
        return time.monotonic() - started

    reset_target(target)
    probe = min(rows, 100_000)
    first = once(probe)
    n, note = rows, "default settings (get_records, then insert_rows with commit_every=1000)"
    if first * rows / probe > GT_LIMIT_S:
        n, note = probe, note + f"; at {probe:,} rows: {rows:,} would take ~{first * rows / probe / 60:.0f} min"
    runs = [first] if n == probe else []
    runs += [once(n) for _ in range(repeat - len(runs))]
    return Row("Airflow GenericTransfer", "GenericTransfer -> table with PK", n, runs, note)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--json", required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--chunk-size", type=int, default=100_000)
    parser.add_argument("--strategies", default="scd1,scd2,append")
    parser.add_argument("--round", type=int, default=1000, help="first 1%%-change round (different rows)")
    parser.add_argument("--no-generic-transfer", action="store_true")
    args = parser.parse_args()
    _airflow_env(args.source, args.target)
    from airflow.utils import db

    db.resetdb()
    for _ in range(args.round):
        next(ROUNDS)
    out: list[Row] = []
    for strategy in args.strategies.split(","):
        out += dag_series(args.source, args.target, strategy, args.repeat, args.chunk_size)
    if not args.no_generic_transfer:
        out.append(generic_transfer(args.source, args.target, args.rows, args.repeat))
    with open(args.json, "w", encoding="utf-8") as f:
        json.dump([dataclasses.asdict(r) for r in out], f)


if __name__ == "__main__":
    main()
