"""The mapper's Airflow plugin (registered by the provider: ``plugins`` in get_provider_info).

A tab "Mapper" on the DAG run page (an external view with destination ``dag_run``, shown inside the Airflow UI)
and an entry "Mapper runs" in the navigation (Browse), both pages of the FastAPI sub-app in :mod:`.app`. The
sub-app is built only in the api-server: schedulers and workers load plugins too and need none of it.
"""

from __future__ import annotations

import sys
from typing import Any
from urllib.parse import urlparse

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/mapper"


def _on_api_server() -> bool:
    return (len(sys.argv) > 1 and sys.argv[1] == "api-server") or "api_fastapi" in " ".join(sys.argv[:3])


def base_path(path: str) -> str:
    """``path`` below the path of ``[api] base_url`` (Airflow served under a prefix)."""
    from airflow.configuration import conf

    base = conf.get("api", "base_url", fallback="/") or "/"
    prefix = urlparse(base).path if base.startswith(("http://", "https://")) else base
    return prefix.rstrip("/") + path


def _apps() -> list[dict[str, Any]]:
    from airflow_mapper_provider.ui.app import create_app

    return [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "Mapper"}]


def _views() -> list[dict[str, Any]]:
    return [
        {
            "name": "Mapper",
            "href": base_path(URL_PREFIX + "/runs/{DAG_ID}/{RUN_ID}"),
            "destination": "dag_run",
            "url_route": "mapper_run",
        },
        {
            "name": "Mapper runs",
            "href": base_path(URL_PREFIX + "/"),
            "destination": "nav",
            "category": "browse",
            "url_route": "mapper_runs",
        },
    ]


class MapperPlugin(AirflowPlugin):
    """The mapper view in the Airflow UI."""

    name = "mapper"
    if _on_api_server():
        fastapi_apps = _apps()
        external_views = _views()
