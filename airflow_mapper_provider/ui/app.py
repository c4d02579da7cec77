"""The mapper's FastAPI sub-app, mounted by the plugin under ``/mapper`` on the api-server.

- ``GET /mapper/runs/{dag_id}/{run_id}``: the run page (the "Mapper" tab of the DAG run page);
- ``GET /mapper/``: the recent mapper runs page (the "Mapper runs" entry of the navigation);
- ``GET /mapper/api/dags/{dag_id}/runs/{run_id}``: JSON of every MapperOperator in the run;
- ``GET /mapper/api/runs?limit=50``: JSON of the latest mapper runs across the DAGs the user may read.

The JSON endpoints check the user exactly as Airflow's own routes do (``requires_access_dag`` with the JWT from
the ``Authorization`` header or the UI's ``_token`` cookie): a user who may not read the DAG's task instances and
XComs gets 403, an unauthenticated request 401. The pages are static shells that hold no data.
"""

from __future__ import annotations

import html
from importlib import resources
from typing import Annotated, Any

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from airflow_mapper_provider.ui import reader
from airflow_mapper_provider.ui.view import group_view, rest_calls

URL_PREFIX = "/mapper"
_READ_RUN = [
    Depends(requires_access_dag(method="GET", access_entity=DagAccessEntity.TASK_INSTANCE)),
    Depends(requires_access_dag(method="GET", access_entity=DagAccessEntity.XCOM)),
]
_READ_ANY = [Depends(requires_access_dag(method="GET", access_entity=DagAccessEntity.RUN))]


def _static(name: str) -> str:
    return resources.files("airflow_mapper_provider.ui").joinpath("static", name).read_text(encoding="utf-8")


def _page(name: str, request: Request) -> str:
    """A page shell, its asset links below the path the app is mounted at (``/mapper``, after any base path)."""
    root = html.escape(str(request.scope.get("root_path") or URL_PREFIX).rstrip("/"), quote=True)
    return _static(name).replace("{{ROOT}}", root)


def run_json(session: Any, dag_id: str, run_id: str) -> dict[str, Any]:
    from airflow.models.dagrun import DagRun
    from sqlalchemy import select

    run = session.execute(
        select(DagRun.state, DagRun.start_date, DagRun.end_date).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)
    ).first()
    if run is None:
        raise HTTPException(404, f"DAG run {run_id!r} of {dag_id!r} not found")
    groups = [
        {**group_view(g), "rest": rest_calls(dag_id, run_id, g.group)}
        for g in reader.run_groups(session, dag_id, run_id)
    ]
    return {
        "dag_id": dag_id, "run_id": run_id, "state": run.state,
        "start_date": run.start_date.isoformat() if run.start_date else None,
        "end_date": run.end_date.isoformat() if run.end_date else None,
        "groups": groups, "live": run.state in ("queued", "running") or any(g["live"] for g in groups),
    }  # fmt: skip


def recent_json(session: Any, user: Any, limit: int) -> dict[str, Any]:
    from airflow.api_fastapi.app import get_auth_manager

    allowed = get_auth_manager().get_authorized_dag_ids(user=user, method="GET", session=session)
    runs = reader.recent_runs(session, set(allowed), limit)
    for run in runs:
        fin = f"{run['group']}.finalize"
        summary = reader.xcoms(session, run["dag_id"], run["run_id"], [fin]).get((fin, -1))
        run["summary"] = summary if isinstance(summary, dict) else None
    return {"runs": runs}


def create_app() -> FastAPI:
    app = FastAPI(title="Mapper", description="Mapper runs: chunks, rows, progress (airflow-mapper-provider)")

    @app.get("/api/dags/{dag_id}/runs/{run_id}", dependencies=_READ_RUN)
    def get_run(dag_id: str, run_id: str, session: SessionDep) -> dict[str, Any]:
        return run_json(session, dag_id, run_id)

    @app.get("/api/runs", dependencies=_READ_ANY)
    def get_runs(
        user: GetUserDep, session: SessionDep, limit: Annotated[int, Query(ge=1, le=500)] = 50
    ) -> dict[str, Any]:
        return recent_json(session, user, limit)

    @app.get("/runs/{dag_id}/{run_id}", response_class=HTMLResponse)
    def run_page(dag_id: str, run_id: str, request: Request) -> str:
        return _page("run.html", request)

    @app.get("/", response_class=HTMLResponse)
    def runs_page(request: Request) -> str:
        return _page("runs.html", request)

    @app.get("/static/{name}")
    def static(name: str) -> Response:
        kinds = {"mapper.js": "text/javascript", "mapper.css": "text/css"}
        if name not in kinds:
            raise HTTPException(404, "not found")
        return Response(_static(name), media_type=kinds[name])

    return app
