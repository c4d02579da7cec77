"""Run a one-MapperOperator DAG with an outlet through dag.test() in a process of its own, so that the Airflow
configuration the test gives in the environment (OpenLineage file transport, statsd) is the one Airflow starts
with.

    python -m tests.dag.platform_runner '{"dag_id": ..., "asset_uri": ..., ...MapperOperator kwargs}'

Prints one line ``result <json>``: the run's state and id, and the asset events Airflow recorded for the outlet
(``extra``, source task).
"""

from __future__ import annotations

import json
import sys
from typing import Any


def main(argv: list[str]) -> int:
    import tests.conftest  # noqa: F401  # first: the test suite's Airflow environment (AIRFLOW_HOME, ...)

    return run(json.loads(argv[1]))


def run(kwargs: dict[str, Any]) -> int:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.sdk import Asset
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from tests.dag.conftest import mapper_dag

    dag_id, uri = kwargs.pop("dag_id"), kwargs.pop("asset_uri")
    dr = mapper_dag(dag_id, outlets=[Asset(name=f"{dag_id}_target", uri=uri)], **kwargs).test()
    with create_session() as session:
        rows = session.execute(
            select(AssetEvent.extra, AssetEvent.source_task_id, AssetEvent.source_run_id)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.uri == uri)
        ).all()
    events = [{"extra": r.extra, "task_id": r.source_task_id, "run_id": r.source_run_id} for r in rows]
    print("result " + json.dumps({"state": str(dr.state), "run_id": dr.run_id, "events": events}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
