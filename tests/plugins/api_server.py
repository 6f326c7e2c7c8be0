"""`airflow api-server` as a child process on a loopback port, for the browser tests: the real server with
the plugin loaded from this checkout's plugins/, the simple auth manager and its login page.

The users and their passwords are given (a passwords file of the simple auth manager's own format), so a
test logs in through the login form as a person would. The child runs in a process group of its own,
which is stopped at the end (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from samples.stack import health

START_TIMEOUT = 180.0
STOP_TIMEOUT = 20.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


@contextmanager
def api_server(
    workdir: Path, users: Mapping[str, str], passwords: Mapping[str, str], env: Mapping[str, str]
) -> Iterator[str]:
    """Start the API server (``users``: name → role, ``passwords``: name → password; ``env`` on top of
    this process's environment) and yield its URL once it answers its health check."""
    workdir.mkdir(parents=True, exist_ok=True)
    password_file = workdir / "passwords.json"
    password_file.write_text(json.dumps(dict(passwords)))
    port = free_port()
    child_env = {
        **os.environ,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{r}" for u, r in users.items()),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(password_file),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        **env,
    }
    log = workdir / "api-server.log"
    command = [sys.executable, "-m", "airflow", "api-server", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        child = subprocess.Popen(
            [*command, "--workers", "1"],
            env=child_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(child, url, log)
        yield url
    finally:
        _stop(child)


def _wait(child: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError(f"airflow api-server exited with {child.returncode}:\n{_tail(log)}")
        if health(url, timeout=2) is not None:
            return
        time.sleep(0.5)
    raise RuntimeError(f"airflow api-server did not answer within {START_TIMEOUT:.0f} s:\n{_tail(log)}")


def _stop(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is not None:
        return
    os.killpg(child.pid, signal.SIGTERM)
    try:
        child.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
