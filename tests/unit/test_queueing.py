"""The waiting plan's verdict on an unfinished owner (operators/queueing.py), from its session lock and the states
Airflow reports for its tasks. Real runs: tests/dag/test_queueing_dag.py, tests/fault (killed runs)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from airflow_mapper_provider.exceptions import ConfigError
from airflow_mapper_provider.operators.queueing import MIN_POKE_INTERVAL, SUSPECT_KEY, AirflowJudge, as_timedelta
from airflow_mapper_provider.state.checkpoint import LockOwner

OWNER = LockOwner("r1", "2026-06-01", "running", "dag", "load")


class Store(dict):
    """The task state store's get/set/delete on a dict."""

    def set(self, key: str, value: Any) -> None:
        self[key] = value

    def delete(self, key: str) -> None:
        self.pop(key, None)


class Ti:
    def __init__(self, states: dict[str, str]) -> None:
        self.states = states
        self.asked: list[dict[str, Any]] = []

    def get_task_states(self, **kw: Any) -> dict[str, dict[str, str]]:
        self.asked.append(kw)
        return {"r1": dict(self.states)}


def test_an_owner_with_an_executing_task_is_live_and_clears_a_suspicion():
    store = Store({SUSPECT_KEY: {"owner": "r1", "tasks": ["x"], "since": "2026-01-01T00:00:00+00:00"}})
    assert AirflowJudge(Ti({}), store)(OWNER, True) == "a task of it is executing"
    assert SUSPECT_KEY not in store


def test_tasks_waiting_in_airflow_keep_the_owner_live():
    ti = Ti({"load.plan": "success", "load.load_chunk_0": "success", "load.load_chunk_1": "queued"})
    why = AirflowJudge(ti, Store())(OWNER, False)
    assert why is not None and "waiting to run (load.load_chunk_1)" in why
    assert ti.asked == [{"dag_id": "dag", "task_ids": ["load.plan", "load.load_chunk", "load.finalize"],
                         "run_ids": ["r1"]}]  # fmt: skip


def test_running_tasks_count_as_live_where_the_target_cannot_tell():
    why = AirflowJudge(Ti({"load.load_chunk_0": "running"}), Store())(OWNER, None)
    assert why is not None and "cannot tell whether they still execute" in why


def test_running_tasks_with_no_process_are_dead_after_the_grace_only():
    store, ti = Store(), Ti({"load.load_chunk_0": "running", "load.load_chunk_1": "scheduled"})
    judge = AirflowJudge(ti, store, grace=dt.timedelta(seconds=30))
    first = judge(OWNER, False)
    assert first is not None and "taken over if that still holds" in first
    assert store[SUSPECT_KEY]["tasks"] == ["load.load_chunk_0"]
    assert judge(OWNER, False) is not None  # still within the grace
    store[SUSPECT_KEY]["since"] = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=31)).isoformat()
    assert judge(OWNER, False) is None  # dead: taken over
    assert SUSPECT_KEY not in store


def test_another_task_running_restarts_the_grace():
    store = Store()
    old = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)).isoformat()
    store[SUSPECT_KEY] = {"owner": "r1", "tasks": ["load.load_chunk_0"], "since": old}
    why = AirflowJudge(Ti({"load.load_chunk_3": "running"}), store)(OWNER, False)
    assert why is not None  # a task starting up is not the task seen before
    assert store[SUSPECT_KEY]["tasks"] == ["load.load_chunk_3"] and store[SUSPECT_KEY]["since"] != old


def test_an_owner_without_airflow_identity_is_judged_by_its_session_lock_alone():
    legacy = LockOwner("r1", "2026-06-01", "running")
    assert AirflowJudge(Ti({"load.plan": "queued"}), Store())(legacy, False) is None


def test_lock_durations_must_be_positive_and_pokes_not_too_frequent():
    assert as_timedelta(90, "lock_timeout") == dt.timedelta(seconds=90)
    with pytest.raises(ConfigError, match="lock_poke_interval must be positive"):
        as_timedelta(dt.timedelta(0), "lock_poke_interval")
    with pytest.raises(ConfigError, match=r"lock_poke_interval must be at least 10 s, got 2: .* races"):
        as_timedelta(2, "lock_poke_interval", MIN_POKE_INTERVAL)
    assert as_timedelta(10, "lock_poke_interval", MIN_POKE_INTERVAL) == MIN_POKE_INTERVAL
