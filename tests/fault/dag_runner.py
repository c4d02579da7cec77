"""Run a one-MapperOperator DAG with dag.test() in its own process, so a test can stop a hung run (a hang guard).

    python -m tests.fault.dag_runner '{"dag_id": ..., "retry_delay_s": 1, ...MapperOperator kwargs}'

Uses the Airflow environment and connections of the calling test (inherited environment). Prints one line
``result <json>``: the run's state and run id and, per load_chunk map index, its state and try number.
"""

from __future__ import annotations

import datetime as dt
import json
import sys


def main(argv: list[str]) -> int:
    import tests.conftest  # noqa: F401  # the test suite's Airflow environment (AIRFLOW_HOME, ...)
    from tests.dag.conftest import mapper_dag

    kwargs = json.loads(argv[1])
    dag_id = kwargs.pop("dag_id")
    kwargs["retry_delay"] = dt.timedelta(seconds=kwargs.pop("retry_delay_s"))
    dr = mapper_dag(dag_id, **kwargs).test()
    tis = {ti.map_index: (ti.state, ti.try_number) for ti in dr.get_task_instances() if ti.task_id == "load.load_chunk"}
    print("result " + json.dumps({"state": dr.state, "run_id": dr.run_id, "chunks": tis}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
