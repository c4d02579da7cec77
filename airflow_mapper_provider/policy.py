"""Grid labels for chunks that have not started: an Airflow cluster policy (``task_instance_mutation_hook``).

A mapped task's ``map_index_template`` is rendered by the worker, when the task instance runs; until then
Airflow shows the bare map index. No task can label another one: the execution API's
``PATCH /task-instances/{id}/rendered-map-index`` is scoped to the calling task instance (``ti:self``). What does
run for every mapped task instance before it starts is the scheduler's ``task_instance_mutation_hook``, called when
the plan's output is expanded into map indexes. This hook gives each new ``load_chunk`` instance the label its
template will render (``chunk 3/40 customer_id 100000..149999``), read from the plan's XCom in the scheduler's own
session (read only: it neither commits nor opens a session, as the hook's contract asks).

It touches only task instances of tasks whose ``map_index_template`` is the mapper's, and only while they have no
label yet; any failure leaves the label to Airflow (the number) and is logged at debug level. A custom XCom backend
that keeps values outside the metadata database leaves labels as numbers until the chunks run.

Registered through the ``airflow.policy`` entry point (pyproject.toml), or by hand in ``airflow_local_settings.py``::

    from airflow_mapper_provider.policy import task_instance_mutation_hook  # noqa: F401

This module imports nothing from Airflow at import time (Airflow loads policy plugins while it is importing).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from typing import Any

import pluggy

log = logging.getLogger(__name__)

hookimpl = pluggy.HookimplMarker("airflow.policy")

#: A run's labels are read once per expansion: cached this long, for this many runs.
CACHE_S = 5.0
CACHE_RUNS = 16
_cache: OrderedDict[tuple[int, str], tuple[float, list[str]]] = OrderedDict()
_lock = threading.Lock()


@hookimpl
def task_instance_mutation_hook(task_instance: Any, dag_run: Any) -> None:
    """Label a new, not yet started ``load_chunk`` task instance with its chunk's range."""
    try:
        label_chunk(task_instance, dag_run)
    except Exception:  # never let a label break the scheduler
        log.debug("mapper grid label: left to Airflow", exc_info=True)


def label_chunk(ti: Any, dag_run: Any) -> str | None:
    """Set ``ti``'s rendered map index to its chunk's label; returns it (None: not a mapper chunk, or unknown)."""
    if dag_run is None or getattr(ti, "map_index", -1) < 0 or getattr(ti, "_rendered_map_index", None) is not None:
        return None
    from airflow_mapper_provider.operators.load import MAP_INDEX_TEMPLATE

    task = getattr(ti, "task", None)
    if task is None or getattr(task, "map_index_template", None) != MAP_INDEX_TEMPLATE:
        return None
    labels = _labels(dag_run, _plan_task_id(task))
    if labels is None or ti.map_index >= len(labels) or not labels[ti.map_index]:
        return None
    label = labels[ti.map_index][:250]  # Airflow's column holds 250 characters
    ti._rendered_map_index = label
    return label


def _plan_task_id(task: Any) -> str:
    """The task whose output the chunks are mapped over (the plan)."""
    from airflow.serialization.definitions.xcom_arg import SchedulerXComArg

    refs = list(SchedulerXComArg.iter_xcom_references(task._get_specified_expand_input()))
    if len(refs) != 1 or refs[0][1] != "return_value":
        raise LookupError(f"{task.task_id}: not mapped over one plan output ({len(refs)} references)")
    return str(refs[0][0].task_id)


def _labels(dag_run: Any, plan_task_id: str) -> list[str] | None:
    key = (int(dag_run.id), plan_task_id)
    now = time.monotonic()
    with _lock:
        hit = _cache.get(key)
        if hit is not None and now - hit[0] < CACHE_S:
            return hit[1]
    labels = _read_labels(dag_run, plan_task_id)
    if labels is not None:
        with _lock:
            _cache[key] = (now, labels)
            _cache.move_to_end(key)
            while len(_cache) > CACHE_RUNS:
                _cache.popitem(last=False)
    return labels


def _read_labels(dag_run: Any, plan_task_id: str) -> list[str] | None:
    """The chunk labels of the plan's XCom, in map index order (read in the scheduler's session, no flush)."""
    from airflow.models.xcom import XComModel
    from sqlalchemy import select
    from sqlalchemy.orm import object_session

    session = object_session(dag_run)
    if session is None:
        return None
    query = select(XComModel.value).where(
        XComModel.dag_run_id == dag_run.id,
        XComModel.task_id == plan_task_id,
        XComModel.map_index == -1,
        XComModel.key == "return_value",
    )
    with session.no_autoflush:
        row = session.execute(query).first()
    chunks = XComModel.deserialize_value(row) if row is not None else None
    if not isinstance(chunks, list):
        return None
    return [str(c.get("label") or "") if isinstance(c, dict) else "" for c in chunks]
