"""The Airflow plugin that adds the gateway's pages to the Airflow UI (docs/pages.md).

It registers one FastAPI app, mounted by the API server under ``/gateway``, and six entries in the UI's
menu (Plugins → 数据交换网关), each shown inside Airflow's own frame. The pages authenticate and authorise
every request with Airflow's own login and auth manager (gateway_pages/access.py): Airflow 3.3 puts
nothing in front of a plugin's app.

Airflow loads plugins in every component — the DAG processor and the scheduler too — so this file imports
nothing but Airflow's plugin base and configuration, both loaded already when plugins are. The pages
themselves (FastAPI, jinja2, the gateway, the connectors) are imported by the first request that reaches
them, in the API server only. The package lives beside this file (gateway_pages/, kept from the plugin
scan by .airflowignore), on the path because Airflow puts the plugins folder there.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from airflow.configuration import conf
from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/gateway"
CATEGORY = "数据交换网关"
VIEWS = (
    ("部门报送", "departments", "gateway-departments"),
    ("待关联记录", "queue", "gateway-queue"),
    ("报送批次", "deliveries", "gateway-deliveries"),
    ("市场主体", "entities", "gateway-entities"),
    ("风险预警", "warnings", "gateway-warnings"),
    ("双随机抽查", "draws", "gateway-draws"),
)


class LazyPages:
    """An ASGI app that builds the pages' FastAPI app on the first request it gets."""

    def __init__(self) -> None:
        self._app: Any = None
        self._lock = threading.Lock()

    def _build(self) -> Any:
        with self._lock:
            if self._app is None:
                folder = str(Path(__file__).resolve().parent)
                if folder not in sys.path:
                    sys.path.append(folder)
                from gateway_pages.app import create_app

                self._app = create_app()
        return self._app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        app = self._app if self._app is not None else self._build()
        await app(scope, receive, send)


def _site_path() -> str:
    """The path Airflow is served under (``[api] base_url``), so menu links work behind a prefix too."""
    return urlsplit(conf.get("api", "base_url", fallback="") or "").path.rstrip("/")


class GatewayPagesPlugin(AirflowPlugin):
    # Airflow reads these class attributes (lists, as its AirflowPlugin declares them).
    name = "gateway_pages"
    fastapi_apps = [{"app": LazyPages(), "url_prefix": URL_PREFIX, "name": "数据交换网关 pages"}]  # noqa: RUF012
    external_views = [  # noqa: RUF012
        {
            "name": label,
            "href": f"{_site_path()}{URL_PREFIX}/{path}",
            "url_route": route,
            "category": CATEGORY,
            "destination": "nav",
        }
        for label, path, route in VIEWS
    ]
