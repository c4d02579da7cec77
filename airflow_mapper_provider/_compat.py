"""The only place for Airflow imports that move between 3.x releases."""

from __future__ import annotations

from airflow.sdk import BaseHook, BaseOperator, TaskGroup
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowRescheduleException

try:  # Airflow >= 3.1
    from airflow.sdk import TriggerRule
except ImportError:  # pragma: no cover - older 3.0
    from airflow.utils.trigger_rule import TriggerRule  # type: ignore[no-redef]

__all__ = [
    "AirflowException",
    "AirflowFailException",
    "AirflowRescheduleException",
    "BaseHook",
    "BaseOperator",
    "TaskGroup",
    "TriggerRule",
]


def max_map_length() -> int:
    """Airflow's cap on mapped task instances per task (``[core] max_map_length``)."""
    from airflow.configuration import conf

    return conf.getint("core", "max_map_length", fallback=1024)


def core_parallelism() -> int:
    """Task instances Airflow runs at once, as this worker's configuration says (``[core] parallelism``)."""
    from airflow.configuration import conf

    return conf.getint("core", "parallelism", fallback=32)


def runs_tasks_one_at_a_time() -> bool:
    """This task runs in ``dag.test()`` / ``airflow dags test`` without an executor: every task of the run in this
    process, one after another (the Task SDK's in-process supervisor). False where that cannot be told."""
    try:
        from airflow.sdk.execution_time import task_runner
        from airflow.sdk.execution_time.supervisor import InProcessSupervisorComms
    except ImportError:  # pragma: no cover - a Task SDK without them
        return False
    return isinstance(getattr(task_runner, "SUPERVISOR_COMMS", None), InProcessSupervisorComms)
