"""Run a one-MapperOperator DAG with an outlet through dag.test() in a process of its own, so that the Airflow
configuration the test gives in the environment (OpenLineage file transport, statsd) is the one Airflow starts
with.

    python -m tests.dag.platform_runner '{"asset_uri": ..., "runs": [{"dag_id": ..., ...MapperOperator kwargs}]}'

Runs each DAG once, in order, every one with the outlet ``asset_uri``. Prints one line ``result <json>``: each
run's state and id, and the asset events Airflow recorded for the outlet (``extra``, source task and run).
"""

from __future__ import annotations

import json
import sys
from typing import Any


def main(argv: list[str]) -> int:
    import tests.conftest  # noqa: F401  # first: the test suite's Airflow environment (AIRFLOW_HOME, ...)

    return run(json.loads(argv[1]))


def run(job: dict[str, Any]) -> int:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.sdk import Asset
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from tests.dag.conftest import mapper_dag

    uri, runs = job["asset_uri"], []
    for kwargs in job["runs"]:
        dag_id = kwargs.pop("dag_id")
        dr = mapper_dag(dag_id, outlets=[Asset(name="platform_target", uri=uri)], **kwargs).test()
        runs.append({"dag_id": dag_id, "state": str(dr.state), "run_id": dr.run_id})
    with create_session() as session:
        rows = session.execute(
            select(AssetEvent.extra, AssetEvent.source_task_id, AssetEvent.source_run_id)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.uri == uri)
        ).all()
    events = [{"extra": r.extra, "task_id": r.source_task_id, "run_id": r.source_run_id} for r in rows]
    print("result " + json.dumps({"runs": runs, "events": events}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
