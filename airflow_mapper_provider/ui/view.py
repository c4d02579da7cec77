"""The mapper view of one MapperOperator in one DAG run, from what Airflow holds (no Airflow import, no I/O).

Inputs are the run's task instances of the group (plan, load_chunk map indexes, finalize), their XComs (the
plan's chunk list, each chunk's result, finalize's run summary), each chunk's ``progress`` value from the task
state store, and the group's config. Rows so far are the rows read by committed chunks plus the rows read so far
by running ones (as the ``mapper_progress`` view counts them); the rate is the running chunks' combined rate,
and the ETA the rows left against the plan's estimate at that rate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

COUNTERS = ("inserted", "updated", "expired", "unchanged", "rejected", "deleted")
RUNNING_STATES = frozenset({"running", "queued", "scheduled", "up_for_retry", "up_for_reschedule", "deferred"})
FAILED_STATES = frozenset({"failed", "upstream_failed"})


@dataclass
class GroupData:
    """What Airflow holds about one MapperOperator group in one run (task instances as dicts with ``state``,
    ``map_index``, ``try_number``, ``rendered_map_index``, ``duration``)."""

    group: str
    config: Mapping[str, Any] = field(default_factory=dict)
    plan_ti: Mapping[str, Any] | None = None
    finalize_ti: Mapping[str, Any] | None = None
    chunk_tis: list[Mapping[str, Any]] = field(default_factory=list)
    plan_xcom: list[Mapping[str, Any]] | None = None
    chunk_xcoms: dict[int, Mapping[str, Any]] = field(default_factory=dict)
    progress: dict[int, Mapping[str, Any]] = field(default_factory=dict)
    summary: Mapping[str, Any] | None = None


def _state(ti: Mapping[str, Any] | None) -> str:
    return str((ti or {}).get("state") or "none")


def group_status(data: GroupData, chunks: list[dict[str, Any]]) -> str:
    """``success``/``failed``/``abandoned`` from finalize's summary; else what is happening now."""
    fin = _state(data.finalize_ti)
    if data.summary and fin == "success":
        return str(data.summary.get("status") or "success")
    if fin == "failed":
        return "failed"
    if fin == "skipped" or _state(data.plan_ti) in FAILED_STATES:
        return "stopped" if fin == "skipped" else "failed"
    plan = _state(data.plan_ti)
    if plan == "up_for_reschedule":
        return "waiting for the run lock"
    if plan != "success":
        return "planning" if plan in RUNNING_STATES else plan
    if any(c["state"] in RUNNING_STATES for c in chunks) or fin in RUNNING_STATES or fin == "none":
        return "running"
    return fin


def chunk_rows(data: GroupData) -> list[dict[str, Any]]:
    """One row per planned chunk: label, state, try, rows, seconds, path, phase."""
    specs = {int(c.get("index", i)): c for i, c in enumerate(data.plan_xcom or [])}
    tis = {int(t["map_index"]): t for t in data.chunk_tis if int(t.get("map_index", -1)) >= 0}
    out = []
    for index in sorted(set(specs) | set(tis)):
        ti, result, live = tis.get(index, {}), data.chunk_xcoms.get(index) or {}, data.progress.get(index) or {}
        state = _state(ti) if ti else "planned"
        done = state == "success" and result
        rows = result.get("rows_read") if done else live.get("rows_read") if state in RUNNING_STATES else None
        rolled_back = (
            live.get("rows_read") if state in FAILED_STATES and live.get("status") in ("failed", "stopped") else None
        )
        seconds = result.get("seconds_total") if done else (live.get("elapsed_s") or ti.get("duration"))
        out.append({
            "map_index": index,
            "label": ti.get("rendered_map_index") or (specs.get(index) or {}).get("label") or f"chunk {index + 1}",
            "state": state,
            "try_number": ti.get("try_number"),
            "rows": rows,
            "rows_estimated": live.get("rows_estimated"),
            "seconds": round(float(seconds), 2) if seconds is not None else None,
            "path": result.get("path") or "",
            "phase": live.get("phase") if state in RUNNING_STATES else "",
            "rows_per_s": live.get("rows_per_s") if state == "running" else None,
            "from_ledger": bool(result.get("from_ledger")),
            "rows_rolled_back": rolled_back,  # a failed or stopped chunk's rows read before it rolled back
            "progress_status": live.get("status"),  # the chunk's own word: running, success, failed, stopped
        })  # fmt: skip
    return out


def _counts(chunks: list[dict[str, Any]]) -> dict[str, int]:
    states = [c["state"] for c in chunks]
    return {
        "planned": len(chunks),
        "done": sum(s == "success" for s in states),
        "running": sum(s == "running" for s in states),
        "waiting": sum(s in RUNNING_STATES - {"running"} or s in ("planned", "none") for s in states),
        "failed": sum(s in FAILED_STATES for s in states),
    }


def _counters(data: GroupData) -> dict[str, int]:
    if data.summary:
        return {name: int(data.summary.get(f"rows_{name}") or 0) for name in COUNTERS}
    results = [r for i, r in data.chunk_xcoms.items() if r and r.get("status", "success") == "success"]
    return {name: sum(int(r.get(f"rows_{name}") or 0) for r in results) for name in COUNTERS}


def _rows(data: GroupData, chunks: list[dict[str, Any]]) -> dict[str, Any]:
    estimated = int(((data.plan_xcom or [{}])[0] or {}).get("estimated_rows") or 0) if data.plan_xcom else 0
    so_far = sum(int(c["rows"] or 0) for c in chunks if c["state"] in ("success", "running"))
    if data.summary:
        so_far = int(data.summary.get("rows_read") or so_far)
    rate = sum(float(c["rows_per_s"] or 0) for c in chunks if c["state"] == "running") or None
    eta = max(estimated - so_far, 0) / rate if rate and estimated else None
    percent = min(100.0, 100.0 * so_far / estimated) if estimated else (100.0 if data.summary else None)
    return {"so_far": so_far, "estimated": estimated, "per_s": rate, "eta_s": eta,
            "percent": None if percent is None else math.floor(percent * 10) / 10}  # fmt: skip


def _checkpoint(data: GroupData) -> dict[str, Any]:
    window = ((data.plan_xcom or [{}])[0] or {}).get("window") if data.plan_xcom else None
    before = ((window or {}).get("lower") or {}).get("v")
    after = (data.summary or {}).get("checkpoint_after")
    return {"column": (window or {}).get("column") or data.config.get("checkpoint_column"), "before": before,
            "after": after}  # fmt: skip


def group_view(data: GroupData) -> dict[str, Any]:
    """The JSON the page renders for one group."""
    chunks = chunk_rows(data)
    return {
        "group": data.group,
        "mapref": data.config.get("mapref"),
        "load_strategy": data.config.get("load_strategy"),
        "target_table": data.config.get("target_table"),
        "status": group_status(data, chunks),
        "plan_state": _state(data.plan_ti),
        "finalize_state": _state(data.finalize_ti),
        "chunks": _counts(chunks),
        "rows": _rows(data, chunks),
        "counters": _counters(data),
        "checkpoint": _checkpoint(data),
        "chunk_rows": chunks,
        "live": group_status(data, chunks) in ("running", "planning", "waiting for the run lock"),
    }


def rest_calls(dag_id: str, run_id: str, group: str) -> dict[str, dict[str, Any]]:
    """The REST calls to stop and to resume (README "Stopping and resuming a run")."""
    base = f"/api/v2/dags/{dag_id}"
    return {
        "stop_run": {"method": "PATCH", "path": f"{base}/dagRuns/{run_id}", "body": {"state": "failed"}},
        "stop_chunk": {"method": "PATCH", "path": f"{base}/dagRuns/{run_id}/taskInstances/{group}.load_chunk/"
                       "{map_index}", "body": {"new_state": "failed"}},
        "resume_after_run_stop": {"method": "POST", "path": f"{base}/clearTaskInstances", "body": {
            "dag_run_id": run_id, "task_ids": [f"{group}.load_chunk"], "include_downstream": True,
            "only_failed": False, "dry_run": False}},
        "resume_failed_chunks": {"method": "POST", "path": f"{base}/clearTaskInstances", "body": {
            "dag_run_id": run_id, "only_failed": True, "include_downstream": True, "dry_run": False}},
    }  # fmt: skip
