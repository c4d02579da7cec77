"""plan: estimate the source, prepare the target, freeze the chunk list (XCom)."""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any, NoReturn

from airflow_mapper_provider import db
from airflow_mapper_provider._compat import (
    AirflowFailException,
    AirflowRescheduleException,
    BaseOperator,
    core_parallelism,
    max_map_length,
    runs_tasks_one_at_a_time,
)
from airflow_mapper_provider.config import MapperConfig
from airflow_mapper_provider.exceptions import ConfigError, LockTimeoutError, RunLockedError
from airflow_mapper_provider.operators.common import airflow_errors, load_config
from airflow_mapper_provider.operators.queueing import MIN_POKE_INTERVAL, AirflowJudge, as_timedelta
from airflow_mapper_provider.planner import plan_run

log = logging.getLogger(__name__)

#: How long a run waits for the run owning its mapref before it fails (MapperOperator ``lock_timeout``).
LOCK_TIMEOUT = dt.timedelta(hours=6)
#: How often a waiting run checks whether the owner finished (``lock_poke_interval``).
LOCK_POKE_INTERVAL = dt.timedelta(seconds=30)


class MapperPlanOperator(BaseOperator):
    """Plan one mapper run; returns the list of ChunkSpec dicts that ``load_chunk`` maps over.

    :param config: :meth:`MapperConfig.to_dict` of the job.
    :param source_sql: the source query (templated; a path ending in .sql is read as a template). A query that
        names both ``data_interval_start`` and ``data_interval_end`` is a window query: plan refuses to run it
        over an empty data interval (see :func:`check_data_interval`).
    :param lock_timeout: how long this run waits for another live run of the mapref (timedelta or seconds); the
        wait is a reschedule: no worker slot is held between checks (:mod:`~.queueing`).
    :param lock_poke_interval: time between two checks while waiting (at least :data:`~.queueing.MIN_POKE_INTERVAL`).
    """

    template_fields = ("source_sql",)
    template_ext = (".sql",)
    template_fields_renderers = {"source_sql": "sql"}
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        config: dict[str, Any],
        source_sql: str,
        lock_timeout: dt.timedelta | float = LOCK_TIMEOUT,
        lock_poke_interval: dt.timedelta | float = LOCK_POKE_INTERVAL,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.config = config
        self.source_sql = source_sql
        self.source_template = source_sql  # kept unrendered: the text (or .sql path) the user wrote
        self.lock_timeout = as_timedelta(lock_timeout, "lock_timeout")
        self.lock_poke_interval = as_timedelta(lock_poke_interval, "lock_poke_interval", MIN_POKE_INTERVAL)

    def execute(self, context: Any) -> list[dict[str, Any]]:
        cfg = load_config(self.config)
        with airflow_errors():
            check_data_interval(self.template_text(), context)
        ti = context["ti"]
        judge = AirflowJudge(ti, context.get("task_state_store"))
        group = self.task_id.rpartition(".")[0] or None
        with (
            airflow_errors(),
            db.session(cfg.source_conn_id, "source") as src,
            db.session(cfg.target_conn_id, "target") as tgt,
        ):
            eff = effective_time(context, cfg.scd2_effective_time)
            dag_cap = getattr(self.dag, "max_active_tasks", None)
            slots = chunk_slots(cfg, core_parallelism(), dag_cap, one_at_a_time=runs_tasks_one_at_a_time())
            try:
                owner = (ti.dag_id, group) if group else None
                return plan_run(cfg, self.source_sql, context["run_id"], eff, max_map_length(), src, tgt, owner, judge,
                                slots=slots)  # fmt: skip
            except RunLockedError as exc:
                if exc.owner is None:
                    raise
                locked = exc
        self._wait(context, locked)

    def _wait(self, context: Any, locked: RunLockedError) -> NoReturn:
        """Give the worker slot back until the next check (reschedule), or fail after ``lock_timeout``."""
        now = dt.datetime.now(dt.timezone.utc)
        first = context["ti"].get_first_reschedule_date(context) or now
        deadline = first + self.lock_timeout
        if now >= deadline:
            raise AirflowFailException(
                f"LockTimeoutError: waited {now - first} (lock_timeout {self.lock_timeout}) for the run owning "
                f"the mapref: {locked}. Stop that run (mark it failed), or raise lock_timeout"
            ) from LockTimeoutError(str(locked))
        wake = min(now + self.lock_poke_interval, deadline)
        log.info(
            "waiting for run %s (%s); this task gives its worker slot back and checks again at %s (lock_timeout "
            "ends the wait at %s)", locked.owner.run_id, locked, wake.isoformat(timespec="seconds"),
            deadline.isoformat(timespec="seconds"),
        )  # fmt: skip
        raise AirflowRescheduleException(wake)

    def template_text(self) -> str:
        """The unrendered source_sql: the user's text, or the text of the .sql file it names ("" if unknown)."""
        raw = self.source_template
        if not isinstance(raw, str):
            return ""
        if raw.endswith(tuple(self.template_ext)):
            env = self.get_template_env()
            try:
                return str(env.loader.get_source(env, raw)[0])  # type: ignore[union-attr]
            except Exception:  # the render step reports a missing file; the check just cannot look inside
                return ""
        return raw


def chunk_slots(
    cfg: MapperConfig, parallelism: int, dag_max_active_tasks: int | None, *, one_at_a_time: bool = False
) -> int:
    """Chunks of this run that can load at once, as far as the plan can see: ``max_active_chunks`` when set;
    1 where tasks run one at a time (``dag.test()`` without an executor); else Airflow's ``[core] parallelism``
    capped by the DAG's ``max_active_tasks``. (A pool's size cannot be read from a task: with a pool of their
    own, set ``max_active_chunks`` to its slots.)"""
    if cfg.max_active_chunks:
        return cfg.max_active_chunks
    if one_at_a_time:
        return 1
    caps = [n for n in (parallelism, dag_max_active_tasks) if isinstance(n, int) and n > 0]
    return max(1, min(caps)) if caps else 1


#: Templates naming both bounds of the run's data interval select a window that an empty interval empties.
_INTERVAL_BOUNDS = (re.compile(r"\bdata_interval_start\b"), re.compile(r"\bdata_interval_end\b"))


def uses_data_interval(template: str) -> bool:
    """``template`` (unrendered source_sql) names both ``data_interval_start`` and ``data_interval_end``.

    ``prev_data_interval_*_success`` and other names that merely contain them do not count.
    """
    return all(bound.search(template) for bound in _INTERVAL_BOUNDS)


def check_data_interval(template: str, context: Any) -> None:
    """Refuse a window query over an empty (or missing) data interval: it would select nothing and succeed.

    :raises ConfigError: naming the fix (a timetable with data intervals).
    """
    if not uses_data_interval(template):
        return
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is not None and end is not None and start != end:
        return
    what = "has no data interval" if start is None or end is None else f"has an empty data interval ({start} to {end})"
    raise ConfigError(
        f"source_sql selects data_interval_start .. data_interval_end but this run {what}, so it would load "
        "nothing. A cron string schedule such as '@daily' uses CronTriggerTimetable in Airflow 3, whose runs have "
        "zero-length intervals: use a timetable with data intervals, e.g. "
        "schedule=CronDataIntervalTimetable('@daily', timezone='UTC') (from airflow.sdk) or a timedelta schedule, "
        "or set [scheduler] create_cron_data_intervals = True"
    )


def effective_time(context: Any, mode: str = "run_start") -> str:
    """The run's effective time (scd2 valid_from), fixed by plan for all chunks and retries.

    ``run_start``: when the DAG run started; ``data_interval_end``: the run's data interval end (business time,
    lines history up with backfills); a column name: per-row times, this value only closes deleted keys.
    """
    run = context.get("dag_run")
    start = getattr(run, "start_date", None) or dt.datetime.now(dt.timezone.utc)
    if mode == "data_interval_end":
        end = context.get("data_interval_end")
        if end is None:
            raise ConfigError(
                "scd2_effective_time='data_interval_end' needs a run with a data interval (a scheduled run or "
                "backfill); this run has none: trigger it with a logical date or use 'run_start'"
            )
        start = end
    if start.tzinfo is None:
        start = start.replace(tzinfo=dt.timezone.utc)
    return dt.datetime.fromisoformat(start.isoformat()).isoformat()
