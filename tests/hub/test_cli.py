"""``python -m hub``: the serve command as a child process, and report."""

from __future__ import annotations

import json
import re
import selectors
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import requests

from gateway.transfer import HubClient, Sealed, Sender
from gateway.transfer.protocol import HEALTH_PATH
from hub.settings import Settings

from .conftest import Rec

Seal = Callable[..., tuple[Path, Sealed]]
REPO = Path(__file__).resolve().parents[2]


def _hub(*args: str) -> list[str]:
    return [sys.executable, "-m", "hub", *args]


def _read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if selector.select(timeout=0.1):
            return proc.stdout.readline()
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
    raise AssertionError("the hub did not announce its port in time")


def test_serve_on_port_zero_announces_the_port_and_accepts_batches(
    settings: Settings, sender: Sender, seal_batch: Seal
) -> None:
    command = _hub(
        "serve",
        "--home", str(settings.home),
        "--keys", str(settings.keys),
        "--schemas", str(settings.schemas),
        "--port", "0",
        "--log-level", "warning",
        "--plain-http",
    )  # fmt: skip
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = _read_line(proc, timeout=30)
        match = re.fullmatch(r"hub listening on (http://127\.0\.0\.1:(\d+))\n", line)
        assert match is not None and int(match.group(2)) > 0, line
        url = match.group(1)
        for _ in range(100):  # the socket is bound before the line is printed; uvicorn may still be starting
            try:
                assert requests.get(url + HEALTH_PATH, timeout=2).json()["status"] == "ok"
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        with HubClient(url, sender, retries=2, backoff=0.05) as client:
            receipt = client.push(*seal_batch("cli-1", 1, records=[Rec("i"), Rec("u")]), "cli-1")
        assert receipt.accepted == 2
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    # report reads the database with the hub stopped
    out = subprocess.run(
        _hub("report", "--json", "--home", str(settings.home)), cwd=REPO, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["records"] == {"i": 1, "u": 1, "d": 0, "total": 2}
    table = subprocess.run(
        _hub("report", "--home", str(settings.home)), cwd=REPO, capture_output=True, text=True
    )
    assert table.returncode == 0 and "city-001" in table.stdout and "admin_penalty" in table.stdout


def test_serve_refuses_to_start_without_keys(tmp_path: Path, schemas_dir: Path) -> None:
    out = subprocess.run(
        _hub(
            "serve",
            "--home",
            str(tmp_path / "h"),
            "--keys",
            str(tmp_path / "none"),
            "--schemas",
            str(schemas_dir),
            "--plain-http",
        ),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "keyring_missing" in out.stderr


def test_help_lists_both_commands() -> None:
    out = subprocess.run(_hub("--help"), cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "serve" in out.stdout and "report" in out.stdout
