"""The plugin as Airflow's plugin manager loads it in every component: found, valid, and cheap.

Run in a child process, as a fresh Airflow component would load it: loading must not import the pages
(FastAPI, jinja2 templates, the gateway), which the DAG processor and the scheduler never serve.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.plugins.conftest import PLUGINS

LOAD = """
import json, sys, time
PAGES = ("fastapi", "gateway", "gateway_pages", "gateway_pages.app", "connectors")
from airflow import plugins_manager
started = time.perf_counter()
plugins, errors = plugins_manager._get_plugins()
seconds = time.perf_counter() - started
views, _ = plugins_manager._get_ui_plugins()
apps, _ = plugins_manager.get_fastapi_plugins()
print(json.dumps({
    "plugins": [p.name for p in plugins],
    "errors": errors,
    "views": views,
    "apps": [{"url_prefix": a["url_prefix"], "app": type(a["app"]).__name__} for a in apps],
    "imported": sorted(m for m in PAGES if m in sys.modules),
    "seconds": seconds,
}))
"""


def test_the_plugin_manager_loads_it_without_the_pages() -> None:
    env = {**os.environ, "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS)}
    done = subprocess.run([sys.executable, "-c", LOAD], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded["errors"] == {}
    assert loaded["plugins"] == ["gateway_pages"]
    assert loaded["apps"] == [{"url_prefix": "/gateway", "app": "LazyPages"}]
    assert [(v["name"], v["href"], v["url_route"]) for v in loaded["views"]] == [
        ("部门报送", "/gateway/departments", "gateway-departments"),
        ("待关联记录", "/gateway/queue", "gateway-queue"),
        ("报送批次", "/gateway/deliveries", "gateway-deliveries"),
        ("市场主体", "/gateway/entities", "gateway-entities"),
        ("风险预警", "/gateway/warnings", "gateway-warnings"),
        ("双随机抽查", "/gateway/draws", "gateway-draws"),
    ]
    assert {v["category"] for v in loaded["views"]} == {"数据交换网关"}
    assert loaded["imported"] == []  # the pages wait for their first request
    print(f"plugins loaded in {loaded['seconds'] * 1000:.1f} ms")
