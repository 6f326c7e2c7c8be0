"""The hub as a child process: the ``python -m hub serve`` command, and the URL the child announces.

``serve`` binds its listening socket first and then prints one line, ``hub listening on <url>``, on
stdout; with ``--port 0`` that line is the only way to learn the port the kernel chose. Connections made
after the line is printed wait in the socket's backlog until uvicorn serves them, so the URL can be
used at once. The line is written (:func:`announcement`) and read (:func:`start`) here only; the demo,
the delivery benchmark and the tests start their hubs with :func:`serve_command` and :func:`start`.

Standard library only, so that a parent (or ``hub.cli``) pays nothing for importing it.
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
_ANNOUNCED = re.compile(rb"listening on (https?://\S+)")


def announcement(url: str) -> str:
    """The line ``serve`` prints once it listens (hub/cli.py)."""
    return f"hub listening on {url}"


@dataclass(frozen=True)
class ServerTls:
    """The hub's side of mutual TLS: its certificate (and key, unless in the certificate's file) and the
    CA that issues the gateways' client certificates (``--tls-cert``, ``--tls-key``, ``--client-ca``)."""

    cert: Path
    client_ca: Path
    key: Path | None = None


def hub_command(*args: str, python: str = sys.executable) -> list[str]:
    """``python -m hub <args>`` with this interpreter."""
    return [python, "-m", "hub", *args]


def serve_command(
    home: Path,
    keys: Path,
    schemas: Path,
    *,
    tls: ServerTls | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    suites: str | None = None,
    log_level: str = "warning",
    python: str = sys.executable,
) -> list[str]:
    """The argv of ``python -m hub serve``: a free port on loopback by default.

    Without ``tls`` the hub serves plain HTTP (``--plain-http``), which ``serve`` allows on a loopback
    address only. ``suites`` is ``serve --suites`` (``default``, ``sm``, full ids, comma-separated);
    None leaves it to ``HUB_SUITES`` or the hub's default.
    """
    command = hub_command(
        "serve",
        "--home", str(home),
        "--keys", str(keys),
        "--schemas", str(schemas),
        "--host", host,
        "--port", str(port),
        "--log-level", log_level,
        python=python,
    )  # fmt: skip
    if tls is None:
        command.append("--plain-http")
    else:
        command += ["--tls-cert", str(tls.cert), "--client-ca", str(tls.client_ca)]
        if tls.key is not None:
            command += ["--tls-key", str(tls.key)]
    if suites is not None:
        command += ["--suites", suites]
    return command


class HubStartError(RuntimeError):
    """The child exited, or did not announce its URL in time; ``returncode`` is None if it was killed."""

    def __init__(self, message: str, returncode: int | None) -> None:
        super().__init__(message)
        self.returncode = returncode


@dataclass
class Child:
    """A started child and the URL it announced; its stderr goes to ``log``."""

    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """Terminate the child (kill it after ``timeout``) and return its exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return self.proc.returncode

    def __enter__(self) -> Child:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start(
    command: Sequence[str],
    log: Path,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = START_TIMEOUT,
) -> Child:
    """Start ``command`` (e.g. :func:`serve_command`) and wait for its ``listening on <url>`` line.

    Any child that announces itself so will do (the demo's stand-in services print the same line). Its
    stderr is written to ``log`` (created or truncated). If it exits first or stays silent for
    ``timeout`` seconds, it is killed and :class:`HubStartError` names the end of its log.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as stderr:
        proc = subprocess.Popen(
            list(command),
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=None if env is None else dict(env),
            cwd=cwd,
        )
    assert proc.stdout is not None
    url = _announced_url(proc, time.monotonic() + timeout)
    if url is not None:
        return Child(proc, url, log)
    if proc.poll() is None:
        proc.kill()
        proc.wait()
        why = f"did not announce its URL within {timeout:g} s"
    else:
        why = f"exited with code {proc.returncode}"
    proc.stdout.close()
    tail = "\n".join(log.read_text("utf-8", errors="replace").splitlines()[-20:])
    raise HubStartError(
        f"{' '.join(command[:4])} … {why}; its log {log}:\n{tail}",
        None if proc.returncode < 0 else proc.returncode,
    )


def _announced_url(proc: subprocess.Popen[bytes], deadline: float) -> str | None:
    """Read the child's stdout, without blocking past ``deadline``, up to the announcing line."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    pending = b""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while (left := deadline - time.monotonic()) > 0:
            if not selector.select(min(left, 0.1)):
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                with contextlib.suppress(subprocess.TimeoutExpired):  # stdout closed: it is exiting
                    proc.wait(max(deadline - time.monotonic(), 0.1))
                return None
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                match = _ANNOUNCED.search(line)
                if match:
                    return match.group(1).decode("ascii").rstrip("/")
    return None
