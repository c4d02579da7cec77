"""Read a run's mapper data from Airflow's metadata database (api-server side, read only): the group's task
instances, their XComs, the chunks' ``progress`` in the task state store, and the group's config from the
run's serialized DAG. Nothing here opens a connection to the source or target databases.

Mapper tasks are recognised by their operator class name (``TaskInstance.operator``); a subclass with another
name is not shown. Progress is read from the task state store's database table (Airflow's default backend).
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from airflow_mapper_provider.ui.view import GroupData

#: Operator class name -> the task's role in its group (task id ``<group>.<role>``).
ROLES = {"MapperPlanOperator": "plan", "MapperLoadChunkOperator": "load_chunk", "MapperFinalizeOperator": "finalize"}
PROGRESS_KEY = "progress"


def _ti_dict(row: Any) -> dict[str, Any]:
    return {
        "task_id": row.task_id, "map_index": row.map_index, "state": row.state, "try_number": row.try_number,
        "rendered_map_index": row.rendered_map_index, "duration": row.duration, "operator": row.operator,
        "dag_version_id": row.dag_version_id,
    }  # fmt: skip


def task_instances(session: Any, dag_id: str, run_id: str) -> list[dict[str, Any]]:
    from airflow.models.taskinstance import TaskInstance as TI
    from sqlalchemy import select

    stmt = select(
        TI.task_id, TI.map_index, TI.state, TI.try_number, TI._rendered_map_index.label("rendered_map_index"),
        TI.duration, TI.operator,
        TI.dag_version_id,
    ).where(TI.dag_id == dag_id, TI.run_id == run_id, TI.operator.in_(list(ROLES)))  # fmt: skip
    return [_ti_dict(r) for r in session.execute(stmt)]


def xcoms(session: Any, dag_id: str, run_id: str, task_ids: list[str]) -> dict[tuple[str, int], Any]:
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    stmt = select(XComModel.task_id, XComModel.map_index, XComModel.value).where(
        XComModel.dag_id == dag_id, XComModel.run_id == run_id, XComModel.key == "return_value",
        XComModel.task_id.in_(task_ids),
    )  # fmt: skip
    return {(r.task_id, r.map_index): XComModel.deserialize_value(r) for r in session.execute(stmt)}


def progress(session: Any, dag_id: str, run_id: str, task_ids: list[str]) -> dict[tuple[str, int], Any]:
    from airflow.models.task_state_store import TaskStateStoreModel as S
    from sqlalchemy import select

    stmt = select(S.task_id, S.map_index, S.value).where(
        S.dag_id == dag_id, S.run_id == run_id, S.key == PROGRESS_KEY, S.task_id.in_(task_ids)
    )
    out = {}
    for r in session.execute(stmt):
        try:
            out[(r.task_id, r.map_index)] = json.loads(r.value)
        except (TypeError, ValueError):
            continue
    return out


def group_configs(session: Any, dag_version_ids: set[Any]) -> dict[str, dict[str, Any]]:
    """``{group: config}`` from the ``partial_kwargs`` of the mapped load_chunk tasks in the serialized DAG(s)."""
    from airflow.models.serialized_dag import SerializedDagModel
    from sqlalchemy import select

    found: dict[str, dict[str, Any]] = {}
    ids = [v for v in dag_version_ids if v is not None]
    if not ids:
        return found
    for sdm in session.scalars(select(SerializedDagModel).where(SerializedDagModel.dag_version_id.in_(ids))):
        for task in (sdm.data or {}).get("dag", {}).get("tasks", []):
            var = task.get("__var", task)
            task_id = str(var.get("task_id", ""))
            if var.get("task_type") == "MapperLoadChunkOperator" and task_id.endswith(".load_chunk"):
                conf = (var.get("partial_kwargs") or {}).get("config") or {}
                found[task_id.rsplit(".", 1)[0]] = conf.get("__var", conf)
    return found


def run_groups(session: Any, dag_id: str, run_id: str) -> list[GroupData]:
    """Every MapperOperator group of the run, in task id order."""
    tis = task_instances(session, dag_id, run_id)
    ids = sorted({t["task_id"] for t in tis})
    values = xcoms(session, dag_id, run_id, ids)
    live = progress(session, dag_id, run_id, [i for i in ids if i.endswith(".load_chunk")])
    configs = group_configs(session, {t["dag_version_id"] for t in tis})
    groups: dict[str, GroupData] = defaultdict(lambda: GroupData(group=""))
    for ti in tis:
        role = ROLES[ti["operator"]]
        name = ti["task_id"][: -len(role) - 1] if ti["task_id"].endswith("." + role) else ti["task_id"]
        g = groups[name]
        g.group, g.config = name, configs.get(name, {})
        if role == "plan":
            g.plan_ti, plan_value = ti, values.get((ti["task_id"], -1))
            g.plan_xcom = plan_value if isinstance(plan_value, list) else None
        elif role == "finalize":
            g.finalize_ti, g.summary = ti, values.get((ti["task_id"], -1))
        else:
            g.chunk_tis.append(ti)
            index = ti["map_index"]
            if isinstance(result := values.get((ti["task_id"], index)), dict):
                g.chunk_xcoms[index] = result
            if isinstance(p := live.get((ti["task_id"], index)), dict):
                g.progress[index] = p
    return [groups[k] for k in sorted(groups)]


def recent_runs(session: Any, dag_ids: set[str] | None, limit: int) -> list[dict[str, Any]]:
    """The latest runs that hold a mapper plan task, newest first, among ``dag_ids`` (None: all)."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance as TI
    from sqlalchemy import select

    stmt = (
        select(DagRun.dag_id, DagRun.run_id, DagRun.state, DagRun.start_date, DagRun.end_date, TI.task_id)
        .join(TI, (TI.dag_id == DagRun.dag_id) & (TI.run_id == DagRun.run_id))
        .where(TI.operator == "MapperPlanOperator")
        .order_by(DagRun.id.desc())
        .limit(limit)
    )  # fmt: skip
    if dag_ids is not None:
        stmt = stmt.where(DagRun.dag_id.in_(sorted(dag_ids)))
    return [
        {"dag_id": r.dag_id, "run_id": r.run_id, "state": r.state, "group": r.task_id.rsplit(".", 1)[0],
         "start_date": r.start_date.isoformat() if r.start_date else None,
         "end_date": r.end_date.isoformat() if r.end_date else None}
        for r in session.execute(stmt)
    ]  # fmt: skip
