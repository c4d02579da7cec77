"""Runs of one mapref queue: a plan that finds the mapref owned by a live run waits for it (reschedule).

While it waits, the plan task is ``up_for_reschedule``: it holds no worker slot between checks, one check every
``lock_poke_interval``, until ``lock_timeout`` after its first check (then it fails, naming the owner).
An owner is live while

- a task of it executes (its session lock on the target, PostgreSQL) or a chunk transaction of it is in flight;
- or Airflow has tasks of it waiting to run (scheduled, queued, up for retry or reschedule, deferred), unless a
  task of it is ``running`` with no process executing it (its worker died): see below;
- or tasks of it are ``running`` on a target that cannot tell whether they still execute (SQLite and other
  targets without session locks): Airflow notices a dead worker after ``task_instance_heartbeat_timeout``.

An owner seen dead (tasks ``running`` in Airflow, none executing; or none running or waiting at all) at two checks
:data:`DEAD_OWNER_GRACE` apart, the same tasks each time, is taken over (:mod:`~airflow_mapper_provider.takeover`):
the grace covers a task that Airflow marked running but whose process has not reached the database yet.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from airflow_mapper_provider.state.checkpoint import LockOwner

log = logging.getLogger(__name__)

#: Airflow states of a task instance that Airflow will run by itself.
WAITING = frozenset({"scheduled", "queued", "up_for_retry", "up_for_reschedule", "deferred", "restarting"})
#: How long an owner must look dead (the same tasks running, none executing) before it is taken over.
DEAD_OWNER_GRACE = dt.timedelta(seconds=30)
#: Task state store key of the waiting plan's suspicion (owner, tasks, since).
SUSPECT_KEY = "lock_wait"
_TASKS = ("plan", "load_chunk", "finalize")


class AirflowJudge:
    """Judge an unfinished owner from its session lock and its task instances' states in Airflow.

    :param ti: the waiting plan's task instance (``get_task_states``).
    :param store: its task state store (None before Airflow 3.3: a suspect owner then counts as dead at once).
    :param grace: :data:`DEAD_OWNER_GRACE`.
    """

    def __init__(self, ti: Any, store: Any, grace: dt.timedelta = DEAD_OWNER_GRACE) -> None:
        self.ti = ti
        self.store = store
        self.grace = grace

    def __call__(self, owner: LockOwner, executing: bool | None) -> str | None:
        if executing:
            self._forget()
            return "a task of it is executing"
        states = self._states(owner)
        if states is None:  # an earlier version's lock row, or an owner outside Airflow
            return None
        running = sorted(k for k, v in states.items() if v == "running")
        waiting = sorted(k for k, v in states.items() if v in WAITING)
        if waiting and not running:
            self._forget()
            return f"Airflow has {len(waiting)} task(s) of it waiting to run ({_names(waiting)})"
        if running and executing is None:
            self._forget()
            return (
                f"{len(running)} task(s) of it are running ({_names(running)}) and this target database cannot tell "
                "whether they still execute (Airflow notices a dead worker after [scheduler] "
                "task_instance_heartbeat_timeout)"
            )
        return self._suspect(owner, running or ["(no task running or waiting)"])

    def _states(self, owner: LockOwner) -> dict[str, Any] | None:
        """The owner's task states by task (mapped: ``<task_id>_<map_index>``); None when they cannot be known
        (an earlier version's lock row, an owner outside Airflow, an Airflow without ``get_task_states``)."""
        if not owner.dag_id or not owner.task_group or not hasattr(self.ti, "get_task_states"):
            return None
        ids = [f"{owner.task_group}.{t}" for t in _TASKS]
        found = self.ti.get_task_states(dag_id=owner.dag_id, task_ids=ids, run_ids=[owner.run_id])
        return dict(found.get(owner.run_id, {}))

    def _suspect(self, owner: LockOwner, tasks: list[str]) -> str | None:
        now = dt.datetime.now(dt.timezone.utc)
        if self.store is None:
            return None
        memo = self.store.get(SUSPECT_KEY) or {}
        if memo.get("owner") == owner.run_id and memo.get("tasks") == tasks:
            since = dt.datetime.fromisoformat(memo["since"])
            if now - since >= self.grace:
                log.warning("run %s: no task of it has executed for %s (%s): taking it over", owner.run_id,
                            now - since, _names(tasks))  # fmt: skip
                self._forget()
                return None
        else:
            since = now
            self.store.set(SUSPECT_KEY, {"owner": owner.run_id, "tasks": tasks, "since": now.isoformat()})
        return (
            f"no task of it executes now ({_names(tasks)}); it is taken over if that still holds at a check after "
            f"{(since + self.grace).isoformat(timespec='seconds')}"
        )

    def _forget(self) -> None:
        if self.store is not None and self.store.get(SUSPECT_KEY) is not None:
            self.store.delete(SUSPECT_KEY)


def _names(tasks: list[str], shown: int = 3) -> str:
    more = f" and {len(tasks) - shown} more" if len(tasks) > shown else ""
    return ", ".join(tasks[:shown]) + more


#: The shortest ``lock_poke_interval``: a task rescheduled sooner can come due before the scheduler has read the
#: previous try's exit, which Airflow then takes for a task killed externally and fails (apache/airflow#10790).
MIN_POKE_INTERVAL = dt.timedelta(seconds=10)


def as_timedelta(value: dt.timedelta | float | int, name: str, minimum: dt.timedelta = dt.timedelta(0)) -> dt.timedelta:
    """A duration parameter given as a timedelta or seconds; must be positive and at least ``minimum``."""
    from airflow_mapper_provider.exceptions import ConfigError

    delta = value if isinstance(value, dt.timedelta) else dt.timedelta(seconds=float(value))
    if delta <= dt.timedelta(0):
        raise ConfigError(f"{name} must be positive, got {value!r}")
    if delta < minimum:
        raise ConfigError(
            f"{name} must be at least {minimum.total_seconds():.0f} s, got {value!r}: a task rescheduled sooner races "
            "Airflow's scheduler, which may then fail it as killed externally"
        )
    return delta
