"""The demo runs each DAG under `airflow dags test` and stops at the first failed task, instead of sitting
through Airflow's retry delays (minutes) without a word."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest

from gateway.settings import Settings
from samples.demo import airflow_env
from samples.demo_dagtest import DagTestFailed, run_dags
from tests.dags.dagrun import ROOT

pytestmark = pytest.mark.e2e


def test_a_failing_pull_stops_the_run_at_once_and_says_why(gateway_env: Settings, tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on: the disclosure system is down
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = {"conn_type": "http", "host": "127.0.0.1", "port": port, "schema": "http", "password": "t"}
    closed["extra"] = {"auth": "token", "retries": 0}
    env = airflow_env(gateway_env, {"AIRFLOW_CONN_XZ_GSXT": json.dumps(closed)})
    env["AIRFLOW_HOME"] = os.environ["AIRFLOW_HOME"]  # the tests' migrated metadata database
    env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    began = time.monotonic()
    with pytest.raises(DagTestFailed) as caught:
        run_dags(["enterprise_disclosure", "deliver_to_province"], env, tmp_path, ROOT / "dags")
    message = str(caught.value)
    assert "task pull[" in message and "SourceError" in message and str(port) in message
    assert "DAG enterprise_disclosure" in message and "enterprise_disclosure.log" in message
    assert not (tmp_path / "deliver_to_province.log").exists()  # the run stopped there
    assert time.monotonic() - began < 60  # the pull task retries after 2 minutes; the demo does not wait
