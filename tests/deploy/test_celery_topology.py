"""The docker-compose topology without Docker: the same programs as the compose file, on this machine.

This machine's PostgreSQL holds Airflow's metadata database and, separately, the gateway's database (both
fresh per run and dropped afterwards); its Redis is the Celery broker (a database number nobody uses), the
Celery results go to PostgreSQL as in docker-compose.yml. Airflow runs as api-server, scheduler,
dag-processor, triggerer and one ``airflow celery worker`` (tests/airflow_stack.py), the reference hub as
in the demo. Department files are dropped into the drop zone and nothing is triggered by hand: the inbox
watcher starts ``department_files``, its outbox event starts ``deliver_to_province``, and the test waits
until every batch is acknowledged by the hub. Marked ``celery``; it takes a few minutes.
"""

from __future__ import annotations

import random
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import func, select

from gateway.settings import Settings
from gateway.store.db import engine_for, migrate
from gateway.store.tables import delivery_batch, outbox
from gateway.transfer import generate_keys
from samples.demo import HUB_ID, hub_report, local_hub
from samples.stack import sqlalchemy_url
from tests.airflow_stack import airflow_stack, postgres_database
from tests.paths import REPO_ROOT

pytestmark = pytest.mark.celery

REDIS_URL = "redis://127.0.0.1:6379"
SAMPLES = REPO_ROOT / "samples" / "inbox"
RUN_TIMEOUT = 600.0


def unused_redis_db() -> int:
    """A Redis database number holding no keys (1-15; 0 is everyone's default), so that the broker's
    queues meet no one else's."""
    candidates = list(range(1, 16))
    random.shuffle(candidates)
    for number in candidates:
        client = redis.Redis.from_url(f"{REDIS_URL}/{number}")
        try:
            if client.dbsize() == 0:
                return number
        finally:
            client.close()
    raise RuntimeError("every Redis database 1-15 holds keys")


def drop_samples(settings: Settings) -> list[Path]:
    """Every sample export into its department's inbox, as departments drop them."""
    dropped = []
    for folder in sorted(p for p in SAMPLES.iterdir() if p.is_dir()):
        inbox = settings.dropzone / folder.name / "inbox"
        inbox.mkdir(parents=True, exist_ok=True)
        for sample in sorted(p for p in folder.iterdir() if p.is_file()):
            shutil.copyfile(sample, inbox / sample.name)
            dropped.append(inbox / sample.name)
    return dropped


def delivered(settings: Settings) -> list[dict[str, Any]] | None:
    """The batches, once nothing waits in the outbox and every batch is acknowledged; else None."""
    with engine_for(settings.database_url).connect() as conn:
        pending = conn.execute(
            select(func.count()).select_from(outbox).where(outbox.c.batch_id.is_(None))
        ).scalar_one()
        batches = [
            r._asdict() for r in conn.execute(select(delivery_batch.c.status, delivery_batch.c.records))
        ]
    if pending or not batches or any(b["status"] != "acknowledged" for b in batches):
        return None
    return batches


def test_dropped_files_reach_the_hub_through_celery_workers(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    began = time.monotonic()
    timings: dict[str, float] = {}
    redis_db = unused_redis_db()
    try:
        with (
            postgres_database("airflow_celery") as airflow_db,
            postgres_database("gw_celery") as gateway_db,
        ):
            settings = Settings.from_env(
                {"GATEWAY_HOME": str(tmp_path / "var"), "GATEWAY_DATABASE_URL": gateway_db}
            )
            settings.ensure_dirs()
            migrate(settings.database_url)
            generate_keys(settings.keys_dir, settings.sender_id, HUB_ID, insecure_plaintext=True)
            with local_hub(settings, tmp_path / "logs", keep=False) as hub_url:
                env = {
                    "GATEWAY_HOME": str(settings.home),
                    "GATEWAY_DATABASE_URL": gateway_db,
                    "GATEWAY_HUB_URL": hub_url,
                    "GATEWAY_SETTLE_SECONDS": "0",
                    # each file read in a forked process of its own inside the Celery worker's task process
                    "GATEWAY_READ_PROCESS_MIN_BYTES": "0",
                    "AIRFLOW__CELERY__BROKER_URL": f"{REDIS_URL}/{redis_db}",
                    "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + sqlalchemy_url(airflow_db),
                    "AIRFLOW__CELERY__WORKER_CONCURRENCY": "4",
                }
                with airflow_stack(
                    tmp_path,
                    standalone=False,
                    celery_worker=True,
                    metadata_url=airflow_db,
                    env=env,
                    request=request,
                ) as stack:
                    timings.update(stack.timings)
                    stack.wait_for_parsing()
                    assert stack.import_errors() == []
                    for dag_id in ("deliver_to_province", "department_files"):
                        stack.unpause(dag_id)
                    dropped = drop_samples(settings)
                    dropped_at = time.monotonic()

                    stack.wait_for_success("department_files", timeout=RUN_TIMEOUT)
                    timings["drop → department_files done"] = time.monotonic() - dropped_at
                    batches = stack.wait_until(
                        lambda: delivered(settings),
                        timeout=RUN_TIMEOUT,
                        what="every batch acknowledged by the hub",
                        interval=2.0,
                    )
                    timings["drop → every batch acknowledged"] = time.monotonic() - dropped_at
                    stack.wait_for_success("deliver_to_province", timeout=RUN_TIMEOUT)

                    # Every file left its inbox with a receipt.
                    assert [p for p in dropped if p.exists()] == []
                    receipts = list(settings.dropzone.glob("*/*/*/*.receipt.json"))
                    assert len(receipts) == len(dropped)
                    # The hub holds exactly what the gateway says it acknowledged.
                    report = hub_report(settings)
                    assert report["batches"]["accepted"] == len(batches)
                    assert report["batches"]["rejected"] == 0
                    assert report["records"]["total"] == sum(b["records"] for b in batches) > 0
                    # The tasks ran on the Celery worker, not in the scheduler.
                    worker_log = (stack.log_dir / "celery-worker.log").read_text(
                        encoding="utf-8", errors="replace"
                    )
                    assert worker_log.count("execute_workload") >= len(dropped)
            engine_for(gateway_db).dispose()
    finally:
        client = redis.Redis.from_url(f"{REDIS_URL}/{redis_db}")
        client.flushdb()
        client.close()
    timings["total"] = time.monotonic() - began
    print("\nCelery topology timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
