"""Real Airflow 3.3 for tests: its programs as child processes on loopback, driven through its REST API.

``dag.test()`` runs a DAG in one process and skips what goes wrong between programs: the scheduler,
the dag-processor's parsing, the triggerer's asset watchers, executors, the execution API and its JWTs.
This harness runs the real programs so a test can watch the gateway's DAGs as an operator would.

Starting one::

    from tests.airflow_stack import airflow_stack

    with airflow_stack(tmp_path, env=gateway_env) as stack:         # `airflow standalone`, SQLite
        stack.wait_for_parsing()
        stack.unpause("department_files")
        run = stack.wait_for_success("department_files", timeout=300)

``airflow_stack(workdir, ...)`` (a context manager):

* ``standalone=True`` runs ``airflow standalone`` (LocalExecutor, as standalone insists); ``False`` runs
  ``airflow api-server``, ``scheduler``, ``dag-processor`` and ``triggerer`` separately, plus ``airflow
  celery worker`` with ``celery_worker=True`` (which sets ``AIRFLOW__CORE__EXECUTOR=CeleryExecutor``; the
  broker and result backend come in ``env``: ``AIRFLOW__CELERY__BROKER_URL``, ``…__RESULT_BACKEND``).
* ``metadata_url``: Airflow's database (SQLite in ``workdir/airflow`` by default; see
  :func:`postgres_database` for a fresh PostgreSQL one). ``env``: added last to every program's
  environment — the gateway's ``GATEWAY_*`` settings, Connections as ``AIRFLOW_CONN_*``, any
  ``AIRFLOW__*`` option. The caller's own ``AIRFLOW*`` and ``GATEWAY_*`` variables are not inherited, so a
  stack sees only what it is given.
* Every program gets: ``AIRFLOW_HOME=workdir/airflow``, the checkout's ``dags/`` and ``plugins/``, no
  examples, free loopback ports for the API and both log servers, ``AIRFLOW__API__BASE_URL`` and
  ``AIRFLOW__CORE__EXECUTION_API_SERVER_URL`` on that port, one ``AIRFLOW__API_AUTH__JWT_SECRET`` and
  Fernet key, ``AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=True`` and this environment's ``bin/``
  first on ``PATH`` (samples/stack.py builds it: ``make up`` starts the same Airflow).
* Before starting: ``airflow db migrate``, then ``setup`` (default: ``python -m connectors.airflow_setup``,
  the gateway's writers' pool, without which its tasks are never queued). Then it waits until
  ``GET /api/v2/monitor/health`` reports the metadatabase, scheduler, triggerer and dag-processor healthy.
* Logs: ``workdir/logs/<program>.log`` per program; task logs under ``workdir/airflow/logs``. When the
  ``with`` body raises, or when ``request`` is given and a test failed while the stack ran, the tails of
  all of them are printed (to the terminal, past pytest's capture). Timeouts and failed runs raise
  :class:`StackError` with the tails in the message as well.
* Stop: at the end of the ``with`` (also when a test fails), and at interpreter exit if the ``with`` never
  ended, every program's process group gets SIGTERM, then SIGKILL after 30 s.

The :class:`AirflowStack` it yields: ``url``, ``env`` (for subprocesses of the test), ``home``,
``log_dir``, ``timings`` (seconds: ``migrate``, ``healthy``, ``parsed``); REST helpers ``get``,
``request``, ``token`` (``GET /auth/token``: with ALL_ADMINS the simple auth manager issues an admin
token without credentials — ``create_token_all_admins`` in
airflow/api_fastapi/auth/managers/simple/routes/login.py), ``health``, ``dags``, ``unpause`` /
``set_paused`` (``PATCH /api/v2/dags/{id}`` with ``{"is_paused": …}``), ``dag_runs``,
``task_instances``, ``import_errors`` (``/api/v2/importErrors``); waiting: ``wait_until(condition,
timeout=…, what=…)`` (returns the condition's first truthy value and fails early when a program died),
``wait_for_parsing`` (every DAG file parsed, into a DAG or an import error) and ``wait_for_success``
(the first finished run whose id is not in ``after``, failing at once with its task states when it
failed); ``check_running()``; ``airflow(*args)`` runs the CLI against the stack; ``log_tails()``;
``components`` (each program's ``Component``: ``pid``, ``log``, ``running()``, ``stop()``).

Stacks run side by side (with each other and with ``make up``): every port is chosen free.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
from cryptography.fernet import Fernet

from samples.stack import (
    AIRFLOW,
    CELERY_WORKER,
    COMPONENTS,
    GATEWAY_SETUP,
    REPO_ROOT,
    STANDALONE,
    Component,
    LoopbackAirflow,
    StackError,
    health,
    prepare_metadata,
    spawn_airflow,
    stop_components,
    tail,
    wait_healthy,
)
from tests.conftest import PG_ADMIN_URL

__all__ = ["AirflowStack", "StackError", "airflow_stack", "postgres_database"]

T = TypeVar("T")
RUN_FINISHED = ("success", "failed")
PAGE = 100
# Variables of the caller that would leak into a stack's programs and change what they do.
NOT_INHERITED = ("AIRFLOW", "GATEWAY_")


class AirflowStack:
    """A started stack (see the module doc); made by :func:`airflow_stack`."""

    def __init__(self, airflow: LoopbackAirflow, env: dict[str, str], log_dir: Path) -> None:
        self.deployment = airflow
        self.env = env
        self.log_dir = log_dir
        self.components: list[Component] = []
        self.timings: dict[str, float] = {}
        self._token: str | None = None
        self._http = requests.Session()

    @property
    def url(self) -> str:
        return self.deployment.url

    @property
    def home(self) -> Path:
        return self.deployment.home

    # ------------------------------------------------------------------------------------------ REST
    def token(self) -> str:
        """An admin JWT: ``GET /auth/token`` needs no credentials when ALL_ADMINS is on."""
        if self._token is None:
            response = self._http.get(f"{self.url}/auth/token", timeout=30)
            if response.status_code != 201:
                raise StackError(f"GET /auth/token answered {response.status_code}: {response.text[:300]}")
            self._token = str(response.json()["access_token"])
        return self._token

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        expect: Sequence[int] = (200,),
    ) -> Any:
        """One call to the API (``path`` from the root: ``/api/v2/...``) with the token; the decoded body."""
        response = self._http.request(
            method,
            self.url + path,
            params=params,
            json=json,
            headers={"Authorization": f"Bearer {self.token()}"},
            timeout=60,
        )
        if response.status_code not in expect:
            raise StackError(f"{method} {path} answered {response.status_code}: {response.text[:500]}")
        return response.json() if response.content else None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def _list(self, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
        """Every item of a paged collection."""
        items: list[dict[str, Any]] = []
        while True:
            page = self.get(path, limit=PAGE, offset=len(items), **params)[key]
            items.extend(page)
            if len(page) < PAGE:
                return items

    def health(self) -> dict[str, Any] | None:
        return health(self.url)

    def dags(self) -> list[dict[str, Any]]:
        return self._list("/api/v2/dags", "dags")

    def set_paused(self, dag_id: str, paused: bool, attempts: int = 5) -> dict[str, Any]:
        """Pause or unpause; retried when the API answers 500, which on a SQLite metadata database means
        the scheduler held the write lock a moment too long ("Database error")."""
        attempt = 1
        while True:
            try:
                return dict(self.request("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": paused}))
            except StackError as exc:
                if "answered 500" not in str(exc) or attempt >= attempts:
                    raise
            time.sleep(2 * attempt)
            attempt += 1

    def unpause(self, dag_id: str) -> dict[str, Any]:
        return self.set_paused(dag_id, False)

    def dag_runs(self, dag_id: str, **filters: Any) -> list[dict[str, Any]]:
        """Runs of a DAG, oldest first; ``filters`` are the API's query parameters (``state=...``)."""
        return self._list(f"/api/v2/dags/{dag_id}/dagRuns", "dag_runs", order_by="id", **filters)

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Every task instance of a run, each mapped instance on its own."""
        return self._list(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", "task_instances")

    def import_errors(self) -> list[dict[str, Any]]:
        return self._list("/api/v2/importErrors", "import_errors")

    # --------------------------------------------------------------------------------------- waiting
    def check_running(self) -> None:
        """Raise when a program of the stack has exited: waiting on would only end in a timeout."""
        for component in self.components:
            if not component.running():
                raise StackError(
                    f"{component.name} exited with code {component.proc.returncode}\n{self.log_tails()}"
                )

    def wait_until(
        self, condition: Callable[[], T], *, timeout: float, what: str, interval: float = 1.0
    ) -> T:
        """Call ``condition`` until it returns something truthy, and return that."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_running()
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise StackError(f"{what}: not within {timeout:g} s (last: {value!r})\n{self.log_tails()}")
            time.sleep(interval)

    def dag_files(self) -> list[str]:
        """The DAG files of the checkout, as Airflow names them (relative to dags/)."""
        return sorted(p.name for p in (REPO_ROOT / "dags").glob("*.py"))

    def wait_for_parsing(self, timeout: float = 180) -> list[dict[str, Any]]:
        """Wait until the dag-processor has parsed every DAG file — each holds a DAG or an import error
        — and return the DAGs."""
        began = time.monotonic()
        expected = set(self.dag_files())

        def parsed() -> list[dict[str, Any]] | None:
            dags = self.dags()
            seen = {d["relative_fileloc"] for d in dags}
            seen |= {Path(e["filename"]).name for e in self.import_errors()}
            return dags if expected <= seen else None

        dags = self.wait_until(parsed, timeout=timeout, what=f"parsing {sorted(expected)}")
        self.timings["parsed"] = time.monotonic() - began
        return dags

    def wait_for_success(
        self, dag_id: str, *, timeout: float, after: Sequence[str] = (), interval: float = 2.0
    ) -> dict[str, Any]:
        """The first finished run of ``dag_id`` not in ``after`` (run ids), which must have succeeded: a
        failed one raises at once with its task states."""

        def finished() -> dict[str, Any] | None:
            for run in self.dag_runs(dag_id):
                if run["dag_run_id"] in after or run["state"] not in RUN_FINISHED:
                    continue
                if run["state"] != "success":
                    states = [
                        (ti["task_id"], ti["map_index"], ti["state"])
                        for ti in self.task_instances(dag_id, run["dag_run_id"])
                    ]
                    raise StackError(
                        f"{dag_id} run {run['dag_run_id']} {run['state']}: {states}\n{self.log_tails()}"
                    )
                return run
            return None

        return self.wait_until(
            finished, timeout=timeout, what=f"a finished run of {dag_id}", interval=interval
        )

    # --------------------------------------------------------------------------------------- the CLI
    def airflow(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        """``airflow <args>`` against this stack (its environment); raises on a non-zero exit."""
        result = subprocess.run(
            [AIRFLOW, *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            raise StackError(f"airflow {' '.join(args)} exited {result.returncode}:\n{result.stderr[-3000:]}")
        return result

    # ------------------------------------------------------------------------------------------ logs
    def task_logs(self, newest: int = 3) -> list[Path]:
        logs = [p for p in (self.home / "logs").rglob("*.log") if p.is_file()]
        return sorted(logs, key=lambda p: p.stat().st_mtime)[-newest:]

    def log_tails(self, lines: int = 30) -> str:
        """The end of every program's log and of the newest task logs."""
        paths = [c.log for c in self.components] + self.task_logs()
        return "\n".join(f"----- {path}\n{tail(path, lines)}" for path in paths)

    def stop(self) -> list[str]:
        """Stop every program (their process groups); the names of those that had to be killed."""
        killed = stop_components(self.components)
        self.components = []
        self._http.close()
        return killed


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(NOT_INHERITED)}


def _report(text: str, request: pytest.FixtureRequest | None) -> None:
    """Write past pytest's output capture: a fixture's teardown output is otherwise never shown."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter") if request else None
    if reporter is not None:
        reporter.write_line("")
        for line in text.splitlines():
            reporter.write_line(line)
    else:
        print(text, file=sys.stderr)


@contextmanager
def airflow_stack(
    workdir: Path,
    *,
    standalone: bool = True,
    celery_worker: bool = False,
    metadata_url: str | None = None,
    env: Mapping[str, str] | None = None,
    setup: Sequence[Sequence[str]] = (GATEWAY_SETUP,),
    start_timeout: float = 300,
    request: pytest.FixtureRequest | None = None,
) -> Iterator[AirflowStack]:
    """Migrate, start, wait for health, yield the stack, stop it; see the module doc."""
    if standalone and celery_worker:
        raise ValueError(
            "airflow standalone runs the LocalExecutor: start the components separately for Celery"
        )
    extra = dict(env or {})
    if celery_worker:
        extra["AIRFLOW__CORE__EXECUTOR"] = "CeleryExecutor"
        missing = [
            k for k in ("AIRFLOW__CELERY__BROKER_URL", "AIRFLOW__CELERY__RESULT_BACKEND") if k not in extra
        ]
        if missing:
            raise ValueError(f"a Celery worker needs {', '.join(missing)} in env")
    airflow = LoopbackAirflow.create(
        workdir / "airflow", metadata_url=metadata_url, fernet_key=Fernet.generate_key().decode(), extra=extra
    )
    stack = AirflowStack(airflow, airflow.env(_base_env()), workdir / "logs")
    failed_before = request.session.testsfailed if request else 0
    atexit.register(stack.stop)
    try:
        began = time.monotonic()
        prepare_metadata(stack.env, stack.log_dir, setup)
        stack.timings["migrate"] = time.monotonic() - began
        commands = STANDALONE if standalone else COMPONENTS + ((CELERY_WORKER,) if celery_worker else ())
        began = time.monotonic()
        stack.components = spawn_airflow(commands, stack.env, stack.log_dir)
        wait_healthy(stack.url, stack.components, timeout=start_timeout)
        stack.timings["healthy"] = time.monotonic() - began
        yield stack
    except BaseException:
        _report(f"Airflow stack at {stack.url} — log tails:\n{stack.log_tails()}", request)
        raise
    else:
        if request is not None and request.session.testsfailed > failed_before:
            _report(f"Airflow stack at {stack.url} — log tails:\n{stack.log_tails()}", request)
    finally:
        killed = stack.stop()
        atexit.unregister(stack.stop)
        if killed:
            _report(f"had to kill {', '.join(killed)} (no exit within 30 s of SIGTERM)", request)


@contextmanager
def postgres_database(prefix: str, admin_url: str = PG_ADMIN_URL) -> Iterator[str]:
    """A new, empty database ``<prefix>_<random>`` on the test server, dropped (connections and all) at
    the end; yields its URL."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"

    def admin(statement: str) -> None:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(statement)

    admin(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
