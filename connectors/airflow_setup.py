"""Prepare an Airflow deployment for the gateway's DAGs: ``python -m connectors.airflow_setup``.

Today that is the database writers' pool (dags/gateway_common/defaults.py): its tasks are never queued if
the pool is missing, so every way of starting Airflow for the gateway runs this first (make up, the compose
file's airflow-init, the scheduler tests). Its size follows the gateway database: 1 on SQLite, which has
one writer at a time; ``GATEWAY_DB_WRITERS`` (default 4) on a server database. Run it again after changing
either: it updates the pool in place.

It talks to Airflow's metadata database directly (as ``airflow pools set`` does), so it runs where that
database is reachable, like the scheduler.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import typer

from gateway.settings import Settings

POOL = "gateway_db_writers"  # the name dags/gateway_common/defaults.py uses
DEFAULT_SERVER_WRITERS = 4


def pool_slots(settings: Settings, env: Mapping[str, str] | None = None) -> int:
    """How many gateway tasks may write the database at once.

    >>> pool_slots(Settings.from_env({"GATEWAY_DATABASE_URL": "sqlite:////tmp/g.db"}))
    1
    >>> pool_slots(Settings.from_env({"GATEWAY_DATABASE_URL": "postgresql+psycopg://h/g"}), {})
    4
    """
    if settings.database_url.startswith("sqlite"):
        return 1
    env = os.environ if env is None else env
    slots = int(env.get("GATEWAY_DB_WRITERS", DEFAULT_SERVER_WRITERS))
    if slots < 1:
        raise ValueError(f"GATEWAY_DB_WRITERS must be at least 1, not {slots}")
    return slots


def ensure_pool(settings: Settings) -> int:
    """Create or resize the pool in Airflow's metadata database; returns its size."""
    from airflow.models.pool import Pool

    slots = pool_slots(settings)
    Pool.create_or_update_pool(
        POOL,
        slots,
        "网关数据库写入任务（跨 DAG）：SQLite 为 1，服务器数据库可更宽 — gateway database writers",
        include_deferred=False,
    )
    return slots


def main() -> None:
    """Create or update what the gateway's DAGs need in this Airflow deployment (the writers' pool)."""
    slots = ensure_pool(Settings.from_env())
    typer.echo(f"pool {POOL}: {slots} slot(s)")


if __name__ == "__main__":
    typer.run(main)
