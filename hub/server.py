"""Running the hub under uvicorn: in the foreground (CLI) or in a background thread (tests, demos).

The listening socket is bound here rather than by uvicorn so that ``--port 0`` can report the port the
kernel chose before serving starts: a parent process reads the "hub listening on" line to find it.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn
from fastapi import FastAPI

READY_TIMEOUT = 30.0


def bind(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def make_server(app: FastAPI, *, log_level: str = "info", access_log: bool = True) -> uvicorn.Server:
    return uvicorn.Server(uvicorn.Config(app, log_level=log_level, access_log=access_log, lifespan="off"))


class ServerThread:
    """The hub on a loopback port in a daemon thread; ``with ServerThread(app) as url: ...``."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        self._sock = bind(host, port)
        self.url = url_of(self._sock)
        self._server = make_server(app, log_level="warning", access_log=False)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, name="hub-server", daemon=True
        )

    def start(self) -> str:
        self._thread.start()
        deadline = time.monotonic() + READY_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("hub server did not start")
            time.sleep(0.01)
        return self.url

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(READY_TIMEOUT)
        self._sock.close()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
