"""The mapper view's numbers from Airflow's data (ui/view.py): pure, no Airflow."""

from __future__ import annotations

from typing import Any

from airflow_mapper_provider.ui.view import GroupData, group_view, rest_calls

CONFIG = {"mapref": "d.load", "load_strategy": "scd2", "target_table": "dw.t", "checkpoint_column": "updated_at"}


def _plan(count: int, estimate: int) -> list[dict[str, Any]]:
    window = {"column": "updated_at", "lower": {"t": "datetime", "v": "2026-01-01T00:00:00+00:00"}, "upper": None}
    return [{"index": i, "count": count, "estimated_rows": estimate, "label": f"chunk {i + 1}/{count} k {i}..",
             "window": window} for i in range(count)]  # fmt: skip


def _ti(i: int, state: str, try_number: int = 1) -> dict[str, Any]:
    return {"map_index": i, "state": state, "try_number": try_number, "rendered_map_index": None, "duration": 4.0}


def running() -> GroupData:
    return GroupData(
        group="load", config=CONFIG, plan_ti={"state": "success"}, finalize_ti={"state": None},
        chunk_tis=[_ti(0, "success"), _ti(1, "running", 2), _ti(2, "running"), _ti(3, "scheduled")],
        plan_xcom=_plan(4, 4000),
        chunk_xcoms={0: {"status": "success", "rows_read": 1000, "rows_inserted": 700, "rows_updated": 0,
                         "rows_expired": 300, "rows_unchanged": 0, "seconds_total": 3.25, "path": "copy-stage"}},
        progress={1: {"rows_read": 400, "rows_per_s": 100.0, "rows_estimated": 1000, "phase": "reading",
                      "elapsed_s": 4.0},
                  2: {"rows_read": 600, "rows_per_s": 150.0, "phase": "applying", "elapsed_s": 5.0}},
    )  # fmt: skip


def test_running_group() -> None:
    view = group_view(running())
    assert view["status"] == "running" and view["live"]
    assert view["chunks"] == {"planned": 4, "done": 1, "running": 2, "waiting": 1, "failed": 0}
    rows = view["rows"]
    assert rows["so_far"] == 2000 and rows["estimated"] == 4000 and rows["per_s"] == 250.0
    assert rows["eta_s"] == 8.0 and rows["percent"] == 50.0  # 2,000 rows left at 250 rows/s
    assert view["counters"] == {"inserted": 700, "updated": 0, "expired": 300, "unchanged": 0, "rejected": 0,
                                "deleted": 0}  # fmt: skip
    c0, c1, _, c3 = view["chunk_rows"]
    assert (c0["rows"], c0["seconds"], c0["path"], c0["phase"]) == (1000, 3.25, "copy-stage", "")
    assert (c1["rows"], c1["try_number"], c1["phase"], c1["rows_per_s"]) == (400, 2, "reading", 100.0)
    assert c3["state"] == "scheduled" and c3["rows"] is None and c3["label"] == "chunk 4/4 k 3.."
    assert view["checkpoint"] == {"column": "updated_at", "before": "2026-01-01T00:00:00+00:00", "after": None}


def test_finished_group_takes_finalize_totals() -> None:
    data = running()
    data.chunk_tis = [_ti(i, "success") for i in range(4)]
    data.progress = {}
    data.finalize_ti = {"state": "success"}
    data.summary = {"status": "success", "rows_read": 4100, "rows_inserted": 2800, "rows_updated": 0,
                    "rows_expired": 1200, "rows_unchanged": 100, "rows_rejected": 2, "rows_deleted": 5,
                    "checkpoint_after": "2026-02-01T00:00:00+00:00"}  # fmt: skip
    view = group_view(data)
    assert view["status"] == "success" and not view["live"]
    assert view["rows"]["so_far"] == 4100 and view["rows"]["percent"] == 100.0 and view["rows"]["eta_s"] is None
    assert view["counters"]["deleted"] == 5 and view["counters"]["rejected"] == 2
    assert view["checkpoint"]["after"] == "2026-02-01T00:00:00+00:00"


def test_statuses() -> None:
    data = running()
    data.plan_ti, data.chunk_tis, data.plan_xcom = {"state": "up_for_reschedule"}, [], None
    assert group_view(data)["status"] == "waiting for the run lock"
    data = running()
    data.finalize_ti = {"state": "skipped"}  # the run was marked failed: finalize skipped
    data.chunk_tis = [_ti(i, "failed") for i in range(4)]
    data.progress = {1: {"status": "stopped", "rows_read": 532}}
    view = group_view(data)
    assert view["status"] == "stopped" and view["chunks"]["failed"] == 4 and not view["live"]
    stopped = view["chunk_rows"][1]
    assert stopped["rows"] is None and stopped["rows_rolled_back"] == 532 and stopped["progress_status"] == "stopped"
    data.finalize_ti = {"state": "failed"}
    assert group_view(data)["status"] == "failed"


def test_planned_chunks_without_task_instances_yet() -> None:
    data = running()
    data.chunk_tis = [{"map_index": -1, "state": None}]  # before the scheduler expanded load_chunk
    view = group_view(data)
    assert [c["state"] for c in view["chunk_rows"]] == ["planned"] * 4 and view["chunks"]["waiting"] == 4


def test_rest_calls_follow_the_readme() -> None:
    calls = rest_calls("d", "r1", "load")
    assert calls["stop_run"] == {"method": "PATCH", "path": "/api/v2/dags/d/dagRuns/r1", "body": {"state": "failed"}}
    assert calls["stop_chunk"]["path"] == "/api/v2/dags/d/dagRuns/r1/taskInstances/load.load_chunk/{map_index}"
    assert calls["resume_after_run_stop"]["body"]["task_ids"] == ["load.load_chunk"]
    assert calls["resume_after_run_stop"]["body"]["only_failed"] is False
    assert calls["resume_failed_chunks"]["body"]["only_failed"] is True
