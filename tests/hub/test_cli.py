"""``python -m hub``: the serve command as a child process, and report."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from gateway.transfer import HubClient, Sealed, Sender
from gateway.transfer.protocol import HEALTH_PATH
from hub import launch
from hub.settings import Settings

from .conftest import Rec

Seal = Callable[..., tuple[Path, Sealed]]
REPO = Path(__file__).resolve().parents[2]


def test_serve_on_port_zero_announces_the_port_and_accepts_batches(
    settings: Settings, sender: Sender, seal_batch: Seal, tmp_path: Path
) -> None:
    command = launch.serve_command(settings.home, settings.keys, settings.schemas)
    with launch.start(command, tmp_path / "hub.log", cwd=REPO) as hub:
        match = re.fullmatch(r"http://127\.0\.0\.1:(\d+)", hub.url)
        assert match is not None and int(match.group(1)) > 0, hub.url
        with requests.Session() as session:
            session.trust_env = False  # no proxy variables between the test and a loopback hub
            assert session.get(hub.url + HEALTH_PATH, timeout=10).json()["status"] == "ok"
        with HubClient(hub.url, sender, retries=0) as client:
            receipt = client.push(*seal_batch("cli-1", 1, records=[Rec("i"), Rec("u")]), "cli-1")
        assert receipt.accepted == 2
    assert "明文" in (tmp_path / "hub.log").read_text("utf-8")  # plain HTTP is announced as such

    # report reads the database with the hub stopped
    out = subprocess.run(
        launch.hub_command("report", "--json", "--home", str(settings.home)),
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["records"] == {"i": 1, "u": 1, "d": 0, "total": 2}
    table = subprocess.run(
        launch.hub_command("report", "--home", str(settings.home)), cwd=REPO, capture_output=True, text=True
    )
    assert table.returncode == 0 and "city-001" in table.stdout and "admin_penalty" in table.stdout


def test_serve_refuses_to_start_without_keys(tmp_path: Path, schemas_dir: Path) -> None:
    command = launch.serve_command(tmp_path / "h", tmp_path / "none", schemas_dir)
    with pytest.raises(launch.HubStartError) as err:
        launch.start(command, tmp_path / "hub.log", cwd=REPO)
    assert err.value.returncode == 2
    assert "keyring_missing" in str(err.value)  # the end of the child's log is in the error


def test_a_child_that_never_announces_itself_is_killed_in_time(tmp_path: Path) -> None:
    started = time.monotonic()
    silent = [sys.executable, "-c", "import sys, time; print('starting', flush=True); time.sleep(60)"]
    with pytest.raises(launch.HubStartError) as err:
        launch.start(silent, tmp_path / "silent.log", timeout=1)
    assert time.monotonic() - started < 10
    assert err.value.returncode is None and "did not announce" in str(err.value)


def test_the_announcement_is_read_as_printed(tmp_path: Path) -> None:
    url = "https://[::1]:8443"
    printing = [sys.executable, "-c", f"print('x'); print({launch.announcement(url + '/')!r})"]
    with launch.start(printing, tmp_path / "print.log", timeout=30) as child:
        assert child.url == url
    assert child.proc.returncode is not None


def test_help_lists_both_commands() -> None:
    out = subprocess.run(launch.hub_command("--help"), cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "serve" in out.stdout and "report" in out.stdout
