"""The ``apache_airflow_provider`` entry point: what ``airflow providers list`` shows."""

from __future__ import annotations

from typing import Any


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-mapper-provider",
        "name": "Mapper",
        "description": "Parallel, chunked SQL-to-warehouse loads with SCD1/SCD2, a chunk ledger and a job log.",
        "versions": ["0.1.0"],
        "integrations": [
            {
                "integration-name": "Mapper",
                "python-modules": ["airflow_mapper_provider.task_group"],
                "tags": ["software"],
            }
        ],
    }
