"""Run DAG runs of a one-MapperOperator DAG with dag.test() in this process, one per line read from stdin, so
that a test can SIGKILL a whole run (this process and anything it started: start it in its own session), start
the next run the moment it wants, and run the *same* run again later.

    python -m tests.fault.crash_runner '{"dag_id": ..., ...MapperOperator kwargs}'   # then: <iso time> lines

Before reading stdin it imports Airflow and builds the in-process Execution API (about 4 s of a first task's
start, shared by every run of the process) and prints ``ready``: no DAG run, no database connection yet. Each
line is a time used as both the logical date and ``run_after``: dag.test() names the run ``manual__<time>``, and
a second line with the same time replaces that DagRun by one with the same run id whose tasks all run again (plan
included), which is, for the mapper, clearing the whole run. After each run it prints one line
``result <json>``: the run's state, its run id and each task instance's state and try number. Exits at the end
of stdin.

Uses the Airflow environment and connections of the calling test (inherited environment) with Airflow's
production defaults: the caller must not pass ``AIRFLOW__CORE__UNIT_TEST_MODE``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys


def main(argv: list[str]) -> int:
    if os.environ.get("AIRFLOW__CORE__UNIT_TEST_MODE"):
        print("AIRFLOW__CORE__UNIT_TEST_MODE is set: DAG runs here must see Airflow's production defaults")
        return 2
    from airflow.configuration import conf
    from airflow.sdk.execution_time.supervisor import in_process_api_server

    from tests.dag.conftest import mapper_dag

    kwargs = json.loads(argv[1])
    dag_id = kwargs.pop("dag_id")
    assert in_process_api_server().app is not None
    print("ready", flush=True)
    dag = None
    for line in sys.stdin:
        when = dt.datetime.fromisoformat(line.strip())
        dag = dag or mapper_dag(dag_id, **kwargs)
        dr = dag.test(logical_date=when, run_after=when)
        tis = {f"{ti.task_id}[{ti.map_index}]": [ti.state, ti.try_number] for ti in dr.get_task_instances()}
        out = {"state": dr.state, "run_id": dr.run_id, "tis": tis,
               "unit_test_mode": conf.getboolean("core", "unit_test_mode")}  # fmt: skip
        print("result " + json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
