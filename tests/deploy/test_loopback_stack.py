"""The process layer under `make up` and the test harness (samples/stack.py), without starting Airflow: the
environment every program of a stack shares, stopping whole process groups, and `make down` touching
only the programs `make up` started."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

from samples.stack import (
    BIN,
    LoopbackAirflow,
    _stop_recorded,
    group_alive,
    spawn,
    sqlalchemy_url,
    stop_groups,
)

# A parent that forks a child into its own group and then ignores SIGTERM, as a stubborn program would.
STUBBORN = """
import signal, subprocess, sys, time
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready", flush=True)
time.sleep(60)
"""


def test_every_program_gets_the_same_airflow_settings(tmp_path: Path) -> None:
    airflow = LoopbackAirflow.create(
        tmp_path / "airflow",
        metadata_url="postgresql://postgres@127.0.0.1:5432/airflow_x",
        extra={"GATEWAY_HOME": "/g", "AIRFLOW__CORE__LOAD_EXAMPLES": "True"},
    )
    env = airflow.env({"PATH": "/usr/bin", "AIRFLOW__API__PORT": "1"})
    url = f"http://127.0.0.1:{airflow.port}"
    assert env["AIRFLOW__API__BASE_URL"] == url
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == f"{url}/execution/"
    assert env["AIRFLOW__API__PORT"] == str(airflow.port)
    assert env["AIRFLOW_HOME"] == str(tmp_path / "airflow")
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == airflow.jwt_secret and len(airflow.jwt_secret) >= 32
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] == "True"
    assert (
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == "postgresql+psycopg://postgres@127.0.0.1:5432/airflow_x"
    )
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"] == env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert env["PATH"].split(":")[0] == str(BIN)
    assert env["GATEWAY_HOME"] == "/g" and env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "True"  # extra goes last
    ports = {airflow.port, airflow.worker_log_port, airflow.trigger_log_port}
    assert len(ports) == 3 and 0 not in ports
    assert airflow.jwt_secret not in repr(airflow)
    sqlite = LoopbackAirflow.create(tmp_path / "a").env({})
    assert sqlite["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{tmp_path / 'a' / 'airflow.db'}"
    assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC" not in sqlite
    assert sqlalchemy_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"


def test_stopping_a_group_ends_its_children_and_kills_what_ignores_sigterm(tmp_path: Path) -> None:
    started = spawn("stubborn", [sys.executable, "-c", STUBBORN], {"PATH": "/usr/bin"}, tmp_path / "s.log")
    deadline = time.monotonic() + 30
    while "ready" not in (tmp_path / "s.log").read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    began = time.monotonic()
    killed = stop_groups([started.pid], timeout=1.0, reap=started.proc.poll)
    assert killed == [started.pid]
    assert not group_alive(started.pid)  # the forked child went with it
    assert started.proc.returncode == -signal.SIGKILL
    assert time.monotonic() - began < 15


def test_down_stops_only_the_programs_up_recorded(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin"}
    ours = spawn("hub", [sys.executable, "-c", "import time; time.sleep(60)  # hub"], env, tmp_path / "a.log")
    stranger = spawn("hub", [sys.executable, "-c", "import time; time.sleep(60)"], env, tmp_path / "b.log")
    try:
        time.sleep(0.3)
        # A recorded pid whose program is no longer the hub (the kernel reused it) is left alone.
        assert _stop_recorded({"processes": {"hub": stranger.pid}}) == []
        assert stranger.running()
        assert _stop_recorded({"processes": {"hub": ours.pid}}) == ["hub"]
        ours.proc.wait(10)
        assert not group_alive(ours.pid)
    finally:
        stranger.stop(timeout=5)
        ours.stop(timeout=5)
