"""`make up` / `make down` (``python -m samples.stack up|down``): Airflow with this checkout's DAGs and
plugin, and the reference hub, running in the background on loopback; and the process layer under it,
which the test harness (tests/airflow_stack.py) starts its Airflow components with.

Why a module of its own rather than ``airflow standalone`` in the Makefile: Airflow 3 splits into programs
(api-server, scheduler, dag-processor, triggerer, workers) that must agree on a JWT secret, the execution
API's address and the metadata database, each one's log servers want a port of their own, and the
gateway's DAGs need the writers' pool (``python -m connectors.airflow_setup``) before anything is queued.
Getting that right once, here, lets ``make up``, the scheduler tests and the Celery topology test run the
same Airflow — and run side by side on one machine.

Every program starts in a process group of its own (``start_new_session``), so stopping one stops the
children it forked too (LocalExecutor workers, log servers, ``standalone``'s components). ``make up``
records the groups in ``var/stack/stack.json``; ``make down`` stops exactly those, after checking that each
group leader is still the program it started.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import requests
import typer

REPO_ROOT = Path(__file__).resolve().parents[1]
LOOPBACK = "127.0.0.1"
# The environment's scripts. `airflow standalone` starts its components as plain `airflow` from PATH, so
# this folder goes first on the children's PATH, or they would run some other installation's Airflow.
BIN = Path(sys.executable).parent
AIRFLOW = str(BIN / "airflow")
HEALTH_PATH = "/api/v2/monitor/health"
# What /api/v2/monitor/health reports on; each must say "healthy" before a stack counts as started.
HEALTH_PARTS = ("metadatabase", "scheduler", "triggerer", "dag_processor")
STANDALONE: tuple[tuple[str, ...], ...] = (("standalone",),)
COMPONENTS: tuple[tuple[str, ...], ...] = (
    ("api-server",),
    ("scheduler",),
    ("dag-processor",),
    ("triggerer",),
)
CELERY_WORKER: tuple[str, ...] = ("celery", "worker")
# What the gateway's DAGs need in Airflow's metadata database before a task is queued: the writers' pool.
GATEWAY_SETUP: tuple[str, ...] = (sys.executable, "-m", "connectors.airflow_setup")
STOP_TIMEOUT = 30.0
START_TIMEOUT = 240.0


class StackError(RuntimeError):
    """A program of the stack failed to start, exited, or a step did not finish; the message ends with the
    tail of the log that says why."""


# ------------------------------------------------------------------------------------------ ports, logs
def free_port(host: str = LOOPBACK) -> int:
    """A port nobody listens on right now (the kernel's choice); it is free until someone binds it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a log, or a note that it is missing."""
    if not path.exists():
        return f"({path} does not exist)"
    with path.open("rb") as stream:
        stream.seek(0, os.SEEK_END)
        stream.seek(max(stream.tell() - 256 * lines, 0))
        text = stream.read().decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


# ----------------------------------------------------------------------------------- the Airflow setup
def sqlalchemy_url(url: str) -> str:
    """Airflow's spelling of a database URL: PostgreSQL through psycopg 3, the driver this environment has
    (a bare ``postgresql://`` means psycopg2 to SQLAlchemy, and asyncpg to Airflow's async engine)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


@dataclass(frozen=True)
class LoopbackAirflow:
    """One Airflow deployment on this machine: where it lives and what all its programs must agree on.

    ``env()`` is the environment every program of it gets. ``extra`` goes in last (the gateway's
    ``GATEWAY_*`` settings, Connections as ``AIRFLOW_CONN_*``, the Celery broker). Secrets are kept out of
    ``repr`` so that a failing test never prints them.
    """

    home: Path
    port: int
    metadata_url: str
    jwt_secret: str = field(repr=False)
    fernet_key: str | None = field(default=None, repr=False)
    all_admins: bool = True
    worker_log_port: int = 0
    trigger_log_port: int = 0
    extra: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def create(
        cls,
        home: Path,
        *,
        port: int | None = None,
        metadata_url: str | None = None,
        all_admins: bool = True,
        fernet_key: str | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> LoopbackAirflow:
        """Free ports for the API and both log servers, a fresh JWT secret, SQLite under ``home`` unless
        ``metadata_url`` says otherwise. Without ``fernet_key`` Airflow keeps the one it wrote into
        ``home/airflow.cfg`` on its first run, so encrypted Connections survive a restart."""
        return cls(
            home=home,
            port=port or free_port(),
            metadata_url=sqlalchemy_url(metadata_url or f"sqlite:///{home / 'airflow.db'}"),
            jwt_secret=secrets.token_urlsafe(32),
            fernet_key=fernet_key,
            all_admins=all_admins,
            worker_log_port=free_port(),
            trigger_log_port=free_port(),
            extra=dict(extra or {}),
        )

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """``base`` (this process's environment unless given) with the deployment's settings on top."""
        env = dict(os.environ if base is None else base)
        env["PATH"] = os.pathsep.join(filter(None, (str(BIN), env.get("PATH"))))
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.metadata_url,
                "AIRFLOW__API__HOST": LOOPBACK,
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__BASE_URL": self.url,
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
                "AIRFLOW__API_AUTH__JWT_SECRET": self.jwt_secret,
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": str(self.all_admins),
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "logs"),
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self.worker_log_port or free_port()),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(self.trigger_log_port or free_port()),
            }
        )
        if self.metadata_url.startswith("postgresql+psycopg://"):
            # psycopg 3 serves the async engine as well; Airflow would otherwise derive an asyncpg URL.
            env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"] = self.metadata_url
        if self.fernet_key:
            env["AIRFLOW__CORE__FERNET_KEY"] = self.fernet_key
        env.update(self.extra)
        return env


# ------------------------------------------------------------------------------------------ processes
@dataclass
class Component:
    """One started program, leader of its own process group, with stdout and stderr in ``log``."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = STOP_TIMEOUT) -> bool:
        """Stop the whole group; True if it had to be killed."""
        return bool(stop_groups([self.pid], timeout=timeout, reap=self.proc.poll))


def spawn(
    name: str, argv: Sequence[str], env: Mapping[str, str], log: Path, *, cwd: Path | None = None
) -> Component:
    """Start ``argv`` detached from our terminal and process group, appending its output to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Component(name, proc, log)


def component_name(args: Sequence[str]) -> str:
    return "-".join(args)


def spawn_airflow(
    commands: Iterable[Sequence[str]], env: Mapping[str, str], log_dir: Path
) -> list[Component]:
    """``airflow <command>`` for each command, each logging to ``log_dir/<command>.log``."""
    started = []
    for args in commands:
        name = component_name(args)
        started.append(spawn(name, [AIRFLOW, *args], env, log_dir / f"{name}.log"))
    return started


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def group_members(pgid: int) -> dict[int, str]:
    """The processes of a group and their states, from /proc/PID/stat (fields 3 and 5, counted after
    the command name's parentheses)."""
    members = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text(encoding="ascii", errors="replace").rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[2] == str(pgid):
            members[int(stat.parent.name)] = fields[0]
    return members


def group_alive(pgid: int) -> bool:
    """Some process of the group still runs (zombies waiting for their parent do not count)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return any(state != "Z" for state in group_members(pgid).values())


def stop_groups(
    groups: Sequence[int], *, timeout: float = STOP_TIMEOUT, reap: Callable[[], object] = lambda: None
) -> list[int]:
    """SIGTERM every group, give them ``timeout`` seconds together, then SIGKILL what is left.

    ``reap`` collects our own exited children, so that they do not linger as zombies. Returns the
    groups that had to be killed."""
    for pgid in groups:
        _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    alive = list(groups)
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        reap()
        alive = [pgid for pgid in alive if group_alive(pgid)]
    for pgid in alive:
        _signal_group(pgid, signal.SIGKILL)
    settle = time.monotonic() + 10
    while any(group_alive(pgid) for pgid in alive) and time.monotonic() < settle:
        time.sleep(0.1)
        reap()
    reap()
    return alive


def stop_components(components: Sequence[Component], timeout: float = STOP_TIMEOUT) -> list[str]:
    """Stop them all at once (in parallel: each may take seconds); the names of those that were killed."""

    def reap() -> None:
        for component in components:
            component.proc.poll()

    killed = set(stop_groups([c.pid for c in components], timeout=timeout, reap=reap))
    return [c.name for c in components if c.pid in killed]


def run_logged(argv: Sequence[str], env: Mapping[str, str], log: Path, *, timeout: float = 600) -> None:
    """Run a one-off command (``airflow db migrate``) to the end, its output in ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        try:
            result = subprocess.run(
                list(argv), env=dict(env), stdout=out, stderr=subprocess.STDOUT, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise StackError(
                f"{' '.join(argv[:4])} … did not finish in {timeout:g} s; {log}:\n{tail(log)}"
            ) from exc
    if result.returncode != 0:
        raise StackError(f"{' '.join(argv[:4])} … exited {result.returncode}; {log}:\n{tail(log)}")


def prepare_metadata(env: Mapping[str, str], log_dir: Path, setup: Sequence[Sequence[str]] = ()) -> None:
    """``airflow db migrate``, then each ``setup`` command (the gateway's pool: GATEWAY_SETUP)."""
    run_logged([AIRFLOW, "db", "migrate"], env, log_dir / "airflow-db-migrate.log")
    for argv in setup:
        run_logged(argv, env, log_dir / "airflow-setup.log")


def health(url: str, timeout: float = 5.0) -> dict[str, Any] | None:
    """What /api/v2/monitor/health says (no credentials needed), or None while nothing answers."""
    try:
        response = requests.get(url + HEALTH_PATH, timeout=timeout)
    except requests.RequestException:
        return None
    if response.status_code != 200:
        return None
    return dict(response.json())


def is_healthy(report: Mapping[str, Any] | None, parts: Sequence[str] = HEALTH_PARTS) -> bool:
    return report is not None and all((report.get(p) or {}).get("status") == "healthy" for p in parts)


def wait_healthy(
    url: str,
    components: Sequence[Component],
    *,
    timeout: float = START_TIMEOUT,
    parts: Sequence[str] = HEALTH_PARTS,
) -> dict[str, Any]:
    """Wait until every part is healthy; fail at once when a component exits, with its log's tail."""
    deadline = time.monotonic() + timeout
    report: dict[str, Any] | None = None
    while True:
        for component in components:
            if not component.running():
                raise StackError(
                    f"{component.name} exited with code {component.proc.returncode} before Airflow at {url} "
                    f"was healthy; {component.log}:\n{tail(component.log)}"
                )
        report = health(url)
        if is_healthy(report, parts):
            assert report is not None
            return report
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {c.log}\n{tail(c.log, 15)}" for c in components)
            raise StackError(f"Airflow at {url} not healthy within {timeout:g} s: {report}\n{tails}")
        time.sleep(1.0)


def _log_of(component: Component) -> str:
    return f"{component.log}:\n{tail(component.log)}"


def wait_port(port: int, component: Component, *, timeout: float = 60.0) -> None:
    """Wait until ``component`` accepts connections on a loopback port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not component.running():
            raise StackError(
                f"{component.name} exited with code {component.proc.returncode}; {_log_of(component)}"
            )
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(1.0)
            if sock.connect_ex((LOOPBACK, port)) == 0:
                return
        time.sleep(0.2)
    raise StackError(
        f"{component.name} did not listen on port {port} within {timeout:g} s; {_log_of(component)}"
    )


# ------------------------------------------------------------------------------------- make up / down
STATE_FILE = "stack.json"
PASSWORD_FILE = "simple_auth_manager_passwords.json.generated"
LOGIN_USER = "admin"  # Airflow's simple auth manager default user list is "admin:admin" (user:role)
# What each recorded program's command line must contain for `down` to signal its group: a pid the
# kernel has since given to someone else is left alone.
MARKERS = {"hub": "hub", "credit-api": "credit_api", "standalone": "airflow"}

app = typer.Typer(
    help="本机一键启动/停止：Airflow（网关的 DAG 与插件）和参考省级平台，均只监听 127.0.0.1。",
    no_args_is_help=True,
    add_completion=False,
)


def _checkout_home() -> Path:
    return Path(os.environ.get("GATEWAY_HOME") or REPO_ROOT / "var").resolve()


def _state_dir(home: Path) -> Path:
    return home / "stack"


def _read_state(home: Path) -> dict[str, Any] | None:
    path = _state_dir(home) / STATE_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _write_state(home: Path, state: Mapping[str, Any]) -> None:
    folder = _state_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / STATE_FILE).write_text(json.dumps(state, ensure_ascii=False, indent=2), encoding="utf-8")


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def _ours(name: str, pgid: int) -> bool:
    """The group still runs the program ``up`` started: a member's command line holds its marker (the
    leader may be gone while the programs it forked still run)."""
    marker = MARKERS.get(name, name)
    return group_alive(pgid) and any(marker in _cmdline(pid) for pid in group_members(pgid))


def _stop_recorded(state: Mapping[str, Any]) -> list[str]:
    processes = {name: int(pid) for name, pid in state.get("processes", {}).items()}
    ours = {name: pid for name, pid in processes.items() if _ours(name, pid)}
    stop_groups(list(ours.values()))
    return list(ours)


def _pick_port(wanted: int) -> int:
    return wanted if port_is_free(wanted) else free_port()


def _start_up(
    home: Path, port: int, hub_port: int, timeout: float, echo: Callable[[str], None]
) -> dict[str, Any]:
    """Prepare the gateway's state as `make demo` does, then start the hub, the stand-in and Airflow.
    Each program is recorded as soon as it runs, and a failure stops what was started, so a failed `up`
    leaves nothing behind for `down` to find."""
    from gateway.settings import Settings
    from gateway.store.db import migrate
    from gateway.transfer import DEFAULT_SUITE_ID, SM_SUITE_ID, generate_keys
    from hub import launch
    from samples.demo import (
        HUB_ID,
        airflow_env,
        checkout_env,
        demo_passphrases,
        prepare_sources,
        source_connections,
    )

    settings = Settings.from_env({**os.environ, "GATEWAY_HOME": str(home), "GATEWAY_SETTLE_SECONDS": "0"})
    settings.ensure_dirs()
    log_dir = _state_dir(home)
    echo(f"gateway database: migrating {settings.database_url.split('://', 1)[0]} under {home}")
    migrate(settings.database_url)
    demo_passphrases(settings)  # random passphrases in var/secrets/, found by GATEWAY/HUB_KEY_PASSPHRASE_FILE
    generate_keys(settings.keys_dir, settings.sender_id, HUB_ID, suites=(DEFAULT_SUITE_ID, SM_SUITE_ID))
    prepare_sources(settings)

    state: dict[str, Any] = {"processes": {}, "logs": str(log_dir)}
    started: list[Component] = []

    def keep(component: Component) -> Component:
        started.append(component)
        state["processes"][component.name] = component.pid
        _write_state(home, state)
        return component

    try:
        hub_port = _pick_port(hub_port)
        hub_cmd = launch.serve_command(
            settings.home / "hub", settings.keys_dir / "hub", settings.schemas_dir,
            port=hub_port, suites=settings.suite, log_level="info",
        )  # fmt: skip
        hub = keep(spawn("hub", hub_cmd, checkout_env(), log_dir / "hub.log", cwd=REPO_ROOT))
        credit_port = free_port()
        credit_cmd = [sys.executable, "-m", "samples.standins.credit_api", "--port", str(credit_port)]
        credit = keep(
            spawn("credit-api", credit_cmd, checkout_env(), log_dir / "credit-api.log", cwd=REPO_ROOT)
        )
        wait_port(hub_port, hub)
        wait_port(credit_port, credit)
        state["hub"] = f"http://{LOOPBACK}:{hub_port}"
        echo(f"reference hub on {state['hub']}; stand-in credit platform on http://{LOOPBACK}:{credit_port}")

        extra = {
            "GATEWAY_HUB_URL": state["hub"],
            **source_connections(settings, f"http://{LOOPBACK}:{credit_port}"),
        }
        airflow = LoopbackAirflow.create(settings.home / "airflow", port=_pick_port(port), all_admins=False)
        env = airflow.env(airflow_env(settings, extra))
        echo("Airflow metadata database: airflow db migrate, then the gateway's pool")
        prepare_metadata(env, log_dir, [GATEWAY_SETUP])
        echo(f"airflow standalone on {airflow.url} (waiting for its scheduler, dag-processor and triggerer)")
        standalone = keep(spawn_airflow(STANDALONE, env, log_dir)[0])
        wait_healthy(airflow.url, [standalone, hub, credit], timeout=timeout)
    except BaseException:
        stop_components(started)
        (_state_dir(home) / STATE_FILE).unlink(missing_ok=True)
        raise
    state["airflow"] = airflow.url
    state["password_file"] = str(airflow.home / PASSWORD_FILE)
    state["dropzone"] = str(settings.dropzone)
    _write_state(home, state)
    return state


@app.command()
def up(
    port: Annotated[int, typer.Option(help="Airflow 的端口（被占用时另选一个空闲端口）")] = 8080,
    hub_port: Annotated[int, typer.Option(help="参考平台的端口（被占用时另选一个空闲端口）")] = 8765,
    timeout: Annotated[float, typer.Option(help="等待 Airflow 各组件就绪的秒数")] = START_TIMEOUT,
) -> None:
    """后台启动 Airflow standalone（本仓库 dags/ 与 plugins/）、参考平台与模拟信用接口；日志在 var/stack/。"""
    home = _checkout_home()
    state = _read_state(home)
    if state and any(_ours(n, int(p)) for n, p in state.get("processes", {}).items()):
        typer.echo(f"already running: Airflow {state.get('airflow', '(starting)')}; `make down` stops it")
        return
    try:
        state = _start_up(home, port, hub_port, timeout, typer.echo)
    except StackError as exc:
        typer.echo(f"make up failed: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(
        "\n".join(
            (
                "",
                f"Airflow:  {state['airflow']}  — log in as {LOGIN_USER}; the password is in",
                f"          {state['password_file']}",
                f"hub:      {state['hub']}   (what it holds: python -m hub report --home {home / 'hub'})",
                f"drop files into {state['dropzone']}/<department>/inbox/ (e.g. samples/inbox/xz_amr/*)",
                f"logs:     {state['logs']}/   stop with: make down",
            )
        )
    )


@app.command()
def down() -> None:
    """停止 make up 启动的全部进程（仅限 var/stack/stack.json 记录、且仍是原程序的进程组）。"""
    home = _checkout_home()
    state = _read_state(home)
    if state is None:
        typer.echo(f"nothing to stop (no {_state_dir(home) / STATE_FILE})")
        return
    stopped = _stop_recorded(state)
    (_state_dir(home) / STATE_FILE).unlink(missing_ok=True)
    typer.echo(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")


if __name__ == "__main__":
    app()
